/**
 * Graders of the sync-failback lab: the old maestro back as a standby of the promoted esclavo,
 * synchronous replication, a planned switchover back, and a second standby in the synchronous list.
 *
 * Every verdict comes from state the servers report (pg_is_in_recovery, pg_controldata's system
 * identifier, timeline history files, real pg_stat_replication rows, settings in effect), never from
 * log text. Checks that a later step legitimately changes (the switchover swaps the roles) judge
 * the requirement in a role-agnostic way ("the primary has a synchronous standby") or fall back on
 * what survives (the timeline history proves maestro once replayed esclavo's timeline).
 */
import { randomBytes } from 'node:crypto';
import { fail, nonceReplicated, pass, sameTables, TIMEOUTS, type CheckFn, type CheckOutcome, type PgProfile, type Probes } from '../../../src/checks/index.js';
import { parseTimelineHistory } from '../../../src/pg/backup.js';
import { confGet, parseConf } from '../../../src/pg/conf.js';
import { matchHba, parseHba } from '../../../src/pg/hba.js';
import { timelineHistoryPath } from '../../../src/pg/profile.js';
import { conninfoApplicationName, listed, parseSyncNames, type SyncNames } from './parse.js';

type Role = 'maestro' | 'esclavo';
const ROLES: Role[] = ['maestro', 'esclavo'];

/** maestro's own timeline until wal-streaming's promotion gave esclavo a new one (2). */
const ORIGINAL_TIMELINE = 1;

const isUp = (probes: Probes, role: string) => probes.serverUp(role).catch(() => false);
const sysid = async (probes: Probes, role: string) => (await probes.controldata(role).catch(() => undefined))?.systemIdentifier;
const yes = (b: boolean) => (b ? 'sí/yes' : 'no');

interface ReplRow { addr: string; app: string; state: string; sync: string; sent: string }

/** Real pg_stat_replication rows of a primary. */
async function replicationRows(probes: Probes, profile: PgProfile, role: string, memo = true): Promise<ReplRow[]> {
  const rows = await probes.sql(role, `SELECT coalesce(host(client_addr), ''), coalesce(application_name, ''), coalesce(state, ''), coalesce(sync_state, ''), coalesce(${profile.replSentColumn}::text, '') FROM pg_stat_replication ORDER BY 1`, { memo });
  return rows.map(([addr, app, state, sync, sent]) => ({ addr, app, state, sync, sent }));
}

const showRows = (rows: ReplRow[]) => rows.map((r) => `${r.addr} ${r.app} ${r.state} ${r.sync}`).join(', ') || '0';

/**
 * Which of maestro and esclavo is the primary and which its standby: both up, exactly one in
 * recovery, the same system identifier (a clone, not another cluster). Otherwise a failed outcome.
 */
async function pairOf(probes: Probes): Promise<{ primary: Role; standby: Role; sysid: string } | CheckOutcome> {
  for (const role of ROLES) if (!(await isUp(probes, role))) return fail('down', { server: role });
  const [m, e] = await Promise.all([probes.inRecovery('maestro'), probes.inRecovery('esclavo')]);
  if (m === e) return fail(m ? 'no-primary' : 'no-standby', { maestro_in_recovery: m ? 't' : 'f', esclavo_in_recovery: e ? 't' : 'f' });
  const [sm, se] = await Promise.all([sysid(probes, 'maestro'), sysid(probes, 'esclavo')]);
  if (!sm || sm !== se) return fail('other-cluster', { maestro_sysid: sm ?? '—', esclavo_sysid: se ?? '—' });
  return m ? { primary: 'esclavo', standby: 'maestro', sysid: sm } : { primary: 'maestro', standby: 'esclavo', sysid: sm };
}
const isOutcome = (x: unknown): x is CheckOutcome => typeof x === 'object' && x !== null && 'status' in x;

/** The timelines a server's current timeline descends from, read from its history file. */
async function lineage(probes: Probes, profile: PgProfile, role: string): Promise<{ tli: number; parents: number[]; branchLsn?: string; path: string }> {
  const tli = await probes.timeline(role);
  const path = timelineHistoryPath(profile, tli);
  const entries = tli > 1 ? parseTimelineHistory((await probes.readText(role, path)) ?? '') : [];
  const last = entries[entries.length - 1];
  // A history file must name the timeline it branched from: an empty or hand-made one proves nothing.
  if (!last || last.parentTli !== tli - 1) return { tli, parents: [], path };
  return { tli, parents: entries.map((e) => e.parentTli), branchLsn: last.switchLsn, path };
}

/**
 * maestro is on a timeline that descends from esclavo's (it replayed the timeline esclavo opened
 * when promoted, 2 in the lab's story, as its standby) and is the same cluster as esclavo: what
 * survives of step 1 after the switchover. maestro itself only ever ran timeline 1 before, so any
 * later ancestor was replayed from another server of the same cluster.
 */
async function maestroReplayedEsclavo(probes: Probes, profile: PgProfile): Promise<{ ok: boolean; evidence: Record<string, string | number> }> {
  const [line, sm, se] = await Promise.all([lineage(probes, profile, 'maestro'), sysid(probes, 'maestro'), sysid(probes, 'esclavo')]);
  const evidence = { maestro_timeline: line.tli, ancestors: line.parents.join(' → ') || '—', same_system_identifier: yes(!!sm && sm === se) };
  const replayed = line.parents.some((t) => t > ORIGINAL_TIMELINE);
  return { ok: !!sm && sm === se && replayed, evidence: { ...evidence, history: line.tli > 1 ? line.path : '—' } };
}

/** Why a primary has no wal sender for a standby: the settings and rules a student controls. */
async function whyNoSender(probes: Probes, primary: Role, standbyIp: string): Promise<CheckOutcome> {
  const { confDir } = probes.profile;
  const settings = await probes.settings(primary);
  const senders = Number(settings.get('max_wal_senders') ?? '0');
  const listen = settings.get('listen_addresses') ?? '';
  const evidence = { server: primary, max_wal_senders: senders, listen_addresses: listen || "''" };
  if (senders < 2) return fail('no-wal-senders', evidence);
  if (!/(^|[\s,])(\*|0\.0\.0\.0)([\s,]|$)/.test(listen) && !listen.split(/[\s,]+/).includes(probes.ip(primary))) return fail('not-listening', evidence);
  const hba = parseHba((await probes.readText(primary, `${confDir}/pg_hba.conf`)) ?? '');
  const rule = matchHba(hba.rules, { database: 'replication', user: 'postgres', ip: standbyIp });
  if (!rule || rule.method === 'reject') return fail('no-hba', { ...evidence, hba: rule ? `${rule.line}: ${rule.raw.trim()}` : '—' });
  return fail('no-sender', { ...evidence, hba: `${rule.line}: ${rule.raw.trim()}` });
}

/**
 * The primary's pg_stat_replication row of the standby at `standbyIp`, in state streaming;
 * otherwise why not (no row: the primary's settings and rules, with the rows seen; another state).
 */
async function streamingRow(probes: Probes, profile: PgProfile, primary: Role, standbyIp: string): Promise<ReplRow | CheckOutcome> {
  const rows = await replicationRows(probes, profile, primary);
  const mine = rows.find((r) => r.addr === standbyIp);
  if (!mine) {
    const why = await whyNoSender(probes, primary, standbyIp);
    return { ...why, evidence: { ...why.evidence, pg_stat_replication: showRows(rows) } };
  }
  if (mine.state !== 'streaming') return fail('not-streaming', { client_addr: mine.addr, state: mine.state });
  return mine;
}

/** primary_conninfo a standby uses: recovery.conf (9.1) or the setting in effect (12+). */
async function primaryConninfo(probes: Probes, profile: PgProfile, role: string): Promise<string> {
  if (profile.recoveryConfFile) {
    const text = await probes.readText(role, `${profile.dataDir}/recovery.conf`);
    return text === undefined ? '' : confGet(parseConf(text), 'primary_conninfo')?.value ?? '';
  }
  return (await probes.settings(role)).get('primary_conninfo') ?? '';
}

// ── Step 1: the old maestro, a standby of the new primary ─────────────────────────────────────

/** maestro in recovery, a clone of esclavo (same system identifier), esclavo a primary on its new timeline. */
export const maestroFollowsEsclavo: CheckFn = async ({ probes }) => {
  if (!(await isUp(probes, 'esclavo'))) return fail('down', { server: 'esclavo' });
  if (await probes.inRecovery('esclavo')) return fail('esclavo-not-primary', { esclavo_in_recovery: 't' });
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  const [tli, mtli] = await Promise.all([probes.timeline('esclavo'), probes.timeline('maestro')]);
  if (!(await probes.inRecovery('maestro'))) return fail('maestro-primary', { maestro_in_recovery: 'f', maestro_timeline: mtli, esclavo_timeline: tli });
  const [sm, se] = await Promise.all([sysid(probes, 'maestro'), sysid(probes, 'esclavo')]);
  if (!sm || sm !== se) return fail('other-cluster', { maestro_sysid: sm ?? '—', esclavo_sysid: se ?? '—' });
  return pass({ maestro_in_recovery: 't', system_identifier: sm, esclavo_timeline: tli, maestro_timeline: mtli });
};

/** esclavo's pg_stat_replication has a streaming row from maestro's address. */
export const streamsFromEsclavo: CheckFn = async ({ probes, profile, ip }) => {
  if (!(await isUp(probes, 'esclavo'))) return fail('down', { server: 'esclavo' });
  if (await probes.inRecovery('esclavo')) return fail('esclavo-not-primary', { esclavo_in_recovery: 't' });
  const mine = await streamingRow(probes, profile, 'esclavo', ip.maestro);
  if (isOutcome(mine)) return mine;
  return pass({ client_addr: mine.addr, application_name: mine.app, state: mine.state, sent: mine.sent });
};

/** Fallback for step 1 after the switchover: maestro's timeline descends from esclavo's. */
export const maestroReplayedEsclavoTimeline: CheckFn = async ({ probes, profile }) => {
  const { ok, evidence } = await maestroReplayedEsclavo(probes, profile);
  return ok ? { ...pass(evidence), source: 'evidence' } : fail('no-history', evidence);
};

/**
 * Rows reach the standby: a fresh random value written on the primary (grader's own schema, dropped
 * afterwards, committed with synchronous_commit = local so the probe never waits on a standby) is
 * read on the standby; and the student's tables have the same rows on both.
 */
export const rowsReachStandby: CheckFn = async ({ probes }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  const { primary, standby } = pair;
  const { nonce, lagMs, waitedMs } = await nonceReplicated(probes, primary, standby, { localCommit: true });
  if (lagMs === undefined) return fail('not-replicated', { from: primary, to: standby, nonce, waited_ms: waitedMs });
  const tables = await sameTables(probes, primary, standby);
  if (tables.missing) return fail('tables-differ', { from: primary, to: standby, [primary]: tables.primary, [standby]: tables.standby });
  return pass({ from: primary, to: standby, nonce, lag_ms: lagMs, tables: tables.primary });
};

/** 9.1: the standby's recovery.conf follows the newest timeline (recovery_target_timeline = 'latest'). */
export const recoveryTargetLatest: CheckFn = async ({ probes, profile }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  const path = `${profile.dataDir}/recovery.conf`;
  const text = await probes.readText(pair.standby, path);
  if (text === undefined) return fail('no-recovery-conf', { server: pair.standby, file: path });
  const value = confGet(parseConf(text), 'recovery_target_timeline')?.value;
  if (value?.toLowerCase() !== 'latest') return fail('not-latest', { server: pair.standby, recovery_target_timeline: value ?? '—' });
  return pass({ server: pair.standby, recovery_target_timeline: value });
};

/**
 * 9.5+: pg_rewind can rewind either server next time: wal_log_hints = on or data checksums, and
 * full_page_writes = on, in effect on maestro and esclavo.
 */
export const rewindReady: CheckFn = async ({ probes }) => {
  const evidence: Record<string, string> = {};
  const missing: string[] = [];
  for (const role of ROLES) {
    if (!(await isUp(probes, role))) return fail('down', { server: role });
    const s = await probes.settings(role);
    const hints = s.get('wal_log_hints') === 'on';
    const checksums = s.get('data_checksums') === 'on';
    const fpw = s.get('full_page_writes') !== 'off';
    evidence[role] = `wal_log_hints=${s.get('wal_log_hints') ?? '—'} data_checksums=${s.get('data_checksums') ?? '—'} full_page_writes=${s.get('full_page_writes') ?? '—'}`;
    if (!(hints || checksums) || !fpw) missing.push(role);
  }
  return missing.length ? fail('off', { ...evidence, servers: missing.join(', ') }) : pass(evidence);
};

// ── Step 2: synchronous replication ───────────────────────────────────────────────────────────

async function syncNames(probes: Probes, profile: PgProfile, role: string): Promise<{ raw: string; parsed: SyncNames | undefined | null }> {
  const raw = (await probes.settings(role)).get('synchronous_standby_names') ?? '';
  return { raw, parsed: parseSyncNames(raw, profile.syncNamesFirstAny) };
}

/** The primary lists its standby's application_name in synchronous_standby_names and reports it `sync` (or `quorum`). */
export const syncStandby: CheckFn = async ({ probes, profile, ip }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  const { primary, standby } = pair;
  const names = await syncNames(probes, profile, primary);
  if (names.parsed === undefined) return fail('no-names', { primary, synchronous_standby_names: "''" });
  if (names.parsed === null) return fail('unparsable', { primary, synchronous_standby_names: names.raw });
  const rows = await replicationRows(probes, profile, primary);
  const row = rows.find((r) => r.addr === ip[standby]);
  if (!row) return fail('not-connected', { primary, standby, pg_stat_replication: showRows(rows) });
  const evidence = { primary, standby, synchronous_standby_names: names.raw, application_name: row.app, sync_state: row.sync };
  if (!listed(names.parsed, row.app)) return fail('name-mismatch', evidence);
  if (row.sync !== 'sync' && row.sync !== 'quorum') return fail('not-sync', evidence);
  return pass(evidence);
};

/** The standby names itself: application_name in its primary_conninfo, and the primary sees that name. */
export const appNameInConninfo: CheckFn = async ({ probes, profile, ip }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  const { primary, standby } = pair;
  const conninfo = await primaryConninfo(probes, profile, standby);
  const app = conninfoApplicationName(conninfo);
  if (!app) return fail('no-app-name', { standby, primary_conninfo: conninfo || '—' });
  const row = (await replicationRows(probes, profile, primary)).find((r) => r.addr === ip[standby]);
  if (!row || row.app !== app) return fail('not-applied', { standby, application_name: app, reported: row?.app ?? '—' });
  return pass({ standby, application_name: app, primary_conninfo: conninfo });
};

/**
 * A commit on the primary waits for a synchronous standby. Two ways to prove it, never stopping a
 * server of the student's:
 * - a listed standby is connected: from the settings in effect. synchronous_standby_names is set
 *   (checked to match a connected standby by syncStandby) and synchronous_commit, as a new session
 *   of every database sees it, is neither `off` nor `local` (both commit without waiting);
 * - no listed standby is connected (the student stopped it, as the exercise asks): a real commit,
 *   of a temporary table created and dropped in the same transaction (ON COMMIT DROP: nothing
 *   remains), must still be waiting after TIMEOUTS.commitWaitMs; the probe then cancels its own wait
 *   (pg_cancel_backend; pg_terminate_backend if that did not end it). statement_timeout cannot end
 *   this wait: the server disarms it before committing.
 */
export const commitWaits: CheckFn = async ({ probes, profile }) => {
  let primary: Role | undefined;
  let names: { raw: string; parsed: SyncNames | undefined | null } | undefined;
  for (const role of ROLES) {
    if (!(await isUp(probes, role)) || (await probes.inRecovery(role))) continue;
    const n = await syncNames(probes, profile, role);
    if (n.parsed !== undefined) { primary = role; names = n; break; }
  }
  if (!primary || !names || names.parsed === undefined) return fail('no-names', {});
  if (names.parsed === null) return fail('unparsable', { primary, synchronous_standby_names: names.raw });
  const sync: SyncNames = names.parsed;
  const commitModes = new Set<string>();
  for (const db of await probes.databases(primary)) {
    const [[value]] = await probes.sql(primary, 'SHOW synchronous_commit', { database: db });
    if (value === 'off' || value === 'local') return fail('no-wait-setting', { primary, database: db, synchronous_commit: value });
    commitModes.add(value);
  }
  const connected = (await replicationRows(probes, profile, primary)).filter((r) => r.state === 'streaming' && listed(sync, r.app));
  const evidence = { primary, synchronous_standby_names: names.raw, synchronous_commit: [...commitModes].join(', ') };
  if (connected.length >= sync.num) return pass({ ...evidence, proven_by: 'settings', sync_standbys: connected.map((r) => r.app).join(', ') });
  const probe = await commitProbe(probes, profile, primary);
  if (!probe.waited) return fail('did-not-wait', { ...evidence, commit_ms: probe.ms });
  return pass({ ...evidence, proven_by: 'probe', waited_ms: probe.ms, connected_sync_standbys: connected.length });
};

const sleep = (ms: number) => new Promise<undefined>((r) => setTimeout(() => r(undefined), ms));

/** A real commit that needs a standby's confirmation; cancels its own wait. See commitWaits. */
async function commitProbe(probes: Probes, profile: PgProfile, role: string): Promise<{ waited: boolean; ms: number }> {
  const app = `pglab_commit_probe_${randomBytes(4).toString('hex')}`;
  const sql = 'BEGIN; CREATE TEMP TABLE pglab_commit_probe (i int) ON COMMIT DROP; INSERT INTO pglab_commit_probe VALUES (1); COMMIT;';
  const t0 = Date.now();
  // A longer timeout than a probe's gives it its own exec: batched, the cancel below would wait behind it.
  const writer = probes.exec(role, [probes.psql, '-X', '-q', '-d', 'postgres', '-c', sql], { env: { PGAPPNAME: app }, timeoutMs: TIMEOUTS.probeMs * 2 })
    .then(() => Date.now() - t0, () => Date.now() - t0);
  const early = await Promise.race([writer, sleep(TIMEOUTS.commitWaitMs)]);
  if (early !== undefined) return { waited: false, ms: early };
  const end = async (fn: string) => {
    await probes.sql(role, `SELECT ${fn}(${profile.activityPidColumn}) FROM pg_stat_activity WHERE application_name = '${app}'`, { memo: false }).catch(() => {});
  };
  await end('pg_cancel_backend');
  let ms = await Promise.race([writer, sleep(TIMEOUTS.cancelWaitMs)]);
  if (ms === undefined) {
    await end('pg_terminate_backend');
    ms = await writer;
  }
  return { waited: true, ms };
}

// ── Step 3: planned switchover back to the original roles ─────────────────────────────────────

/** maestro a primary again, promoted from esclavo's timeline (its history says so), same cluster. */
export const maestroPrimaryAgain: CheckFn = async ({ probes, profile }) => {
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('still-standby', { maestro_in_recovery: 't' });
  const { ok, evidence } = await maestroReplayedEsclavo(probes, profile);
  if (!ok) return fail(evidence.same_system_identifier === 'no' ? 'other-cluster' : 'not-promoted', evidence);
  return pass({ maestro_in_recovery: 'f', ...evidence });
};

/** esclavo a standby of maestro again: in recovery, same cluster, streaming in maestro's pg_stat_replication. */
export const esclavoFollowsMaestro: CheckFn = async ({ probes, profile, ip }) => {
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('maestro-standby', { maestro_in_recovery: 't' });
  if (!(await isUp(probes, 'esclavo'))) return fail('down', { server: 'esclavo' });
  if (!(await probes.inRecovery('esclavo'))) return fail('esclavo-primary', { esclavo_in_recovery: 'f' });
  const [sm, se] = await Promise.all([sysid(probes, 'maestro'), sysid(probes, 'esclavo')]);
  if (!sm || sm !== se) return fail('other-cluster', { maestro_sysid: sm ?? '—', esclavo_sysid: se ?? '—' });
  const mine = await streamingRow(probes, profile, 'maestro', ip.esclavo);
  if (isOutcome(mine)) return mine;
  return pass({ esclavo_in_recovery: 't', system_identifier: sm, client_addr: mine.addr, application_name: mine.app, state: mine.state });
};

/**
 * Nothing lost: maestro took over from esclavo's timeline (not from its own old one), esclavo
 * follows it, and every student table has the same rows on both servers.
 */
export const nothingLost: CheckFn = async ({ probes, profile }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  if (pair.primary !== 'maestro') return fail('not-switched', { primary: pair.primary });
  const history = await maestroReplayedEsclavo(probes, profile);
  if (!history.ok) return fail('not-switched', history.evidence);
  const tables = await sameTables(probes, 'maestro', 'esclavo');
  if (tables.primary === '—') return fail('no-rows', {});
  if (tables.missing) return fail('tables-differ', { maestro: tables.primary, esclavo: tables.standby });
  return pass({ tables: tables.primary, maestro_timeline: history.evidence.maestro_timeline, ancestors: history.evidence.ancestors });
};

// ── Step 4: a second standby in the synchronous list ──────────────────────────────────────────

/** esclavo2 is a standby of maestro: a clone (same system identifier) streaming from it. */
export const esclavo2Standby: CheckFn = async ({ probes, profile, ip }) => {
  if (!probes.env.servers.some((s) => s.role === 'esclavo2')) return fail('no-server', { servers: probes.env.servers.map((s) => s.role).join(', ') });
  if (!(await isUp(probes, 'esclavo2'))) return fail('down', { server: 'esclavo2' });
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('maestro-standby', { maestro_in_recovery: 't' });
  if (!(await probes.inRecovery('esclavo2'))) return fail('not-standby', { esclavo2_in_recovery: 'f' });
  const [sm, s2] = await Promise.all([sysid(probes, 'maestro'), sysid(probes, 'esclavo2')]);
  if (!sm || sm !== s2) return fail('other-cluster', { maestro_sysid: sm ?? '—', esclavo2_sysid: s2 ?? '—' });
  const ip2 = ip.esclavo2 ?? probes.ip('esclavo2');
  const mine = await streamingRow(probes, profile, 'maestro', ip2);
  if (isOutcome(mine)) return mine;
  return pass({ esclavo2_in_recovery: 't', system_identifier: sm, client_addr: mine.addr, application_name: mine.app, state: mine.state });
};

/**
 * maestro's synchronous_standby_names lists both standbys, as a priority list (one `sync`, the
 * other `potential`) or, 10+, a quorum (`ANY n`: both `quorum`), and the view agrees.
 */
export const twoStandbyList: CheckFn = async ({ probes, profile, ip }) => {
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('maestro-standby', { maestro_in_recovery: 't' });
  const names = await syncNames(probes, profile, 'maestro');
  if (names.parsed === undefined) return fail('no-names', { synchronous_standby_names: "''" });
  if (names.parsed === null) return fail('unparsable', { synchronous_standby_names: names.raw });
  const sync = names.parsed;
  const rows = await replicationRows(probes, profile, 'maestro');
  const e1 = rows.find((r) => r.addr === ip.esclavo && r.state === 'streaming');
  const e2 = rows.find((r) => r.addr === (ip.esclavo2 ?? probes.ip('esclavo2')) && r.state === 'streaming');
  const evidence = { synchronous_standby_names: names.raw, method: sync.method, num_sync: sync.num, esclavo: e1 ? `${e1.app} ${e1.sync}` : '—', esclavo2: e2 ? `${e2.app} ${e2.sync}` : '—' };
  if (!e1 || !e2) return fail('missing-standby', evidence);
  // A wildcard alone does not name the standbys: the list must name both of them.
  const named = (app: string) => sync.names.some((n) => n.toLowerCase() === app.toLowerCase());
  if (!named(e1.app) || !named(e2.app)) return fail('not-listed', evidence);
  const states = [e1.sync, e2.sync].sort().join(',');
  const expected = sync.method === 'quorum' ? 'quorum,quorum' : sync.num >= 2 ? 'sync,sync' : 'potential,sync';
  if (states !== expected) return fail('states', evidence);
  return pass(evidence);
};

export const CHECKS: Record<string, CheckFn> = {
  'failback.maestroFollowsEsclavo': maestroFollowsEsclavo,
  'failback.streamsFromEsclavo': streamsFromEsclavo,
  'failback.maestroReplayedEsclavoTimeline': maestroReplayedEsclavoTimeline,
  'failback.rowsReachStandby': rowsReachStandby,
  'failback.recoveryTargetLatest': recoveryTargetLatest,
  'failback.rewindReady': rewindReady,
  'failback.syncStandby': syncStandby,
  'failback.appNameInConninfo': appNameInConninfo,
  'failback.commitWaits': commitWaits,
  'failback.maestroPrimaryAgain': maestroPrimaryAgain,
  'failback.esclavoFollowsMaestro': esclavoFollowsMaestro,
  'failback.nothingLost': nothingLost,
  'failback.esclavo2Standby': esclavo2Standby,
  'failback.twoStandbyList': twoStandbyList,
};

