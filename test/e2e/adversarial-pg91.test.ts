/**
 * The mistakes students make on the course's own version, on a real PostgreSQL 9.1 pair:
 * archive_command typed with the PDF's line break as a space or kept as a line break, the seed's
 * two `-c` in one psql, a pg_hba rule for the wrong address, recovery.conf with the PDF's wrapped
 * comment lines, pg_stat_replication's `procpid`, and recovery.conf deleted by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, checkJson, envNameFor, exec, lab } from './helpers.js';

const env = envNameFor('adv91');
const ARCHIVE = '/var/lib/postgresql/wal_archive';
const CONF = '/etc/postgresql/9.1/main';
const DATA = '/var/lib/postgresql/9.1/main';
let maestroIp = '';
let esclavoIp = '';

async function check(step: string, id: string) {
  return byId((await checkJson(env, step)).report.steps[0])[id];
}
async function solve(step: string) {
  const r = await lab(['solve', step, '--env', env, '--yes']);
  expect(r.code, r.stderr + r.stdout).toBe(0);
}
/** Appends lines to a file in a container (the lines travel as arguments, never inside the script). */
async function append(server: string, user: 'root' | 'postgres', file: string, lines: string[]) {
  const r = await exec(env, server, user, ['sh', '-c', 'f="$1"; shift; printf "%s\\n" "$@" >> "$f"', 'sh', file, ...lines]);
  expect(r.code, r.stderr).toBe(0);
}
async function restoreMaestroConf() {
  await exec(env, 'maestro', 'root', ['cp', `${CONF}/postgresql.conf.orig`, `${CONF}/postgresql.conf`]);
  await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
}

describe('graders on real PostgreSQL 9.1 mistakes', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    const up = await lab(['up', '--pg', '9.1', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    maestroIp = /maestro\s+(\S+)/.exec(up.stdout)![1];
    esclavoIp = /esclavo\s+(\S+)/.exec(up.stdout)![1];
    await solve('step-1');
    expect((await exec(env, 'esclavo', 'postgres', ['mkdir', '-p', ARCHIVE])).code).toBe(0);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('maestro and esclavo get their own system identifiers, drawn as 9.4+ do, not 9.1\'s tv_sec | tv_usec', async () => {
    // 9.1's initdb ORs the microseconds into the second's low bits: two clusters made in the same second
    // shared an identifier up to half the time, and esclavo passed "is a clone" with nothing done.
    const ids: bigint[] = [];
    for (const role of ['maestro', 'esclavo']) {
      const r = await exec(env, role, 'postgres', ['env', 'LC_ALL=C', '/usr/lib/postgresql/9.1/bin/pg_controldata', DATA]);
      ids.push(BigInt(/Database system identifier:\s+(\d+)/.exec(r.stdout)![1]));
    }
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) {
      const [high, low] = [id >> 32n, id & 0xffffffffn];
      expect(low & high, `the low half of ${id} holds every bit of its second`).not.toBe(high);
    }
  });

  it('archive_command with the PDF line break typed as a space: rsync really fails, the hint says why', async () => {
    await append('maestro', 'root', `${CONF}/postgresql.conf`, [
      'wal_level = hot_standby', 'archive_mode = on',
      `archive_command = 'rsync -av %p postgres@${esclavoIp}: ${ARCHIVE}/%f'`,
    ]);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    const c = await check('step-2', 'archive-settings');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('space-after-colon');
    await restoreMaestroConf();
  });

  it('archive_command with the line break kept: the server keeps its old settings, graders still query it and name the line', async () => {
    await append('maestro', 'root', `${CONF}/postgresql.conf`, [
      'archive_mode = on', `archive_command = 'rsync -av %p postgres@${esclavoIp}:`, `${ARCHIVE}/%f'`,
    ]);
    // Debian's init script refuses to restart with an unparsable file; the old server goes on.
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    const { report } = await checkJson(env, 'step-2');
    const two = byId(report.steps[0]);
    expect(two['archive-settings'].reason).toBe('conf-syntax');
    expect(String(two['archive-settings'].evidence.lines)).toMatch(/^\d+: archive_command = 'rsync -av %p postgres@/);
    // Through Debian's pg_wrapper every SQL probe would die here ("invalid line N"): none did.
    expect(report.steps[0].checks.filter((c) => c.reason === 'sql-error')).toEqual([]);
    expect(two['wal-settings'].reason).not.toBe('sql-error');
    await restoreMaestroConf();
  });

  it('the seed\'s two -c in one psql: only pg_stop_backup runs, and the base-backup check says why', async () => {
    await append('maestro', 'root', `${CONF}/postgresql.conf`, [
      'wal_level = hot_standby', 'archive_mode = on', `archive_command = 'rsync -a %p postgres@${esclavoIp}:${ARCHIVE}/%f'`,
    ]);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    const both = await exec(env, 'maestro', 'postgres', ['psql', '-c', "select pg_start_backup('base_backup');", '-c', 'select pg_stop_backup();']);
    expect(both.code).not.toBe(0); // 9.1's psql ran only the last -c: no backup in progress
    const c = await check('step-2', 'base-backup');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('never-started');
    expect(c.hint).toMatch(/-c/);
    await restoreMaestroConf();
  });

  it('a pg_hba rule for the wrong address does not count', async () => {
    await solve('step-2');
    await append('maestro', 'root', `${CONF}/pg_hba.conf`, ['host    replication   postgres       10.213.250.11/32       trust']);
    const c = await check('step-3', 'hba-rule');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('wrong-address');
    await solve('step-3');
    expect((await check('step-3', 'hba-rule')).status).toBe('pass');
  });

  it('recovery.conf with the PDF\'s wrapped lines: esclavo does not start, and the hints name the lines', async () => {
    await exec(env, 'esclavo', 'postgres', ['cp', `${DATA}/recovery.conf`, '/tmp/recovery.conf.good']);
    const wrapped = [
      "standby_mode = 'on'", '', '# Specifies a connection string which is used for the standby server to', 'connect',
      '# with the primary.', `primary_conninfo = 'host=${maestroIp} port=5432 user=postgres'`, '',
      '#  Specifies  a  trigger  file  whose  presence  should  cause  streaming', 'replication to', '# end (i.e., failover).',
      "trigger_file = '/tmp/postgres-failover.trigger'", '',
      "restore_command = 'cp /var/lib/postgresql/wal_archive/%f \\\"%p\\\"'", '',
      "archive_cleanup_command  =  '/usr/lib/postgresql/9.1/bin/pg_archivecleanup", "/var/lib/postgresql/wal_archive/ %r'",
    ];
    await exec(env, 'esclavo', 'postgres', ['rm', '-f', `${DATA}/recovery.conf`]);
    await append('esclavo', 'postgres', `${DATA}/recovery.conf`, wrapped);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    await exec(env, 'esclavo', 'root', ['/etc/init.d/postgresql', 'start']);
    const three = await check('step-3', 'standby-config');
    expect(three.reason).toBe('syntax');
    expect(String(three.evidence.lines)).toMatch(/^4: connect/);
    const up = await check('step-4', 'esclavo-up');
    expect(up.status).toBe('fail');
    expect(up.hint).toMatch(/recovery\.conf \(4[,)]/);
    await exec(env, 'esclavo', 'postgres', ['cp', '/tmp/recovery.conf.good', `${DATA}/recovery.conf`]);
  });

  it('pg_stat_replication is read with 9.1\'s column names (procpid, sent_location)', async () => {
    await solve('step-4');
    await solve('step-5');
    const c = await check('step-5', 'pg-stat-replication');
    expect(c.status).toBe('pass');
    expect(Number(c.evidence.procpid)).toBeGreaterThan(0);
    expect(String(c.evidence.sent_location)).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
  });

  it('lab status says archiving fails while segments pile up on maestro (not just that old ones arrived)', async () => {
    const before = await lab(['status', '--env', env]);
    expect(before.stdout).toMatch(/✓ funciona \(último segmento WAL archivado: [0-9A-F]{24}\)/);
    await append('maestro', 'root', `${CONF}/postgresql.conf`, ["archive_command = '/bin/false'"]);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'reload']);
    await exec(env, 'maestro', 'postgres', ['psql', '-c', 'select txid_current();']);
    await exec(env, 'maestro', 'postgres', ['psql', '-c', 'select pg_switch_xlog();']);
    // A segment .ready for longer than the archiver would take (90 s by default; 20 s here).
    await new Promise((r) => setTimeout(r, 25_000));
    const after = await lab(['status', '--env', env], { PGLAB_ARCHIVE_STALE_S: '20' });
    expect(after.stdout).toMatch(/✗ falla: \d+ segmentos WAL esperando en el maestro/);
    await exec(env, 'maestro', 'root', ['sed', '-i', '$d', `${CONF}/postgresql.conf`]);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'reload']);
  });

  it('recovery.conf deleted by hand and a restart is not a promotion', async () => {
    await exec(env, 'esclavo', 'postgres', ['rm', `${DATA}/recovery.conf`]);
    await exec(env, 'esclavo', 'root', ['/etc/init.d/postgresql', 'restart']);
    const six = byId((await checkJson(env, 'step-6')).report.steps[0]);
    expect(six['promoted-properly'].reason).toBe('hand-deleted');
    expect(six.timeline.reason).toBe('same-timeline');
    expect(six.promoted.reason).toBe('not-promoted');
    expect(six['rows-kept'].status).toBe('fail');
  });
});
