// Emulated arm64 beside native: image builds (Debian base, 9.1, 15), `lab up`, and the whole
// wal-streaming tutorial solved (`lab solve step-1..6`) and checked (`lab check`), once per platform.
// Under qemu-user the arm64 servers run 5–20× slower; 9.1 is cross-compiled natively either way.
//
// Usage: node bench/arm64-bench.mjs
//   BENCH_PLATFORMS=linux/amd64,linux/arm64   platforms, in this order (the engine's own is native)
//   BENCH_PG=9.1,15                          images to time (built only when missing or stale,
//                                            so each is built once; BENCH_REBUILD=1: rebuild
//                                            the server layer without cache, and the base too)
//   BENCH_TUTORIAL=9.1                       versions whose tutorial is solved and checked
// Needs qemu-user-static with binfmt_misc for a foreign platform (README, "arm64").
import { execFileSync } from 'node:child_process';
import { lab, row, sec } from './lib.mjs';
import { imageStatus } from '../dist/src/images/images.js';
import { baseTag, foreignArch } from '../dist/src/images/recipe.js';
import { profileFor } from '../dist/src/pg/profile.js';

const list = (v, d) => (v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const platforms = list(process.env.BENCH_PLATFORMS, 'linux/amd64,linux/arm64');
const pgs = list(process.env.BENCH_PG, '9.1,15');
const tutorial = list(process.env.BENCH_TUTORIAL, '9.1');
const rebuild = process.env.BENCH_REBUILD === '1';
const docker = (...a) => execFileSync('docker', a, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
const exists = (ref) => { try { docker('image', 'inspect', ref); return true; } catch { return false; } };
const arch = (ref) => docker('image', 'inspect', '-f', '{{.Architecture}}', ref);

console.log(`# pglab arm64 benchmark — ${platforms.join(' vs ')}, images ${pgs.join(' ')}, tutorial ${tutorial.join(' ')}, ${new Date().toISOString()}`);
console.log(`# host ${docker('version', '-f', '{{.Server.Arch}}')}, ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores; PGLAB_TIMEOUT_SCALE=${process.env.PGLAB_TIMEOUT_SCALE ?? '(auto)'}`);

for (const platform of platforms) {
  const foreign = await foreignArch(platform);
  const name = `${platform}${foreign ? ' (emulated)' : ' (native)'}`;
  console.log(`\n## ${name}`);
  for (const suite of [...new Set(pgs.map((pg) => profileFor(pg).debianSuite))]) {
    const base = baseTag(suite, foreign);
    if (rebuild && exists(base)) docker('rmi', base);
    if (exists(base)) { row(`base ${base}`, `present (${arch(base)}), not rebuilt`); continue; }
    // The base alone: `lab images build` of a version would time base + layer together.
    const { ensureBase } = await import('../dist/src/images/images.js');
    const t0 = Date.now();
    await ensureBase(suite, () => {}, platform);
    row(`base ${base} (debootstrap${foreign ? ', 2nd stage emulated' : ''})`, sec(Date.now() - t0));
  }
  for (const pg of pgs) {
    const before = await imageStatus(pg, foreign);
    if (before.state === 'current' && !rebuild) { row(`image ${before.tag}`, `current (${before.arch}), not rebuilt`); continue; }
    const r = lab(['images', 'build', '--pg', pg, '--platform', platform, ...(rebuild ? ['--no-cache'] : [])]);
    const after = await imageStatus(pg, foreign);
    row(`image ${after.tag} build (${after.arch}, ${(after.size / 1048576).toFixed(0)} MiB)`, sec(r.ms));
  }
  for (const pg of tutorial) {
    const env = `bench-arm-${pg.replace('.', '')}-${foreign ?? 'nat'}-${process.pid}`;
    lab(['down', '--env', env, '--purge', '--yes']);
    try {
      const up = lab(['up', '--pg', pg, '--env', env, '--platform', platform]);
      row(`${pg}: lab up (new env, both accept connections)`, sec(up.ms));
      let solved = 0;
      for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']) {
        const s = lab(['solve', step, '--env', env, '--yes']);
        row(`${pg}:   lab solve ${step}`, sec(s.ms));
        solved += s.ms;
      }
      row(`${pg}: tutorial solved (steps 1–6)`, sec(solved));
      const check = lab(['check', '--env', env]);
      row(`${pg}: lab check, every step (exit ${check.code})`, sec(check.ms));
    } finally {
      lab(['down', '--env', env, '--purge', '--yes']);
    }
  }
}
