/** Shared e2e helpers: run the real `lab` CLI (built into dist/) and read its JSON. */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const LAB = path.join(ROOT, 'bin', 'lab.js');

export interface CliResult { code: number; stdout: string; stderr: string; ms: number }

export function lab(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile('node', [LAB, ...args], { env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024, timeout: 900_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
    // Nothing to type: stdin at EOF, as a script's `< /dev/null` (`lab exec` passes piped stdin through).
    child.stdin?.end(input);
  });
}

export interface JsonCheck { id: string; status: 'pass' | 'fail' | 'warn'; reason?: string; evidence: Record<string, string | number>; hint?: string; points: number; maxPoints: number; source?: string }
export interface JsonStep { step: string; passed: boolean; points: number; maxPoints: number; checks: JsonCheck[]; durationMs: number }
export interface JsonReport { env: string; pg: string; passed: boolean; points: number; maxPoints: number; steps: JsonStep[] }

export async function checkJson(env: string, step: string): Promise<{ code: number; report: JsonReport; ms: number }> {
  const r = await lab(['check', step, '--env', env, '--json']);
  try {
    return { code: r.code, report: JSON.parse(r.stdout) as JsonReport, ms: r.ms };
  } catch {
    throw new Error(`lab check ${step} printed no JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

export function byId(step: JsonStep): Record<string, JsonCheck> {
  return Object.fromEntries(step.checks.map((c) => [c.id, c]));
}

/** An env name unique to this run, so reruns and parallel sessions do not collide. */
export function envNameFor(tag: string): string {
  return `t${tag}-${process.pid.toString(36)}`.toLowerCase();
}

export async function exec(env: string, server: string, user: 'root' | 'postgres', argv: string[]): Promise<CliResult> {
  return lab(['exec', server, '--env', env, '--user', user, '--', ...argv]);
}
