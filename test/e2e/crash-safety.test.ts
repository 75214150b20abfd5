/**
 * Crash safety (issue 9), PostgreSQL 15: `lab up`, `lab class up`, `lab reset` and `lab down` killed
 * (SIGINT or SIGKILL) at several points, then the same command run again must finish with exit 0
 * and leave a consistent env (every server running, one network, its volumes, no lock left) or,
 * after `down --purge`, nothing at all. Kill points are taken from `docker events`: the signal goes
 * out as soon as Docker reports the step (network created, a volume created, a container started…).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, envNameFor, exec, lab } from './helpers.js';

const LAB = path.join(ROOT, 'bin', 'lab.js');
const UP = envNameFor('crashup');
const RESET = envNameFor('crashrs');
const DOWN = envNameFor('crashdn');
const KLASS = envNameFor('crashk');
const CLASS_ENVS = [1, 2, 3].map((i) => envNameFor(`crashc${i}`));
const ALL = [UP, RESET, DOWN, ...CLASS_ENVS];
/** Five persistent mounts per server (naming.ts PERSISTENT_MOUNTS), two servers. */
// 5 per server, the observer's records and each server's socket directory (shared read-only with the observer).
const VOLUMES = 13;
/** After `lab down`: the socket directories go with the servers, the records stay. */
const VOLUMES_DOWN = 11;
const NO_STACK = /\n\s+at .+\(.+:\d+:\d+\)/;
const RAW = /HTTP code|Error inesperado|No quedan subredes|\benv\.[a-zA-Z]+\b/;
const INTERRUPTED = /Interrumpido \(Ctrl\+C\)\. Lo que quedó a medio hacer se completa repitiendo el mismo comando\./;
const RESUMED = /Se completó lo que había quedado a medio hacer/;
const NOT_FOUND = /No existe el entorno/;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'crash-safety-'));

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}
const lines = (s: string) => s.split('\n').filter(Boolean);

interface DockerEvent { Type: string; Action: string; Actor: { ID: string; Attributes: Record<string, string> } }
/** The name Docker gives the object of an event (containers and networks: name; volumes: their ID is the name). */
const objectName = (e: DockerEvent) => (e.Type === 'volume' ? e.Actor.ID : e.Actor.Attributes.name);

interface Killed { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; point: string }

/**
 * Runs `lab args` and sends `signal` at the `nth` Docker event that `when` accepts. Fails if the
 * command ends before the point is reached; with `mayFinish`, a command that ends with exit 0 at
 * that point (its last step) is accepted.
 */
async function killAt(args: string[], signal: NodeJS.Signals, when: (e: DockerEvent) => boolean, nth = 1, mayFinish = false): Promise<Killed> {
  // --since the moment before `lab` starts: events are replayed even if `docker events` connects late.
  const since = (Date.now() / 1000).toFixed(3);
  const events = spawn('docker', ['events', '--since', since, '--format', '{{json .}}', '--filter', 'type=container', '--filter', 'type=volume', '--filter', 'type=network']);
  let buffered = '';
  let seen = 0;
  let point = '';
  const child = spawn('node', [LAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => { stdout += b; });
  child.stderr.on('data', (b) => { stderr += b; });
  events.stdout.on('data', (b: Buffer) => {
    buffered += b.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop()!;
    for (const line of parts) {
      const e = JSON.parse(line) as DockerEvent;
      if (!point && when(e) && ++seen === nth) {
        point = `${e.Type} ${e.Action} ${objectName(e)}`;
        child.kill(signal);
      }
    }
  });
  const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
  events.kill();
  expect(point, `${args.join(' ')} finished before the kill point (exit ${code}):\n${stdout}\n${stderr}`).not.toBe('');
  // The last step of a command: the signal may land once it has already finished its work.
  if (mayFinish && code === 0) return { code, signal: sig, stdout, stderr, point: `${point} (finished first)` };
  if (signal === 'SIGINT') {
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(INTERRUPTED);
    expect(stderr).not.toMatch(NO_STACK);
  } else {
    expect(sig).toBe('SIGKILL');
  }
  return { code, signal: sig, stdout, stderr, point };
}

/** An event about one of the env's own objects (pglab-<env>, pglab-<env>-maestro, its volumes…), never its lock. */
const about = (env: string, type: string, action: string) => (e: DockerEvent) => {
  const name = objectName(e) ?? '';
  return e.Type === type && e.Action === action && (name === `pglab-${env}` || (name.startsWith(`pglab-${env}-`) && !name.endsWith('-lock')));
};

/** What Docker holds for an env: containers (name → state), networks named like it, volumes, its lock. */
function envState(env: string) {
  const containers = Object.fromEntries(lines(docker(['ps', '-a', '--filter', `label=pglab.env=${env}`, '--format', '{{.Names}} {{.State}}'])).map((l) => l.split(' ')));
  return {
    containers,
    networks: lines(docker(['network', 'ls', '-q', '--filter', `name=^pglab-${env}$`])).length,
    volumes: lines(docker(['volume', 'ls', '-q', '--filter', `label=pglab.env=${env}`])).length,
    lock: docker(['ps', '-aq', '--filter', `name=^pglab-${env}-lock$`]) !== '',
  };
}

async function expectConsistent(env: string): Promise<void> {
  expect(envState(env)).toEqual({
    containers: { [`pglab-${env}-maestro`]: 'running', [`pglab-${env}-esclavo`]: 'running', [`pglab-${env}-observer`]: 'running' },
    networks: 1, volumes: VOLUMES, lock: false,
  });
  const sql = await exec(env, 'esclavo', 'postgres', ['psql', '-XAtc', 'SELECT pg_is_in_recovery()']);
  expect(sql.stdout.trim(), sql.stderr).toMatch(/^[tf]$/);
}

function expectGone(env: string): void {
  expect(envState(env)).toEqual({ containers: {}, networks: 0, volumes: 0, lock: false });
}

/** Exit 0, the expected message, no raw error, no stack; the env is always found again (never "No existe"). */
async function expectOk(args: string[], stdout?: RegExp) {
  const r = await lab(args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout + r.stderr).not.toMatch(RAW);
  expect(r.stdout + r.stderr).not.toMatch(NOT_FOUND);
  expect(r.stderr).not.toMatch(NO_STACK);
  if (stdout) expect(r.stdout).toMatch(stdout);
  return r;
}

const purgeAll = () => Promise.all([
  ...ALL.map((e) => lab(['down', '--env', e, '--purge', '--yes'])),
  lab(['class', 'down', '--class', KLASS, '--purge', '--yes']),
]);

const timings: Record<string, number> = {};
const points: string[] = [];

describe('crash safety: interrupted up, class up, reset and down (PostgreSQL 15)', () => {
  beforeAll(purgeAll);
  afterAll(async () => {
    await purgeAll();
    for (const e of ALL) expectGone(e);
    console.log('crash-safety kill points:', points.join(' | '));
    console.log('crash-safety timings (ms):', JSON.stringify(timings));
  });

  const upCases: [string, NodeJS.Signals, (e: DockerEvent) => boolean, number][] = [
    ['network created', 'SIGKILL', about(UP, 'network', 'create'), 1],
    ['volumes being created', 'SIGINT', about(UP, 'volume', 'create'), 3],
    ['containers being created', 'SIGKILL', about(UP, 'container', 'create'), 1],
    ['containers starting', 'SIGINT', about(UP, 'container', 'start'), 1],
  ];
  it.each(upCases)('`lab up` killed when %s: the next `lab up` completes the env and says so', async (_, signal, when, nth) => {
    await lab(['down', '--env', UP, '--purge', '--yes']);
    expectGone(UP);
    const killed = await killAt(['up', '--pg', '15', '--env', UP], signal, when, nth);
    points.push(`up ${signal} at ${killed.point}`);
    const again = await expectOk(['up', '--pg', '15', '--env', UP]);
    timings[`up-after-${killed.point.split(' ').slice(0, 2).join('-')}`] = again.ms;
    // Something was left half-done (a lock, a network without servers, a container never started): said plainly.
    expect(again.stdout).toMatch(RESUMED);
    expect(again.stdout).toMatch(/listo|ya está en marcha/);
    await expectConsistent(UP);
    // And a third run changes nothing.
    await expectOk(['up', '--env', UP], /ya está en marcha; no se cambió nada/);
  });

  it('`lab class up` of 3 envs killed in the middle: the next `class up` completes every env', async () => {
    const roster = path.join(tmp, 'clase.csv');
    writeFileSync(roster, `entorno\n${CLASS_ENVS.join('\n')}\n`);
    const args = ['class', 'up', '--roster', roster, '--pg', '15', '--class', KLASS, '--parallel', '2'];
    // The second env's first container start: the first env is at most half-way, the third not begun.
    const killed = await killAt(args, 'SIGKILL', (e) => e.Type === 'container' && e.Action === 'start'
      && CLASS_ENVS.some((env) => objectName(e).startsWith(`pglab-${env}-`)), 2);
    points.push(`class up SIGKILL at ${killed.point}`);
    const again = await expectOk(args, /3 entornos listos, 0 con error/);
    timings.classUpAfterKill = again.ms;
    // The envs the killed run held (their locks are left over) are said to be completed.
    expect(again.stderr).toMatch(/completado: había quedado a medio hacer/);
    for (const env of CLASS_ENVS) await expectConsistent(env);

    // class up interrupted by Ctrl+C while the third env's network is being made, once more.
    await lab(['down', '--env', CLASS_ENVS[2], '--purge', '--yes']);
    const sigint = await killAt(args, 'SIGINT', about(CLASS_ENVS[2], 'network', 'create'));
    points.push(`class up SIGINT at ${sigint.point}`);
    await expectOk(args, /3 entornos listos, 0 con error/);
    for (const env of CLASS_ENVS) await expectConsistent(env);
  });

  it('`lab class down --purge` killed in the middle: the next one removes everything', async () => {
    const args = ['class', 'down', '--class', KLASS, '--purge', '--yes'];
    const killed = await killAt(args, 'SIGKILL', (e) => e.Type === 'container' && e.Action === 'destroy'
      && CLASS_ENVS.some((env) => objectName(e).startsWith(`pglab-${env}-`)), 1);
    points.push(`class down SIGKILL at ${killed.point}`);
    await expectOk(args, /entornos borrados/);
    for (const env of CLASS_ENVS) expectGone(env);
  });

  const resetCases: [string, NodeJS.Signals, (e: DockerEvent) => boolean, number][] = [
    ['its old volumes are being removed', 'SIGKILL', about(RESET, 'volume', 'destroy'), 2],
    ['its new volumes are being created', 'SIGINT', about(RESET, 'volume', 'create'), 1],
    ['its new containers start', 'SIGKILL', about(RESET, 'container', 'start'), 1],
  ];
  it.each(resetCases)('`lab reset` killed when %s: the next `lab reset` recreates the env from scratch, same subnet', async (_, signal, when, nth) => {
    await expectOk(['up', '--pg', '15', '--env', RESET]);
    const subnet = JSON.parse(docker(['network', 'inspect', `pglab-${RESET}`]))[0].IPAM.Config[0].Subnet as string;
    // Work of the student that a reset must wipe.
    expect((await exec(RESET, 'maestro', 'postgres', ['psql', '-XAtc', 'CREATE TABLE antes_del_reset (x int)'])).code).toBe(0);
    const killed = await killAt(['reset', '--env', RESET, '--yes'], signal, when, nth);
    points.push(`reset ${signal} at ${killed.point}`);
    const again = await expectOk(['reset', '--env', RESET, '--yes'], /recreado; empieza en step-1/);
    // Killed while its old data was being removed: what is left is said plainly, then recreated.
    if (killed.point.startsWith('volume destroy')) expect(again.stdout).toMatch(/había quedado a medio hacer \(un comando interrumpido\): se recrea igual/);
    timings[`reset-after-${killed.point.split(' ').slice(0, 2).join('-')}`] = again.ms;
    await expectConsistent(RESET);
    expect(JSON.parse(docker(['network', 'inspect', `pglab-${RESET}`]))[0].IPAM.Config[0].Subnet).toBe(subnet);
    const table = await exec(RESET, 'maestro', 'postgres', ['psql', '-XAtc', "SELECT count(*) FROM pg_class WHERE relname = 'antes_del_reset'"]);
    expect(table.stdout.trim()).toBe('0');
  });

  const downCases: [string, string[], NodeJS.Signals, (e: DockerEvent) => boolean][] = [
    ['down (containers being removed)', [], 'SIGINT', about(DOWN, 'container', 'destroy')],
    ['down --purge (containers being removed)', ['--purge', '--yes'], 'SIGKILL', about(DOWN, 'container', 'destroy')],
    ['down --purge (network removed)', ['--purge', '--yes'], 'SIGKILL', about(DOWN, 'network', 'destroy')],
    ['down --purge (volumes being removed)', ['--purge', '--yes'], 'SIGINT', about(DOWN, 'volume', 'destroy')],
  ];
  it.each(downCases)('`lab %s` interrupted: the next run of the same command finishes it', async (_, extra, signal, when) => {
    await expectOk(['up', '--pg', '15', '--env', DOWN]);
    const args = ['down', '--env', DOWN, ...extra];
    const killed = await killAt(args, signal, when, 1, signal === 'SIGINT' && extra.length > 0);
    points.push(`down${extra.length ? ' --purge' : ''} ${signal} at ${killed.point}`);
    if (extra.length) {
      // Every volume removal may already be on its way when the signal lands: then nothing is left to do.
      const again = await lab(args);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toMatch(/borrado por completo|No existe el entorno ".*"; nada que hacer/);
      expect(again.stdout + again.stderr).not.toMatch(RAW);
      expectGone(DOWN);
    } else {
      await expectOk(args, /detenido\. Sus datos se conservan/);
      // Stopped: no containers, no network, the data kept; `lab up` brings it back.
      expect(envState(DOWN)).toEqual({ containers: {}, networks: 0, volumes: VOLUMES_DOWN, lock: false });
      await expectOk(['up', '--env', DOWN]);
      await expectConsistent(DOWN);
    }
  });
});
