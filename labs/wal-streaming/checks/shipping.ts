/** Step 2 — WAL shipping and the base backup. */
import { looksLikeWrappedArchiveCommand } from '../../../src/pg/conf.js';
import { parseBackupHistory } from '../../../src/pg/backup.js';
import { WAL_SEGMENT_SIZE } from '../../../src/pg/profile.js';
import { isBackupHistoryName, isWalSegmentName, validateWalSegment } from '../../../src/pg/wal.js';
import { gradeSettings, isOn, listensOn, sizeInMb, type SettingRule } from '../../../src/checks/index.js';
import { fail, pass, type CheckContext, type CheckFn } from '../../../src/checks/index.js';

export const archiveDir: CheckFn = async ({ probes, facts }) => {
  const { archive } = facts;
  const st = await probes.stat('esclavo', archive);
  if (!st) return fail('missing', { path: archive });
  if (st.type !== 'd') return fail('not-dir', { path: archive, type: st.type });
  if (st.owner !== 'postgres') return fail('owner', { path: archive, owner: st.owner });
  return pass({ path: archive, owner: st.owner });
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
  }
  return outcome;
};

export function archiveCommandOk(v: string, { ip, facts }: CheckContext): boolean {
  return /\b(rsync|scp)\b/.test(v) && v.includes('%p') && v.includes('%f') && v.includes(facts.archive.split('/').pop() ?? facts.archive)
    && (v.includes(ip.esclavo) || /@esclavo\b/.test(v)) && !looksLikeWrappedArchiveCommand(v);
}

export const listenAddresses: CheckFn = async (ctx) =>
  gradeSettings(ctx, 'maestro', [
    { name: 'listen_addresses', expected: `'*' o/or '${ctx.ip.maestro}, localhost'`, ok: (v) => listensOn(v, ctx.ip.maestro) },
  ]);

/** Genuine segments of *this* maestro in esclavo's archive: name, size, page magic, timeline, sysid. */
export const segmentsArrived: CheckFn = async ({ probes, profile, facts }) => {
  const { archive } = facts;
  const entries = await probes.listDir('esclavo', archive);
  if (!entries) return fail('no-archive-dir', { path: archive });
  const sysid = (await probes.controldata('maestro'))?.systemIdentifier;
  if (!sysid) return fail('no-maestro-sysid', {});
  const candidates = entries.filter((e) => e.type === 'f' && isWalSegmentName(e.name)).sort((a, b) => b.mtime - a.mtime).slice(0, 5);
  if (!candidates.length) return fail('empty', { path: archive, files: entries.length, ...(await archiverEvidence(probes, profile.walDirName, profile.dataDir)) });
  const rejected: string[] = [];
  for (const e of candidates) {
    const firstPage = (await probes.readFile('esclavo', `${archive}/${e.name}`, 8192)) ?? Buffer.alloc(0);
    const verdict = validateWalSegment({ name: e.name, size: e.size, firstPage, profile, expectedSysid: sysid });
    if (verdict.ok) {
      return pass({ segment: e.name, size: e.size, magic: `0x${verdict.header.magic.toString(16)}`, sysid: verdict.header.sysid, segments: entries.filter((x) => isWalSegmentName(x.name)).length });
    }
    rejected.push(`${e.name}: ${verdict.reason}`);
  }
  return fail('invalid', { rejected: rejected.join(' | '), maestro_sysid: sysid, expected_size: WAL_SEGMENT_SIZE });
};

/** Why nothing arrives: segments waiting in archive_status (*.ready) mean archive_command keeps failing. */
async function archiverEvidence(probes: CheckContext['probes'], walDir: string, dataDir: string) {
  const status = (await probes.listDir('maestro', `${dataDir}/${walDir}/archive_status`).catch(() => undefined)) ?? [];
  return { ready_on_maestro: status.filter((e) => e.name.endsWith('.ready')).length, done_on_maestro: status.filter((e) => e.name.endsWith('.done')).length };
}

/**
 * pg_stop_backup / pg_backup_stop writes a backup history file (`*.backup`) and archives it. Judged
 * in esclavo's archive; once the tutorial's cleanup has deleted the archive, the copy that stays in
 * maestro's pg_xlog / pg_wal with its archive_status `.done` still proves it was taken and shipped.
 */
export const baseBackupTaken: CheckFn = async ({ probes, profile, facts }) => {
  const { archive } = facts;
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
      const page = (await probes.readFile('esclavo', `${archive}/${start.name}`, 8192)) ?? Buffer.alloc(0);
      if (!validateWalSegment({ name: start.name, size: start.size, firstPage: page, profile, expectedSysid: sysid }).ok) continue;
    }
    return pass({ file: h.name, label: info.label ?? '', start: info.startWalLocation, stop: info.stopWalLocation });
  }
  // Surviving evidence on maestro: its own history file, archived successfully (.done).
  const walDir = `${profile.dataDir}/${profile.walDirName}`;
  const local = ((await probes.listDir('maestro', walDir)) ?? []).filter((e) => isBackupHistoryName(e.name)).sort((a, b) => b.mtime - a.mtime);
  const status = new Set(((await probes.listDir('maestro', `${walDir}/archive_status`)) ?? []).map((e) => e.name));
  for (const h of local) {
    const info = parseBackupHistory((await probes.readText('maestro', `${walDir}/${h.name}`)) ?? '');
    if (!info.startWalLocation || !info.stopWalLocation || !info.startWalFile || !h.name.startsWith(info.startWalFile)) continue;
    if (!status.has(`${h.name}.done`)) return fail('not-archived', { file: `${walDir}/${h.name}`, archive_status: status.has(`${h.name}.ready`) ? '.ready' : '—' });
    return { ...pass({ file: h.name, label: info.label ?? '', start: info.startWalLocation, stop: info.stopWalLocation, archived: `${walDir}/archive_status/${h.name}.done` }), source: 'evidence' };
  }
  if (archived.length) return fail('bad-history', { files: archived.map((h) => h.name).join(', ') });
  return fail(entries ? 'never-started' : 'no-archive-dir', { path: archive, maestro: walDir });
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
