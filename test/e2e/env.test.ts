/** `lab up/down/status/exec` on real containers, and the errors a person will hit. */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, envNameFor, exec, lab } from './helpers.js';

const LAB = path.join(ROOT, 'bin', 'lab.js');

const env = envNameFor('env');
const NO_STACK = /\n\s+at .+\(.+:\d+:\d+\)/;

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

describe('environment lifecycle (PostgreSQL 15)', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    const up = await lab(['up', '--pg', '15', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/maestro\s+10\.\d+\.\d+\.10/);
    expect(up.stdout).toMatch(/lab show step-1/);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('gives two servers on a private, internal network that reach each other by IP and by name', async () => {
    const net = JSON.parse(docker(['network', 'inspect', `pglab-${env}`]))[0];
    expect(net.Internal).toBe(true);
    expect(net.Labels['pglab.env']).toBe(env);
    const esclavoIp = docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "pglab-${env}").IPAddress}}`, `pglab-${env}-esclavo`]);
    expect(esclavoIp).toMatch(/\.11$/);
    for (const target of ['esclavo', esclavoIp, 'slave']) {
      const ping = await exec(env, 'maestro', 'root', ['ping', '-c', '1', '-W', '3', target]);
      expect(ping.code, `${target}: ${ping.stdout}${ping.stderr}`).toBe(0);
    }
    expect((await exec(env, 'esclavo', 'root', ['hostname'])).stdout.trim()).toBe('esclavo');
    // Containers are not privileged and publish no ports.
    const inspect = JSON.parse(docker(['inspect', `pglab-${env}-maestro`]))[0];
    expect(inspect.HostConfig.Privileged).toBe(false);
    expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});
  });

  it('creates each cluster at first start: distinct system identifiers', async () => {
    const sysid = async (server: string) =>
      (await exec(env, server, 'postgres', ['/usr/lib/postgresql/15/bin/pg_controldata', '/var/lib/postgresql/15/main'])).stdout.match(/Database system identifier:\s+(\d+)/)?.[1];
    const [m, e] = [await sysid('maestro'), await sysid('esclavo')];
    expect(m).toMatch(/^\d{15,}$/);
    expect(e).toMatch(/^\d{15,}$/);
    expect(m).not.toBe(e);
  });

  it('opens a shell and psql on a server (stdin piped; a terminal gets a TTY)', async () => {
    const shell = spawnSync('node', [LAB, 'shell', 'maestro', '--env', env, '--user', 'postgres'], { input: 'whoami; pwd; hostname\n', encoding: 'utf8' });
    expect(shell.status).toBe(0);
    expect(shell.stdout.split('\n').map((l) => l.trim())).toEqual(expect.arrayContaining(['postgres', '/var/lib/postgresql', 'maestro']));
    const psql = spawnSync('node', [LAB, 'psql', 'esclavo', '--env', env], { input: 'SELECT 40 + 2 AS respuesta;\n', encoding: 'utf8' });
    expect(psql.stdout).toMatch(/respuesta[\s\S]*42/);
  });

  it('shows the exercise with this env\'s addresses filled in', async () => {
    const show = await lab(['show', 'step-2', '--env', env]);
    expect(show.code).toBe(0);
    const esclavoIp = docker(['inspect', '-f', `{{(index .NetworkSettings.Networks "pglab-${env}").IPAddress}}`, `pglab-${env}-esclavo`]);
    expect(show.stdout).toContain(`postgres@${esclavoIp}:/var/lib/postgresql/wal_archive/%f`);
    expect(show.stdout).not.toMatch(/\{\{|<<IP/);
    const en = await lab(['show', 'step-2', '--env', env, '--lang', 'en']);
    expect(en.stdout).toMatch(/^# Step 2/m);
  });

  it('re-running up changes nothing', async () => {
    const id = docker(['inspect', '-f', '{{.Id}}', `pglab-${env}-maestro`]);
    const again = await lab(['up', '--env', env]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/ya está en marcha/);
    expect(docker(['inspect', '-f', '{{.Id}}', `pglab-${env}-maestro`])).toBe(id);
  });

  it('status shows both servers and the replication edges', async () => {
    const s = await lab(['status', '--env', env]);
    expect(s.code).toBe(0);
    expect(s.stdout).toMatch(/maestro.*running.*PostgreSQL 15/);
    expect(s.stdout).toMatch(/esclavo.*running/);
    expect(s.stdout).toMatch(/streaming.*no funciona/);
  });

  it('keeps the student work across down/up: a table and the installed ssh/rsync', async () => {
    expect((await exec(env, 'maestro', 'postgres', ['psql', '-Xqc', 'CREATE TABLE persiste (i int); INSERT INTO persiste VALUES (42);'])).code).toBe(0);
    expect((await exec(env, 'maestro', 'root', ['apt-get', 'install', '-y', 'openssh-server', 'rsync'])).code).toBe(0);
    const down = await lab(['down', '--env', env]);
    expect(down.code).toBe(0);
    expect(docker(['ps', '-a', '--filter', `label=pglab.env=${env}`, '-q'])).toBe('');
    const stopped = await lab(['check', 'step-1', '--env', env]);
    expect(stopped.code).toBe(2);
    expect(stopped.stderr).toMatch(/está detenido \(`lab down`\)/);
    const up = await lab(['up', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    expect((await exec(env, 'maestro', 'postgres', ['psql', '-XAtc', 'SELECT i FROM persiste'])).stdout.trim()).toBe('42');
    expect((await exec(env, 'maestro', 'root', ['dpkg', '-s', 'rsync'])).code).toBe(0);
    expect((await exec(env, 'maestro', 'root', ['pgrep', '-x', 'sshd'])).code).toBe(0);
  });

  it('refuses another PostgreSQL version for an existing env', async () => {
    const r = await lab(['up', '--pg', '17', '--env', env]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ya existe con PostgreSQL 15/);
    expect(r.stderr).not.toMatch(NO_STACK);
  });

  it('explains a container removed by hand, and up recreates it with its data', async () => {
    docker(['rm', '-f', `pglab-${env}-esclavo`]);
    const check = await lab(['check', 'step-1', '--env', env]);
    expect(check.code).toBe(2); // the env cannot be checked
    expect(check.stderr).toMatch(/borrado a mano.*lab up/);
    const shell = await lab(['exec', 'esclavo', '--env', env, '--', 'true']);
    expect(shell.code).toBe(2);
    expect(shell.stderr).toMatch(/borrado a mano/);
    const up = await lab(['up', '--env', env]);
    expect(up.code, up.stderr).toBe(0);
    expect((await exec(env, 'esclavo', 'root', ['true'])).code).toBe(0);
  });

  it('reports a subnet taken by someone else', async () => {
    const subnet = JSON.parse(docker(['network', 'inspect', `pglab-${env}`]))[0].IPAM.Config[0].Subnet;
    expect((await lab(['down', '--env', env])).code).toBe(0);
    docker(['network', 'create', '--subnet', subnet, `intruder-${env}`]);
    try {
      const r = await lab(['up', '--env', env]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(subnet);
      expect(r.stderr).not.toMatch(NO_STACK);
    } finally {
      docker(['network', 'rm', `intruder-${env}`]);
    }
    expect((await lab(['up', '--env', env])).code).toBe(0);
  });

  it('says plainly when Docker does not answer, in Spanish and in English', async () => {
    const es = await lab(['status', '--env', env], { DOCKER_HOST: 'unix:///tmp/pglab-no-docker.sock' });
    expect(es.code).toBe(2);
    expect(es.stderr).toMatch(/Docker/);
    expect(es.stderr).not.toMatch(NO_STACK);
    const en = await lab(['status', '--env', env], { DOCKER_HOST: 'unix:///tmp/pglab-no-docker.sock', LAB_LANG: 'en' });
    expect(en.stderr).toMatch(/Docker (daemon is not running|is not installed)/);
  });

  it('checks the contract of a prebuilt image given with --image', async () => {
    const r = await lab(['up', '--pg', '15', '--env', `${env}-img`, '--image', 'pglab/base:bookworm']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no cumple el contrato[\s\S]*pglab\.image\.contract/);
    expect(docker(['ps', '-aq', '--filter', `label=pglab.env=${env}-img`])).toBe('');
  });

  it('lab up with no --pg gives the course\'s PostgreSQL 9.1, run by Debian\'s tools', async () => {
    const name = `${env}-91`;
    const r = await lab(['up', '--env', name]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/PostgreSQL 9\.1/);
    const status = await lab(['status', '--env', name]);
    expect(status.stdout).toMatch(/maestro\s*: contenedor running, IP \S+, PostgreSQL 9\.1\.24 \(lectura\/escritura\)/);
    const clusters = await lab(['exec', 'maestro', '--env', name, '--', 'pg_lsclusters', '-h']);
    expect(clusters.stdout).toMatch(/^9\.1 main 5432 online postgres \/var\/lib\/postgresql\/9\.1\/main/m);
    // 9.1's own psql, with its quirk: of two -c only the last runs.
    const twoC = await lab(['exec', 'maestro', '--env', name, '--user', 'postgres', '--', 'psql', '-At', '-c', 'select 1', '-c', 'select 2']);
    expect(twoC.stdout.trim()).toBe('2');
    const log = await lab(['exec', 'maestro', '--env', name, '--', 'cat', '/var/log/postgresql/postgresql-9.1-main.log']);
    expect(log.stdout).toMatch(/listo para aceptar conexiones/); // Spanish server messages, as in the seed
    await lab(['down', '--env', name, '--purge', '--yes']);
  });
});
