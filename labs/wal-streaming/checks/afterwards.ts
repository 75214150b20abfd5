/**
 * Fallback checks: the same requirements as the live checks of steps 2–5, judged from what is
 * still there after the promotion and the tutorial's cleanup consumed the live state (issue
 * "fair grades"): evidence that survives on disk, and the env's flight recorder. The manifest lists
 * them under a check's `fallbacks`; the runner tries them only when the live check fails.
 *
 * Nothing here trusts one source alone where the student could fake it: a recorded fact counts only
 * from a record whose system identifier is the live one, consistent with the live positions and
 * confirmed by the other server's record.
 */
import { lang } from '../../../src/i18n/index.js';
import { parseBackupHistory, parseTimelineHistory } from '../../../src/pg/backup.js';
import { timelineHistoryPath } from '../../../src/pg/profile.js';
import { lsnBytes, lsnText, spans, type RecordLine } from '../../../src/pg/recorder.js';
import { isBackupHistoryName, isWalSegmentName } from '../../../src/pg/wal.js';
import { wasPromoted } from './promotion.js';
import { archiveCommandOk } from './shipping.js';
import { judgeRecoveryConf, standbySignal } from './standby.js';
import { fail, pass, type CheckContext, type CheckFn, type CheckOutcome } from '../../../src/checks/index.js';

const evidence = (e: CheckOutcome['evidence']): CheckOutcome => ({ ...pass(e), source: 'evidence' });
const recorded = (e: CheckOutcome['evidence']): CheckOutcome => ({ ...pass(e), source: 'recorder' });

/** "19:18–19:20" in the machine's local time. */
function period([from, to]: [number, number]): string {
  const hm = (s: number) => new Date(s * 1000).toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'es-AR', { hour: '2-digit', minute: '2-digit' });
  return from === to ? hm(from) : `${hm(from)}–${hm(to)}`;
}

async function sysids({ probes }: CheckContext) {
  const [m, e] = await Promise.all([probes.controldata('maestro').catch(() => undefined), probes.controldata('esclavo').catch(() => undefined)]);
  return { maestro: m?.systemIdentifier, esclavo: e?.systemIdentifier };
}

/**
 * esclavo's records that can be believed: written by a clone of maestro (its system identifier
 * then equals maestro's live one) and, once promoted, received no further than where it branched.
 */
async function trustedEsclavoRecords(ctx: CheckContext): Promise<{ records: RecordLine[]; rejected: number }> {
  const { probes, profile } = ctx;
  const rec = await probes.recording('esclavo').catch(() => undefined);
  const ids = await sysids(ctx);
  if (!rec || !ids.maestro || ids.esclavo !== ids.maestro) return { records: [], rejected: rec?.rejected ?? 0 };
  let limit = Infinity;
  const tli = await probes.timeline('esclavo').catch(() => 1);
  if (tli >= 2) {
    const history = timelineHistoryPath(profile, tli);
    const entries = parseTimelineHistory((await probes.readText('esclavo', history).catch(() => undefined)) ?? '');
    const switchLsn = entries[entries.length - 1]?.switchLsn;
    // 9.1 records the switch at a segment start; allow one segment of slack.
    if (switchLsn && /^[0-9A-F]+\/[0-9A-F]+$/i.test(switchLsn)) limit = lsnBytes(switchLsn) + 16 * 1024 * 1024;
  }
  const records = rec.records.filter((r) => r.sysid === ids.maestro && (!r.receiveLsn || lsnBytes(r.receiveLsn) <= limit));
  return { records, rejected: rec.rejected + rec.records.length - records.length };
}

/** maestro's records that can be believed: its live system identifier, nothing sent beyond what it has written. */
async function trustedMaestroRecords(ctx: CheckContext): Promise<RecordLine[]> {
  const { probes, profile } = ctx;
  const rec = await probes.recording('maestro').catch(() => undefined);
  const { maestro } = await sysids(ctx);
  if (!rec || !maestro) return [];
  let written = Infinity;
  if (await probes.serverUp('maestro').catch(() => false)) {
    const [[lsn]] = await probes.sql('maestro', `SELECT ${profile.currentLsnFunction}()`).catch(() => [['']]);
    if (lsn) written = lsnBytes(lsn);
  }
  return rec.records.filter((r) => r.sysid === maestro && r.senders.every((s) => !s.sent || lsnBytes(s.sent) <= written));
}

/** Periods when maestro's record shows a wal sender streaming to esclavo *and* esclavo's shows it receiving. */
async function confirmedStreaming(ctx: CheckContext): Promise<[number, number][]> {
  const mine = (r: RecordLine) => r.senders.some((s) => s.client === ctx.ip.esclavo && s.state === 'streaming');
  const sending = spans(await trustedMaestroRecords(ctx), mine);
  const receiving = spans((await trustedEsclavoRecords(ctx)).records, (r) => r.inRecovery === true && r.receiver === 'streaming');
  const both: [number, number][] = [];
  const slack = 15; // the two servers record on their own clocks' ticks
  for (const [a0, a1] of sending) {
    for (const [b0, b1] of receiving) {
      const from = Math.max(a0, b0) - slack;
      const to = Math.min(a1, b1) + slack;
      if (from <= to) both.push([Math.max(Math.min(a0, b0), from), Math.min(Math.max(a1, b1), to)]);
    }
  }
  return both;
}

/** esclavo streamed from maestro (wal sender, pg_stat_replication, wal receiver, a replication connection). */
export const streamedFromMaestro: CheckFn = async (ctx) => {
  const periods = await confirmedStreaming(ctx);
  if (!periods.length) return fail('not-recorded', {});
  const last = periods[periods.length - 1];
  return recorded({ streaming: `maestro → esclavo (${ctx.ip.esclavo}) ${period(last)}`, periods: periods.length });
};

/** esclavo ran as a read-only hot standby (in recovery, answering queries). */
export const ranAsHotStandby: CheckFn = async (ctx) => {
  const { records } = await trustedEsclavoRecords(ctx);
  const standby = spans(records, (r) => r.up && r.inRecovery === true);
  if (!standby.length) return fail('not-recorded', {});
  return recorded({ standby: `esclavo en recuperación, aceptando consultas ${period(standby[standby.length - 1])}` });
};

/** The student's table, with its rows, on the (promoted or stopped) clone and on maestro. */
export const tableKeptOnClone: CheckFn = async (ctx) => {
  const { probes } = ctx;
  const ids = await sysids(ctx);
  if (!ids.maestro || ids.esclavo !== ids.maestro) return fail('not-clone', {});
  if (!(await probes.serverUp('esclavo').catch(() => false)) || !(await probes.serverUp('maestro').catch(() => false))) return fail('down', {});
  const [onMaestro, onEsclavo] = await Promise.all([probes.userTables('maestro'), probes.userTables('esclavo')]);
  // Rows maestro wrote after the promotion do not reach esclavo: esclavo has at most maestro's count.
  const kept = [...onEsclavo].find(([name, n]) => n > 0 && (onMaestro.get(name) ?? 0) >= n);
  // Nothing to keep when maestro has no table with rows either: say that, not "missing on esclavo".
  if (!kept) return fail([...onMaestro.values()].some((n) => n > 0) ? 'missing-on-esclavo' : 'no-table', {});
  return evidence({ table: kept[0], rows: kept[1], maestro_rows: onMaestro.get(kept[0]) ?? 0 });
};

/**
 * Rows reached esclavo by replication: while the record shows streaming, esclavo had replayed WAL
 * written after its base backup ended (maestro's changes since the clone, whatever table they were in).
 */
export const replayedFromMaestro: CheckFn = async (ctx) => {
  const { probes, profile } = ctx;
  const periods = await confirmedStreaming(ctx);
  if (!periods.length) return fail('not-recorded', {});
  const { records } = await trustedEsclavoRecords(ctx);
  const replayed = records.filter((r) => r.inRecovery && r.replayLsn).map((r) => lsnBytes(r.replayLsn));
  if (!replayed.length) return fail('not-recorded', {});
  const furthest = Math.max(...replayed);
  // Where the base backup ended: the newest backup history file maestro keeps.
  const walDir = `${profile.dataDir}/${profile.walDirName}`;
  const histories = ((await probes.listDir('maestro', walDir)) ?? []).filter((e) => isBackupHistoryName(e.name)).sort((a, b) => b.mtime - a.mtime);
  const stop = histories.length ? parseBackupHistory((await probes.readText('maestro', `${walDir}/${histories[0].name}`)) ?? '').stopWalLocation : undefined;
  if (!stop || furthest <= lsnBytes(stop)) return fail('not-recorded', { backup_stop: stop ?? '—' });
  return recorded({ replayed_up_to: lsnText(furthest), backup_ended_at: stop, streaming: period(periods[periods.length - 1]) });
};

/**
 * WAL segments reached esclavo's archive: maestro's archiver marked segments `.done` (archive_command
 * exited 0) with an archive_command that ships to esclavo's wal_archive, for segments maestro has
 * really written, and esclavo is a clone that replayed maestro's WAL.
 */
export const archivedToEsclavo: CheckFn = async (ctx) => {
  const { probes, profile } = ctx;
  const ids = await sysids(ctx);
  if (!ids.maestro || ids.esclavo !== ids.maestro) return fail('not-clone', {});
  const walDir = `${profile.dataDir}/${profile.walDirName}`;
  const status = (await probes.listDir('maestro', `${walDir}/archive_status`)) ?? [];
  const done = status.map((e) => e.name).filter((n) => n.endsWith('.done') && isWalSegmentName(n.slice(0, -5))).map((n) => n.slice(0, -5)).sort();
  const current = (await probes.sql('maestro', `SELECT ${profile.walFileFunction}(${profile.currentLsnFunction}())`).catch(() => [['']]))[0][0];
  const real = done.filter((seg) => !current || seg.slice(8) <= current.slice(8));
  if (!real.length) return fail('nothing-archived', {});
  const command = (await probes.settings('maestro').catch(() => new Map<string, string>())).get('archive_command') ?? (await probes.fileSetting('maestro', 'archive_command')) ?? '';
  if (!archiveCommandOk(command, ctx)) return fail('other-destination', { archive_command: command });
  return evidence({ archived: `${real.length} (${real[real.length - 1]}…)`, archive_command: command, destination: `${ctx.ip.esclavo}:${ctx.facts.archive}` });
};

/**
 * esclavo was configured as a standby: it ran as one (promoted since, or recorded in recovery) and
 * its standby settings survive: 12+ in postgresql.conf; 9.1 in recovery.done or, after the cleanup
 * (or a recovery.conf deleted by hand), the recorder's copy of recovery.conf.
 */
export const wasConfiguredAsStandby: CheckFn = async (ctx) => {
  const { probes, profile } = ctx;
  const promoted = await wasPromoted(probes).catch(() => false);
  if (!promoted && (await ranAsHotStandby(ctx)).status !== 'pass') return fail('never-standby', {});
  if (!profile.recoveryConfFile) {
    const outcome = await standbySignal(ctx, true);
    return outcome.status === 'pass' ? { ...outcome, source: promoted ? 'evidence' : 'recorder' } : outcome;
  }
  const donePath = `${profile.dataDir}/recovery.done`;
  const done = promoted ? await probes.readText('esclavo', donePath) : undefined;
  if (done !== undefined) {
    const outcome = judgeRecoveryConf(done, donePath, ctx);
    return outcome.status === 'pass' ? evidence(outcome.evidence) : outcome;
  }
  const copy = (await probes.recording('esclavo').catch(() => undefined))?.recoveryConf;
  if (!copy) return fail('not-recorded', {});
  const outcome = judgeRecoveryConf(copy, 'recovery.conf (registro)', ctx);
  return outcome.status === 'pass' ? recorded(outcome.evidence) : outcome;
};
