/**
 * The plan cache holds facts, never commands (issue 17 item 23): a plans.json written by hand
 * cannot make `lab check` run a command or a write in the containers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PLANS, readOnlySql, validFact } from '../../src/pg/plan-cache.js';
import { EnvProbes, type ExecResult } from '../../src/pg/probes.js';
import { fakeEnv } from './support/fake-env.js';
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

/** EnvProbes with its commands answered here: what a run asks for, and what the next run's plan holds. */
class CountingProbes extends EnvProbes {
  readonly commands: string[] = [];

  constructor() {
    super(fakeEnv('15'));
  }

  override async exec(role: string, argv: string[]): Promise<ExecResult> {
    this.commands.push(`${role}: ${argv.join(' ').slice(0, 60)}`);
    const out = argv.includes('SELECT pg_is_in_recovery()') ? 'f\n' : argv.includes('readiness') ? 'accepting\n' : '';
    return { exitCode: 0, stdout: Buffer.from(out), stderr: Buffer.alloc(0), timedOut: false };
  }
}

describe('plans of EnvProbes', () => {
  it('record the facts a run asked for, never a command', async () => {
    const run = new CountingProbes();
    await run.inRecovery('maestro');
    await run.listDir('esclavo', '/var/lib/postgresql/wal_archive');
    await run.exec('maestro', ['uname', '-m']);
    // Leaves first (a fact's own facts are asked while it starts), then the fact.
    expect(run.plan()).toEqual([
      { kind: 'readiness', role: 'maestro', args: [] },
      { kind: 'sql', role: 'maestro', args: ['SELECT pg_is_in_recovery()', ''] },
      { kind: 'inRecovery', role: 'maestro', args: [] },
      { kind: 'listDir', role: 'esclavo', args: ['/var/lib/postgresql/wal_archive'] },
    ]);
    expect(run.plan().every((f) => validFact(f))).toBe(true);
  });

  it('ask the plan ahead, and keep in the next plan only what the checks asked for again', async () => {
    const first = new CountingProbes();
    await first.inRecovery('maestro');
    await first.listDir('esclavo', '/var/lib/postgresql/wal_archive');
    const next = new CountingProbes();
    next.prefetch(first.plan());
    await new Promise((r) => setImmediate(r));
    // Asked ahead: the listing and the recovery query, before any check.
    expect(next.commands.some((c) => c.startsWith('esclavo: find /var/lib/postgresql/wal_archive'))).toBe(true);
    const before = next.commands.length;
    expect(await next.inRecovery('maestro')).toBe(false);
    expect(next.commands.length).toBe(before); // answered by what was asked ahead
    // The listing was not asked again: out of the next plan; the recovery fact and its own facts stay.
    expect(next.plan().map((f) => f.kind).sort()).toEqual(['inRecovery', 'readiness', 'sql']);
  });
});
