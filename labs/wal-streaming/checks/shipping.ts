/** Step 2 — WAL shipping and the base backup. */
import { lang } from '../../../src/i18n/index.js';
import { confGet, looksLikeWrappedArchiveCommand } from '../../../src/pg/conf.js';
import { parseBackupHistory } from '../../../src/pg/backup.js';
import { WAL_SEGMENT_SIZE } from '../../../src/pg/profile.js';
import { isBackupHistoryName, isWalSegmentName, validateWalSegment } from '../../../src/pg/wal.js';
import { errorLines, gradeSettings, isOn, listensOn, sizeInMb, type SettingRule } from '../../../src/checks/index.js';
import { fail, pass, type CheckContext, type CheckFn } from '../../../src/checks/index.js';
import { archivingObserved } from './observed.js';
import { packagesInstalled } from './prep.js';
import { postgresMayWrite } from '../../../src/pg/perms.js';
import { esclavoPromoted } from './promotion.js';

export const archiveDir: CheckFn = async ({ probes, facts }) => {
  const { archive } = facts;
  const st = await probes.stat('esclavo', archive);
  if (!st) return fail('missing', { path: archive });
  if (st.type !== 'd') return fail('not-dir', { path: archive, type: st.type });
  if (st.owner !== 'postgres') return fail('owner', { path: archive, owner: st.owner });
  return pass({ path: archive, owner: st.owner });
};

/**
 * Can postgres (whom rsync/scp log in as) create files in the archive directory? A directory that
 * exists and is postgres's but `chmod 000` makes every archive_command fail while the other checks
 * of the step, judging what already arrived, still pass: warn. Root-only modes (no group/other
 * bits) are judged by the owner's bits; a directory of another owner is archive-dir's failure.
 */
export const archiveDirWritable: CheckFn = async (ctx) => {
  const { probes } = ctx;
  const WAL_ARCHIVE_DIR = ctx.facts.archive;
  const st = await probes.stat('esclavo', WAL_ARCHIVE_DIR);
  if (!st || st.type !== 'd') {
    // After the promotion the archive is removed on purpose (step 7): nothing left to write into.
    if ((await esclavoPromoted(ctx)).status === 'pass') return pass({ path: WAL_ARCHIVE_DIR, removed: WAL_ARCHIVE_DIR });
    return fail('missing', { path: WAL_ARCHIVE_DIR });
  }
  const mode = st.mode === undefined || Number.isNaN(st.mode) ? '—' : st.mode.toString(8).padStart(3, '0');
  if (!postgresMayWrite(st)) return fail('unwritable', { path: WAL_ARCHIVE_DIR, owner: st.owner, mode });
  return pass({ path: WAL_ARCHIVE_DIR, owner: st.owner, mode });
};


/** The tutorial's wal_level; 9.6+ accept it as an alias and report `replica` (profile.walLevelExpected). */
const TUTORIAL_WAL_LEVEL = 'hot_standby';

export const walSettings: CheckFn = async (ctx) => {
  const { profile } = ctx;
  const rules: SettingRule[] = [
    {
      name: 'wal_level',
      expected: profile.walLevelExpected === TUTORIAL_WAL_LEVEL ? TUTORIAL_WAL_LEVEL : `${profile.walLevelExpected} (${TUTORIAL_WAL_LEVEL})`,
      // Any level that keeps what a standby needs; in the file the tutorial's name is fine on every version.
      ok: (v) => [profile.walLevelExpected, TUTORIAL_WAL_LEVEL, 'replica', 'logical'].includes(v),
    },
    { name: 'max_wal_senders', expected: '>= 3', ok: (v) => Number(v) >= 3 },
  ];
  if (profile.checkpointSetting.tutorialValue) {
    const target = Number(profile.checkpointSetting.tutorialValue);
    rules.push({ name: profile.checkpointSetting.name, expected: `>= ${target}`, ok: (v) => Number(v) >= target });
  }
  const keep = profile.walKeepSetting;
  rules.push(keep.name === 'wal_keep_segments'
    ? { name: keep.name, expected: `>= ${keep.tutorialValue}`, ok: (v) => Number(v) >= Number(keep.tutorialValue) }
    : { name: keep.name, expected: `>= ${keep.tutorialValue}MB`, ok: (v) => sizeInMb(v) >= Number(keep.tutorialValue) });
  return gradeSettings(ctx, 'maestro', rules);
};

/**
 * The settings in effect, and a command that can work: rsync really installed where the command
 * runs and where it copies to (its files checked against the package, see prep.ts), and the
 * archiver not failing every attempt (pg_stat_archiver on 9.4+; on 9.1, segments piling up as
 * .ready in archive_status with none .done, read by the engine).
 */
export const archiveSettings: CheckFn = async (ctx) => {
  const outcome = await gradeSettings(ctx, 'maestro', [
    { name: 'archive_mode', expected: 'on', ok: (v) => isOn(v) || v === 'always' },
    { name: 'archive_command', expected: `rsync … %p postgres@${ctx.ip.esclavo}:${ctx.facts.archive}/%f`, ok: (v) => archiveCommandOk(v, ctx) },
    { name: 'archive_timeout', expected: '60', ok: (v) => Number(v) > 0 && Number(v) <= 60 },
  ]);
  if (outcome.status === 'fail') {
    const value = (await ctx.probes.settings('maestro')).get('archive_command') ?? '';
    const inFile = await ctx.probes.fileSetting('maestro', 'archive_command');
    // Already fixed in the file but not reloaded: that is a pending restart, not a space to remove.
    const wrapped = inFile !== undefined ? looksLikeWrappedArchiveCommand(inFile) : looksLikeWrappedArchiveCommand(value);
    if (wrapped) return fail('space-after-colon', { ...outcome.evidence, archive_command: inFile ?? value });
    return outcome;
  }
  const command = (await ctx.probes.settings('maestro')).get('archive_command') ?? '';
  const tool = /\bscp\b/.test(command) && !/\brsync\b/.test(command) ? 'openssh-client' : 'rsync';
  const [m, e] = await Promise.all([packagesInstalled(ctx.probes, 'maestro', [tool, 'openssh-client']), packagesInstalled(ctx.probes, 'esclavo', tool === 'rsync' ? ['rsync'] : [])]);
  const absent = [...m.missing, ...m.tampered, ...e.missing, ...e.tampered];
  if (absent.length) return fail('tool-missing', { ...outcome.evidence, missing: absent.join(', ') });
  const failing = await archiverFailing(ctx);
  if (failing) return fail('archive-failing', { ...outcome.evidence, ...failing });
  return outcome;
};

/**
 * Evidence that every archive attempt fails, or undefined. Judged only while esclavo's archive
 * directory exists and holds no segment: after the tutorial's cleanup (step 6 deletes it) a
 * failing archive_command is expected and says nothing about step 2.
 */
export async function archiverFailing({ probes, profile, facts }: CheckContext): Promise<Record<string, string | number> | undefined> {
  // Headers only, stopped at the first child: names sort digits first, so a segment comes first if there is one.
  const archive = await probes.archive('esclavo', facts.archive, { stopAfter: 2 }).catch(() => undefined);
  if (!archive) return undefined;
  const first = archive.entries[1];
  if (first && first.type === 'f' && isWalSegmentName(first.name.split('/').pop() ?? '') && first.size === WAL_SEGMENT_SIZE) return undefined;
  // Segments waiting for the archiver (.ready) and archived (.done), read by the engine. A .ready
  // older than ARCHIVE_STUCK_S (or two of them) means attempts keep failing: a working command
  // turns it into .done within a second.
  const dir = await probes.archive('maestro', `${profile.dataDir}/${profile.walDirName}/archive_status`, { maxEntries: 5000, maxStreamBytes: 8 << 20 }).catch(() => undefined);
  const names = (dir?.entries ?? []).filter((e) => e.type === 'f');
  const ready = names.filter((e) => e.name.endsWith('.ready'));
  const done = names.filter((e) => e.name.endsWith('.done')).length;
  const stuck = ready.length >= 2 || ready.some((e) => Date.now() / 1000 - e.mtime > ARCHIVE_STUCK_S);
  if (profile.major !== '9.1') {
    // 9.4+ counts; but a command that exits above 125 (ssh's 255) ends the archiver before it counts the failure.
    const rows = await probes.sql('maestro', 'SELECT archived_count, failed_count, coalesce(last_failed_wal, \'\') FROM pg_stat_archiver').catch(() => undefined);
    const [archived, failed, lastFailedWal] = rows?.[0] ?? [];
    if (!rows || Number(archived) > 0) return undefined;
    return Number(failed) > 0 || stuck ? { failed_count: Number(failed), archived_count: 0, last_failed_wal: lastFailedWal || '—', ready_on_maestro: ready.length } : undefined;
  }
  // 9.1 keeps no counters: none ever archived (.done) and segments stuck waiting.
  return done === 0 && stuck ? { ready_on_maestro: ready.length, done_on_maestro: 0 } : undefined;
}

/** Seconds a segment may wait as .ready before archiving is called failing (the archiver retries every few seconds). */
const ARCHIVE_STUCK_S = 30;

/**
 * postgresql.conf as PostgreSQL will read it at the next start. The settings checks judge the
 * running server; a file with a line PostgreSQL cannot read (archive_command wrapped in two, as the
 * PDF prints it) leaves them passing on the old server while the restart was refused: Debian's
 * restart prints `No PostgreSQL clusters exist` and exits 0, and the next start will fail.
 */
export const confReadable: CheckFn = async ({ probes, profile }) => {
  const file = `${profile.confDir}/postgresql.conf`;
  if (!(await probes.readableByPostgres('maestro', file))) return fail('conf-unreadable', { file });
  const { main } = await probes.configFiles('maestro');
  if (!main) return fail('missing', { file });
  if (main.errors.length) return fail('conf-syntax', { file, lines: errorLines(main.errors) });
  // Nothing of step 2 written yet: nothing to vouch for.
  if (!confGet(main, 'archive_command')) return fail('not-edited', { file });
  return pass({ file });
};

export function archiveCommandOk(v: string, { ip, facts }: CheckContext): boolean {
  return /\b(rsync|scp)\b/.test(v) && v.includes('%p') && v.includes('%f') && v.includes(facts.archive.split('/').pop() ?? facts.archive)
    && (v.includes(ip.esclavo) || /@esclavo\b/.test(v)) && !looksLikeWrappedArchiveCommand(v);
}

export const listenAddresses: CheckFn = async (ctx) =>
  gradeSettings(ctx, 'maestro', [
    { name: 'listen_addresses', expected: `'*' ${lang() === 'en' ? 'or' : 'o'} '${ctx.ip.maestro}, localhost'`, ok: (v) => listensOn(v, ctx.ip.maestro) },
  ]);

/** Genuine segments of *this* maestro in esclavo's archive: name, size, page magic, timeline, sysid. */
export const segmentsArrived: CheckFn = async (ctx) => {
  const { probes, profile, facts } = ctx;
  const { archive } = facts;
  const WAL_ARCHIVE_DIR = archive;
  const entries = await probes.listDir('esclavo', archive);
  if (!entries) return fail('no-archive-dir', { path: archive });
  const sysid = (await probes.controldata('maestro'))?.systemIdentifier;
  if (!sysid) return fail('no-maestro-sysid', {});
  const cut = truncatedEvidence(entries);
  const candidates = entries.filter((e) => e.type === 'f' && isWalSegmentName(e.name)).sort((a, b) => b.mtime - a.mtime).slice(0, 5);
  if (!candidates.length) return fail('empty', { path: WAL_ARCHIVE_DIR, files: entries.length, ...(await archiverEvidence(probes, profile.walDirName, profile.dataDir)), ...cut });
  const rejected: string[] = [];
  for (const e of candidates) {
    // The listing only names candidates: size and first page as the engine reads them.
    const file = await probes.fileInfo('esclavo', `${WAL_ARCHIVE_DIR}/${e.name}`, 8192);
    const verdict = validateWalSegment({ name: e.name, size: file?.size ?? 0, firstPage: file?.data ?? Buffer.alloc(0), profile, expectedSysid: sysid });
    if (verdict.ok) {
      // A real segment in the archive is not archiving: the observer must have seen the archiver ship one and esclavo receive it.
      const shipped = await archivingObserved(ctx);
      if (!shipped.length) return fail('not-shipped', { segment: e.name, observer: 'ningún segmento enviado por el archiver / no segment shipped by the archiver' });
      return pass({ segment: e.name, size: file!.size, magic: `0x${verdict.header.magic.toString(16)}`, sysid: verdict.header.sysid, segments: entries.filter((x) => isWalSegmentName(x.name)).length, ...cut, archived_observed: shipped.length });
    }
    rejected.push(`${e.name}: ${verdict.reason}`);
  }
  return fail('invalid', { rejected: rejected.join(' | '), maestro_sysid: sysid, expected_size: WAL_SEGMENT_SIZE, ...cut });
};

/** Said in the evidence when a listing was cut (MAX_DIR_ENTRIES): the verdict saw only part of it. */
export function truncatedEvidence(entries: { truncated?: boolean } | undefined): Record<string, string> {
  return entries?.truncated ? { salida: 'salida truncada / output truncated' } : {};
}

/** Why nothing arrives: segments waiting in archive_status (*.ready) mean archive_command keeps failing. */
async function archiverEvidence(probes: CheckContext['probes'], walDir: string, dataDir: string) {
  const status = (await probes.listDir('maestro', `${dataDir}/${walDir}/archive_status`).catch(() => undefined)) ?? [];
  return { ready_on_maestro: status.filter((e) => e.name.endsWith('.ready')).length, done_on_maestro: status.filter((e) => e.name.endsWith('.done')).length };
}

/**
 * pg_stop_backup / pg_backup_stop writes a backup history file (`*.backup`) and archives it. Judged
 * in esclavo's archive, corroborated by the observer (the archiver shipped segments to esclavo);
 * once the promotion and the cleanup consumed the archive, the manifest's fallback asks the
 * observer whether the clone ran as maestro's standby (files in maestro's pg_xlog prove nothing).
 */
export const baseBackupTaken: CheckFn = async (ctx) => {
  const { probes, profile, facts } = ctx;
  const { archive } = facts;
  const WAL_ARCHIVE_DIR = archive;
  const sysid = (await probes.controldata('maestro'))?.systemIdentifier;
  if (!sysid) return fail('no-maestro-sysid', {});
  const entries = await probes.listDir('esclavo', archive);
  const archived = (entries ?? []).filter((e) => isBackupHistoryName(e.name)).sort((a, b) => b.mtime - a.mtime);
  for (const h of archived) {
    const info = parseBackupHistory((await probes.readText('esclavo', `${archive}/${h.name}`)) ?? '');
    if (!info.startWalLocation || !info.stopWalLocation || !info.startWalFile || !h.name.startsWith(info.startWalFile)) continue;
    // If the backup's first segment is still archived it must belong to this maestro.
    const start = entries!.find((e) => e.name === info.startWalFile);
    if (start) {
      const file = await probes.fileInfo('esclavo', `${WAL_ARCHIVE_DIR}/${start.name}`, 8192);
      const firstPage = file?.data ?? Buffer.alloc(0);
      if (!validateWalSegment({ name: start.name, size: file?.size ?? 0, firstPage, profile, expectedSysid: sysid }).ok) continue;
    }
    // A history file written by hand is not a backup: the archiver must have been seen shipping to esclavo.
    if (!(await archivingObserved(ctx)).length) return fail('not-shipped', { file: h.name, observer: 'ningún segmento enviado por el archiver / no segment shipped by the archiver' });
    return pass({ file: h.name, label: info.label ?? '', start: info.startWalLocation, stop: info.stopWalLocation });
  }
  if (archived.length) return fail('bad-history', { files: archived.slice(0, 10).map((h) => h.name).join(', '), ...truncatedEvidence(entries) });
  return fail(entries ? 'never-started' : 'no-archive-dir', { path: WAL_ARCHIVE_DIR, ...truncatedEvidence(entries) });
};

/** esclavo's data directory is a clone of maestro: same database system identifier. */
export const esclavoIsClone: CheckFn = async ({ probes }) => {
  const [m, e] = await Promise.all([probes.controldata('maestro'), probes.controldata('esclavo')]);
  if (!e?.systemIdentifier) return fail('no-datadir', {});
  if (!m?.systemIdentifier) return fail('no-maestro-sysid', {});
  if (m.systemIdentifier !== e.systemIdentifier) return fail('not-clone', { maestro: m.systemIdentifier, esclavo: e.systemIdentifier });
  return pass({ sysid: e.systemIdentifier });
};

export const tarballCleaned: CheckFn = async (ctx) => {
  const { probes } = ctx;
  // Only meaningful once the backup was restored on esclavo.
  if ((await esclavoIsClone(ctx)).status === 'fail') return fail('no-restore', {});
  const leftovers: string[] = [];
  for (const path of ['/var/lib/postgresql/base_backup.tar.gz', '/var/lib/postgresql/base_backup', '/var/lib/postgresql/base.tar.gz']) {
    if (await probes.stat('esclavo', path)) leftovers.push(path);
  }
  return leftovers.length ? fail('leftovers', { files: leftovers.join(', ') }) : pass({ removed: '~/base_backup.tar.gz, ~/base_backup' });
};
