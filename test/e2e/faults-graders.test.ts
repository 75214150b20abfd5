/**
 * Graders facing faults (PostgreSQL 15): the init's pristine copies deleted, a 100k-line pg_hba.conf,
 * a frozen server (SIGSTOP), a postgresql.conf that postgres cannot read. Each ends in a verdict
 * that matches the real state and a hint that names the real problem.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byId, checkJson, envNameFor, exec, lab } from './helpers.js';

const env = envNameFor('fltg');
const CONF = '/etc/postgresql/15/main';
let esclavoIp = '';

async function check(step: string, id: string) {
  return byId((await checkJson(env, step)).report.steps[0])[id];
}

describe('graders under faults (PostgreSQL 15)', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    const up = await lab(['up', '--pg', '15', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    esclavoIp = /esclavo\s+(\S+)/.exec(up.stdout)![1];
    expect((await lab(['solve', 'step-1', '--env', env, '--yes'])).code).toBe(0);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('deleting the init\'s pristine copies changes no mark: the reference comes from the image', async () => {
    expect((await check('step-1', 'config-backups')).status).toBe('pass');
    for (const server of ['maestro', 'esclavo']) await exec(env, server, 'root', ['rm', '-rf', '/var/lib/pglab/pristine']);
    expect((await check('step-1', 'config-backups')).status).toBe('pass');
    // A backup that is not the original still does not count.
    await exec(env, 'maestro', 'root', ['sh', '-c', `echo '# edited' >> ${CONF}/postgresql.conf.orig`]);
    const c = await check('step-1', 'config-backups');
    expect(c.status).toBe('fail');
    expect(String(c.evidence.missing)).toContain('maestro:postgresql.conf');
    await exec(env, 'maestro', 'root', ['sed', '-i', '$d', `${CONF}/postgresql.conf.orig`]);
  });

  it('a 100k-line pg_hba.conf is read whole: the rule at its end counts', async () => {
    const script = `for i in $(seq 1 100000); do echo "# comentario $i"; done >> ${CONF}/pg_hba.conf; echo "host    replication   postgres       $1/32       trust" >> ${CONF}/pg_hba.conf`;
    expect((await exec(env, 'maestro', 'root', ['sh', '-c', script, 'sh', esclavoIp])).code).toBe(0);
    const c = await check('step-3', 'hba-rule');
    expect(c.status).toBe('pass');
    expect(Number(c.evidence.line)).toBeGreaterThan(100_000);
  });

  it('a postgresql.conf that postgres cannot read gets that hint, not "restart"', async () => {
    await exec(env, 'maestro', 'root', ['sh', '-c', `printf 'wal_level = replica\\nmax_wal_senders = 3\\nwal_keep_size = 128MB\\n' >> ${CONF}/postgresql.conf && chmod 000 ${CONF}/postgresql.conf`]);
    const c = await check('step-2', 'wal-settings');
    expect(c.status).toBe('fail');
    expect(c.reason).toBe('conf-unreadable');
    expect(c.hint).toMatch(/postgres no puede leer .*postgresql\.conf/);
    await exec(env, 'maestro', 'root', ['chmod', '644', `${CONF}/postgresql.conf`]);
  });

  it('a frozen server (SIGSTOP) is said to be frozen, quickly, by check and status', async () => {
    const pid = (await exec(env, 'esclavo', 'root', ['sh', '-c', 'head -1 /var/lib/postgresql/15/main/postmaster.pid'])).stdout.trim();
    await exec(env, 'esclavo', 'root', ['kill', '-STOP', pid]);
    try {
      const { report, ms } = await checkJson(env, 'step-4');
      expect(ms).toBeLessThan(20_000);
      const up = byId(report.steps[0])['esclavo-up'];
      expect(up.status).toBe('fail');
      expect(up.hint).toMatch(/congelado/);
      const status = await lab(['status', '--env', env]);
      expect(status.ms).toBeLessThan(15_000);
      expect(status.stdout).toMatch(/esclavo\s*: contenedor running, IP \S+, PostgreSQL congelado/);
    } finally {
      await exec(env, 'esclavo', 'root', ['kill', '-CONT', pid]);
    }
  });
});
