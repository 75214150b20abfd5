/**
 * The server image alone, through testcontainers (local image, no registry, Ryuk disabled):
 * cluster created at first start, offline apt, restart inside, clean stop.
 */
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../src/images/images.js';

describe('pglab/pg:15 image', () => {
  let c: StartedTestContainer;
  const run = async (cmd: string[], user = 'root') => c.exec(cmd, { user });

  beforeAll(async () => {
    const tag = await ensureImage('15', (l) => console.log(l));
    // No network at all: proves ssh/rsync install from the image's own cache.
    c = await new GenericContainer(tag)
      .withNetworkMode('none')
      .withWaitStrategy(Wait.forSuccessfulCommand('test -f /var/lib/pglab/ready && pg_isready -q'))
      .withStartupTimeout(90_000)
      .start();
  });
  afterAll(async () => {
    await c?.stop();
  });

  it('has the tutorial layout and a cluster created at first start', async () => {
    for (const path of ['/etc/postgresql/15/main/postgresql.conf', '/etc/postgresql/15/main/pg_hba.conf', '/var/lib/postgresql/15/main/PG_VERSION', '/etc/init.d/postgresql', '/usr/lib/postgresql/15/bin/pg_archivecleanup']) {
      expect((await run(['test', '-e', path])).exitCode, path).toBe(0);
    }
    const home = await run(['sh', '-c', 'getent passwd postgres | cut -d: -f6']);
    expect(home.output.trim()).toBe('/var/lib/postgresql');
    // ssh and rsync are NOT installed: installing them is the student's first task.
    expect((await run(['dpkg', '-s', 'openssh-server'])).exitCode).not.toBe(0);
  });

  it('installs openssh-server and rsync without network, and sshd starts', async () => {
    const install = await run(['apt-get', 'install', '-y', 'openssh-server', 'rsync']);
    expect(install.exitCode, install.output).toBe(0);
    expect((await run(['/etc/init.d/ssh', 'start'])).exitCode).toBe(0);
    expect((await run(['pgrep', '-x', 'sshd'])).exitCode).toBe(0);
  });

  it('restarts PostgreSQL with the init script and the container stays up', async () => {
    const before = (await run(['psql', '-XAtc', 'select pg_postmaster_start_time()'], 'postgres')).output.trim();
    const restart = await run(['/etc/init.d/postgresql', 'restart']);
    expect(restart.exitCode, restart.output).toBe(0);
    const after = (await run(['psql', '-XAtc', 'select pg_postmaster_start_time()'], 'postgres')).output.trim();
    expect(after).not.toBe(before);
    expect((await run(['/etc/init.d/postgresql', 'stop'])).exitCode).toBe(0);
    expect((await run(['true'])).exitCode).toBe(0); // PID 1 keeps the container alive
    expect((await run(['/etc/init.d/postgresql', 'start'])).exitCode).toBe(0);
  });
});
