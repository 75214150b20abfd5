/**
 * The replication topology as `lab status`, `lab watch` and the web page show it, for any number
 * of servers and whichever of them is primary: each server up or down, primary or standby, its
 * timeline; who streams from whom (read from each server's pg_stat_replication and matched to the
 * env's servers by IP), with sent / replayed positions and the lag; the archive edge of each
 * primary that archives (the last segment archived, failures and their age). After a promotion
 * two servers are primary on different timelines, and it says so.
 *
 * One cycle costs one docker exec per server: every fact here is asked for at once and the probes
 * batch them (see Probes.exec). No check functions are called: it knows nothing of a lab's steps.
 */
import { postgresMayWrite } from '../pg/perms.js';
import type { CheckContext } from '../checks/types.js';
import { lsnBytes } from '../pg/recorder.js';
import type { Probes } from '../pg/probes.js';
import type { PgProfile } from '../pg/profile.js';
import { isWalSegmentName } from '../pg/wal.js';

/**
 * A segment still `.ready` this long after it was completed means archive_command keeps failing
 * (PGLAB_ARCHIVE_STALE_S overrides it: tests, or a class that wants an earlier warning).
 */
const STALE_READY_S = () => (Number(process.env.PGLAB_ARCHIVE_STALE_S) > 0 ? Number(process.env.PGLAB_ARCHIVE_STALE_S) : 90);

export interface ServerView {
  role: string;
  ip: string;
  /** PostgreSQL accepts connections. */
  up: boolean;
  /** The postmaster exists but was stopped (SIGSTOP). */
  frozen?: boolean;
  /** Not in recovery (read/write). Undefined when down. */
  primary?: boolean;
  timeline?: number;
  /** pg_controldata's system identifier: two servers of one cluster share it. */
  sysid?: string;
  /** Primary: current WAL position; standby: last position replayed. */
  lsn?: string;
  /** Standby: last position received by its wal receiver. */
  receiveLsn?: string;
  /** Standby: seconds since the last transaction it replayed was committed on its primary. */
  replayAgeS?: number;
}

export interface StreamingEdge {
  /** The server sending WAL (a primary, or a cascading standby). */
  from: string;
  /** The env's server at client_addr, or the address itself when it is none of them. */
  to: string;
  /** pg_stat_replication.state: streaming, catchup, startup, backup… */
  state: string;
  /** application_name as the standby set it (student text: escape before showing). */
  application: string;
  sentLsn?: string;
  replayLsn?: string;
  /** Bytes of WAL the sender has and the standby has not replayed yet. */
  lagBytes?: number;
  /** replay_lag (10+), else the standby's replay age. */
  lagS?: number;
  /**
   * Bytes the sender has sent that the standby says (live, from its own wal receiver) it has not
   * received: the chart's lag. Not the replayed position of pg_stat_replication, which 9.1's standby
   * reports only every 10 s (a probe's write looked like lag) and which stops at a segment switch.
   */
  receiveLagBytes?: number;
  /** pg_stat_replication.sync_state: async, potential, sync or quorum. */
  sync?: string;
}

export interface ArchiveEdge {
  /** The primary whose archiver copies segments. */
  from: string;
  /** The env's server archive_command copies to (its IP or name appears in it), if any. */
  to?: string;
  state: 'ok' | 'failing' | 'waiting' | 'off';
  lastArchived?: string;
  lastArchivedAgeS?: number;
  /** pg_stat_archiver (9.4+): failures since the stats were reset, the last one and its age. */
  failedCount?: number;
  lastFailed?: string;
  lastFailedAgeS?: number;
  /** Segments waiting in archive_status (.ready). */
  waiting: number;
  oldestWaitingS?: number;
  /** While failing: the directory archive_command copies into, on `to`, and what is wrong with it, if anything. */
  destination?: { dir: string; problem?: 'missing' | 'unwritable' };
}

export interface Topology {
  /** When the facts were read (epoch ms). */
  at: number;
  servers: ServerView[];
  /** Roles of the servers that accept writes. */
  primaries: string[];
  streams: StreamingEdge[];
  archives: ArchiveEdge[];
  /**
   * Two or more primaries of the same cluster (same system identifier) on different timelines:
   * a standby was promoted and the old primary goes on alone.
   */
  promoted: boolean;
  /** The archive edge of the (first) primary, for the old single-edge callers. */
  archive?: ArchiveEdge;
  /** Kept for older callers: the first primary's first standby edge, if any. */
  streaming?: { state: 'streaming' | 'off'; detail?: string };
}

const HEX = /^[0-9a-f]*$/i;
const fromHex = (h: string | undefined) => (h && HEX.test(h) ? Buffer.from(h, 'hex').toString('utf8') : '');
const num = (v: string | undefined) => (v === undefined || v === '' ? undefined : Number.isFinite(Number(v)) ? Number(v) : undefined);

/** One row of facts per server (fixed SQL; student text comes back hex-encoded so nothing can break the row). */
export function serverFactsSql(profile: PgProfile): string {
  const cur = `${profile.currentLsnFunction}()`;
  const recv = `${profile.receiveLsnFunction}()`;
  const replay = `${profile.replayLsnFunction}()`;
  const replayCol = profile.replReplayColumn;
  const lag = profile.replLagColumn ? "coalesce(extract(epoch from replay_lag)::text, '')" : "''";
  const stat = (expr: string) => `(SELECT ${expr} FROM pg_stat_archiver)`;
  // pg_stat_archiver came in 9.4: before, five empty columns keep the row's shape.
  const archiver = !profile.statArchiver ? ["''", "''", "''", "''", "''"] : [
    stat("coalesce(last_archived_wal, '')"), stat("coalesce(extract(epoch from last_archived_time)::bigint::text, '')"), stat('failed_count::text'),
    stat("coalesce(last_failed_wal, '')"), stat("coalesce(extract(epoch from last_failed_time)::bigint::text, '')"),
  ];
  const senders = `(SELECT string_agg(coalesce(host(client_addr), 'local') || ' ' || encode(convert_to(coalesce(application_name, ''), 'UTF8'), 'hex')
      || ' ' || coalesce(state, '') || ' ' || coalesce(${profile.replSentColumn}::text, '') || ' ' || coalesce(${replayCol}::text, '') || ' ' || ${lag} || ' ' || coalesce(sync_state, ''), ',')
    FROM pg_stat_replication)`;
  return `SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN '' ELSE ${cur}::text END, coalesce(${recv}::text, ''), coalesce(${replay}::text, ''),
  coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, ''), current_setting('archive_mode'),
  encode(convert_to(current_setting('archive_command'), 'UTF8'), 'hex'), ${archiver.join(', ')}, extract(epoch from now())::bigint, coalesce(${senders}, ''),
  ${profile.statWalReceiver ? "coalesce((SELECT received_tli::text FROM pg_stat_wal_receiver), '')" : "''"}`;
}

interface RawFacts {
  inRecovery: boolean; lsn: string; receive: string; replay: string; replayAge?: number; archiveMode: string; archiveCommand: string;
  lastArchived: string; lastArchivedAt?: number; failed?: number; lastFailed: string; lastFailedAt?: number; now: number;
  senders: { addr: string; application: string; state: string; sent: string; replay: string; lag?: number; sync: string }[];
  /** Standby (9.6+): the timeline its wal receiver is on, ahead of pg_controldata until the next restartpoint. */
  receivedTli?: number;
}

export function parseServerFacts(row: string[]): RawFacts {
  const archiverLen = 5;
  const [rec, lsn, receive, replay, age, mode, command, ...rest] = row;
  const arch = rest.slice(0, archiverLen);
  const [now, senders, receivedTli] = rest.slice(archiverLen);
  return {
    inRecovery: rec === 't',
    lsn, receive, replay,
    replayAge: num(age),
    archiveMode: mode ?? '',
    archiveCommand: fromHex(command),
    lastArchived: arch[0] ?? '', lastArchivedAt: num(arch[1]), failed: num(arch[2]), lastFailed: arch[3] ?? '', lastFailedAt: num(arch[4]),
    now: Number(now) || Date.now() / 1000,
    receivedTli: num(receivedTli),
    senders: (senders ?? '').split(',').filter(Boolean).map((s) => {
      const [addr, app, state, sent, rep, lag, sync] = s.split(' ');
      return { addr, application: fromHex(app), state: state ?? '', sent: sent ?? '', replay: rep ?? '', lag: num(lag), sync: sync ?? '' };
    }),
  };
}


/** The directory an archive_command copies `%f` into (`host:/dir/%f` or `/dir/%f`), if it names one. */
export function archiveDestination(command: string): string | undefined {
  return /(?:^|[\s:])(\/[^\s'";:]*?)\/*%f/.exec(command)?.[1] || undefined;
}

export async function topology(ctx: CheckContext | { probes: Probes; profile: PgProfile }, nowS = Date.now() / 1000): Promise<Topology> {
  const { probes, profile } = ctx;
  const env = probes.env;
  const statusDir = `${profile.dataDir}/${profile.walDirName}/archive_status`;
  // Everything at once: the probes put each server's questions into one exec.
  const gathered = await Promise.all(env.servers.map(async (s) => {
    const [state, row, tli, control, status] = await Promise.all([
      probes.readiness(s.role).catch(() => 'down' as const),
      probes.sql(s.role, serverFactsSql(profile)).then((r) => r[0]).catch(() => undefined),
      probes.timeline(s.role).catch(() => undefined),
      probes.controldata(s.role).catch(() => undefined),
      probes.listDir(s.role, statusDir).catch(() => undefined),
    ]);
    const facts = state === 'accepting' && row ? parseServerFacts(row) : undefined;
    return { s, state, facts, tli, sysid: control?.systemIdentifier, status: status ?? [] };
  }));

  const servers: ServerView[] = gathered.map(({ s, state, facts, tli, sysid }) => {
    const up = state === 'accepting' && !!facts;
    if (!up) return { role: s.role, ip: s.ip, up: false, frozen: state === 'frozen', sysid: sysid || undefined };
    return {
      role: s.role, ip: s.ip, up, primary: !facts!.inRecovery,
      timeline: (facts!.inRecovery && facts!.receivedTli) || tli || undefined, sysid: sysid || undefined,
      lsn: facts!.inRecovery ? facts!.replay || undefined : facts!.lsn || undefined,
      receiveLsn: facts!.inRecovery ? facts!.receive || undefined : undefined,
      replayAgeS: facts!.inRecovery ? facts!.replayAge : undefined,
    };
  });
  const byIp = new Map(env.servers.map((s) => [s.ip, s.role]));
  const primaries = servers.filter((s) => s.up && s.primary).map((s) => s.role);

  const streams: StreamingEdge[] = [];
  for (const { s, facts } of gathered) {
    for (const w of facts?.senders ?? []) {
      const to = byIp.get(w.addr) ?? w.addr;
      const toView = servers.find((v) => v.role === to);
      const head = facts!.inRecovery ? facts!.replay : facts!.lsn;
      const lagBytes = head && w.replay && isLsn(head) && isLsn(w.replay) ? Math.max(0, lsnBytes(head) - lsnBytes(w.replay)) : undefined;
      streams.push({
        from: s.role, to, state: w.state, application: w.application,
        sentLsn: w.sent || undefined, replayLsn: w.replay || undefined, lagBytes,
        receiveLagBytes: w.sent && isLsn(w.sent) && toView?.receiveLsn && isLsn(toView.receiveLsn)
          ? Math.max(0, lsnBytes(w.sent) - lsnBytes(toView.receiveLsn)) : undefined,
        // replay_lag (10+) is empty once caught up; the standby's replay age only means lag while bytes are behind.
        lagS: w.lag ?? (lagBytes === 0 ? 0 : toView?.replayAgeS),
        sync: w.sync || undefined,
      });
    }
  }

  const archives: ArchiveEdge[] = [];
  for (const { s, facts, status } of gathered) {
    if (!facts || facts.inRecovery) continue;
    const mode = facts.archiveMode;
    if (mode !== 'on' && mode !== 'always') {
      archives.push({ from: s.role, state: 'off', waiting: 0 });
      continue;
    }
    const to = env.servers.find((o) => o.role !== s.role && (facts.archiveCommand.includes(o.ip) || new RegExp(`(^|[^\\w])${o.role}([^\\w]|$)`).test(facts.archiveCommand)))?.role;
    const ready = status.filter((e) => e.name.endsWith('.ready') && isWalSegmentName(e.name.slice(0, -6)));
    const done = status.filter((e) => e.name.endsWith('.done') && isWalSegmentName(e.name.slice(0, -5))).sort((a, b) => (a.name < b.name ? 1 : -1));
    const oldest = ready.length ? Math.max(0, Math.round(nowS - Math.min(...ready.map((e) => e.mtime)))) : undefined;
    const lastArchived = facts.lastArchived && isWalSegmentName(facts.lastArchived) ? facts.lastArchived : done[0]?.name.slice(0, -5);
    const lastArchivedAt = facts.lastArchivedAt ?? done[0]?.mtime;
    const edge: ArchiveEdge = {
      from: s.role, to, state: 'waiting', lastArchived, waiting: ready.length, oldestWaitingS: oldest,
      lastArchivedAgeS: lastArchivedAt ? Math.max(0, Math.round(facts.now - lastArchivedAt)) : undefined,
      failedCount: facts.failed, lastFailed: facts.lastFailed || undefined,
      lastFailedAgeS: facts.lastFailedAt ? Math.max(0, Math.round(facts.now - facts.lastFailedAt)) : undefined,
    };
    const recentFailure = edge.lastFailedAgeS !== undefined && (lastArchivedAt === undefined || (facts.lastFailedAt ?? 0) > lastArchivedAt);
    if ((oldest !== undefined && oldest > STALE_READY_S()) || (recentFailure && ready.length > 0 && (edge.lastFailedAgeS ?? 0) < STALE_READY_S() && oldest !== undefined && oldest > 30)) edge.state = 'failing';
    else if (lastArchived) edge.state = 'ok';
    // Failing: the command may be right and its destination not (missing, `chmod 000`): look there.
    const dir = edge.state === 'failing' && to ? archiveDestination(facts.archiveCommand) : undefined;
    if (dir && to) {
      const st = await probes.stat(to, dir).catch(() => undefined);
      edge.destination = { dir, problem: !st || st.type !== 'd' ? 'missing' : !postgresMayWrite(st) ? 'unwritable' : undefined };
    }
    archives.push(edge);
  }

  const sameCluster = (a: ServerView, b: ServerView) => !!a.sysid && a.sysid === b.sysid;
  const prim = servers.filter((s) => s.up && s.primary);
  const promoted = prim.some((a, i) => prim.slice(i + 1).some((b) => sameCluster(a, b) && (a.timeline ?? 0) !== (b.timeline ?? 0)));
  const first = primaries[0];
  const firstStream = streams.find((e) => e.from === first && e.state === 'streaming');
  return {
    at: Date.now(),
    servers,
    primaries,
    streams,
    archives,
    promoted,
    archive: archives.find((a) => a.from === first),
    streaming: firstStream ? { state: 'streaming', detail: firstStream.sentLsn } : { state: 'off' },
  };
}

/**
 * The archive edges worth showing people (`lab status`, `lab watch`, the page: one rule). After a
 * promotion archiving from the old primary is history and a broken one is the expected result of
 * the tutorial's cleanup, not a failure: only edges that still work are shown. Before it, every
 * edge that archives, and the main primary's (the first) even when off: that is what to fix.
 */
export function archivesToShow(topo: Topology): ArchiveEdge[] {
  const main = topo.promoted ? undefined : topo.primaries[0];
  return topo.archives.filter((a) => (topo.promoted ? a.state === 'ok' : a.from === main || a.state !== 'off'));
}

function isLsn(v: string): boolean {
  return /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(v);
}

export type { Probes };
