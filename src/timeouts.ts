/**
 * Every time limit in one place: what a probe, a wait or a download may take before `lab` gives up
 * and says so. Tuned on a 2-core machine running a class; a laptop is faster. One scale factor
 * stretches them all (PGLAB_TIMEOUT_SCALE=3 on a slow or crowded host), as PostgreSQL's own
 * recovery tests have one timeout_default; the reference solutions' waits get it too.
 */
export const TIMEOUT_SCALE = scaleFromEnv(process.env.PGLAB_TIMEOUT_SCALE);

function scaleFromEnv(raw: string | undefined): number {
  const value = Number(raw);
  return raw && Number.isFinite(value) && value >= 1 && value <= 20 ? value : 1;
}

const scaled = (ms: number) => Math.round(ms * TIMEOUT_SCALE);

export const TIMEOUTS = {
  /** One docker exec of a grader probe. */
  probeMs: scaled(10_000),
  /** One check, all its probes and fallbacks together. */
  checkMs: scaled(30_000),
  /** Readiness probe (psql SELECT 1 on the socket); connect_timeout inside it is shorter. */
  readinessMs: scaled(6_000),
  readinessConnectS: Math.ceil(3 * TIMEOUT_SCALE),
  /** `lab up`: until every server accepts connections. */
  upReadyMs: scaled(90_000),
  /** `lab up`: a container Docker is restarting after a crash (its back-off starts at 100 ms and doubles). */
  dockerRestartMs: scaled(15_000),
  /** One action of a reference solution, unless the manifest gives it more. */
  solutionActionMs: scaled(60_000),
  /** Whole download of the 9.1 source (about 15 MB). */
  sourceDownloadMs: scaled(120_000),
} as const;

/** A manifest's `timeoutSec` (seconds, unscaled) as milliseconds on this machine. */
export const scaledSeconds = (seconds: number) => scaled(seconds * 1000);
