/**
 * The graders against a student who gets things wrong on purpose or by accident (PostgreSQL 15):
 * fake WAL files, a wrapped archive_command, commented-out standby settings, a pg_hba rule for
 * the wrong address, a server stopped in the middle of a check, a "promotion" by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LabCluster } from './cluster.js';

const cluster = new LabCluster('adv', { pg: '15' });
const ARCHIVE = cluster.facts.archive;
const CONF = cluster.confDir;
const DATA = cluster.dataDir;
let maestroIp = '';
let esclavoIp = '';

async function check(step: string, id: string) {
  return (await cluster.checks(step))[id];
}
const solve = (step: string) => cluster.solve(step);

describe('graders are not fooled (PostgreSQL 15)', () => {
  beforeAll(async () => {
    const up = await cluster.up();
    maestroIp = /maestro\s+(\S+)/.exec(up.stdout)![1];
    esclavoIp = /esclavo\s+(\S+)/.exec(up.stdout)![1];
    await solve('step-1');
    expect((await cluster.exec('esclavo', 'postgres', ['mkdir', '-p', ARCHIVE])).code).toBe(0);
  });
  afterAll(() => cluster.down());

  it('rejects a file of zeros with a WAL segment name', async () => {
    await cluster.exec('esclavo', 'postgres', ['truncate', '-s', '16M', `${ARCHIVE}/000000010000000000000001`]);
    const c = await check('step-2', 'segments');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('invalid');
    expect(String(c.evidence.rejected)).toMatch(/bad-magic/);
    await cluster.exec('esclavo', 'postgres', ['rm', `${ARCHIVE}/000000010000000000000001`]);
  });

  it('rejects a genuine segment of another cluster (esclavo\'s own WAL)', async () => {
    const own = (await cluster.exec('esclavo', 'postgres', ['ls', `${DATA}/pg_wal`])).stdout.split('\n').find((n) => /^[0-9A-F]{24}$/.test(n))!;
    await cluster.exec('esclavo', 'postgres', ['cp', `${DATA}/pg_wal/${own}`, `${ARCHIVE}/${own}`]);
    const c = await check('step-2', 'segments');
    // The premise: two clusters, two identifiers (initdb derives them from the time and the pid).
    const clone = (await cluster.checks('step-2')).clone;
    expect(clone.reason, JSON.stringify(clone.evidence)).toBe('not-clone');
    expect(c.status, JSON.stringify(c)).toBe('fail');
    expect(String(c.evidence.rejected)).toMatch(/sysid-mismatch/);
    await cluster.exec('esclavo', 'postgres', ['rm', `${ARCHIVE}/${own}`]);
  });

  it('recognises archive_command typed with the PDF line break as a space', async () => {
    const wrapped = `archive_command = 'rsync -av %p postgres@${esclavoIp}: ${ARCHIVE}/%f'`;
    await cluster.exec('maestro', 'root', ['sh', '-c', `printf '%s\\n' "$1" >> ${CONF}/postgresql.conf && printf 'archive_mode = on\\n' >> ${CONF}/postgresql.conf`, 'sh', wrapped]);
    await cluster.exec('maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
    const c = await check('step-2', 'archive-settings');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('space-after-colon');
    expect(c.hint).toMatch(/Unexpected remote arg/);
  });

  it('accepts the real thing after the reference solution', async () => {
    await solve('step-2');
    const c = await check('step-2', 'segments');
    expect(c.status).toBe('pass');
    expect(c.evidence.magic).toBe('0xd110');
  });

  it('does not count commented-out standby settings', async () => {
    const lines = [`#primary_conninfo = 'host=${maestroIp} port=5432 user=postgres'`, `# restore_command = 'cp ${ARCHIVE}/%f "%p"'`, 'hot_standby = on'];
    await cluster.exec('esclavo', 'postgres', ['sh', '-c', `printf '%s\\n' "$@" >> ${CONF}/postgresql.conf`, 'sh', ...lines]);
    await cluster.exec('esclavo', 'postgres', ['touch', `${DATA}/standby.signal`]);
    const c = await check('step-3', 'standby-config');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('no-conninfo');
  });

  it('rejects a pg_hba.conf rule for the wrong address', async () => {
    await cluster.exec('maestro', 'root', ['sh', '-c', `printf 'host    replication   postgres       10.213.250.11/32       trust\\n' >> ${CONF}/pg_hba.conf`]);
    const c = await check('step-3', 'hba-rule');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('wrong-address');
    await solve('step-3');
    expect((await check('step-3', 'hba-rule')).status).toBe('pass');
    expect((await check('step-3', 'standby-config')).status).toBe('pass');
  });

  it('finishes a check when a server is stopped in the middle of it', async () => {
    await solve('step-4');
    await solve('step-5');
    const running = cluster.check('step-5');
    await new Promise((r) => setTimeout(r, 300));
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'stop']);
    const { code, report, ms } = await running;
    expect(ms).toBeLessThan(60_000);
    expect([0, 1]).toContain(code);
    // Afterwards the verdict is clear and names the stopped server.
    const after = await cluster.check('step-5');
    expect(after.code).toBe(1);
    expect(after.ms).toBeLessThan(15_000);
    expect(after.report.steps[0].checks.some((c) => c.reason === 'down' || c.reason === 'server-down' || c.reason === 'no-standby')).toBe(true);
    expect(report.steps[0].checks.length).toBeGreaterThan(0);
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'start']);
  });

  it('does not accept a "promotion" made by deleting standby.signal and restarting', async () => {
    await cluster.exec('esclavo', 'postgres', ['rm', `${DATA}/standby.signal`]);
    await cluster.exec('esclavo', 'root', ['/etc/init.d/postgresql', 'restart']);
    const six = (await cluster.checks('step-6'));
    expect(six['promoted-properly'].status).toBe('fail');
    expect(six['promoted-properly'].reason).toBe('hand-deleted');
    expect(six.timeline.reason).toBe('same-timeline');
    expect(six.promoted.reason).toBe('not-promoted');
  });
});
