/**
 * The plan cache holds facts, never commands (issue 17 item 23): a plans.json written by hand
 * cannot make `lab check` run a command or a write in the containers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANS, readOnlySql, validFact } from '../../src/pg/plan-cache.js';
import { profileFor } from '../../src/pg/profile.js';
import { serverFactsSql } from '../../src/lab/topology.js';

describe('read-only SQL allow-list', () => {
  it('accepts the reads graders and facts make', () => {
    for (const q of [
      'SELECT pg_is_in_recovery()',
      "SELECT name, setting, coalesce(unit, '') FROM pg_settings",
      'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname LIMIT 10',
      'SELECT extract(epoch from pg_postmaster_start_time())::bigint, extract(epoch from pg_conf_load_time())::bigint',
      'SELECT pg_xlogfile_name(pg_current_xlog_location())',
      "SELECT coalesce(host(client_addr), ''), coalesce(application_name, ''), coalesce(state, ''), coalesce(sync_state, ''), coalesce(sent_lsn::text, '') FROM pg_stat_replication ORDER BY 1",
      'SHOW synchronous_commit',
      "SELECT 'it''s (not) a call' AS s",
      serverFactsSql(profileFor('9.1')),
      serverFactsSql(profileFor('17')),
    ]) expect([q, readOnlySql(q)]).toEqual([q, true]);
  });

  it('refuses writes, side effects and anything it cannot read plainly', () => {
    for (const q of [
      "SELECT lo_import('/etc/passwd')",
      "SELECT pg_catalog.lo_import('/etc/passwd')",
      "SELECT \"lo_import\"('/etc/passwd')",
      "SELECT pg_read_file('/etc/shadow')",
      "SELECT set_config('default_transaction_read_only', 'off', false)",
      'SELECT pg_switch_wal()',
      'SELECT txid_current()',
      "SELECT nextval('s')",
      "SELECT * FROM query_to_xml('SELECT lo_import(''/etc/passwd'')', false, true, '')",
      'SELECT 1; DROP SCHEMA pglab_probe CASCADE',
      'SELECT 1 INTO TEMP t',
      'SELECT * FROM pg_class FOR UPDATE',
      'SELECT 1 -- comment',
      'SELECT $$x$$',
      'SELECT 1\n\\! id',
      "SELECT 'unterminated",
      'CREATE TABLE x (i int)',
      'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
      'COPY (SELECT 1) TO PROGRAM \'id\'',
      'SELECT other.f()',
    ]) expect([q, readOnlySql(q)]).toEqual([q, false]);
  });
});

describe('plan entries', () => {
  it('are facts with the arguments of their kind', () => {
    expect(validFact({ kind: 'settings', role: 'maestro', args: [] })).toBe(true);
    expect(validFact({ kind: 'readFile', role: 'esclavo', args: ['/etc/postgresql/15/main/postgresql.conf', 16 * 1024 * 1024, 'root'] })).toBe(true);
    expect(validFact({ kind: 'sql', role: 'maestro', args: ['SELECT pg_is_in_recovery()', ''] })).toBe(true);
    // A command list (the old format), an unknown kind, a relative path, a write: dropped.
    expect(validFact({ role: 'maestro', argv: ['sh', '-c', 'id > /tmp/pwned'] })).toBe(false);
    expect(validFact({ kind: 'exec', role: 'maestro', args: ['sh', '-c', 'id'] })).toBe(false);
    expect(validFact({ kind: 'listDir', role: 'maestro', args: ['../../etc'] })).toBe(false);
    expect(validFact({ kind: 'sql', role: 'maestro', args: ["SELECT lo_import('/etc/passwd')", ''] })).toBe(false);
    expect(validFact({ kind: 'settings', role: 'maestro', args: ['extra'] })).toBe(false);
    expect(validFact({ kind: 'settings', role: 'x; rm -rf /', args: [] })).toBe(false);
    expect(validFact({ kind: 'constructor', role: 'maestro', args: [] })).toBe(false);
  });

  const dir = mkdtempSync(path.join(tmpdir(), 'pglab-plans-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('a plans.json edited to run commands or writes primes nothing of them', () => {
    process.env.PGLAB_CACHE_DIR = dir;
    writeFileSync(path.join(dir, 'plans.json'), JSON.stringify({
      'alumno01/wal-streaming/step-1@15': [
        { role: 'maestro', argv: ['sh', '-c', 'touch /tmp/pwned'], user: 'root' },
        { kind: 'sql', role: 'maestro', args: ["SELECT lo_import('/etc/passwd')", ''] },
        { kind: 'sql', role: 'maestro', args: ['SELECT pg_is_in_recovery()', ''] },
        { kind: 'processes', role: 'esclavo', args: [] },
      ],
    }));
    expect(PLANS.get('alumno01/wal-streaming/step-1@15')).toEqual([
      { kind: 'sql', role: 'maestro', args: ['SELECT pg_is_in_recovery()', ''] },
      { kind: 'processes', role: 'esclavo', args: [] },
    ]);
  });
});
