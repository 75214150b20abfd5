/** Step 6 — esclavo promoted to maestro (trigger file / pg_ctl promote), new timeline, nothing lost. */
import { timelineHistoryPath } from '../../../src/pg/profile.js';
import { parseTimelineHistory } from '../../../src/pg/backup.js';
import { fail, pass, type CheckContext, type CheckFn, type Probes } from '../../../src/checks/index.js';
import { observedPromotion } from './observed.js';

/**
 * A promoted esclavo: the observer saw it as a standby of maestro (streaming or applying its WAL)
 * and then leave recovery on a later timeline. A cold copy whose archive recovery just ended
 * (restore_command = 'false') is a server on timeline 2 with maestro's identifier, not a promotion.
 */
export async function wasPromoted(ctx: CheckContext): Promise<boolean> {
  return (await observedPromotion(ctx).catch(() => undefined)) !== undefined;
}

/** Passes once esclavo was promoted: what its standby checks judged has been legitimately consumed. */
export const esclavoPromoted: CheckFn = async (ctx) =>
  ((await wasPromoted(ctx)) ? pass({ promoted: 'yes' }) : fail('not-promoted', {}));

export const promotedAndWritable: CheckFn = async (ctx) => {
  const { probes } = ctx;
  if (!(await probes.serverUp('esclavo'))) return fail('down', { server: 'esclavo' });
  if (await probes.inRecovery('esclavo')) return fail('still-standby', { pg_is_in_recovery: 't' });
  if (!(await wasPromoted(ctx))) return fail('not-promoted', { pg_is_in_recovery: 'f' });
  const attempt = await probes.sqlAttempt('esclavo', 'CREATE TEMP TABLE pglab_write_probe (i int); INSERT INTO pglab_write_probe VALUES (1)');
  if (!attempt.ok) return fail('write-refused', { sqlstate: attempt.sqlstate ?? '—' });
  return pass({ pg_is_in_recovery: 'f', write: 'ok' });
};

/**
 * Promotion really happened (and not a hand-deleted recovery.conf / standby.signal followed by a
 * restart, which starts a normal server on the same timeline): the standby file was consumed,
 * the trigger file (where the version has one) was removed by the server, and the timeline moved.
 */
export const promotedProperly: CheckFn = async (ctx) => {
  const { probes, profile, facts } = ctx;
  const data = profile.dataDir;
  const [conf, done, signal, trigger, timeline] = await Promise.all([
    probes.stat('esclavo', `${data}/recovery.conf`), probes.stat('esclavo', `${data}/recovery.done`),
    probes.stat('esclavo', `${data}/standby.signal`), probes.stat('esclavo', facts.trigger), probes.timeline('esclavo'),
  ]);
  const evidence = {
    timeline,
    ...(profile.recoveryConfFile ? { 'recovery.conf': conf ? 'yes' : 'no', 'recovery.done': done ? 'yes' : 'no' } : { 'standby.signal': signal ? 'yes' : 'no' }),
    ...(profile.triggerSetting ? { trigger: trigger ? 'yes' : 'no' } : {}),
  };
  if (profile.recoveryConfFile ? conf : signal) {
    if (trigger) return fail('trigger-ignored', evidence);
    // Touched on the wrong server: not credited, but say where it went.
    if (profile.triggerSetting && (await triggerOnMaestro(probes, facts.trigger))) return fail('trigger-on-maestro', { ...evidence, trigger_on_maestro: 'yes' });
    return fail('still-standby', evidence);
  }
  // Neither standby file nor a new timeline: only a clone of maestro can have had its standby file deleted.
  const [mine, maestro] = await Promise.all([probes.controldata('esclavo').catch(() => undefined), probes.controldata('maestro').catch(() => undefined)]);
  const clone = !!mine?.systemIdentifier && mine.systemIdentifier === maestro?.systemIdentifier;
  if (timeline < 2) return fail(clone ? 'hand-deleted' : 'not-promoted', evidence);
  if (trigger) return fail('trigger-left', evidence);
  // The files say promoted; the observer must have seen a standby of maestro leave recovery.
  const seen = await observedPromotion(ctx).catch(() => undefined);
  if (!seen) return fail(clone ? 'hand-deleted' : 'not-promoted', { ...evidence, observer: 'no vio una promoción / saw no promotion' });
  return pass({ ...evidence, observed: `${seen.fromTli ?? '—'} → ${seen.toTli ?? '—'}` });
};

/** The trigger file exists on maestro (where it promotes nothing now). Unknown (stopped container) reads as no. */
async function triggerOnMaestro(probes: Probes, trigger: string): Promise<boolean> {
  return !!(await probes.stat('maestro', trigger).catch(() => undefined));
}

/**
 * No trigger file left on maestro: it does nothing there now, but once maestro runs as a standby
 * (the next lab makes it one) a standby that watches that file is promoted the moment it starts.
 */
export const noTriggerOnMaestro: CheckFn = async (ctx) => {
  const { probes, facts } = ctx;
  // Before the promotion promotedProperly says where the file went; this one judges what is left after.
  if (!(await wasPromoted(ctx))) return fail('not-promoted', {});
  return (await triggerOnMaestro(probes, facts.trigger)) ? fail('present', { trigger_on_maestro: facts.trigger }) : pass({ trigger_on_maestro: 'no' });
};

export const timelineAdvanced: CheckFn = async ({ probes, profile }) => {
  const [tli, maestroTli] = await Promise.all([probes.timeline('esclavo'), probes.timeline('maestro').catch(() => 0)]);
  if (tli < 2) return fail('same-timeline', { esclavo_timeline: tli });
  const path = timelineHistoryPath(profile, tli);
  // The history file names the timeline it branched from: a touched empty file does not count.
  const entries = parseTimelineHistory((await probes.readText('esclavo', path)) ?? '');
  if (!entries.length || entries[entries.length - 1].parentTli !== tli - 1) return fail('no-history', { esclavo_timeline: tli, missing: path });
  return pass({ esclavo_timeline: tli, maestro_timeline: maestroTli || '—', history: path, branched_at: entries[entries.length - 1].switchLsn });
};

/**
 * Rows written on maestro before the promotion are on the promoted esclavo: only after a promotion,
 * and only for a table that maestro has too (when maestro answers), with at least as many rows
 * on esclavo as maestro had when it last replicated (maestro may have written more since).
 */
export const rowsKept: CheckFn = async (ctx) => {
  const { probes } = ctx;
  if (!(await wasPromoted(ctx))) return fail('not-promoted', {});
  const tables = [...(await probes.userTables('esclavo'))].filter(([, n]) => n > 0);
  if (!tables.length) return fail('no-rows', {});
  const onMaestro = (await probes.serverUp('maestro').catch(() => false)) ? await probes.userTables('maestro') : undefined;
  const kept = onMaestro ? tables.filter(([name]) => onMaestro.has(name)) : tables;
  if (!kept.length) return fail('not-maestros', { esclavo: tables.slice(0, 5).map(([name, n]) => `${name}=${n}`).join(', ') });
  return pass({ tables: kept.slice(0, 5).map(([name, n]) => `${name}=${n}`).join(', ') });
};

/** The cleanup the tutorial asks for after the promotion (only meaningful once promoted). */
export const archiveCleaned: CheckFn = async (ctx) => {
  const { probes, facts } = ctx;
  if (!(await wasPromoted(ctx))) return fail('not-promoted', {});
  return (await probes.stat('esclavo', facts.archive)) ? fail('present', { path: facts.archive }) : pass({ removed: facts.archive });
};

export const recoveryDoneCleaned: CheckFn = async (ctx) => {
  const { probes, profile } = ctx;
  if (!(await wasPromoted(ctx))) return fail('not-promoted', {});
  const path = `${profile.dataDir}/recovery.done`;
  return (await probes.stat('esclavo', path)) ? fail('present', { path }) : pass({ removed: path });
};
