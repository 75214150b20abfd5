/**
 * The topology as terminal lines (`lab status`, `lab watch`): one line per edge, whichever server
 * is primary. Plain text plus chalk colours (chalk honours NO_COLOR and non-TTY output).
 */
import chalk from 'chalk';
import { t } from '../i18n/index.js';
import { archivesToShow, type ArchiveEdge, type StreamingEdge, type Topology } from '../lab/topology.js';

/** "3 s", "4 min", "2 h": an age people read at a glance. */
export function ageText(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

/** What the lab itself says about the servers, so status does not call its own instructions a failure. */
export interface TopologyOptions {
  /** The lab asks for archive_mode = off (the stream replaces the archive): off is neutral, not ✗. */
  archiveOffExpected?: boolean;
}

export function archiveText(a: ArchiveEdge, opts: TopologyOptions = {}): string {
  if (a.state === 'ok') {
    const ago = a.lastArchivedAgeS !== undefined ? `, ${t('topo.archivedAgo', { age: ageText(a.lastArchivedAgeS) })}` : '';
    return chalk.green(`✓ ${t('topo.archiveOk', { segment: a.lastArchived ?? '—' })}`) + chalk.dim(ago);
  }
  if (a.state === 'failing') {
    const last = a.lastFailed && a.lastFailedAgeS !== undefined ? ` — ${t('topo.failedAgo', { segment: a.lastFailed, age: ageText(a.lastFailedAgeS) })}` : '';
    return chalk.red(`✗ ${archiveFailingText(a)}${last}`);
  }
  if (a.state === 'off') return opts.archiveOffExpected ? chalk.dim(`– ${t('topo.archiveOffExpected')}`) : chalk.red(`✗ ${t('topo.archiveOff', { role: a.from })}`);
  return chalk.yellow(`… ${t('topo.archiveWaiting')}`);
}

/** Why archiving fails, as far as the topology saw: the destination (missing, not writable) or archive_command. */
export function archiveFailingText(a: ArchiveEdge): string {
  const params = { n: a.waiting, minutes: Math.round((a.oldestWaitingS ?? 0) / 60), role: a.from, to: a.to ?? '—', dir: a.destination?.dir ?? '—' };
  if (a.destination?.problem === 'unwritable') return t('topo.archiveDestUnwritable', params);
  if (a.destination?.problem === 'missing') return t('topo.archiveDestMissing', params);
  return t('topo.archiveFailing', params);
}
const SYNC_KEYS: Record<string, 'topo.syncAsync' | 'topo.syncPotential' | 'topo.syncSync' | 'topo.syncQuorum'> = {
  async: 'topo.syncAsync', potential: 'topo.syncPotential', sync: 'topo.syncSync', quorum: 'topo.syncQuorum',
};

export function streamText(e: StreamingEdge | undefined): string {
  if (!e) return chalk.red(`✗ ${t('topo.notStreaming')}`);
  const lag = [e.lagBytes !== undefined ? t('topo.lag', { bytes: e.lagBytes }) : '', e.lagS !== undefined ? t('topo.lagS', { s: Math.round(e.lagS) }) : ''].filter(Boolean).join(', ');
  const detail = [e.sentLsn, lag].filter(Boolean).join('; ');
  const ok = e.state === 'streaming';
  // Synchronous or not is the point of the second lab: say it on every edge that reports it.
  const sync = e.sync && SYNC_KEYS[e.sync] ? ` — ${t(SYNC_KEYS[e.sync])}` : '';
  return (ok ? chalk.green(`✓ ${t('status.working')}`) : chalk.yellow(`… ${e.state}`)) + sync + (detail ? ` (${detail})` : '');
}

/**
 * The edges: each archive edge, and for each standby the edge from the primary it streams from
 * (or, with one primary, the edge it should stream on, marked not working). After a promotion: one
 * line that says there are two primaries on different timelines.
 */
export function topologyLines(topo: Topology, opts: TopologyOptions = {}): string[] {
  const lines: string[] = [];
  const tli = (role: string) => topo.servers.find((v) => v.role === role)?.timeline ?? '?';
  if (topo.promoted) {
    const [a, b] = topo.primaries.map((r) => topo.servers.find((s) => s.role === r)!).sort((x, y) => (y.timeline ?? 0) - (x.timeline ?? 0));
    lines.push(chalk.yellow(t('topo.promoted', { promoted: a.role, tli: tli(a.role), old: b.role, oldTli: tli(b.role) })));
  } else if (!topo.primaries.length && topo.servers.some((s) => s.up)) {
    lines.push(chalk.yellow(t('topo.noPrimary')));
  }
  const width = Math.max(...topo.servers.map((s) => s.role.length), 7);
  // The main primary: the first in the env's order (maestro, before the tutorial makes esclavo a copy
  // of it, both accept writes). After a promotion there is none: only edges that really exist are drawn.
  const main = topo.promoted ? undefined : topo.primaries[0];
  for (const a of archivesToShow(topo)) {
    const to = a.to ?? t('topo.archiveNode');
    lines.push(`${a.from.padEnd(width)} ──${t('status.archive')}──▶ ${to.padEnd(width)}   ${archiveText(a, opts)}`);
  }
  const roles = new Set(topo.servers.map((s) => s.role));
  for (const s of topo.servers) {
    const edges = topo.streams.filter((e) => e.to === s.role);
    if (edges.length) {
      for (const e of edges) lines.push(`${e.from.padEnd(width)} ──${t('status.streaming')}──▶ ${s.role.padEnd(width)}   ${streamText(e)}`);
    } else if (main && s.role !== main) {
      lines.push(`${main.padEnd(width)} ──${t('status.streaming')}──▶ ${s.role.padEnd(width)}   ${streamText(undefined)}`);
    }
  }
  // A sender to an address that is none of the env's servers (a student's own pg_basebackup, say).
  for (const e of topo.streams.filter((x) => !roles.has(x.to))) lines.push(`${e.from.padEnd(width)} ──${t('status.streaming')}──▶ ${e.to}   ${streamText(e)}`);
  return lines;
}
