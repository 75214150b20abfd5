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

  // The Docker engine (src/docker/).
  /** Docker's ping: a local engine answers in milliseconds; 10 s only covers a host busy building. */
  dockerPingMs: scaled(10_000),
  /** `docker --version` when Docker does not answer: only tells "not installed" from "not running". */
  dockerVersionMs: scaled(5_000),
  /** A docker exec without its own limit (solutions' helpers, `lab` bookkeeping): no lab command takes longer. */
  execDefaultMs: scaled(15_000),
  /** After an exec's own limit, how long to wait for coreutils `timeout -k 2` to stop it and the stream to close. */
  execGraceMs: scaled(3_000),
  /** `lab exec`: the student's own command (a long pg_basebackup, a shell loop); only a hung one is stopped. */
  userExecMs: scaled(3_600_000),
  /** The throwaway container that checksums an image's files: start, and sha256sum of a few small files. */
  imageFilesMs: scaled(20_000),
  /** A registry's GET /v2/: an unreachable registry is given up within 10 s (the bound), and `lab up` builds. */
  registryProbeMs: scaled(10_000),
  /** A pull or push that reports nothing for this long has stalled (the engine itself would wait much longer). */
  transferStallMs: scaled(90_000),
  /** docker-credential-* helpers answer at once; one that prompts or hangs must not stop `lab`. */
  credentialHelperMs: scaled(5_000),

  // Environments (src/env/).
  /** `lab up` waiting for another `lab up` of the same env: its readiness wait (upReadyMs, 90 s) plus 90 s to create everything. */
  lockWaitMs: scaled(90_000 + 90_000),
  /** A lock older than this is left over whoever holds it: no `lab up` takes that long. */
  lockStaleMs: scaled(15 * 60_000),
  /**
   * How long a server may stay in one state after its init finished before `lab up` stops waiting:
   * down (stopped, or a config that does not start: a start takes 1–3 s), rejecting (a standby still
   * replaying WAL answers "starting up" for a while; one without hot_standby does so forever), frozen.
   */
  settleDownMs: scaled(10_000),
  settleRejectingMs: scaled(30_000),
  settleFrozenMs: scaled(10_000),
  /** `lab down`: dpkg-query of the lab's packages before the container goes (it reads the dpkg database only). */
  packagesQueryMs: scaled(10_000),
  /** `lab down`: writing the package list into the state volume. */
  packagesWriteMs: scaled(5_000),
  /** `lab down`: seconds PostgreSQL gets to shut down cleanly (Docker's stop, then SIGKILL); also the containers' StopTimeout. */
  stopGraceS: Math.ceil(30 * TIMEOUT_SCALE),

  /** Reading or appending the env's progress log (/var/lib/pglab/progress.jsonl, a small file in the state volume). */
  progressLogMs: scaled(5_000),

  // Checks (src/checks/, labs/<id>/checks/).
  /** A row written on maestro must be readable on esclavo by then: streaming takes milliseconds, 10 s allows a loaded host. */
  replicationWaitMs: scaled(10_000),
  /** The student's table reaches esclavo with the same rows (it was written before; only a slow replay needs this). */
  tableReplicatedMs: scaled(5_000),
  /** A commit still waiting this long is waiting for a synchronous standby (sync-failback's commit probe). */
  commitWaitMs: scaled(1_500),
  /** After pg_cancel_backend, how long the commit probe waits for its session to end before pg_terminate_backend. */
  cancelWaitMs: scaled(3_000),
  /** Replication connection (psql IDENTIFY_SYSTEM) and passwordless ssh probes: connect limit inside the command… */
  connectS: Math.ceil(5 * TIMEOUT_SCALE),
  /** …and the exec around it, a little longer so the command reports its own timeout. */
  connectProbeMs: scaled(12_000),
  /** One read of the engine's archive API or docker top (files and processes read from the host side). */
  archiveReadMs: scaled(10_000),
  /** A probe container of the env's image (step 1's ssh facts): create, unpack ssh, scan, log in, remove. */
  probeContainerMs: scaled(40_000),
} as const;

/** A manifest's `timeoutSec` (seconds, unscaled) as milliseconds on this machine. */
export const scaledSeconds = (seconds: number) => scaled(seconds * 1000);
