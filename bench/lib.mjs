// Shared helpers for benchmark scripts: run the real CLI and time it; print numbers, assert nothing.
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// Benchmarks run where no registry may be asked (Debian's base by debootstrap) and build 9.1 from
// the vendored source beside the checkout, never downloaded.
process.env.PGLAB_BASE_REGISTRY ??= 'none';
process.env.PGLAB_PG91_SOURCE ??= path.resolve(ROOT, '../shared/vendor/postgresql-9.1.24.git-REL9_1_24.tar.gz');
const LAB = path.join(ROOT, 'bin', 'lab.js');

export function lab(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('node', [LAB, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && !args.includes('check')) throw new Error(`lab ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return { ms, code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export const sec = (ms) => `${(ms / 1000).toFixed(2)} s`;

/** Memory of an env's containers (docker stats, MiB). */
export function envMemoryMiB(env) {
  const ids = execFileSync('docker', ['ps', '-q', '--filter', `label=pglab.env=${env}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  if (!ids.length) return 0;
  const out = execFileSync('docker', ['stats', '--no-stream', '--format', '{{.MemUsage}}', ...ids], { encoding: 'utf8' });
  return out.trim().split('\n').reduce((sum, line) => sum + toMiB(line.split('/')[0].trim()), 0);
}

function toMiB(v) {
  const m = /([\d.]+)\s*([KMG]i?B)/.exec(v);
  if (!m) return 0;
  return Number(m[1]) * ({ KiB: 1 / 1024, KB: 1 / 1024, MiB: 1, MB: 1, GiB: 1024, GB: 1024 }[m[2]] ?? 1);
}

export function row(label, value) {
  console.log(`${label.padEnd(48)} ${value}`);
}
