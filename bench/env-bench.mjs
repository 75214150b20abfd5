// Environment benchmark: image build warm / layer rebuild (and cold base with BENCH_COLD_BASE=1),
// `lab up` with images present until both servers accept connections, `lab down`, idle memory.
// Usage: node bench/env-bench.mjs [pg=15] [runs=3]
import { execFileSync } from 'node:child_process';
import { envMemoryMiB, lab, row, sec } from './lib.mjs';
import { ensureImage, imageTag } from '../dist/src/images/images.js';
import { profileFor } from '../dist/src/pg/profile.js';

const pg = process.argv[2] ?? '15';
const runs = Number(process.argv[3] ?? 3);
const env = `bench-env-${process.pid}`;
const time = async (fn) => { const t0 = Date.now(); await fn(); return Date.now() - t0; };
const docker = (...a) => execFileSync('docker', a, { encoding: 'utf8' }).trim();

console.log(`# pglab environment benchmark — PostgreSQL ${pg}, ${runs} runs, ${new Date().toISOString()}`);
if (process.env.BENCH_COLD_BASE === '1') {
  try { docker('rmi', '-f', imageTag(pg), `pglab/base:${profileFor(pg).debianSuite}`); } catch {}
  row('image build, cold (debootstrap + layer)', sec(await time(() => ensureImage(pg))));
}
row('image build, server layer, no cache (base present)', sec(await time(() => ensureImage(pg, () => {}, { noCache: true }))));
row('image build, warm (up to date, reused)', sec(await time(() => ensureImage(pg))));
row('image size', docker('image', 'inspect', '-f', '{{.Size}}', imageTag(pg)).replace(/\d+/, (b) => `${(Number(b) / 1048576).toFixed(0)} MiB`));

lab(['down', '--env', env, '--purge', '--yes']);
const ups = [], downs = [], firstUps = [];
for (let i = 0; i < runs; i++) {
  firstUps.push(lab(['up', '--pg', pg, '--env', env]).ms); // new env: network, volumes, clusters created
  downs.push(lab(['down', '--env', env]).ms);
  ups.push(lab(['up', '--env', env]).ms); // existing volumes: restart only
  if (i === runs - 1) {
    await new Promise((r) => setTimeout(r, 5000));
    row('idle env memory (maestro + esclavo)', `${envMemoryMiB(env).toFixed(0)} MiB`);
    row('`lab up` on a running env (no change)', sec(lab(['up', '--env', env]).ms));
  }
  lab(['down', '--env', env, '--purge', '--yes']);
}
const stats = (xs) => `median ${sec(xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)])}, min ${sec(Math.min(...xs))}, max ${sec(Math.max(...xs))}`;
row('`lab up` new env until both accept connections', stats(firstUps));
row('`lab up` existing env (after down)', stats(ups));
row('`lab down` (keep volumes)', stats(downs));
