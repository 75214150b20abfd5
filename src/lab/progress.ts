/**
 * Check results recorded inside the environment (maestro's state volume), so progress follows
 * the env and not the laptop. The record is an append-only JSON-lines log: recording a run is
 * one `cat >>` (no read first), and first-passed / last-status are derived when read.
 */
import { execInContainer } from '../docker/client.js';
import type { LabEnv } from '../env/env.js';

const PROGRESS_LOG = '/var/lib/pglab/progress.jsonl';

export interface ProgressEntry { firstPassed?: string; lastStatus: string; lastAt: string }
export interface Progress { steps: Record<string, ProgressEntry>; checks: Record<string, ProgressEntry> }
/** One line of the log: a step (`step-2`) or a check (`step-2/segments`) result. */
export interface ProgressRecord { at: string; key: string; status: string }

function maestro(env: LabEnv) {
  const m = env.servers.find((s) => s.role === 'maestro');
  return m?.state === 'running' ? m.container : undefined;
}

export function summarize(records: ProgressRecord[]): Progress {
  const progress: Progress = { steps: {}, checks: {} };
  for (const r of records) {
    const map = r.key.includes('/') ? progress.checks : progress.steps;
    const prev = map[r.key];
    map[r.key] = { firstPassed: prev?.firstPassed ?? (r.status === 'pass' ? r.at : undefined), lastStatus: r.status, lastAt: r.at };
  }
  return progress;
}

export async function readProgress(env: LabEnv): Promise<Progress> {
  const container = maestro(env);
  if (!container) return summarize([]);
  const r = await execInContainer(container, ['cat', PROGRESS_LOG], { timeoutMs: 5000 }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return summarize([]);
  const records: ProgressRecord[] = [];
  for (const line of r.stdout.toString().split('\n')) {
    try {
      if (line.trim()) records.push(JSON.parse(line) as ProgressRecord);
    } catch {
      // A torn line (interrupted write) is skipped, not fatal.
    }
  }
  return summarize(records);
}

export async function appendProgress(env: LabEnv, records: ProgressRecord[]): Promise<void> {
  const container = maestro(env);
  if (!container || !records.length) return;
  await execInContainer(container, ['sh', '-c', `cat >> ${PROGRESS_LOG}`], {
    stdin: records.map((r) => JSON.stringify(r)).join('\n') + '\n',
    timeoutMs: 5000,
  }).catch(() => {});
}
