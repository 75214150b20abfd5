// Grader benchmark: `lab check step-N` on a fresh env and on a finished env, and `lab solve`
// of the whole tutorial. Usage: node bench/check-bench.mjs [pg=15]
import { lab, row, sec } from './lib.mjs';

const pg = process.argv[2] ?? '15';
const env = `bench-chk-${process.pid}`;
const steps = ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6'];
console.log(`# pglab grader benchmark — PostgreSQL ${pg}, ${new Date().toISOString()}`);
lab(['down', '--env', env, '--purge', '--yes']);
lab(['up', '--pg', pg, '--env', env]);
try {
  for (const s of steps) row(`check ${s} (fresh env)`, sec(lab(['check', s, '--env', env]).ms));
  let solveTotal = 0, checkTotal = 0;
  for (const s of steps) {
    const solve = lab(['solve', s, '--env', env, '--yes']).ms;
    const check = lab(['check', s, '--env', env]);
    solveTotal += solve; checkTotal += check.ms;
    row(`solve ${s} + check (exit ${check.code})`, `${sec(solve)} + ${sec(check.ms)}`);
  }
  row('whole tutorial: solve', sec(solveTotal));
  row('whole tutorial: solve + check', sec(solveTotal + checkTotal));
  for (const s of steps) row(`check ${s} (finished env)`, sec(lab(['check', s, '--env', env]).ms));
  row('check (all steps, finished env)', sec(lab(['check', '--env', env]).ms));
} finally {
  lab(['down', '--env', env, '--purge', '--yes']);
}
