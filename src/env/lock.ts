/**
 * One `lab up` at a time per env. Docker 20.10 lets two concurrent runs create two networks of the
 * same name, but refuses a second container of the same name: an unstarted container
 * `pglab-<env>-lock` is the lock (no env label, so nothing else ever counts it as part of the env).
 * A lock whose holder died (Ctrl+C, SIGKILL) is recognised by its pid on this host, or by its age.
 */
import { hostname } from 'node:os';
import { createContainer, inspectContainer, removeContainer } from '../docker/objects.js';
import type { ProgressLine } from '../progress-line.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { TIMEOUTS } from '../timeouts.js';
import { networkName } from './naming.js';

const LOCK_LABEL = 'pglab.lock';
/** Pause between two attempts to take a busy lock (not a limit). */
const RETRY_MS = 500;

export const lockName = (env: string) => `${networkName(env)}-lock`;

/** Runs `fn` holding the env's lock; waits (bounded) for another `lab up` of the same env to finish first. */
export async function withEnvLock<T>(env: string, image: string, progress: ProgressLine, fn: () => Promise<T>): Promise<T> {
  const name = lockName(env);
  const deadline = Date.now() + TIMEOUTS.lockWaitMs;
  let told = false;
  for (;;) {
    const taken = await createContainer({
      name, Image: image, Cmd: ['true'], Entrypoint: [],
      Labels: { [LOCK_LABEL]: env, 'pglab.lock.pid': String(process.pid), 'pglab.lock.host': hostname() },
      HostConfig: { NetworkMode: 'none' },
    });
    if (taken) break;
    if (await lockIsStale(name)) {
      await removeContainer(name);
      continue;
    }
    if (Date.now() > deadline) throw new LabError('env.busy', { env, seconds: Math.round(TIMEOUTS.lockWaitMs / 1000), lock: name });
    if (!told) progress(t('up.waitingLock', { env }));
    told = true;
    await new Promise((r) => setTimeout(r, RETRY_MS));
  }
  try {
    return await fn();
  } finally {
    await removeContainer(name).catch(() => {});
  }
}

/** Removes the env's lock when its holder is gone; true when there was one to remove. */
export async function clearStaleLock(env: string): Promise<boolean> {
  if (!(await lockIsStale(lockName(env)))) return false;
  await removeContainer(lockName(env)).catch(() => {});
  return true;
}

async function lockIsStale(name: string): Promise<boolean> {
  const info = await inspectContainer(name);
  if (!info) return false; // released meanwhile: just try again
  if (Date.now() - Date.parse(info.created) > TIMEOUTS.lockStaleMs) return true;
  if (info.labels['pglab.lock.host'] !== hostname()) return false;
  const pid = Number(info.labels['pglab.lock.pid']);
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
