/**
 * Issue 17's red-team items on real containers (items 11, 13, 15, 18–22): no IPv6 path from a lab
 * container to the host (a real packet-socket probe), ::1 inside the containers, a server the
 * student stopped stays stopped across `lab down` / `lab up`, a fork bomb is named with its way
 * out, an unwritable archive is said, `lab exec` passes stdin, odd table names count right, and a
 * container killed from the host comes back with `lab up`. Two envs (A and B) on PostgreSQL 15
 * (PGLAB_E2E_VERSIONS' first version if set).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, checkJson, envNameFor, exec, lab } from './helpers.js';
import { loadEnv } from '../../src/env/env.js';
import { EnvProbes } from '../../src/pg/probes.js';
import { profileFor, type PgMajor } from '../../src/pg/profile.js';

const PG = (process.env.PGLAB_E2E_VERSIONS ?? '15').split(',')[0];
const A = envNameFor('hda');
const B = envNameFor('hdb');
const C = envNameFor('hdc');
const LAB = path.join(ROOT, 'bin', 'lab.js');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'hardening-'));
const PROBE = readFileSync(path.join(ROOT, 'test', 'e2e', 'probes', 'raw6-syn.pl'), 'utf8');

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

const timings: Record<string, number> = {};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function psqlOne(env: string, server: string): Promise<string> {
  return (await exec(env, server, 'postgres', ['psql', '-XAtc', 'SELECT 1'])).stdout.trim();
}

/** The host side of env's bridge: its interface name, MAC and IPv6 link-local address (EUI-64 when the kernel shows none). */
function hostBridge(env: string): { name: string; mac: string; fe80: string } {
  const net_ = JSON.parse(docker(['network', 'inspect', `pglab-${env}`]))[0] as { Id: string; Options: Record<string, string> };
  const name = net_.Options['com.docker.network.bridge.name'] ?? `br-${net_.Id.slice(0, 12)}`;
  const mac = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim();
  const shown = (os.networkInterfaces()[name] ?? []).find((a) => a.family === 'IPv6' && a.address.startsWith('fe80:'));
  const b = mac.split(':').map((h) => parseInt(h, 16));
  b[0] ^= 2;
  const eui = [b[0], b[1], b[2], 0xff, 0xfe, b[3], b[4], b[5]];
  const groups = [0, 2, 4, 6].map((i) => ((eui[i] << 8) | eui[i + 1]).toString(16));
  return { name, mac, fe80: shown?.address.replace(/%.*/, '') ?? `fe80::${groups.join(':')}` };
}

describe(`hardening (issue 17, PostgreSQL ${PG})`, () => {
  beforeAll(async () => {
    await Promise.all([A, B, C].map((e) => lab(['down', '--env', e, '--purge', '--yes'])));
    const ups = await Promise.all([A, B].map((e) => lab(['up', '--env', e, '--pg', PG])));
    for (const u of ups) expect(u.code, u.stdout + u.stderr).toBe(0);
  }, 600_000);
  afterAll(async () => {
    await Promise.all([A, B, C].map((e) => lab(['down', '--env', e, '--purge', '--yes'])));
    console.log('hardening timings (ms):', JSON.stringify(timings));
  }, 300_000);

  it('no IPv6 path to the host: a raw packet probe from a container gets no packet socket and no answer; servers still ping each other; envs stay apart', async () => {
    const bridge = hostBridge(A);
    // A host service on every IPv6 address, as sshd's and Node's defaults are.
    let accepted = 0;
    const server = await new Promise<net.Server>((resolve) => {
      const s = net.createServer((c) => { accepted++; c.end('host\n'); });
      s.listen(0, '::', () => resolve(s));
    });
    try {
      const port = String((server.address() as net.AddressInfo).port);
      // As root in the container: Neighbor Solicitation + TCP SYN to the bridge's own fe80:: through a packet socket.
      const probe = await exec(A, 'maestro', 'root', ['perl', '-e', PROBE, 'eth0', bridge.mac, bridge.fe80, port]);
      expect(probe.code, probe.stderr).toBe(0);
      expect(probe.stdout).toMatch(/^no-packet-socket: /);
      expect(probe.stdout).not.toMatch(/syn-ack|\bna\b/);
      // And the ordinary way: the container's interface has no IPv6, so the kernel refuses at once.
      const connect = await exec(A, 'maestro', 'root', ['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'probe', `${bridge.fe80}%eth0`, port]);
      expect(connect.code).not.toBe(0);
      expect(accepted).toBe(0);
    } finally {
      await new Promise((r) => server.close(r));
    }
    const hc = JSON.parse(docker(['inspect', `pglab-${A}-maestro`]))[0].HostConfig;
    expect(hc.CapDrop).toContain('NET_RAW');
    // ping keeps working without CAP_NET_RAW (ICMP datagram sockets), for root and for postgres.
    for (const user of ['root', 'postgres'] as const) {
      const ping = await exec(A, 'maestro', user, ['ping', '-c', '1', '-W', '3', 'esclavo']);
      expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    }
    // Env-to-env isolation still holds: A's maestro reaches neither B's servers nor B's bridge.
    const bIp = (await loadEnv(B)).servers.find((s) => s.role === 'maestro')!.ip;
    const other = await exec(A, 'maestro', 'root', ['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/$1/5432"', 'probe', bIp]);
    expect(other.code).not.toBe(0);
    const otherPing = await exec(A, 'maestro', 'root', ['ping', '-c', '1', '-W', '2', bIp]);
    expect(otherPing.code).not.toBe(0);
  });

  it('::1 exists inside the containers (loopback only), so PostgreSQL binds localhost on IPv6 without a bind error', async () => {
    const lo = await exec(A, 'maestro', 'root', ['ip', '-6', 'addr', 'show', 'dev', 'lo']);
    expect(lo.stdout).toContain('::1/128');
    const eth0 = await exec(A, 'maestro', 'root', ['ip', '-6', 'addr', 'show', 'dev', 'eth0']);
    expect(eth0.stdout).not.toContain('inet6');
    // The tutorial's `listen_addresses = '*, localhost'`-style setting (here the default, localhost) listens on ::1.
    const ss = await exec(A, 'maestro', 'root', ['ss', '-Hltn', 'sport = :5432']);
    expect(ss.stdout).toContain('[::1]:5432');
  });

  it('`lab exec` passes piped stdin to the command', async () => {
    const r = await lab(['exec', 'maestro', '--env', A, '--user', 'postgres', '--', 'psql', '-XAt'], {}, 'select 40 + 2;\n');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('42');
  });

  it('a table whose name has a newline or the field separator is counted under its own name', async () => {
    const sql = 'CREATE TABLE "a\nb" (x int); INSERT INTO "a\nb" SELECT generate_series(1, 3);'
      + 'CREATE TABLE "c\x1fd" (x int); INSERT INTO "c\x1fd" VALUES (1), (2);';
    const made = await exec(A, 'maestro', 'postgres', ['psql', '-X', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
    expect(made.code, made.stderr).toBe(0);
    try {
      const tables = await new EnvProbes(await loadEnv(A)).userTables('maestro');
      expect(tables.get('postgres:public.a\nb')).toBe(3);
      expect(tables.get('postgres:public.c\x1fd')).toBe(2);
      expect([...tables.values()].every((n) => Number.isFinite(n))).toBe(true);
    } finally {
      await exec(A, 'maestro', 'postgres', ['psql', '-X', '-c', 'DROP TABLE "a\nb"; DROP TABLE "c\x1fd";']);
    }
  });

  it('a server the student stopped stays stopped across `lab down` / `lab up`, and `up` and `status` say so', async () => {
    const stop = await exec(A, 'esclavo', 'root', ['/etc/init.d/postgresql', 'stop']);
    expect(stop.code, stop.stdout + stop.stderr).toBe(0);
    expect((await lab(['down', '--env', A])).code).toBe(0);
    const up = await lab(['up', '--env', A]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(up.stdout).toMatch(/esclavo: PostgreSQL sigue detenido, como estaba en el último `lab down`/);
    expect(up.stdout).not.toMatch(/maestro: PostgreSQL sigue detenido/);
    expect(await psqlOne(A, 'maestro')).toBe('1');
    const pid = await exec(A, 'esclavo', 'root', ['sh', '-c', 'pgrep -x postgres || echo none']);
    expect(pid.stdout.trim()).toBe('none');
    const status = await lab(['status', '--env', A]);
    expect(status.stdout).toMatch(/esclavo.*ya lo estaba en el último `lab down`/);
    expect(status.stdout).not.toMatch(/maestro.*ya lo estaba/);
    // Started again by the student, it is started again at the next `lab up`.
    expect((await exec(A, 'esclavo', 'root', ['/etc/init.d/postgresql', 'start'])).code).toBe(0);
    expect((await lab(['down', '--env', A])).code).toBe(0);
    const again = await lab(['up', '--env', A]);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    expect(again.stdout).not.toMatch(/sigue detenido/);
    expect(await psqlOne(A, 'esclavo')).toBe('1');
  });

  it('a container killed from the host (`docker kill`) stays exited until `lab up`, which brings it and PostgreSQL back', async () => {
    docker(['kill', `pglab-${A}-maestro`]);
    await sleep(3000);
    // Docker does not restart a container killed on purpose (its restart policy counts it as stopped by hand).
    expect(docker(['inspect', '-f', '{{.State.Status}}', `pglab-${A}-maestro`])).toBe('exited');
    const up = await lab(['up', '--env', A]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(docker(['inspect', '-f', '{{.State.Status}}', `pglab-${A}-maestro`])).toBe('running');
    expect(await psqlOne(A, 'maestro')).toBe('1');
  });

  it('an archive directory postgres cannot write into: step 2 warns, `lab status` names the destination', async () => {
    const fresh = await checkJson(A, 'step-2');
    const freshCheck = fresh.report.steps[0].checks.find((c) => c.id === 'archive-dir-writable')!;
    expect(freshCheck.status).toBe('warn'); // a fresh env has no archive directory yet
    for (const step of ['step-1', 'step-2']) {
      const r = await lab(['solve', step, '--env', A, '--yes']);
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }
    const solved = await checkJson(A, 'step-2');
    expect(solved.report.steps[0].checks.find((c) => c.id === 'archive-dir-writable')!.status).toBe('pass');
    const points = solved.report.steps[0].points;

    expect((await exec(A, 'esclavo', 'root', ['chmod', '000', '/var/lib/postgresql/wal_archive'])).code).toBe(0);
    try {
      const check = await checkJson(A, 'step-2');
      const writable = check.report.steps[0].checks.find((c) => c.id === 'archive-dir-writable')!;
      expect(writable.status).toBe('warn');
      expect(writable.evidence.mode).toBe('000');
      expect(writable.hint).toMatch(/postgres no puede escribir ahí \(permisos 000\).*chmod 700 \/var\/lib\/postgresql\/wal_archive/);
      expect(check.report.steps[0].points).toBe(points); // a warning costs no points
      // New WAL on maestro cannot be archived: status says where it fails, not "mirá archive_command".
      const sw = `CREATE TABLE IF NOT EXISTS hd_probe(x int); INSERT INTO hd_probe VALUES (1); SELECT pg_switch_${PG === '9.1' ? 'xlog' : 'wal'}();`;
      expect((await exec(A, 'maestro', 'postgres', ['psql', '-XAtc', sw])).code).toBe(0);
      let status = '';
      for (let i = 0; i < 40 && !/no puede escribir/.test(status); i++) {
        await sleep(2000);
        status = (await lab(['status', '--env', A], { PGLAB_ARCHIVE_STALE_S: '5' })).stdout;
      }
      expect(status).toMatch(/postgres no puede escribir en \/var\/lib\/postgresql\/wal_archive del esclavo: mirá sus permisos con `ls -ld/);
      expect(status).not.toMatch(/mirá archive_command/);
    } finally {
      await exec(A, 'esclavo', 'root', ['chmod', '700', '/var/lib/postgresql/wal_archive']);
      await exec(A, 'maestro', 'postgres', ['psql', '-XAtc', 'DROP TABLE IF EXISTS hd_probe']);
    }
  }, 480_000);

  it('a fork bomb: status, check hints and `lab shell` name the pids limit and `lab down` + `lab up`, which recover it', async () => {
    // Bounded: a loop that keeps the container full for 120 s (each sleep lasts 120 s), or until `lab down` below.
    const bomb = exec(B, 'maestro', 'root', ['timeout', '120', 'bash', '-c', 'while :; do sleep 120 & done 2>/dev/null']);
    const t0 = Date.now();
    let pids = 0;
    for (let i = 0; i < 40 && pids < 500; i++) {
      await sleep(250);
      pids = Number(docker(['stats', '--no-stream', '--format', '{{.PIDs}}', `pglab-${B}-maestro`]));
    }
    expect(pids).toBeGreaterThan(490);
    const status = await lab(['status', '--env', B]);
    timings.statusUnderBomb = status.ms;
    expect(status.stdout).toMatch(new RegExp(`maestro.*sin procesos libres: \\d+ de 512.*\`lab down --env ${B}\` y \`lab up --env ${B}\``));
    // The shell itself opens (joining the container is no fork), but nothing typed in it could run.
    const shell = await lab(['shell', 'maestro', '--env', B]);
    expect(shell.stderr).toMatch(new RegExp(`maestro llegó a su límite de 512 procesos.*\`lab down --env ${B}\` y después \`lab up --env ${B}\``));
    const check = await checkJson(B, 'step-1');
    const hints = check.report.steps[0].checks.map((c) => c.hint ?? '').filter((h) => /maestro/.test(h));
    expect(hints.some((h) => /límite de 512 procesos.*`lab down --env/.test(h))).toBe(true);
    expect(hints.join('\n')).not.toMatch(/inicialo como root con `\/etc\/init\.d\/postgresql start`/);
    expect(Date.now() - t0).toBeLessThan(110_000); // all of the above while the container was still full
    // The way out the messages give (it also ends the bomb).
    expect((await lab(['down', '--env', B])).code).toBe(0);
    await bomb;
    const up = await lab(['up', '--env', B]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    expect(await psqlOne(B, 'maestro')).toBe('1');
  }, 240_000);
  it('`lab solve` refuses to run over a solution still running, and Ctrl+C stops its script in the container', async () => {
    const first = spawn('node', [LAB, 'solve', 'step-1', '--env', B, '--yes'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    first.stdout.on('data', (b) => { out += b; });
    first.stderr.on('data', (b) => { out += b; });
    const exited = new Promise<number | null>((r) => first.on('exit', (code) => r(code)));
    const solving = async () => (await Promise.all(['maestro', 'esclavo'].map((s) =>
      exec(B, s, 'root', ['sh', '-c', 'pgrep -f "^pglab-solve " >/dev/null && echo yes || echo no'])))).some((r) => r.stdout.trim() === 'yes');
    let seen = false;
    for (let i = 0; i < 120 && !seen; i++) seen = await solving();
    expect(seen, out).toBe(true);
    const second = await lab(['solve', 'step-1', '--env', B, '--yes']);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/Todavía corre una solución anterior en (maestro|esclavo)/);
    first.kill('SIGINT');
    expect(await exited).toBe(130);
    expect(out).toMatch(/deteniendo la solución que corre en los servidores/);
    expect(out).not.toMatch(/falló en/);
    expect(await solving()).toBe(false);
    // Nothing left running: the next run goes through.
    const again = await lab(['solve', 'step-1', '--env', B, '--yes']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
  }, 480_000);

  it('`lab up` racing `lab down --purge` of the same env: one waits for the other, nothing is left half-made', async () => {
    const [up, down] = await Promise.all([
      lab(['up', '--env', C, '--pg', PG]),
      sleep(1500).then(() => lab(['down', '--env', C, '--purge', '--yes'])),
    ]);
    expect(down.code, down.stdout + down.stderr).toBe(0);
    expect(up.stdout + up.stderr).not.toMatch(/Error inesperado|HTTP code|No such container|no such volume/i);
    const containers = docker(['ps', '-aq', '--filter', `label=pglab.env=${C}`]).split('\n').filter(Boolean);
    const volumes = docker(['volume', 'ls', '-q', '--filter', `label=pglab.env=${C}`]).split('\n').filter(Boolean);
    const networks = docker(['network', 'ls', '-q', '--filter', `name=^pglab-${C}$`]).split('\n').filter(Boolean);
    // Either the up finished first and the purge removed it all, or the purge ran first and the up made it whole.
    if (containers.length) {
      expect(up.code, up.stdout + up.stderr).toBe(0);
      expect([containers.length, volumes.length, networks.length]).toEqual([2, 10, 1]);
      expect(await psqlOne(C, 'maestro')).toBe('1');
    } else {
      expect([volumes.length, networks.length]).toEqual([0, 0]);
    }
  }, 300_000);

  it('bad paths and ports say what is wrong, in Spanish, before any slow work', async () => {
    const dir = mkdtempSync(path.join(tmp, 'dir-'));
    const load = await lab(['images', 'load', dir]);
    expect(load.code).not.toBe(0);
    expect(load.stderr).toContain(`${dir} es una carpeta, no un paquete`);
    const save = await lab(['images', 'save', dir, '--pg', PG]);
    expect(save.code).not.toBe(0);
    expect(save.stderr).toContain(`${dir} es una carpeta: indicá el nombre del archivo a crear`);
    expect(save.ms).toBeLessThan(10_000); // refused up front, not after compressing
    const nowhere = await lab(['images', 'save', path.join(tmp, 'no', 'such', 'x.pglab'), '--pg', PG]);
    expect(nowhere.stderr).toMatch(/No existe la carpeta .* donde iría/);
    expect(existsSync(path.join(tmp, 'no'))).toBe(false);
    // Port 80 without the right to bind it: as root, drop CAP_NET_BIND_SERVICE as a normal user lacks it.
    const asUser = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-net_bind_service', '--inh-caps', '-net_bind_service'] : [];
    const web = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(asUser[0] ?? 'node', [...asUser.slice(1), ...(asUser.length ? ['node'] : []), LAB, 'web', '--env', A, '--port', '80'], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (b) => { stderr += b; });
      const timer = setTimeout(() => child.kill('SIGINT'), 30_000);
      child.on('exit', (code) => { clearTimeout(timer); resolve({ code, stderr }); });
    });
    expect(web.code).toBe(2);
    expect(web.stderr).toMatch(/No se puede usar el puerto 80: los puertos menores que 1024 son solo para root/);
    expect(web.stderr).not.toMatch(/EACCES|Error inesperado/);
  }, 120_000);
  it('`lab class up` with its image missing shows the build\'s progress before the first env', async () => {
    // A namespace of its own where the image is missing; its Debian base tagged from the one in use (the build reuses cached layers).
    const ns = `hdclass${process.pid.toString(36)}`;
    const suite = profileFor(PG as PgMajor).debianSuite;
    docker(['tag', `${process.env.PGLAB_IMAGE_NAMESPACE ?? 'pglab'}/base:${suite}`, `${ns}/base:${suite}`]);
    const klass = envNameFor('hdk');
    const student = envNameFor('hdk1');
    const roster = path.join(tmp, 'clase.csv');
    writeFileSync(roster, `entorno,nombre\n${student},Alumna de prueba\n`);
    try {
      const up = await lab(['class', 'up', '--roster', roster, '--pg', PG, '--class', klass], { PGLAB_IMAGE_NAMESPACE: ns });
      expect(up.code, up.stdout + up.stderr).toBe(0);
      const building = up.stderr.indexOf(`${ns}/pg:${PG}`);
      expect(building, up.stderr).toBeGreaterThanOrEqual(0);
      expect(building).toBeLessThan(up.stderr.indexOf('[1/1]'));
    } finally {
      await lab(['class', 'down', '--class', klass, '--purge', '--yes'], { PGLAB_IMAGE_NAMESPACE: ns });
      for (const tag of [`${ns}/pg:${PG}`, `${ns}/base:${suite}`]) { try { docker(['rmi', tag]); } catch { /* not made */ } }
    }
  }, 600_000);
});
