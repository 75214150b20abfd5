/**
 * Waiting for a lab server to accept connections after `lab up`, bounded, and telling "not yet"
 * from "never, unless somebody acts" (stopped, a config that does not start, no hot_standby).
 */
import { execInContainer } from '../docker/client.js';
import { containerPids } from '../docker/objects.js';
import { LabError } from '../errors.js';
import { parseReadiness, readinessArgv, type Readiness } from '../pg/readiness.js';
import { profileFor, type PgMajor } from '../pg/profile.js';
import { TIMEOUTS } from '../timeouts.js';
import { containerName } from './naming.js';

/** How long a server may stay in one settled state after its init finished before `lab up` stops waiting for it. */
const SETTLE_MS: Record<Exclude<Readiness, 'accepting'>, number> = {
  down: TIMEOUTS.settleDownMs,
  rejecting: TIMEOUTS.settleRejectingMs,
  frozen: TIMEOUTS.settleFrozenMs,
};
/** Written by the image's init when it has finished starting the server. */
const READY_FILE = '/var/lib/pglab/ready';
/** Pause between two readiness probes (not a limit). */
const POLL_MS = 300;

/**
 * Waits until the server accepts connections (bounded). Returns early, with what it saw, when the
 * init has finished and PostgreSQL stays down (stopped, or a config that does not start) or keeps
 * refusing connections (a standby without hot_standby): nobody will change that by waiting.
 * Throws when the init itself does not finish in time.
 */
export async function waitReady(container: string, pg: PgMajor, timeoutMs: number = TIMEOUTS.upReadyMs): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  const argv = readinessArgv(profileFor(pg), READY_FILE);
  let settled: { state: Readiness; since: number } | undefined;
  while (Date.now() < deadline) {
    const r = await execInContainer(container, argv, { user: 'postgres', timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
    let state: Readiness | 'starting' = r ? parseReadiness(r.stdout.toString()) : 'starting';
    if (state === 'accepting') return state;
    // "down" also means "the init has not finished yet" (no ready file): tell them apart.
    if (state === 'down' && !(await initFinished(container))) state = 'starting';
    // Left stopped on purpose by the init (stopped before the last `lab down`): nothing to wait for.
    else if (state === 'down' && (await keptStopped(container))) return state;
    if (state === 'starting') settled = undefined;
    else {
      if (settled?.state !== state) settled = { state, since: Date.now() };
      if (Date.now() - settled.since >= SETTLE_MS[state]) return state;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  if (settled) return settled.state;
  throw new LabError('env.notReady', { container });
}

async function initFinished(container: string): Promise<boolean> {
  const r = await execInContainer(container, ['test', '-f', READY_FILE], { timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
  return r?.exitCode === 0;
}

/**
 * Written by the image's init when the container stops: "stopped" when PostgreSQL was not running
 * then (the student stopped it). The init then leaves it stopped at the next start (`lab up`, a reboot).
 */
export const PG_AT_STOP_FILE = '/var/lib/pglab/pg-at-stop';

/** PostgreSQL is down because the init left it so: it was stopped when the container last stopped. */
export async function keptStopped(container: string): Promise<boolean> {
  const r = await execInContainer(container, ['cat', PG_AT_STOP_FILE], { timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
  return r?.exitCode === 0 && r.stdout.toString().trim() === 'stopped';
}

export interface NotAccepting {
  role: string;
  state: Readiness;
  /** Down because it was stopped before the last `lab down` and the init kept it so (not an error). */
  kept?: boolean;
}

/** Waits for every server of the env; returns those that settled without accepting connections. */
export async function awaitServers(env: string, roles: string[], pg: PgMajor): Promise<NotAccepting[]> {
  const states = await Promise.all(roles.map(async (role): Promise<NotAccepting> => {
    const state = await waitReady(containerName(env, role), pg);
    return state === 'down' && (await keptStopped(containerName(env, role))) ? { role, state, kept: true } : { role, state };
  }));
  return states.filter((s) => s.state !== 'accepting');
}

/**
 * The container's processes are at its pids limit (a fork bomb): nothing can start in it, not
 * PostgreSQL, not a shell, not a probe. Only stopping the container (`lab down`) clears it.
 * Judged from the host's cgroup count, within a few processes of the limit.
 */
export async function pidsExhausted(container: string): Promise<{ current: number; limit: number } | undefined> {
  const pids = await containerPids(container);
  return pids && pids.current >= pids.limit - Math.max(4, Math.floor(pids.limit / 20)) ? pids : undefined;
}
