/**
 * Issue 9 on real containers (PostgreSQL 15): bad input creates nothing, two `lab up` at once,
 * interrupted runs completed by the next one, readiness before "ya está en marcha", a progress log
 * with junk in it, server limits (fork bomb), restart policy, host services behind the env's
 * gateway, and an env reduced to its network. Two envs in all: A (student) and B (class).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, envNameFor, exec, lab, type CliResult } from './helpers.js';

const A = envNameFor('h9a');
const B = envNameFor('h9b');
const KLASS = envNameFor('h9k');
const LAB = path.join(ROOT, 'bin', 'lab.js');
const NO_STACK = /\n\s+at .+\(.+:\d+:\d+\)/;
const RAW_DOCKER = /HTTP code|already in use|already started|ambiguous|No quedan subredes/;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'h9-faults-'));

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

/** Everything Docker holds for a label (containers, volumes, networks), to prove nothing was created. */
function dockerObjects(label: string): string {
  return [
    docker(['ps', '-aq', '--filter', `label=${label}`]),
    docker(['volume', 'ls', '-q', '--filter', `label=${label}`]),
    docker(['network', 'ls', '-q', '--filter', `label=${label}`]),
  ].join('');
}

/** Starts `lab` and resolves once its stderr matches `ready`; `done` gives the exit code and output. */
function startLab(args: string[], ready: RegExp) {
  const child = spawn('node', [LAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let readyResolve: () => void;
  const readyP = new Promise<void>((r) => { readyResolve = r; });
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; if (ready.test(stderr)) readyResolve(); });
  const done = new Promise<CliResult & { signal: NodeJS.Signals | null }>((resolve) => {
    const started = Date.now();
    child.on('exit', (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr, ms: Date.now() - started }));
  });
  return { child, ready: readyP, done };
}

async function psqlOne(env: string, server: string): Promise<string> {
  return (await exec(env, server, 'postgres', ['psql', '-XAtc', 'SELECT 1'])).stdout.trim();
}

function envNetwork(env: string) {
  return JSON.parse(docker(['network', 'inspect', `pglab-${env}`]))[0] as { Id: string; Internal: boolean; Options: Record<string, string>; Labels: Record<string, string>; IPAM: { Config: { Subnet: string }[] } };
}

/** Leaves only the env's network, as an interrupted `lab up` / `class up` did. */
function keepOnlyNetwork(env: string): void {
  const containers = docker(['ps', '-aq', '--filter', `label=pglab.env=${env}`]).split('\n').filter(Boolean);
  if (containers.length) docker(['rm', '-f', ...containers]);
  const volumes = docker(['volume', 'ls', '-q', '--filter', `label=pglab.env=${env}`]).split('\n').filter(Boolean);
  if (volumes.length) docker(['volume', 'rm', ...volumes]);
  expect(docker(['network', 'ls', '-q', '--filter', `name=^pglab-${env}$`])).not.toBe('');
}

const timings: Record<string, number> = {};

describe('faults and bad input (PostgreSQL 15)', () => {
  const roster = path.join(tmp, 'clase.csv');
  writeFileSync(roster, `entorno,nombre\n${B},Alumna de prueba\n`);

  beforeAll(async () => {
    await Promise.all([A, B].map((e) => lab(['down', '--env', e, '--purge', '--yes'])));
    await lab(['class', 'down', '--class', KLASS, '--purge', '--yes']);
  });
  afterAll(async () => {
    await Promise.all([A, B].map((e) => lab(['down', '--env', e, '--purge', '--yes'])));
    await lab(['class', 'down', '--class', KLASS, '--purge', '--yes']);
    for (const e of [A, B]) spawnSync('docker', ['rm', '-f', `pglab-${e}-lock`]); // only if a test failed while one was held
    console.log('h9 timings (ms):', JSON.stringify(timings));
  });

  it('bad numbers, rosters, names and languages: exit 2 with a clear message, nothing created', async () => {
    const dir = path.join(tmp, 'carpeta');
    mkdirSync(dir);
    writeFileSync(path.join(tmp, 'vacio.csv'), 'entorno,nombre\n\n# nadie\n');
    writeFileSync(path.join(tmp, 'largo.csv'), `entorno\n${'x'.repeat(300)}\n`);
    const cases: [string[], RegExp, Record<string, string>?][] = [
      ...['abc', '-1', '0', '100'].map((v): [string[], RegExp] => [['up', '--pg', '15', '--env', B, '--standbys', v], new RegExp(`--standbys: "${v}". Tiene que ser un número entero entre 1 y 4`)]),
      [['class', 'up', '--count', '2', '--parallel', 'abc', '--class', KLASS], /--parallel: "abc". Tiene que ser un número entero entre 1 y 16/],
      [['class', 'up', '--count', '2', '--parallel', '0', '--class', KLASS], /--parallel: "0"/],
      [['class', 'up', '--count', '0', '--class', KLASS], /--count: "0". Tiene que ser un número entero entre 1 y 250/],
      [['class', 'up', '--count', 'muchos', '--class', KLASS], /--count: "muchos"/],
      [['class', 'up', '--roster', path.join(tmp, 'no-existe.csv'), '--class', KLASS], /No existe el listado de alumnos/],
      [['class', 'up', '--roster', dir, '--class', KLASS], /no es un archivo/],
      [['class', 'up', '--roster', path.join(tmp, 'vacio.csv'), '--class', KLASS], /no tiene ningún alumno/],
      [['class', 'up', '--roster', path.join(tmp, 'largo.csv'), '--class', KLASS], /Línea 2 del listado: .* 300 caracteres; el máximo es 31/],
      [['up', '--env', 'Alumno_1'], /de 1 a 31 caracteres.*empezando por una letra o un dígito/],
      [['list', '--env', B, '--lang', 'fr'], /Idioma desconocido "fr"/],
      [['list', '--env', B], /Idioma desconocido en LAB_LANG: "fr"/, { LAB_LANG: 'fr' }],
    ];
    const results = await Promise.all(cases.map(([args, , env]) => lab(args, env)));
    results.forEach((r, i) => {
      const [args, message] = cases[i];
      expect(r.code, `${args.join(' ')}\n${r.stderr}`).toBe(2);
      expect(r.stderr, args.join(' ')).toMatch(message);
      expect(r.stderr).not.toMatch(NO_STACK);
      expect(r.stderr).not.toMatch(/Error inesperado/);
    });
    expect(dockerObjects(`pglab.env=${B}`)).toBe('');
    expect(dockerObjects(`pglab.class=${KLASS}`)).toBe('');
  });

  it('two `lab up` at once on a new env both succeed, with one network and no raw Docker error', async () => {
    const [one, two] = await Promise.all([lab(['up', '--pg', '15', '--env', A]), lab(['up', '--pg', '15', '--env', A])]);
    timings.concurrentUpNewEnv = Math.max(one.ms, two.ms);
    for (const r of [one, two]) {
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(RAW_DOCKER);
      expect(r.stdout).toMatch(/ntorno ".*" (listo|ya está en marcha)/);
    }
    expect(docker(['network', 'ls', '-q', '--filter', `name=^pglab-${A}$`]).split('\n')).toHaveLength(1);
    // maestro and esclavo (the env's observer is the third container, without a role).
    expect(docker(['ps', '-q', '--filter', `label=pglab.env=${A}`, '--filter', 'label=pglab.role']).split('\n')).toHaveLength(2);
    expect(docker(['ps', '-aq', '--filter', `name=pglab-${A}-lock`])).toBe(''); // the lock is released
    expect(await psqlOne(A, 'esclavo')).toBe('1');
  });

  it('Ctrl+C prints one Spanish line and exits 130; SIGKILL too is completed by the next `lab up`', async () => {
    for (const signal of ['SIGINT', 'SIGKILL'] as const) {
      expect((await lab(['down', '--env', A])).code).toBe(0);
      const run = startLab(['up', '--env', A], /iniciando|esperando/);
      await run.ready;
      run.child.kill(signal);
      const stopped = await run.done;
      if (signal === 'SIGINT') {
        expect(stopped.code).toBe(130);
        expect(stopped.stderr).toMatch(/Interrumpido \(Ctrl\+C\)\. Lo que quedó a medio hacer se completa repitiendo el mismo comando\./);
        expect(stopped.stderr).not.toMatch(NO_STACK);
      } else {
        expect(stopped.signal).toBe('SIGKILL');
      }
      // The lock the killed run held is recognised as left over (its pid is gone): no long wait.
      const again = await lab(['up', '--env', A]);
      timings[`upAfter${signal}`] = again.ms;
      expect(again.code, again.stderr).toBe(0);
      expect(again.ms).toBeLessThan(60_000);
      expect(again.stdout + again.stderr).not.toMatch(RAW_DOCKER);
      expect(await psqlOne(A, 'maestro')).toBe('1');
      expect(docker(['ps', '-aq', '--filter', `name=pglab-${A}-lock`])).toBe('');
    }
  });

  it('says "ya está en marcha" only once PostgreSQL accepts connections, and says when it does not', async () => {
    docker(['restart', '-t', '30', `pglab-${A}-maestro`]);
    const up = await lab(['up', '--env', A]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/ya está en marcha/);
    expect(await psqlOne(A, 'maestro')).toBe('1'); // right after the message: no "starting up" refusal

    expect((await exec(A, 'esclavo', 'root', ['/etc/init.d/postgresql', 'stop'])).code).toBe(0);
    const stopped = await lab(['up', '--env', A]);
    timings.upWithStoppedPostgres = stopped.ms;
    expect(stopped.code).toBe(1);
    expect(stopped.stdout).not.toMatch(/ya está en marcha/);
    expect(stopped.stderr).toMatch(/PostgreSQL no acepta conexiones en esclavo .*\/etc\/init\.d\/postgresql start/);
    expect((await exec(A, 'esclavo', 'root', ['/etc/init.d/postgresql', 'start'])).code).toBe(0);
    expect((await lab(['up', '--env', A])).stdout).toMatch(/ya está en marcha/);
  });

  it('a progress log with non-records and a torn last line breaks nothing, and the next record is kept', async () => {
    const log = '/var/lib/pglab/progress.jsonl';
    // What a student (root on maestro) might leave there, then a write torn in the middle.
    const junk = await exec(A, 'maestro', 'root', ['sh', '-c', `printf '%s\\n' null '{"x":1}' '[1]' >> ${log}; printf '{"at":"2026-11-2' >> ${log}`]);
    expect(junk.code).toBe(0);
    for (const args of [['list'], ['progress']]) {
      const r = await lab([...args, '--env', A]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toMatch(/Error inesperado/);
    }
    const check = await lab(['check', 'step-1', '--env', A]);
    expect(check.code).toBe(1); // a fresh env fails step-1; what matters is that it is recorded
    const lines = (await exec(A, 'maestro', 'root', ['cat', log])).stdout.split('\n');
    const torn = lines.indexOf('{"at":"2026-11-2');
    expect(torn).toBeGreaterThan(0);
    expect(JSON.parse(lines[torn + 1])).toMatchObject({ key: expect.stringMatching(/^step-1/) }); // on its own line
    const list = await lab(['list', '--env', A]);
    expect(list.stdout).toMatch(/✗ step-1/); // the record after the torn line was read
    const grade = await lab(['grade', '--env', A, '--format', 'json']);
    expect(grade.code, grade.stderr).toBe(0);
    const g = JSON.parse(grade.stdout).envs[0];
    expect(g.error).toBeUndefined();
    expect(g.score).toBe(0); // a fresh env earns nothing; what matters is that the grade is made
  });

  it('servers have a pids limit, a CPU limit, a memory limit and restart by themselves', async () => {
    const hc = JSON.parse(docker(['inspect', `pglab-${A}-maestro`]))[0].HostConfig;
    expect(hc.PidsLimit).toBe(512);
    expect(hc.NanoCpus).toBe(1_000_000_000);
    expect(hc.Memory).toBe(512 * 1024 * 1024);
    expect(hc.RestartPolicy.Name).toBe('unless-stopped');
    // A stopped container of an older pglab (policy "no", no pids/CPU limit) gets them at the next `lab up`.
    docker(['stop', '-t', '30', `pglab-${A}-esclavo`]);
    docker(['update', '--restart', 'no', '--cpus', '0', `pglab-${A}-esclavo`]);
    expect((await lab(['up', '--env', A])).code).toBe(0);
    const updated = JSON.parse(docker(['inspect', `pglab-${A}-esclavo`]))[0].HostConfig;
    expect([updated.RestartPolicy.Name, updated.NanoCpus, updated.PidsLimit]).toEqual(['unless-stopped', 1_000_000_000, 512]);
    if (process.getuid?.() !== 0) return; // killing the container's init from the host needs root
    // A crash of the container (its init killed from the host): Docker brings it back, PostgreSQL too.
    const pid = Number(docker(['inspect', '-f', '{{.State.Pid}}', `pglab-${A}-maestro`]));
    process.kill(pid, 'SIGKILL');
    const t0 = Date.now();
    let state = '';
    while (Date.now() - t0 < 60_000) {
      // Not yet: during Docker's own restart the state is Restarting (and Running) true; `lab up` waits for that.
      state = docker(['inspect', '-f', '{{.RestartCount}} {{.State.Running}}', `pglab-${A}-maestro`]);
      if (/^[1-9]\d* true$/.test(state)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(state).toMatch(/^[1-9]\d* true$/);
    const up = await lab(['up', '--env', A]); // waits for PostgreSQL; changes nothing
    timings.backAfterContainerCrash = Date.now() - t0;
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/ya está en marcha/);
    expect(await psqlOne(A, 'maestro')).toBe('1');
  });

  it('no host service is reachable from a lab container: the host has no address on the env network', async () => {
    const network = envNetwork(A);
    expect(network.Internal).toBe(true);
    expect(network.Options['com.docker.network.bridge.inhibit_ipv4']).toBe('true');
    const prefix = network.IPAM.Config[0].Subnet.replace(/\.0\/24$/, '.');
    const hostAddresses = Object.values(os.networkInterfaces()).flat()
      .filter((a): a is os.NetworkInterfaceInfo => !!a && a.family === 'IPv4' && !a.internal).map((a) => a.address);
    expect(hostAddresses.some((a) => a.startsWith(prefix))).toBe(false);
    // A listener on every address of the host (other env gateways, docker0, the LAN address).
    let accepted = 0;
    const servers = await Promise.all(hostAddresses.map((address) => new Promise<net.Server>((resolve) => {
      const s = net.createServer((c) => { accepted++; c.end('host\n'); });
      s.listen(0, address, () => resolve(s));
    })));
    try {
      const targets = [...servers.map((s) => s.address() as net.AddressInfo).map((a) => [a.address, a.port]), [`${prefix}1`, 22]];
      for (const [address, port] of targets) {
        const r = await exec(A, 'maestro', 'root', ['timeout', '3', 'bash', '-c', 'exec 3<>"/dev/tcp/$1/$2"', 'probe', String(address), String(port)]);
        expect(r.code, `${address}:${port} answered from the lab container`).not.toBe(0);
      }
      expect(accepted).toBe(0);
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
    // The servers still reach each other.
    const peer = await exec(A, 'maestro', 'root', ['ping', '-c', '1', '-W', '3', 'esclavo']);
    expect(peer.code, peer.stdout + peer.stderr).toBe(0);
  });

  it('a fork bomb in one env stops at its pids limit and another env\'s check still passes', async () => {
    const up = await lab(['class', 'up', '--roster', roster, '--pg', '15', '--class', KLASS]);
    expect(up.code, up.stderr).toBe(0);
    // A class error is the message a person reads, never a raw key like env.otherPg.
    const otherPg = await lab(['class', 'up', '--roster', roster, '--pg', '17', '--class', KLASS]);
    expect(otherPg.code).toBe(1);
    expect(otherPg.stderr).toMatch(/ya existe con PostgreSQL 15/);
    expect(otherPg.stderr).not.toMatch(/\benv\.[a-zA-Z]+\b/);

    // Bounded: 3000 sleeps of 20 s, all stopped by timeout after 25 s.
    const bomb = exec(B, 'maestro', 'root', ['timeout', '25', 'bash', '-c', 'for i in $(seq 3000); do sleep 20 & done 2>/dev/null; wait']);
    await new Promise((r) => setTimeout(r, 4000));
    const pids = Number(docker(['stats', '--no-stream', '--format', '{{.PIDs}}', `pglab-${B}-maestro`]));
    const t0 = Date.now();
    const check = await lab(['check', 'step-1', '--env', A, '--json']);
    timings.checkDuringForkBomb = Date.now() - t0;
    const sameVersion = JSON.parse(check.stdout).steps[0].checks.find((c: { id: string }) => c.id === 'same-version');
    expect(sameVersion.status).toBe('pass');
    expect(pids).toBeGreaterThan(400); // the bomb really ran into the limit…
    expect(pids).toBeLessThanOrEqual(512); // …and stopped there
    timings.forkBombPids = pids;
    await bomb;
  });

  it('an env left with only its network: status says so, check explains, up completes it, down --purge and class down --purge remove it', async () => {
    const network = envNetwork(B);
    const subnet = network.IPAM.Config[0].Subnet;
    keepOnlyNetwork(B);

    const status = await lab(['status', '--env', B]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`quedó a medio crear: solo existe su red pglab-${B} (${subnet})`);
    const check = await lab(['check', '--env', B]);
    expect(check.code).toBe(2);
    expect(check.stderr).toMatch(/quedó a medio crear.*`lab up --env/);
    expect(check.stderr).not.toMatch(NO_STACK);
    expect((await lab(['list', '--env', B])).code).toBe(0);
    expect((await lab(['class', 'status', '--class', KLASS])).stdout).toContain(B);

    const down = await lab(['down', '--env', B, '--purge', '--yes']);
    expect(down.stdout).toMatch(/borrado por completo/);
    expect(docker(['network', 'ls', '-q', '--filter', `name=^pglab-${B}$`])).toBe('');

    // The same leftover again (labels as lab makes them): `lab up` reuses it, same subnet.
    const labels = Object.entries(network.Labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
    docker(['network', 'create', '--internal', '--subnet', subnet, '-o', 'com.docker.network.bridge.inhibit_ipv4=true', ...labels, `pglab-${B}`]);
    const up = await lab(['up', '--env', B]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toContain(`red ${subnet}`);
    expect(up.stdout + up.stderr).not.toMatch(RAW_DOCKER);

    keepOnlyNetwork(B);
    const classDown = await lab(['class', 'down', '--class', KLASS, '--purge', '--yes']);
    expect(classDown.code).toBe(0);
    expect(classDown.stdout).toMatch(/1 entornos borrados/);
    expect(dockerObjects(`pglab.class=${KLASS}`)).toBe('');
  });
});
