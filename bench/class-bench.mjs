// Class benchmark: `class up` of N envs (time, memory per idle env), `class grade` of them,
// `class down --purge`, and `reset --to step-6`. Usage: node bench/class-bench.mjs [sizes=10,20] [pg=15]
import { execFileSync } from 'node:child_process';
import { envMemoryMiB, lab, row, sec } from './lib.mjs';

const sizes = (process.argv[2] ?? '10,20').split(',').map(Number);
const pg = process.argv[3] ?? '15';
console.log(`# pglab class benchmark — PostgreSQL ${pg}, ${new Date().toISOString()}`);
for (const n of sizes) {
  const klass = `bench${n}-${process.pid}`;
  const up = lab(['class', 'up', '--count', String(n), '--pg', pg, '--class', klass, '--parallel', '3']);
  row(`class up ${n} envs (${2 * n} servers)`, sec(up.ms));
  await new Promise((r) => setTimeout(r, 10_000));
  const names = execFileSync('docker', ['ps', '--filter', `label=pglab.class=${klass}`, '--format', '{{.Label "pglab.env"}}'], { encoding: 'utf8' }).trim().split('\n');
  const envs = [...new Set(names)];
  const total = envs.reduce((sum, e) => sum + envMemoryMiB(e), 0);
  row(`idle memory, ${envs.length} envs`, `${total.toFixed(0)} MiB total, ${(total / envs.length).toFixed(1)} MiB per env`);
  const grade = lab(['class', 'grade', '--class', klass, '--format', 'csv', '--out', `/tmp/${klass}.csv`]);
  row(`class grade ${n} envs (csv)`, sec(grade.ms));
  row(`class down --purge ${n} envs`, sec(lab(['class', 'down', '--class', klass, '--purge', '--yes']).ms));
}
const env = `bench-reset-${process.pid}`;
lab(['up', '--pg', pg, '--env', env]);
row('reset --to step-6', sec(lab(['reset', '--env', env, '--to', 'step-6', '--yes']).ms));
lab(['down', '--env', env, '--purge', '--yes']);
