// The env observer's cost: CPU (cgroup usage over a window) and memory of pglab-<env>-observer on a
// finished env (both servers up, esclavo promoted), idle and while maestro writes; plus `lab grade`
// of the env and `lab check` per step. Usage: node bench/observer-bench.mjs [pg=15] [window s=60]
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { lab, row, sec } from './lib.mjs';

const pg = process.argv[2] ?? '15';
const windowS = Number(process.argv[3] ?? 60);
const env = `bench-obs-${process.pid}`;
const observer = `pglab-${env}-observer`;
const steps = ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6'];

/**
 * The observer's CPU: its perl process and the children it waited for (psql, pg_controldata), from
 * the host's /proc (utime+stime+cutime+cstime, in clock ticks of 10 ms); memory from docker stats.
 */
function cgroup() {
  const pid = execFileSync('docker', ['top', observer, '-o', 'pid'], { encoding: 'utf8' }).trim().split('\n')[1].trim();
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  const mem = execFileSync('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', observer], { encoding: 'utf8' }).split('/')[0].trim();
  return { usage: ticks * 10_000, mem };
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
  row(`observer memory, ${label}`, b.mem);
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
  // The same finished env checked by another checkout's CLI (e.g. main before the observer), for a before/after.
  const base = process.env.PGLAB_BENCH_BASE_CLI;
  if (base) {
    // A build without observers takes the observer container for a broken server: out of its way meanwhile (records stay).
    execFileSync('docker', ['rm', '-f', observer]);
    const baseChecks = [];
    for (const s of steps) {
      const runs = [0, 1, 2].map(() => {
        const t0 = process.hrtime.bigint();
        spawnSync('node', [base, 'check', s, '--env', env], { encoding: 'utf8' });
        return Number(process.hrtime.bigint() - t0) / 1e6;
      });
      baseChecks.push(median(runs));
      row(`check ${s} (finished env, ${base}, median of 3)`, sec(median(runs)));
    }
    row(`check per step, median over steps (finished env, ${base})`, sec(median(baseChecks)));
    lab(['up', '--env', env]);
  }
  const grades = [0, 1, 2].map(() => lab(['grade', '--env', env, '--format', 'json']).ms);
  row('lab grade of one env (median of 3)', sec(median(grades)));
} finally {
  lab(['down', '--env', env, '--purge', '--yes']);
}
