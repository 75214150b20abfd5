/**
 * The graders against a student who gets things wrong on purpose or by accident (PostgreSQL 15):
 * fake WAL files, a wrapped archive_command, commented-out standby settings, a pg_hba rule for
 * the wrong address, a server stopped in the middle of a check, a "promotion" by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, checkJson, envNameFor, exec, lab } from './helpers.js';

const env = envNameFor('adv');
const ARCHIVE = '/var/lib/postgresql/wal_archive';
const CONF = '/etc/postgresql/15/main';
let maestroIp = '';
let esclavoIp = '';

async function check(step: string, id: string) {
  return byId((await checkJson(env, step)).report.steps[0])[id];
}
async function solve(step: string) {
  const r = await lab(['solve', step, '--env', env, '--yes']);
  expect(r.code, r.stderr).toBe(0);
}

describe('graders are not fooled (PostgreSQL 15)', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    const up = await lab(['up', '--pg', '15', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    maestroIp = /maestro\s+(\S+)/.exec(up.stdout)![1];
    esclavoIp = /esclavo\s+(\S+)/.exec(up.stdout)![1];
    await solve('step-1');
    expect((await exec(env, 'esclavo', 'postgres', ['mkdir', '-p', ARCHIVE])).code).toBe(0);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('rejects a file of zeros with a WAL segment name', async () => {
    await exec(env, 'esclavo', 'postgres', ['truncate', '-s', '16M', `${ARCHIVE}/000000010000000000000001`]);
    const c = await check('step-2', 'segments');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('invalid');
    expect(String(c.evidence.rejected)).toMatch(/bad-magic/);
    await exec(env, 'esclavo', 'postgres', ['rm', `${ARCHIVE}/000000010000000000000001`]);
  });

  it('rejects a genuine segment of another cluster (esclavo\'s own WAL)', async () => {
    const own = (await exec(env, 'esclavo', 'postgres', ['ls', '/var/lib/postgresql/15/main/pg_wal'])).stdout.split('\n').find((n) => /^[0-9A-F]{24}$/.test(n))!;
    await exec(env, 'esclavo', 'postgres', ['cp', `/var/lib/postgresql/15/main/pg_wal/${own}`, `${ARCHIVE}/${own}`]);
    const c = await check('step-2', 'segments');
    // The premise: two clusters, two identifiers (initdb derives them from the time and the pid).
    const clone = byId((await checkJson(env, 'step-2')).report.steps[0]).clone;
    expect(clone.reason, JSON.stringify(clone.evidence)).toBe('not-clone');
    expect(c.status, JSON.stringify(c)).toBe('fail');
    expect(String(c.evidence.rejected)).toMatch(/sysid-mismatch/);
    await exec(env, 'esclavo', 'postgres', ['rm', `${ARCHIVE}/${own}`]);
  });

  it('recognises archive_command typed with the PDF line break as a space', async () => {
    const wrapped = `archive_command = 'rsync -av %p postgres@${esclavoIp}: ${ARCHIVE}/%f'`;
    await exec(env, 'maestro', 'root', ['sh', '-c', `printf '%s\\n' "$1" >> ${CONF}/postgresql.conf && printf 'archive_mode = on\\n' >> ${CONF}/postgresql.conf`, 'sh', wrapped]);
    await exec(env, 'maestro', 'root', ['/etc/init.d/postgresql', 'restart']);
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
    await exec(env, 'esclavo', 'postgres', ['sh', '-c', `printf '%s\\n' "$@" >> ${CONF}/postgresql.conf`, 'sh', ...lines]);
    await exec(env, 'esclavo', 'postgres', ['touch', '/var/lib/postgresql/15/main/standby.signal']);
    const c = await check('step-3', 'standby-config');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('no-conninfo');
  });

  it('rejects a pg_hba.conf rule for the wrong address', async () => {
    await exec(env, 'maestro', 'root', ['sh', '-c', `printf 'host    replication   postgres       10.213.250.11/32       trust\\n' >> ${CONF}/pg_hba.conf`]);
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
    const running = checkJson(env, 'step-5');
    await new Promise((r) => setTimeout(r, 300));
    await exec(env, 'esclavo', 'root', ['/etc/init.d/postgresql', 'stop']);
    const { code, report, ms } = await running;
    expect(ms).toBeLessThan(60_000);
    expect([0, 1]).toContain(code);
    // Afterwards the verdict is clear and names the stopped server.
    const after = await checkJson(env, 'step-5');
    expect(after.code).toBe(1);
    expect(after.ms).toBeLessThan(15_000);
    expect(after.report.steps[0].checks.some((c) => c.reason === 'down' || c.reason === 'server-down' || c.reason === 'no-standby')).toBe(true);
    expect(report.steps[0].checks.length).toBeGreaterThan(0);
    await exec(env, 'esclavo', 'root', ['/etc/init.d/postgresql', 'start']);
  });

  it('does not accept a "promotion" made by deleting standby.signal and restarting', async () => {
    await exec(env, 'esclavo', 'postgres', ['rm', '/var/lib/postgresql/15/main/standby.signal']);
    await exec(env, 'esclavo', 'root', ['/etc/init.d/postgresql', 'restart']);
    const six = byId((await checkJson(env, 'step-6')).report.steps[0]);
    expect(six['promoted-properly'].status).toBe('fail');
    expect(six['promoted-properly'].reason).toBe('hand-deleted');
    expect(six.timeline.reason).toBe('same-timeline');
    expect(six.promoted.reason).toBe('not-promoted');
  });
});
