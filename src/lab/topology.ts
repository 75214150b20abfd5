/**
 * The replication topology as `lab status` (and later the web page) shows it: each server up or
 * down, primary or standby, its timeline; the archive edge judged by what the archiver is doing
 * now (segments waiting in archive_status, the last one archived), and the streaming edge by
 * pg_stat_replication. After a promotion it says plainly that there are two primaries.
 */
import { CHECKS } from '../checks/index.js';
import type { CheckContext } from '../checks/types.js';
import type { Probes } from '../pg/probes.js';
import { isWalSegmentName } from '../pg/wal.js';

/**
 * A segment still `.ready` this long after it was completed means archive_command keeps failing
 * (PGLAB_ARCHIVE_STALE_S overrides it: tests, or a class that wants an earlier warning).
 */
const STALE_READY_S = Number(process.env.PGLAB_ARCHIVE_STALE_S) > 0 ? Number(process.env.PGLAB_ARCHIVE_STALE_S) : 90;

export interface ServerView { role: string; up: boolean; frozen?: boolean; primary?: boolean; timeline?: number }
export interface ArchiveEdge { state: 'ok' | 'failing' | 'waiting' | 'off'; lastArchived?: string; waiting: number; oldestWaitingS?: number }
export interface StreamingEdge { state: 'streaming' | 'off'; detail?: string }
export interface Topology { servers: ServerView[]; archive?: ArchiveEdge; streaming?: StreamingEdge; promoted: boolean }

export async function topology(ctx: CheckContext, nowS = Date.now() / 1000): Promise<Topology> {
  const { probes } = ctx;
  const servers = await Promise.all(probes.env.servers.map(async (s): Promise<ServerView> => {
    const state = await probes.readiness(s.role).catch(() => 'down' as const);
    const up = state === 'accepting';
    if (!up) return { role: s.role, up, frozen: state === 'frozen' };
    const primary = !(await probes.inRecovery(s.role).catch(() => true));
    const timeline = await probes.timeline(s.role).catch(() => undefined);
    return { role: s.role, up, primary, timeline };
  }));
  const esclavo = servers.find((s) => s.role === 'esclavo');
  if (!esclavo) return { servers, promoted: false };
  const promoted = !!esclavo.primary && (await CHECKS['promotion.timelineAdvanced'](ctx).catch(() => ({ status: 'fail' }))).status === 'pass';
  const [archive, streaming] = await Promise.all([archiveEdge(ctx, nowS), streamingEdge(ctx)]);
  return { servers, archive, streaming, promoted };
}

async function archiveEdge(ctx: CheckContext, nowS: number): Promise<ArchiveEdge> {
  const { probes, profile } = ctx;
  const mode = (await probes.settings('maestro').catch(() => new Map<string, string>())).get('archive_mode');
  if (mode !== 'on' && mode !== 'always') return { state: 'off', waiting: 0 };
  const status = (await probes.listDir('maestro', `${profile.dataDir}/${profile.walDirName}/archive_status`).catch(() => undefined)) ?? [];
  const ready = status.filter((e) => e.name.endsWith('.ready') && isWalSegmentName(e.name.slice(0, -6)));
  const done = status.filter((e) => e.name.endsWith('.done') && isWalSegmentName(e.name.slice(0, -5))).sort((a, b) => (a.name < b.name ? 1 : -1));
  const oldest = ready.length ? Math.max(0, Math.round(nowS - Math.min(...ready.map((e) => e.mtime)))) : undefined;
  const lastArchived = done[0]?.name.slice(0, -5);
  if (oldest !== undefined && oldest > STALE_READY_S) return { state: 'failing', lastArchived, waiting: ready.length, oldestWaitingS: oldest };
  const arrived = (await CHECKS['shipping.segmentsArrived'](ctx).catch(() => ({ status: 'fail' }))).status === 'pass';
  return { state: arrived ? 'ok' : 'waiting', lastArchived, waiting: ready.length, oldestWaitingS: oldest };
}

async function streamingEdge(ctx: CheckContext): Promise<StreamingEdge> {
  const r = await CHECKS['streaming.replicationView'](ctx).catch(() => undefined);
  if (r?.status !== 'pass') return { state: 'off' };
  const sent = r.evidence?.[ctx.profile.replSentColumn];
  return { state: 'streaming', detail: sent ? String(sent) : undefined };
}

export type { Probes };
