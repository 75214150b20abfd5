// Soak (issue 9; not CI, not a test): a class of N envs, each checked with `lab check step-1` every few
// seconds for M minutes while two envs are killed (`docker kill`) and brought back (`lab up --env`).
// Prints failures (exits other than 0/1, stack traces, "Error inesperado"), leaked execs (running execs
// and probe processes in the containers, lab/docker processes on the host), memory growth of the
// containers and of the host, and check latency percentiles. Cleans up with `class down --purge`.
// Usage: node bench/soak.mjs [minutes=10] [envs=20] [pg=15]   (SOAK_INTERVAL_S=5, SOAK_KEEP=1 keeps the class)
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, lab, row, sec } from './lib.mjs';

const MINUTES = Number(process.argv[2] ?? 10);
const COUNT = Number(process.argv[3] ?? 20);
const PG = process.argv[4] ?? '15';
const INTERVAL_MS = Number(process.env.SOAK_INTERVAL_S ?? 5) * 1000;
const CLASS = 'soak';
const LAB = path.join(ROOT, 'bin', 'lab.js');
const STACK = /\n\s+at .+:\d+:\d+\)?/;
/** After `lab up` brought a killed env back, its checks may still see PostgreSQL starting for a while. */
const GRACE_MS = 20_000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const docker = (args) => execFileSync('docker', args, { encoding: 'utf8', maxBuffer: 64 << 20 }).trim();
const lines = (s) => s.split('\n').filter(Boolean);

/** Asynchronous `lab …`: exit code, output and wall time. */
function labAsync(args) {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn('node', [LAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? `signal ${signal}` : -1), stdout, stderr, ms: performance.now() - t0 }));
  });
}

const containersOf = () => lines(docker(['ps', '-a', '--filter', `label=pglab.class=${CLASS}`, '--format', '{{.Names}}']));

/** Memory of every running container of the class (MiB, from docker stats). */
function containerMemory() {
  const names = lines(docker(['ps', '--filter', `label=pglab.class=${CLASS}`, '--format', '{{.Names}}']));
  if (!names.length) return {};
  const out = docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', ...names]);
  return Object.fromEntries(lines(out).map((l) => {
    const [name, usage] = [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)];
    return [name, toMiB(usage.split('/')[0].trim())];
  }));
}

function toMiB(v) {
  const m = /([\d.]+)\s*([KMG]i?B|B)/.exec(v);
  if (!m) return 0;
  return Number(m[1]) * ({ B: 1 / 1048576, KiB: 1 / 1024, KB: 1 / 1024, MiB: 1, MB: 1, GiB: 1024, GB: 1024 }[m[2]] ?? 1);
}

/** Execs Docker still counts as running in the class's containers, and the processes inside them. */
function execsAndProcesses() {
  const names = containersOf();
  const inspected = names.length ? JSON.parse(docker(['inspect', ...names])) : [];
  let execs = 0;
  let processes = 0;
  const probes = [];
  for (const c of inspected) {
    execs += (c.ExecIDs ?? []).length;
    if (!c.State.Running) continue;
    const top = lines(docker(['top', c.Name.slice(1), '-eo', 'pid,args'])).slice(1);
    processes += top.length;
    // Our exec wrapper (`timeout -k 2 N …`, src/docker/client.ts): none should outlive its check.
    // (The image's flight recorder runs `timeout 5 psql` every 5 s on its own: not counted.)
    for (const p of top) if (/\btimeout -k\b/.test(p)) probes.push(`${c.Name.slice(1)}: ${p.trim()}`);
  }
  return { execs, processes, probes };
}

/** Host side: MemAvailable, dockerd/containerd RSS and open files, lab and docker CLI processes. */
function host() {
  const meminfo = readFileSync('/proc/meminfo', 'utf8');
  const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  const daemon = (name) => {
    const pid = lines(spawnSync('pgrep', ['-x', name], { encoding: 'utf8' }).stdout ?? '')[0];
    if (!pid) return { rssMiB: NaN, fds: NaN };
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    let fds = NaN;
    try { fds = readdirSync(`/proc/${pid}/fd`).length; } catch { /* not ours to read */ }
    return { rssMiB: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) / 1024, fds };
  };
  const ps = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  return {
    availableMiB: kb('MemAvailable') / 1024,
    usedMiB: (kb('MemTotal') - kb('MemAvailable')) / 1024,
    dockerd: safe(() => daemon('dockerd')),
    containerd: safe(() => daemon('containerd')),
    labProcesses: lines(ps).filter((l) => l.includes(LAB)).length,
    dockerCli: lines(ps).filter((l) => /^docker (exec|stats|top|inspect)/.test(l)).length,
  };
}

/** Busy and total CPU jiffies of the host (/proc/stat), and CPU seconds used so far by dockerd and containerd. */
function cpu() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = f[3] + f[4];
  const total = f.reduce((a, b) => a + b, 0);
  const seconds = (name) => {
    const pid = lines(spawnSync('pgrep', ['-x', name], { encoding: 'utf8' }).stdout ?? '')[0];
    if (!pid) return NaN;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  };
  return { busy: total - idle, total, dockerd: seconds('dockerd'), containerd: seconds('containerd') };
}

function safe(fn) {
  try { return fn(); } catch { return { rssMiB: NaN, fds: NaN }; }
}

function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  if (spawnSync('pgrep', ['-f', 'vitest']).status === 0) {
    console.log('# aviso / warning: vitest is running on this machine; the numbers will include its load');
  }
  console.log(`# pglab soak — ${COUNT} envs, PostgreSQL ${PG}, ${MINUTES} min, a check every ${INTERVAL_MS / 1000} s per env, ${new Date().toISOString()}`);
  const up = lab(['class', 'up', '--count', String(COUNT), '--pg', PG, '--class', CLASS, '--parallel', '3']);
  row(`class up ${COUNT} envs`, sec(up.ms));
  const envs = [...new Set(lines(docker(['ps', '--filter', `label=pglab.class=${CLASS}`, '--format', '{{.Label "pglab.env"}}'])))].sort();
  await sleep(10_000); // let the servers settle before the baseline
  // One env checked alone, three times in a row: the latency without any load, to compare with.
  const alone = [];
  for (let i = 0; i < 3; i++) alone.push((await labAsync(['check', 'step-1', '--env', envs[0]])).ms);
  row('check step-1 alone (3 in a row)', alone.map(sec).join(', '));
  const before = { memory: containerMemory(), execs: execsAndProcesses(), host: host(), cpu: cpu() };

  const chaos = [envs[Math.floor(envs.length / 4)], envs[Math.floor((3 * envs.length) / 4)]];
  /** env → [from, to] windows in which exit 2 is expected (killed, until brought back + grace). */
  const windows = new Map(chaos.map((e) => [e, []]));
  const results = [];
  const failures = [];
  const restarts = [];
  const t0 = Date.now();
  const end = t0 + MINUTES * 60_000;
  /** The check [from, to] overlaps a kill window of its env (one started just before the kill counts too). */
  const inWindow = (env, from, to) => (windows.get(env) ?? []).some(([a, b]) => to >= a && from <= (b ?? Infinity));

  const worker = async (env, i) => {
    await sleep((i * INTERVAL_MS) / envs.length); // staggered
    while (Date.now() < end) {
      const started = Date.now();
      const r = await labAsync(['check', 'step-1', '--env', env]);
      const chaos = inWindow(env, started, Date.now());
      const expected2 = r.code === 2 && chaos;
      const output = r.stdout + r.stderr;
      const bad = (r.code !== 0 && r.code !== 1 && !expected2) || STACK.test(output) || /Error inesperado|Unexpected error/.test(output);
      results.push({ env, ms: r.ms, code: r.code, chaos });
      if (bad) failures.push(`${new Date(started).toISOString()} ${env} exit ${r.code}: ${output.trim().split('\n').slice(-3).join(' | ')}`);
      await sleep(Math.max(0, INTERVAL_MS - (Date.now() - started)));
    }
  };

  /** Kills the env's containers at `atFraction` of the run, brings it back with `lab up` 15 s later. */
  const killer = async (env, atFraction, which) => {
    await sleep(MINUTES * 60_000 * atFraction);
    const window = [Date.now(), undefined];
    windows.get(env).push(window);
    const containers = which.map((role) => `pglab-${env}-${role}`);
    docker(['kill', ...containers]);
    const state = docker(['inspect', '-f', '{{.Name}} {{.State.Status}} restarts={{.RestartCount}}', ...containers]).replace(/\n/g, ', ');
    await sleep(15_000);
    const back = await labAsync(['up', '--env', env]);
    window[1] = Date.now() + GRACE_MS;
    const output = back.stdout + back.stderr;
    restarts.push(`${env}: docker kill ${which.join('+')} at ${((window[0] - t0) / 1000).toFixed(0)} s (15 s later: ${state}); lab up → exit ${back.code} in ${sec(back.ms)}: ${lines(back.stdout)[0] ?? ''}`);
    if (back.code !== 0 || STACK.test(output) || /Error inesperado/.test(output)) failures.push(`lab up --env ${env} exit ${back.code}: ${output.trim()}`);
  };

  await Promise.all([
    ...envs.map(worker),
    killer(chaos[0], 0.25, ['maestro', 'esclavo']),
    killer(chaos[1], 0.55, ['esclavo']),
  ]);
  const cpuEnd = cpu();
  await sleep(5000); // let the last execs end
  const after = { memory: containerMemory(), execs: execsAndProcesses(), host: host(), cpu: cpuEnd };

  console.log('\n## checks');
  const normal = results.filter((r) => !r.chaos).map((r) => r.ms).sort((a, b) => a - b);
  const codes = {};
  for (const r of results) codes[r.code] = (codes[r.code] ?? 0) + 1;
  row('checks run', `${results.length} (${(results.length / MINUTES).toFixed(0)}/min), exits ${JSON.stringify(codes)}`);
  row('checks during kill windows (exit 2 expected)', String(results.filter((r) => r.chaos).length));
  row('latency p50 / p90 / p99 / max (outside kill windows)', [50, 90, 99, 100].map((p) => sec(percentile(normal, p))).join(' / '));
  const cores = (await import('node:os')).cpus().length;
  const busy = (after.cpu.busy - before.cpu.busy) / (after.cpu.total - before.cpu.total);
  const busyS = ((after.cpu.busy - before.cpu.busy) / 100) ; // jiffies of all cores, USER_HZ = 100
  row('host CPU busy during the run', `${(busy * 100).toFixed(0)} % of ${cores} cores, ${(busyS / results.length).toFixed(2)} CPU-s per check`);
  row('dockerd / containerd CPU during the run', `${(after.cpu.dockerd - before.cpu.dockerd).toFixed(0)} s / ${(after.cpu.containerd - before.cpu.containerd).toFixed(0)} s`);
  for (const r of restarts) console.log(`  ${r}`);
  row('failures', String(failures.length));
  for (const f of failures.slice(0, 30)) console.log(`  ✗ ${f}`);

  console.log('\n## execs and processes');
  row('running execs in containers before → after', `${before.execs.execs} → ${after.execs.execs}`);
  row('processes in containers before → after', `${before.execs.processes} → ${after.execs.processes}`);
  row('probe processes left in containers', String(after.execs.probes.length));
  for (const p of after.execs.probes.slice(0, 10)) console.log(`  ${p}`);
  row('lab processes on the host (after)', String(after.host.labProcesses));
  row('docker CLI exec/stats processes on the host (after)', String(after.host.dockerCli));

  console.log('\n## memory');
  const growth = Object.keys(after.memory).filter((n) => n in before.memory && !chaos.some((e) => n.startsWith(`pglab-${e}-`)))
    .map((n) => ({ n, d: after.memory[n] - before.memory[n] })).sort((a, b) => a.d - b.d);
  const total = (m) => Object.values(m).reduce((s, v) => s + v, 0);
  row('containers total before → after', `${total(before.memory).toFixed(0)} → ${total(after.memory).toFixed(0)} MiB (${Object.keys(after.memory).length} containers)`);
  if (growth.length) {
    row('growth per container (not killed) min / median / max', `${growth[0].d.toFixed(1)} / ${growth[Math.floor(growth.length / 2)].d.toFixed(1)} / ${growth.at(-1).d.toFixed(1)} MiB (max: ${growth.at(-1).n})`);
  }
  row('host used (MemTotal − MemAvailable) before → after', `${before.host.usedMiB.toFixed(0)} → ${after.host.usedMiB.toFixed(0)} MiB`);
  row('dockerd RSS / open files before → after', `${before.host.dockerd.rssMiB.toFixed(0)} → ${after.host.dockerd.rssMiB.toFixed(0)} MiB / ${before.host.dockerd.fds} → ${after.host.dockerd.fds}`);
  row('containerd RSS / open files before → after', `${before.host.containerd.rssMiB.toFixed(0)} → ${after.host.containerd.rssMiB.toFixed(0)} MiB / ${before.host.containerd.fds} → ${after.host.containerd.fds}`);

  if (!process.env.SOAK_KEEP) row('class down --purge', sec(lab(['class', 'down', '--class', CLASS, '--purge', '--yes']).ms));
  process.exitCode = failures.length ? 1 : 0;
}

process.once('SIGINT', () => {
  console.error('\ninterrumpido: borrando la clase soak…');
  if (!process.env.SOAK_KEEP) lab(['class', 'down', '--class', CLASS, '--purge', '--yes']);
  process.exit(130);
});
await main();
