// Live feedback benchmark: what one `lab check step-N` costs on an env, and what `lab watch` and
// `lab web` cost per minute, and how long the class board takes to refresh every env.
// Prints numbers, asserts nothing.
//
//   node bench/live-bench.mjs check ENV [runs=3]        lab check of every step (wall time, min and median)
//   node bench/live-bench.mjs watch ENV [step] [s=60]   CPU of `lab watch` (non-TTY) over s seconds
//   node bench/live-bench.mjs web ENV [s=60]            CPU of `lab web` with one page open (SSE) over s seconds
//   node bench/live-bench.mjs board CLASS [cycles=3]    `lab class web`: first page, then refreshes of every env
//
// LAB_BIN=/other/checkout/bin/lab.js compares another build (e.g. the code before a change).
// CPU is counted where it is spent: the lab process (user + system), and the env's containers
// (cgroup cpuacct: the probes run there), minus what the same containers use idle for as long
// (PostgreSQL and the flight recorder). Docker's daemons are listed apart: they serve every user
// of the machine, so their share is only an upper bound.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ROOT, row, sec } from './lib.mjs';

const LAB = process.env.LAB_BIN ?? path.join(ROOT, 'bin', 'lab.js');
const [mode, target, ...rest] = process.argv.slice(2);
const TICK = 100; // USER_HZ
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function labSync(args) {
  const t0 = process.hrtime.bigint();
  try {
    execFileSync('node', [LAB, ...args], { stdio: 'ignore' });
  } catch { /* a failing check exits 1: still timed */ }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** CPU seconds of a process and its waited-for children (utime, stime, cutime, cstime). */
function procCpu(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK;
  } catch {
    return 0;
  }
}

function envContainers(env) {
  return execFileSync('docker', ['ps', '-q', '--no-trunc', '--filter', `label=pglab.env=${env}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
}

/** CPU seconds used so far by these containers (cgroup v1 cpuacct or v2 cpu.stat). */
function containersCpu(ids) {
  let s = 0;
  for (const id of ids) {
    const v1 = `/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`;
    const v2 = [`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, `/sys/fs/cgroup/docker/${id}/cpu.stat`].find(existsSync);
    if (existsSync(v1)) s += Number(readFileSync(v1, 'utf8')) / 1e9;
    else if (v2) s += Number(/usage_usec (\d+)/.exec(readFileSync(v2, 'utf8'))?.[1] ?? 0) / 1e6;
  }
  return s;
}

function daemonsCpu() {
  const pids = execFileSync('sh', ['-c', 'pgrep -x dockerd; pgrep -x containerd; true'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  return pids.reduce((sum, p) => sum + procCpu(p), 0);
}

function load() {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Runs `start()` for `seconds`, and reports CPU as a % of one core, idle baseline subtracted. */
async function cpuOver(env, seconds, start) {
  const ids = envContainers(env);
  const idle0 = containersCpu(ids);
  const d0 = daemonsCpu();
  await sleep(seconds * 500);
  const idlePerS = (containersCpu(ids) - idle0) / (seconds / 2);
  const daemonsIdlePerS = (daemonsCpu() - d0) / (seconds / 2);
  const child = await start();
  await sleep(3000); // start-up is not part of a cycle
  const [p0, c0, dd0, t0] = [procCpu(child.pid), containersCpu(ids), daemonsCpu(), Date.now()];
  await sleep(seconds * 1000);
  const [p1, c1, dd1, t1] = [procCpu(child.pid), containersCpu(ids), daemonsCpu(), Date.now()];
  child.kill('SIGINT');
  const span = (t1 - t0) / 1000;
  const pct = (x) => `${((100 * x) / span).toFixed(1)} %`;
  const lab = p1 - p0;
  const containers = Math.max(0, c1 - c0 - idlePerS * span);
  const daemons = Math.max(0, dd1 - dd0 - daemonsIdlePerS * span);
  row('  lab process', pct(lab));
  row('  env containers (probes), idle subtracted', `${pct(containers)} (idle: ${(100 * idlePerS).toFixed(1)} %)`);
  row('  lab + containers', pct(lab + containers));
  row('  dockerd + containerd (shared: upper bound)', pct(daemons));
  row('  load average during the run', load());
}

if (mode === 'check') {
  const runs = Number(rest[0] ?? 3);
  const steps = JSON.parse(execFileSync('node', [path.join(ROOT, 'bin', 'lab.js'), 'list', '--env', target, '--json'], { encoding: 'utf8' })).steps.map((s) => s.id);
  console.log(`# lab check per step — env ${target}, ${runs} runs each, ${new Date().toISOString()}, ${LAB}, load ${load()}`);
  labSync(['check', steps[0], '--env', target]); // warm: the plan of each step exists after one run
  for (const s of steps) {
    labSync(['check', s, '--env', target]);
    const times = Array.from({ length: runs }, () => labSync(['check', s, '--env', target])).sort((a, b) => a - b);
    row(`check ${s}`, `min ${sec(times[0])}  median ${sec(times[Math.floor(times.length / 2)])}`);
  }
  row('load average after', load());
} else if (mode === 'watch') {
  const step = rest[0] ?? 'step-1';
  const seconds = Number(rest[1] ?? 60);
  console.log(`# lab watch ${step} — env ${target}, ${seconds} s, ${new Date().toISOString()}, load ${load()}`);
  await cpuOver(target, seconds, async () => spawn('node', [LAB, 'watch', step, '--env', target], { stdio: ['pipe', 'ignore', 'ignore'] }));
} else if (mode === 'web') {
  const seconds = Number(rest[0] ?? 60);
  console.log(`# lab web — env ${target}, one page open, ${seconds} s, ${new Date().toISOString()}, load ${load()}`);
  let events = 0;
  await cpuOver(target, seconds, async () => {
    const child = spawn('node', [LAB, 'web', '--env', target], { stdio: ['ignore', 'pipe', 'ignore'] });
    const url = await new Promise((resolve) => child.stdout.on('data', (d) => { const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(String(d)); if (m) resolve(m[0]); }));
    const u = new URL(url);
    http.get(`http://127.0.0.1:${u.port}/events${u.search}`, (res) => res.on('data', (d) => { events += String(d).split('\n\n').filter((x) => x.startsWith('data:')).length; }));
    return child;
  });
  row('  updates sent to the page', String(events));
} else if (mode === 'board') {
  const cycles = Number(rest[0] ?? 3);
  const n = execFileSync('docker', ['ps', '--filter', `label=pglab.class=${target}`, '--format', '{{.Label "pglab.env"}}'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  console.log(`# lab class web — class ${target} (${new Set(n).size} envs), ${new Date().toISOString()}, load ${load()}`);
  const child = spawn('node', [LAB, 'class', 'web', '--class', target], { stdio: ['ignore', 'pipe', 'ignore'] });
  const url = await new Promise((resolve) => child.stdout.on('data', (d) => { const m = /http:\/\/127\.0\.0\.1:\d+\/\?token=\S+/.exec(String(d)); if (m) resolve(m[0]); }));
  const u = new URL(url);
  let t0 = Date.now();
  await new Promise((resolve) => http.get(url, (res) => { res.resume(); res.on('end', resolve); }));
  row('first page (every env checked once)', sec(Date.now() - t0));
  t0 = Date.now();
  const times = [];
  await new Promise((resolve) => {
    http.get(`http://127.0.0.1:${u.port}/events${u.search}`, (res) => {
      let buf = '';
      res.on('data', (d) => {
        buf += d;
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          const msg = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (!msg.startsWith('data:')) continue;
          const ms = Number(JSON.parse(msg.slice(5)).cyclems);
          times.push(ms);
          if (times.length > cycles) { res.destroy(); resolve(); }
        }
      });
    });
  });
  // The first message repeats the page's refresh; the others are new refreshes.
  for (const [i, ms] of times.slice(1).entries()) row(`refresh ${i + 1} of every env`, sec(ms));
  row('load average after', load());
  child.kill('SIGINT');
} else {
  console.log('usage: node bench/live-bench.mjs check ENV [runs] | watch ENV [step] [s] | web ENV [s] | board CLASS [cycles]');
}
