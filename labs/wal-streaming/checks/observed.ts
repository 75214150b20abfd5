/**
 * What the env's observer saw (src/observer/): the evidence that spans time. Graders believe the
 * live state read by trusted means first; these checks are the fallbacks the manifest lists under
 * a check's `fallbacks`, and the runner counts them only when a later step legitimately consumed
 * the live state (the promotion, the next lab). Otherwise a live failure stays ✗ and says when it
 * last worked. Nothing here reads a file or runs a binary inside maestro/esclavo.
 */
import {
  archivedSegments, fail, hhmm, observation, observedControlOf, pass, periods, promotions, span, standbyOfMaestro, streaming, walk,
  type CheckContext, type CheckFn, type CheckOutcome, type Observation,
} from '../../../src/checks/index.js';

function seen(evidence: CheckOutcome['evidence'], at: number): CheckOutcome {
  return { ...pass(evidence), source: 'observer', seenAt: at };
}

/** Records that did not verify are said, never believed. */
async function load(ctx: CheckContext): Promise<{ obs?: Observation; why?: CheckOutcome }> {
  const obs = await observation(ctx.probes);
  if (!obs) return { why: fail('no-observer', {}) };
  return { obs };
}

const tamperedNote = (obs: Observation): Record<string, number> => (obs.tampered ? { observer_tampered_lines: obs.tampered } : {});

/** The time of the last record: an open period lasts at least until then. */
const lastAt = (obs: Observation) => obs.records[obs.records.length - 1]?.at ?? 0;

/** esclavo streamed from maestro: maestro's wal sender to esclavo's address while esclavo was in recovery. */
export const streamedFromMaestro: CheckFn = async (ctx) => {
  const { obs, why } = await load(ctx);
  if (!obs) return why!;
  const found = periods(obs, (m) => streaming(m, 'esclavo', ctx.ip.esclavo));
  if (!found.length) return fail('not-observed', tamperedNote(obs));
  const last = found[found.length - 1];
  return seen({ streaming: `maestro → esclavo (${ctx.ip.esclavo}) ${span(last.from, last.to)}`, periods: found.length, ...tamperedNote(obs) }, last.to ?? lastAt(obs));
};

/** esclavo ran as a hot standby of maestro (in recovery, answering the observer's queries, applying maestro's WAL). */
export const ranAsHotStandby: CheckFn = async (ctx) => {
  const { obs, why } = await load(ctx);
  if (!obs) return why!;
  const found = periods(obs, (m) => standbyOfMaestro(m, 'esclavo', ctx.ip.esclavo));
  if (!found.length) return fail('not-observed', tamperedNote(obs));
  const last = found[found.length - 1];
  return seen({ standby: `esclavo en recuperación, aceptando consultas ${span(last.from, last.to)}`, ...tamperedNote(obs) }, last.to ?? lastAt(obs));
};

/** While streaming, esclavo's replay position moved: it applied WAL maestro wrote. */
export const replayedFromMaestro: CheckFn = async (ctx) => {
  const { obs, why } = await load(ctx);
  if (!obs) return why!;
  let at: number | undefined;
  let lsn = '';
  walk(obs, (m) => {
    if (streaming(m, 'esclavo', ctx.ip.esclavo) && m.replayAdvanced.has('esclavo')) {
      at = m.at;
      lsn = m.servers.get('esclavo')?.lsn ?? '';
    }
  });
  if (at === undefined) return fail('not-observed', tamperedNote(obs));
  return seen({ replayed_up_to: lsn, at: hhmm(at), ...tamperedNote(obs) }, at);
};

/** Segments the archiver shipped that arrived in esclavo's archive as real segments of maestro. */
export const archivedToEsclavo: CheckFn = async (ctx) => {
  const { obs, why } = await load(ctx);
  if (!obs) return why!;
  const segs = archivedSegments(obs, 'esclavo', ctx.profile);
  if (!segs.length) return fail('not-observed', tamperedNote(obs));
  const last = segs[segs.length - 1];
  return seen({ archived: `${segs.length} (${last.seg}, ${hhmm(last.at)})`, ...tamperedNote(obs) }, last.at);
};

/** The promotion: esclavo observed as a standby of maestro that then left recovery on a later timeline. */
export async function observedPromotion(ctx: CheckContext) {
  const obs = await observation(ctx.probes);
  return obs ? promotions(obs, 'esclavo', ctx.ip.esclavo).at(-1) : undefined;
}

export const promoted: CheckFn = async (ctx) => {
  const p = await observedPromotion(ctx);
  if (!p) return fail('not-promoted', {});
  return seen({ promoted: hhmm(p.at), timeline: `${p.fromTli ?? '—'} → ${p.toTli ?? '—'}`, standby_since: hhmm(p.standbySince) }, p.at);
};

/** esclavo was a standby of maestro (observed), so its standby settings worked; promoted since or still one. */
export const wasConfiguredAsStandby: CheckFn = async (ctx) => {
  const outcome = await ranAsHotStandby(ctx);
  return outcome.status === 'pass' ? { ...outcome, evidence: { ...outcome.evidence, config: 'esclavo funcionó como standby de maestro' } } : outcome;
};

/** The clone, by identity read with the observer's own pg_controldata from both data volumes. */
export const esclavoIsClone: CheckFn = async ({ probes }) => {
  const [m, e] = await Promise.all([observedControlOf(probes, 'maestro'), observedControlOf(probes, 'esclavo')]);
  if (!m && !e) return fail('no-observer', {});
  if (!e?.sysid) return fail('no-datadir', {});
  if (!m?.sysid) return fail('no-maestro-sysid', {});
  if (m.sysid !== e.sysid) return fail('not-clone', { maestro: m.sysid, esclavo: e.sysid });
  return pass({ sysid: e.sysid, read_by: 'observer' });
};

/** Rows of a table maestro has are on the clone too (any number: step 6 §3 adds rows on the promoted esclavo). */
export const tableKeptOnClone: CheckFn = async (ctx) => {
  const { probes } = ctx;
  if (!(await probes.serverUp('esclavo').catch(() => false)) || !(await probes.serverUp('maestro').catch(() => false))) return fail('down', {});
  const [onMaestro, onEsclavo] = await Promise.all([probes.userTables('maestro'), probes.userTables('esclavo')]);
  const kept = [...onEsclavo].find(([name, n]) => n > 0 && (onMaestro.get(name) ?? 0) > 0);
  // Nothing to keep when maestro has no table with rows either: say that, not "missing on esclavo".
  if (!kept) return fail([...onMaestro.values()].some((n) => n > 0) ? 'missing-on-esclavo' : 'no-table', {});
  if ((await esclavoIsClone(ctx)).status !== 'pass') return fail('not-clone', {});
  // Replicated, not made twice: esclavo was observed as maestro's standby.
  const standby = await ranAsHotStandby(ctx);
  if (standby.status !== 'pass') return fail('not-observed', {});
  return { ...pass({ table: kept[0], rows: kept[1], maestro_rows: onMaestro.get(kept[0]) ?? 0 }), source: 'observer', seenAt: standby.seenAt };
};

/** Used by the base-backup fallback: the clone restored from the backup ran as maestro's standby. */
export const restoredAsStandby: CheckFn = async (ctx) => {
  const outcome = await ranAsHotStandby(ctx);
  return outcome.status === 'pass' ? { ...outcome, evidence: { backup: 'esclavo restaurado del respaldo base y aplicando WAL de maestro', ...outcome.evidence } } : outcome;
};

/** Archiving observed now or before: a live check of segments passes only with it (a segment copied by hand is not archiving). */
export async function archivingObserved(ctx: CheckContext): Promise<{ seg: string; at: number }[]> {
  const obs = await observation(ctx.probes);
  return obs ? archivedSegments(obs, 'esclavo', ctx.profile) : [];
}
