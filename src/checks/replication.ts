/**
 * The replication probes any lab may use: a fresh value written on a primary must be read on its
 * standby, and the student's tables must have the same rows on both. The waits are the scaled ones
 * of src/timeouts.ts (PGLAB_TIMEOUT_SCALE), never a lab's own constants.
 */
import { PROBE_SCHEMA, type Probes } from '../pg/probes.js';
import { TIMEOUTS } from '../timeouts.js';
import { pollUntil } from './types.js';

export interface NonceOptions {
  /**
   * Commit with synchronous_commit = local: the probe's own write never waits for a synchronous
   * standby (a lab of synchronous replication must not hang its grader on a stopped standby).
   */
  localCommit?: boolean;
}

/**
 * Writes a fresh random value on `primary` (in the grader's own schema, dropped afterwards) and
 * waits up to TIMEOUTS.replicationWaitMs for `standby` to return it. `lagMs` is undefined when it
 * never arrived. The caller has checked that both servers are up and which one is the standby.
 */
export async function nonceReplicated(
  probes: Probes, primary: string, standby: string, opts: NonceOptions = {},
): Promise<{ nonce: string; lagMs?: number; waitedMs: number }> {
  const nonce = probes.nonce(`replicated ${primary}->${standby}`);
  const wrap = (sql: string) => (opts.localCommit ? `BEGIN; SET LOCAL synchronous_commit = local; ${sql}; COMMIT` : sql);
  await probes.sql(primary, wrap(`DROP SCHEMA IF EXISTS ${PROBE_SCHEMA} CASCADE; CREATE SCHEMA ${PROBE_SCHEMA}; CREATE TABLE ${PROBE_SCHEMA}.nonce (v text); INSERT INTO ${PROBE_SCHEMA}.nonce VALUES ('${nonce}')`), { memo: false });
  const written = Date.now();
  try {
    const seen = await pollUntil(async () => {
      const rows = await probes.sql(standby, `SELECT v FROM ${PROBE_SCHEMA}.nonce`, { memo: false }).catch(() => []);
      return rows.some((r) => r[0] === nonce) ? Date.now() : undefined;
    }, TIMEOUTS.replicationWaitMs, 200);
    return { nonce, lagMs: seen === undefined ? undefined : seen - written, waitedMs: TIMEOUTS.replicationWaitMs };
  } finally {
    await probes.sql(primary, wrap(`DROP SCHEMA IF EXISTS ${PROBE_SCHEMA} CASCADE`), { memo: false }).catch(() => {});
  }
}

/**
 * The student's tables with rows on `primary` have the same row counts on `standby`, waiting up to
 * TIMEOUTS.tableReplicatedMs for a slow replay. Shown as `schema.table=rows` (first six).
 */
export async function sameTables(probes: Probes, primary: string, standby: string): Promise<{ missing: boolean; primary: string; standby: string }> {
  const show = (m: Map<string, number>) => [...m].filter(([, n]) => n > 0).slice(0, 6).map(([t, n]) => `${t}=${n}`).join(', ') || '—';
  const onPrimary = await probes.userTables(primary);
  let onStandby = new Map<string, number>();
  const ok = await pollUntil(async () => {
    onStandby = await probes.userTables(standby, { memo: false });
    return [...onPrimary].every(([t, n]) => onStandby.get(t) === n) ? true : undefined;
  }, TIMEOUTS.tableReplicatedMs, 500);
  return { missing: !ok, primary: show(onPrimary), standby: show(onStandby) };
}
