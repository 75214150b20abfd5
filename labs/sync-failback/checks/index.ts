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
import { fail, nonceReplicated, observation, pass, periods, sameTables, span, TIMEOUTS, type CheckContext, type CheckFn, type CheckOutcome, type PgProfile, type Probes } from '../../../src/checks/index.js';
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
const yes = (b: boolean) => (b ? 'yes' : 'no');

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
 * Periods when maestro was seen as a standby streaming from esclavo, by the env's observer (its
 * authenticated records, outside the student's reach): esclavo a primary of the live cluster with a
 * wal sender streaming to maestro's address, while maestro is in recovery with the same system
 * identifier (and, on 9.6+, its wal receiver streaming). The records only corroborate: every caller
 * also requires the live state that such a past leaves (timeline history, same cluster).
 */
async function maestroSeenStreaming(probes: Probes, ip: CheckContext['ip'], clusterSysid: string): Promise<[number, number][]> {
  const obs = await observation(probes);
  if (!obs) return [];
  const last = obs.records.at(-1)?.at ?? 0;
  return periods(obs, (m) => {
    const e = m.servers.get('esclavo');
    const mst = m.servers.get('maestro');
    if (!e?.up || e.inRecovery !== false || e.sysid !== clusterSysid) return false;
    if (!mst?.up || mst.inRecovery !== true || mst.sysid !== clusterSysid) return false;
    return e.senders.some((x) => x.client === ip.maestro && x.state === 'streaming') && (mst.receiver === '' || mst.receiver === 'streaming');
  }).map((p) => [p.from, p.to ?? last] as [number, number]);
}

type Replayed = { ok: boolean; reason?: string; evidence: Record<string, string | number> };

/**
 * maestro really was a standby of the promoted esclavo and took over from it (what survives of step
 * 1 after the switchover): its timeline descends from esclavo's (2 in the lab's story; maestro
 * itself only ever ran timeline 1), the same cluster as esclavo, it was seen streaming from esclavo,
 * and esclavo is not a primary going on alone. A history with timeline 2 is not enough: an old
 * maestro restored from esclavo's base backup without standby_mode (or with a trigger file left
 * from the first lab) ends its archive recovery and opens timeline 3 as a second primary.
 */
async function maestroReplayedEsclavo(probes: Probes, profile: PgProfile, ip: CheckContext['ip']): Promise<Replayed> {
  const [line, sm, se] = await Promise.all([lineage(probes, profile, 'maestro'), sysid(probes, 'maestro'), sysid(probes, 'esclavo')]);
  const same = !!sm && sm === se;
  const evidence: Record<string, string | number> = { maestro_timeline: line.tli, ancestors: line.parents.join(' → ') || '—', same_system_identifier: yes(same), history: line.tli > 1 ? line.path : '—' };
  if (!same) return { ok: false, reason: 'other-cluster', evidence };
  if (!line.parents.some((t) => t > ORIGINAL_TIMELINE)) return { ok: false, reason: 'no-history', evidence };
  // Two primaries: maestro opened its own timeline while esclavo goes on writing on its own.
  const [mUp, eUp] = await Promise.all([isUp(probes, 'maestro'), isUp(probes, 'esclavo')]);
  if (mUp && eUp && !(await probes.inRecovery('maestro')) && !(await probes.inRecovery('esclavo'))) {
    return { ok: false, reason: 'two-primaries', evidence: { ...evidence, esclavo_timeline: await probes.timeline('esclavo') } };
  }
  const seen = await maestroSeenStreaming(probes, ip, sm!);
  if (!seen.length) return { ok: false, reason: 'never-streamed', evidence };
  return { ok: true, evidence: { ...evidence, streaming: `esclavo → maestro ${period(seen[seen.length - 1])}` } };
}

/** "19:18–19:20" in the machine's local time. */
function period([from, to]: [number, number]): string {
  return span(from, to);
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
export const maestroFollowsEsclavo: CheckFn = async ({ probes, profile, facts }) => {
  if (!(await isUp(probes, 'esclavo'))) return fail('down', { server: 'esclavo' });
  if (await probes.inRecovery('esclavo')) return fail('esclavo-not-primary', { esclavo_in_recovery: 't' });
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  const [tli, mtli] = await Promise.all([probes.timeline('esclavo'), probes.timeline('maestro')]);
  if (!(await probes.inRecovery('maestro'))) {
    const evidence = { maestro_in_recovery: 'f', maestro_timeline: mtli, esclavo_timeline: tli };
    // On a timeline after esclavo's: it was restored from esclavo but ended its recovery on its own.
    if (mtli > tli) {
      const trigger = profile.triggerSetting && (await probes.stat('maestro', facts.trigger).catch(() => undefined));
      return fail(trigger ? 'promoted-by-trigger' : 'recovery-ended', trigger ? { ...evidence, trigger_on_maestro: facts.trigger } : evidence);
    }
    return fail('maestro-primary', evidence);
  }
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

/**
 * Fallback for step 1 after the switchover: maestro was seen streaming from esclavo as its standby,
 * and its timeline descends from esclavo's.
 */
export const maestroReplayedEsclavoTimeline: CheckFn = async ({ probes, profile, ip }) => {
  const r = await maestroReplayedEsclavo(probes, profile, ip);
  return r.ok ? { ...pass(r.evidence), source: 'evidence' } : fail(r.reason ?? 'no-history', r.evidence);
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
  return missing.length ? fail('off', { ...evidence, missing_on: missing.join(', ') }) : pass(evidence);
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
  const app = `pglab_commit_probe_${probes.nonce('commit-probe', 4)}`;
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

/**
 * maestro a primary again by a real switchover: it was a standby of esclavo (seen streaming from
 * it) and was promoted from esclavo's timeline (its history says so), same cluster, and esclavo
 * is no longer a primary of its own.
 */
export const maestroPrimaryAgain: CheckFn = async ({ probes, profile, ip }) => {
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('still-standby', { maestro_in_recovery: 't' });
  const r = await maestroReplayedEsclavo(probes, profile, ip);
  if (!r.ok) return fail(r.reason === 'no-history' ? 'not-promoted' : r.reason ?? 'not-promoted', r.evidence);
  return pass({ maestro_in_recovery: 'f', ...r.evidence });
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
export const nothingLost: CheckFn = async ({ probes, profile, ip }) => {
  const pair = await pairOf(probes);
  if (isOutcome(pair)) return pair;
  if (pair.primary !== 'maestro') return fail('not-switched', { primary: pair.primary });
  const history = await maestroReplayedEsclavo(probes, profile, ip);
  if (!history.ok) return fail('not-switched', history.evidence);
  const tables = await sameTables(probes, 'maestro', 'esclavo');
  if (tables.primary === '—') return fail('no-rows', {});
  if (tables.missing) return fail('tables-differ', { maestro: tables.primary, esclavo: tables.standby });
  return pass({ tables: tables.primary, maestro_timeline: history.evidence.maestro_timeline, ancestors: history.evidence.ancestors });
};

/**
 * After the switchover maestro's commits complete: with synchronous_standby_names set (step 3 asks
 * for 'esclavo'), as many listed standbys as it needs are connected and streaming. Otherwise every
 * COMMIT of every session waits forever (esclavo's primary_conninfo without application_name=esclavo
 * connects as `walreceiver`, which the list does not name). Judged from the settings in effect and
 * pg_stat_replication: no commit is left hanging to prove it. Sessions that commit without waiting
 * (synchronous_commit off or local in every database) are fine.
 */
export const commitsComplete: CheckFn = async ({ probes, profile }) => {
  if (!(await isUp(probes, 'maestro'))) return fail('down', { server: 'maestro' });
  if (await probes.inRecovery('maestro')) return fail('maestro-standby', { maestro_in_recovery: 't' });
  // Before the switchover maestro is the first lab's primary on timeline 1: nothing of step 3 to judge.
  const line = await lineage(probes, profile, 'maestro');
  if (!line.parents.some((t) => t > ORIGINAL_TIMELINE)) return fail('not-switched', { maestro_timeline: line.tli });
  const names = await syncNames(probes, profile, 'maestro');
  if (names.parsed === null) return fail('unparsable', { synchronous_standby_names: names.raw });
  const rows = await replicationRows(probes, profile, 'maestro');
  const standbys = rows.map((r) => `${r.addr} ${r.app || "''"} ${r.state} ${r.sync}`).join(', ') || '0';
  if (names.parsed === undefined) return pass({ synchronous_standby_names: "''", pg_stat_replication: standbys });
  const sync = names.parsed;
  const connected = rows.filter((r) => r.state === 'streaming' && listed(sync, r.app));
  const evidence = { synchronous_standby_names: names.raw, pg_stat_replication: standbys };
  if (connected.length >= sync.num) return pass({ ...evidence, sync_standbys: connected.map((r) => r.app).join(', ') });
  for (const db of await probes.databases('maestro')) {
    const [[value]] = await probes.sql('maestro', 'SHOW synchronous_commit', { database: db });
    if (value !== 'off' && value !== 'local') return fail('commits-wait', { ...evidence, database: db, synchronous_commit: value });
  }
  return pass({ ...evidence, synchronous_commit: 'local/off' });
};

// ── Step 4: a second standby in the synchronous list ──────────────────────────────────────────

/** esclavo2 is a standby of maestro: a clone (same system identifier) streaming from it. */
export const esclavo2Standby: CheckFn = async ({ probes, profile, ip }) => {
  if (!probes.env.servers.some((s) => s.role === 'esclavo2')) return fail('no-server', { servers: probes.env.servers.map((s) => s.role).join(', ') });
  if (!(await isUp(probes, 'esclavo2'))) {
    // A server with wal senders and wal_level = minimal refuses to start, standby or not (9.1's default level).
    const [level, senders] = await Promise.all([probes.fileSetting('esclavo2', 'wal_level').catch(() => undefined), probes.fileSetting('esclavo2', 'max_wal_senders').catch(() => undefined)]);
    const walLevel = level ?? (profile.major === '9.1' ? 'minimal' : 'replica');
    const maxSenders = Number(senders ?? (profile.major === '9.1' ? '0' : '10'));
    if (walLevel === 'minimal' && maxSenders > 0) return fail('wal-level', { server: 'esclavo2', wal_level: walLevel, max_wal_senders: maxSenders });
    return fail('down', { server: 'esclavo2' });
  }
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
  if (names.parsed === undefined) return (await refusedInFile(probes, profile, names.raw)) ?? fail('no-names', { synchronous_standby_names: "''" });
  if (names.parsed === null) return fail('unparsable', { synchronous_standby_names: names.raw });
  const sync = names.parsed;
  const rows = await replicationRows(probes, profile, 'maestro');
  const e1 = rows.find((r) => r.addr === ip.esclavo && r.state === 'streaming');
  const e2 = rows.find((r) => r.addr === (ip.esclavo2 ?? probes.ip('esclavo2')) && r.state === 'streaming');
  const evidence = { synchronous_standby_names: names.raw, method: sync.method, num_sync: sync.num, esclavo: e1 ? `${e1.app} ${e1.sync}` : '—', esclavo2: e2 ? `${e2.app} ${e2.sync}` : '—' };
  if (!e1 || !e2) return (await refusedInFile(probes, profile, names.raw)) ?? fail('missing-standby', evidence);
  // A wildcard alone does not name the standbys: the list must name both of them.
  const named = (app: string) => sync.names.some((n) => n.toLowerCase() === app.toLowerCase());
  const states = [e1.sync, e2.sync].sort().join(',');
  const expected = sync.method === 'quorum' ? 'quorum,quorum' : sync.num >= 2 ? 'sync,sync' : 'potential,sync';
  if (named(e1.app) && named(e2.app) && states === expected) return pass(evidence);
  const refused = await refusedInFile(probes, profile, names.raw);
  if (refused) return refused;
  return fail(!named(e1.app) || !named(e2.app) ? 'not-listed' : 'states', evidence);
};

/**
 * The file has a synchronous_standby_names the server refused at reload (it keeps the old value):
 * 9.1 reads only a plain list, so `ANY 1 (…)` / `FIRST 1 (…)` (9.6/10 syntax) is rejected.
 */
async function refusedInFile(probes: Probes, profile: PgProfile, running: string): Promise<CheckOutcome | undefined> {
  const inFile = await probes.fileSetting('maestro', 'synchronous_standby_names').catch(() => undefined);
  if (inFile === undefined || inFile === running || parseSyncNames(inFile, profile.syncNamesFirstAny) !== null) return undefined;
  const evidence = { synchronous_standby_names: running || "''", in_file: inFile };
  return fail(profile.syncNamesFirstAny ? 'file-unparsable' : 'file-unparsable-plain-list', evidence);
}

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
  'failback.commitsComplete': commitsComplete,
  'failback.esclavo2Standby': esclavo2Standby,
  'failback.twoStandbyList': twoStandbyList,
};

