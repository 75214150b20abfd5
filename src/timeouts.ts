/**
 * Every time limit in one place: what a probe, a wait or a download may take before `lab` gives up
 * and says so. Tuned on a 2-core machine running a class; a laptop is faster.
 */
export const TIMEOUTS = {
  /** One docker exec of a grader probe. */
  probeMs: 10_000,
  /** Readiness probe (psql SELECT 1 on the socket); connect_timeout inside it is shorter. */
  readinessMs: 6_000,
  readinessConnectS: 3,
  /** `lab up`: until every server accepts connections. */
  upReadyMs: 90_000,
  /** Whole download of the 9.1 source (about 15 MB). */
  sourceDownloadMs: 120_000,
} as const;
