// The env observer's cost: CPU (cgroup usage over a window) and memory of pglab-<env>-observer on a
// finished env (both servers up, esclavo promoted), idle and while maestro writes; plus `lab grade`
// of the env and `lab check` per step. Usage: node bench/observer-bench.mjs [pg=15] [window s=60]
import { execFileSync } from 'node:child_process';
import { lab, row, sec } from './lib.mjs';

const pg = process.argv[2] ?? '15';
const windowS = Number(process.argv[3] ?? 60);
const env = `bench-obs-${process.pid}`;
const observer = `pglab-${env}-observer`;
const steps = ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6'];

/** cgroup v2 counters of the observer container, read from inside it (its own /sys/fs/cgroup). */
function cgroup() {
  const out = execFileSync('docker', ['exec', observer, 'sh', '-c', 'cat /sys/fs/cgroup/cpu.stat /sys/fs/cgroup/memory.current'], { encoding: 'utf8' });
  const usage = Number(/usage_usec (\d+)/.exec(out)?.[1] ?? NaN);
  const mem = Number(out.trim().split('\n').pop());
  return { usage, mem };
}
async function measure(label, during) {
  const a = cgroup();
  const t0 = Date.now();
  const stop = during?.();
  await new Promise((r) => setTimeout(r, windowS * 1000));
  stop?.();
  const b = cgroup();
  const cpu = (100 * (b.usage - a.usage)) / ((Date.now() - t0) * 1000);
  row(`observer CPU, ${label} (${windowS} s)`, `${cpu.toFixed(2)} % of one core`);
  row(`observer memory, ${label}`, `${(b.mem / 1048576).toFixed(1)} MiB`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`# pglab observer benchmark — PostgreSQL ${pg}, ${new Date().toISOString()}`);
lab(['down', '--env', env, '--purge', '--yes']);
lab(['up', '--pg', pg, '--env', env]);
try {
  await measure('fresh env, servers idle');
  for (const s of steps) lab(['solve', s, '--env', env, '--yes']);
  await measure('finished env, idle');
  let writing = true;
  const writer = async () => {
    while (writing) {
      try {
        execFileSync('docker', ['exec', '-u', 'postgres', `pglab-${env}-maestro`, 'psql', '-qAtX', '-c', 'CREATE TABLE IF NOT EXISTS bench (i int); INSERT INTO bench SELECT generate_series(1, 1000)']);
      } catch { /* keep going */ }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  await measure('finished env, maestro writing every second', () => { writer(); return () => { writing = false; }; });
  const records = execFileSync('docker', ['exec', observer, 'sh', '-c', 'wc -l < observer.log; wc -c < observer.log'], { encoding: 'utf8' }).trim().split('\n');
  row('observer records (lines, bytes) after the whole tutorial', `${records[0]}, ${records[1]}`);
  const checks = [];
  for (const s of steps) {
    const runs = [0, 1, 2].map(() => lab(['check', s, '--env', env]).ms);
    checks.push(median(runs));
    row(`check ${s} (finished env, median of 3)`, sec(median(runs)));
  }
  row('check per step, median over steps (finished env)', sec(median(checks)));
  const grades = [0, 1, 2].map(() => lab(['grade', '--env', env, '--format', 'json']).ms);
  row('lab grade of one env (median of 3)', sec(median(grades)));
} finally {
  lab(['down', '--env', env, '--purge', '--yes']);
}
