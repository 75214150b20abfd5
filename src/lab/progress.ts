/**
 * Check results recorded inside the environment (maestro's state volume), so progress follows
 * the env and not the laptop: when each check and step first passed, and the last result.
 */
import { execInContainer } from '../docker/client.js';
import type { LabEnv } from '../env/env.js';

const PROGRESS_FILE = '/var/lib/pglab/progress.json';

export interface ProgressEntry { firstPassed?: string; lastStatus: string; lastAt: string }
export interface Progress { steps: Record<string, ProgressEntry>; checks: Record<string, ProgressEntry> }

const empty = (): Progress => ({ steps: {}, checks: {} });

function maestro(env: LabEnv) {
  const m = env.servers.find((s) => s.role === 'maestro');
  return m?.state === 'running' ? m.container : undefined;
}

export async function readProgress(env: LabEnv): Promise<Progress> {
  const container = maestro(env);
  if (!container) return empty();
  const r = await execInContainer(container, ['cat', PROGRESS_FILE], { timeoutMs: 5000 }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return empty();
  try {
    const parsed = JSON.parse(r.stdout.toString()) as Progress;
    return { steps: parsed.steps ?? {}, checks: parsed.checks ?? {} };
  } catch {
    return empty();
  }
}

export function record(map: Record<string, ProgressEntry>, key: string, status: string, at: string): void {
  const prev = map[key];
  map[key] = { firstPassed: prev?.firstPassed ?? (status === 'pass' ? at : undefined), lastStatus: status, lastAt: at };
}

export async function writeProgress(env: LabEnv, progress: Progress): Promise<void> {
  const container = maestro(env);
  if (!container) return;
  await execInContainer(container, ['sh', '-c', `cat > ${PROGRESS_FILE}.tmp && mv ${PROGRESS_FILE}.tmp ${PROGRESS_FILE}`], {
    stdin: JSON.stringify(progress, null, 1),
    timeoutMs: 5000,
  }).catch(() => {});
}
