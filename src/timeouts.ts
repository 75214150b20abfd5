/**
 * Every time limit in one place: what a probe, a wait or a download may take before `lab` gives up
 * and says so. Tuned on a 2-core machine running a class; a laptop is faster. One scale factor
 * stretches them all (PGLAB_TIMEOUT_SCALE=3 on a slow or crowded host), as PostgreSQL's own
 * recovery tests have one timeout_default; the reference solutions' waits get it too.
 */
const SCALE_FROM_ENV = scaleFromEnv(process.env.PGLAB_TIMEOUT_SCALE);

function scaleFromEnv(raw: string | undefined): number | undefined {
  const value = Number(raw);
  return raw && Number.isFinite(value) && value >= 1 && value <= 20 ? value : undefined;
}

/**
 * How much slower an emulated server is (qemu-user running arm64 on amd64, or amd64 under Rosetta/QEMU
 * on Apple Silicon): measured 5–20× for initdb, apt and pg_basebackup; the limits only catch hangs,
 * so the high end is safe. PGLAB_TIMEOUT_SCALE, when set, wins.
 */
export const EMULATION_SCALE = 10;

let emulated = false;

/** The scale in force: PGLAB_TIMEOUT_SCALE if set, else EMULATION_SCALE once an emulated server is seen, else 1. */
export function timeoutScale(): number {
  return SCALE_FROM_ENV ?? (emulated ? EMULATION_SCALE : 1);
}

/**
 * Called when `lab` finds that the env's image is of another architecture than the engine's: every
 * limit read from then on is stretched (they are read when used, not when this module loads).
 * Returns false when PGLAB_TIMEOUT_SCALE is set and so nothing changed.
 */
export function noteEmulation(): boolean {
  emulated = true;
  return SCALE_FROM_ENV === undefined;
}

/** Whether PGLAB_TIMEOUT_SCALE was given (then it is used as is, emulated or not). */
export const timeoutScaleFromEnv = () => SCALE_FROM_ENV;

const scaled = (ms: number) => Math.round(ms * timeoutScale());
const scaledS = (s: number) => Math.ceil(s * timeoutScale());

/** Unscaled values; TIMEOUTS below applies the scale in force each time one is read. */
const BASE = {
  /** One docker exec of a grader probe. */
  probeMs: 10_000,
  /** One check, all its probes and fallbacks together. */
  checkMs: 30_000,
  /** Readiness probe (psql SELECT 1 on the socket); connect_timeout inside it is shorter. */
  readinessMs: 6_000,
  readinessConnectS: 3,
  /** `lab up`: until every server accepts connections. */
  upReadyMs: 90_000,
  /** `lab up`: a container Docker is restarting after a crash (its back-off starts at 100 ms and doubles). */
  dockerRestartMs: 15_000,
  /** One action of a reference solution, unless the manifest gives it more. */
  solutionActionMs: 60_000,
  /** Whole download of the 9.1 source (about 15 MB). */
  sourceDownloadMs: 120_000,

  // The Docker engine (src/docker/).
  /** Docker's ping: a local engine answers in milliseconds; 10 s only covers a host busy building. */
  dockerPingMs: 10_000,
  /** A Swarm node's engine listing an env's objects: past it the node counts as down (its envs are reported, never graded 0). */
  nodeListMs: 4_000,
  /** A Swarm manager's answer (node list, info, overlay network create/remove). */
  swarmMs: 15_000,
  /** Creating, starting or re-attaching a container on an overlay: a duplicate address fails only after 20 s. */
  overlayAttachMs: 45_000,
  /** `docker --version` when Docker does not answer: only tells "not installed" from "not running". */
  dockerVersionMs: 5_000,
  /** A docker exec without its own limit (solutions' helpers, `lab` bookkeeping): no lab command takes longer. */
  execDefaultMs: 15_000,
  /** After an exec's own limit, how long to wait for coreutils `timeout -k 2` to stop it and the stream to close. */
  execGraceMs: 3_000,
  /** `lab exec`: the student's own command (a long pg_basebackup, a shell loop); only a hung one is stopped. */
  userExecMs: 3_600_000,
  /** The throwaway container that checksums an image's files: start, and sha256sum of a few small files. */
  imageFilesMs: 20_000,
  /** A registry's GET /v2/: an unreachable registry is given up within 10 s (the bound), and `lab up` builds. */
  registryProbeMs: 10_000,
  /** A pull or push that reports nothing for this long has stalled (the engine itself would wait much longer). */
  transferStallMs: 90_000,
  /** docker-credential-* helpers answer at once; one that prompts or hangs must not stop `lab`. */
  credentialHelperMs: 5_000,

  // Environments (src/env/).
  /** `lab up` waiting for another `lab up` of the same env: its readiness wait (upReadyMs, 90 s) plus 90 s to create everything. */
  lockWaitMs: 90_000 + 90_000,
  /** A lock older than this is left over whoever holds it: no `lab up` takes that long. */
  lockStaleMs: 15 * 60_000,
  /**
   * How long a server may stay in one state after its init finished before `lab up` stops waiting:
   * down (stopped, or a config that does not start: a start takes 1–3 s), rejecting (a standby still
   * replaying WAL answers "starting up" for a while; one without hot_standby does so forever), frozen.
   */
  settleDownMs: 10_000,
  settleRejectingMs: 30_000,
  settleFrozenMs: 10_000,
  /** `lab down`: dpkg-query of the lab's packages before the container goes (it reads the dpkg database only). */
  packagesQueryMs: 10_000,
  /** `lab down`: writing the package list into the state volume. */
  packagesWriteMs: 5_000,
  /** `lab down`: seconds PostgreSQL gets to shut down cleanly (Docker's stop, then SIGKILL); also the containers' StopTimeout. */
  stopGraceS: 30,

  /** Reading or appending the env's progress log (/var/lib/pglab/progress.jsonl, a small file in the state volume). */
  progressLogMs: 5_000,
  /** A look on demand by the env's observer (one psql and pg_controldata per server, ~0.2 s; a loaded class server needs more). */
  observerLookMs: 8_000,

  // Checks (src/checks/, labs/<id>/checks/).
  /** A row written on maestro must be readable on esclavo by then: streaming takes milliseconds, 10 s allows a loaded host. */
  replicationWaitMs: 10_000,
  /** The student's table reaches esclavo with the same rows (it was written before; only a slow replay needs this). */
  tableReplicatedMs: 5_000,
  /** A commit still waiting this long is waiting for a synchronous standby (sync-failback's commit probe). */
  commitWaitMs: 1_500,
  /** After pg_cancel_backend, how long the commit probe waits for its session to end before pg_terminate_backend. */
  cancelWaitMs: 3_000,
  /** Replication connection (psql IDENTIFY_SYSTEM) and passwordless ssh probes: connect limit inside the command… */
  connectS: 5,
  /** …and the exec around it, a little longer so the command reports its own timeout. */
  connectProbeMs: 12_000,
  /** One read of the engine's archive API or docker top (files and processes read from the host side). */
  archiveReadMs: 10_000,
  /** A probe container of the env's image (step 1's ssh facts): create, unpack ssh, scan, log in, remove. */
  probeContainerMs: 40_000,
} as const;

/** Limits counted in seconds (connect_timeout, Docker's stop grace); everything else is milliseconds. */
const SECONDS: ReadonlySet<keyof typeof BASE> = new Set(['readinessConnectS', 'connectS', 'stopGraceS'] as const);

export type TimeoutName = keyof typeof BASE;

/** Every limit, scaled when read (getters: an emulated env found after start-up stretches them too). */
export const TIMEOUTS: { readonly [K in TimeoutName]: number } = Object.freeze(Object.defineProperties({}, Object.fromEntries(
  (Object.keys(BASE) as TimeoutName[]).map((k) => [k, { enumerable: true, get: () => (SECONDS.has(k) ? scaledS(BASE[k]) : scaled(BASE[k])) }]),
)) as { readonly [K in TimeoutName]: number });

/** A manifest's `timeoutSec` (seconds, unscaled) as milliseconds on this machine. */
export const scaledSeconds = (seconds: number) => scaled(seconds * 1000);

