/**
 * The observer's records (observer/pglab-observer.pl): verified line by line with the env's key,
 * then read as a history of state transitions. Pure functions: src/observer/observer.ts fetches
 * the text and the key from the observer container.
 *
 * Every line is `<json>\t<hmac-sha256 hex>`. A line whose HMAC does not verify, or a gap in the
 * observer's sequence numbers (a line removed), is counted as tampered and never believed. A line
 * the observer wrote while what answered on a server's socket was not the image's PostgreSQL
 * (`"id":"bad"`, see server-identity.pl) is authentic but not believed either: a fake server
 * answering the observer between two gradings earns nothing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { lsnBytes } from '../pg/recorder.js';
import type { PgProfile } from '../pg/profile.js';
import { validateWalSegment } from '../pg/wal.js';

export interface ObsRecord {
  /** The observer's sequence number; lab's own marks (`src: 'lab'`) have none. */
  n?: number;
  at: number;
  t: string;
  src?: string;
  [field: string]: string | number | undefined;
}

export interface Observation {
  records: ObsRecord[];
  /** Lines that did not verify, plus gaps in the sequence. */
  tampered: number;
  /** The observer reached its size cap and stopped recording. */
  full: boolean;
  /** Authentic lines about a server that was not the image's PostgreSQL when the observer looked: left out. */
  impostor?: number;
}

/**
 * Several observers' records as one history (an env whose servers are on several Swarm nodes has an
 * observer per node, each with its own key and sequence): by time, each log's order kept.
 */
export function mergeObservations(all: Observation[]): Observation {
  if (all.length === 1) return all[0];
  const records = all.flatMap((o, log) => o.records.map((r, i) => ({ r, log, i })))
    .sort((a, b) => a.r.at - b.r.at || a.log - b.log || a.i - b.i).map((x) => x.r);
  const impostor = all.reduce((s, o) => s + (o.impostor ?? 0), 0);
  return { records, tampered: all.reduce((s, o) => s + o.tampered, 0), full: all.some((o) => o.full), ...(impostor ? { impostor } : {}) };
}

export function hmac(key: string, text: string): string {
  return createHmac('sha256', key).update(text).digest('hex');
}

/** One authenticated line, as the observer writes it (lab's marks are written the same way). */
export function signLine(key: string, record: Record<string, string | number>): string {
  const json = JSON.stringify(record);
  return `${json}\t${hmac(key, json)}\n`;
}

export function verifyRecords(text: string, key: string): Observation {
  const records: ObsRecord[] = [];
  let tampered = 0;
  let impostor = 0;
  let full = false;
  let lastN: number | undefined;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const tab = line.lastIndexOf('\t');
    const json = tab > 0 ? line.slice(0, tab) : '';
    const mac = tab > 0 ? line.slice(tab + 1) : '';
    const want = hmac(key, json);
    if (!/^[0-9a-f]{64}$/.test(mac) || !timingSafeEqual(Buffer.from(mac), Buffer.from(want))) {
      tampered++;
      continue;
    }
    let r: ObsRecord;
    try {
      r = JSON.parse(json) as ObsRecord;
    } catch {
      tampered++;
      continue;
    }
    if (!r || typeof r !== 'object' || typeof r.at !== 'number' || typeof r.t !== 'string') {
      tampered++;
      continue;
    }
    if (r.src !== 'lab') {
      if (typeof r.n !== 'number') {
        tampered++;
        continue;
      }
      // The full marker repeats the last number; anything else must follow on.
      if (lastN !== undefined && r.n !== lastN + 1 && !(r.t === 'full' && r.n === lastN)) tampered++;
      lastN = r.n;
      if (r.t === 'full') full = true;
    }
    if (r.id === 'bad') impostor++;
    else records.push(r);
  }
  return { records, tampered, full, ...(impostor ? { impostor } : {}) };
}

/** What one server looked like from a `server` record on. */
export interface ServerState {
  at: number;
  up: boolean;
  inRecovery?: boolean;
  tli?: number;
  sysid: string;
  /** Wal senders: client/state/sync_state. */
  senders: { client: string; state: string; sync: string }[];
  /** 9.6+: pg_stat_wal_receiver's status. */
  receiver: string;
  archiving: boolean;
  lsn: string;
}

function serverState(r: ObsRecord): ServerState {
  const snd = String(r.snd ?? '');
  return {
    at: r.at,
    up: r.up === 1,
    inRecovery: r.rec === 't' ? true : r.rec === 'f' ? false : undefined,
    tli: /^\d+$/.test(String(r.tli ?? '')) ? Number(r.tli) : undefined,
    sysid: String(r.sysid ?? ''),
    senders: snd ? snd.split(',').map((s) => {
      const [client, state, sync] = s.split('/');
      return { client: client ?? '', state: state ?? '', sync: sync ?? '' };
    }) : [],
    receiver: String(r.wr ?? ''),
    archiving: r.arch === 1,
    lsn: String(r.lsn ?? ''),
  };
}

/** A moment of the history: every server's state as last recorded (positions updated by `pos` records). */
export interface Moment { at: number; servers: Map<string, ServerState>; replayAdvanced: Set<string> }

/**
 * Walks the records in order and calls `visit` after each change. A standby's replay position that
 * moved forward while it stayed in recovery is remembered in `replayAdvanced` (it applied WAL from
 * somewhere: streamed or restored), until it leaves recovery.
 */
export function walk(obs: Observation, visit: (m: Moment, r: ObsRecord) => void): void {
  const servers = new Map<string, ServerState>();
  const replayAdvanced = new Set<string>();
  for (const r of obs.records) {
    const role = String(r.role ?? '');
    if (r.t === 'server') {
      const prev = servers.get(role);
      const next = serverState(r);
      if (next.inRecovery !== true || next.sysid !== prev?.sysid) replayAdvanced.delete(role);
      if (prev?.inRecovery && next.inRecovery && prev.lsn && next.lsn && lsnBytes(next.lsn) > lsnBytes(prev.lsn)) replayAdvanced.add(role);
      servers.set(role, next);
    } else if (r.t === 'pos') {
      const prev = servers.get(role);
      const lsn = String(r.lsn ?? '');
      if (!prev || !/^[0-9A-F]+\/[0-9A-F]+$/.test(lsn)) continue;
      if (prev.inRecovery && prev.lsn && lsnBytes(lsn) > lsnBytes(prev.lsn)) replayAdvanced.add(role);
      servers.set(role, { ...prev, lsn });
    } else if (r.t === 'start') {
      // The observer restarted: what it knew before of its servers may have changed while it was not looking.
      const roles = typeof r.roles === 'string' && r.roles ? r.roles.split(',') : [...servers.keys()];
      for (const role of roles) servers.delete(role);
    } else continue;
    visit({ at: r.at, servers, replayAdvanced }, r);
  }
}

/** Consecutive moments where `pred` held, as [from, to] epochs (`to` = when it stopped; open: the last record). */
export function periods(obs: Observation, pred: (m: Moment) => boolean): { from: number; to?: number }[] {
  const out: { from: number; to?: number }[] = [];
  let open: { from: number; to?: number } | undefined;
  walk(obs, (m) => {
    const now = pred(m);
    if (now && !open) out.push((open = { from: m.at }));
    else if (!now && open) {
      open.to = m.at;
      open = undefined;
    }
  });
  return out;
}

/** maestro sends to `ip` by streaming replication and the server there is in recovery (a standby, not pg_receivewal). */
export function streaming(m: Moment, standby: string, ip: string): boolean {
  const maestro = m.servers.get('maestro');
  const s = m.servers.get(standby);
  if (!maestro?.up || maestro.inRecovery !== false || !s?.up || s.inRecovery !== true) return false;
  if (!maestro.senders.some((x) => x.client === ip && x.state === 'streaming')) return false;
  // 9.6+ also say it from the standby's side.
  return s.receiver === '' || s.receiver === 'streaming';
}

/** A standby of maestro: in recovery with maestro's identity, streaming from it or having applied WAL. */
export function standbyOfMaestro(m: Moment, standby: string, ip: string): boolean {
  const s = m.servers.get(standby);
  const maestro = m.servers.get('maestro');
  if (!s?.up || s.inRecovery !== true || !s.sysid || s.sysid !== maestro?.sysid) return false;
  return streaming(m, standby, ip) || m.replayAdvanced.has(standby);
}

export interface Promotion { at: number; fromTli?: number; toTli?: number; standbySince: number }

/**
 * A promotion: a server observed as a standby of maestro that then left recovery on a later
 * timeline. An archive recovery that just ends (restore_command = 'false') never was a standby of
 * maestro (nothing streamed or applied), so it is not one.
 */
export function promotions(obs: Observation, standby: string, ip: string): Promotion[] {
  const out: Promotion[] = [];
  let since: { at: number; tli?: number } | undefined;
  walk(obs, (m) => {
    const s = m.servers.get(standby);
    if (standbyOfMaestro(m, standby, ip)) {
      since ??= { at: m.at, tli: s?.tli };
      return;
    }
    if (!since || !s?.up) return;
    if (s.inRecovery === true) {
      // In recovery again without being maestro's standby (an archive recovery of its own): start over.
      since = undefined;
      return;
    }
    if (s.inRecovery === false) {
      // 9.3+ promote without waiting for the end-of-recovery checkpoint: pg_control's timeline follows a moment later.
      const maestro = m.servers.get('maestro');
      const later = s.tli !== undefined && since.tli !== undefined && s.tli > since.tli;
      if (later && s.sysid === maestro?.sysid) {
        out.push({ at: m.at, fromTli: since.tli, toTli: s.tli, standbySince: since.at });
        since = undefined;
      }
    }
  });
  return out;
}

/**
 * Segments the archiver reported shipped (pg_stat_archiver; 9.1: its .done marks seen appearing
 * while archiving was on) that also arrived in the standby's archive as real segments of maestro.
 */
export function archivedSegments(obs: Observation, standby: string, profile: PgProfile): { seg: string; at: number }[] {
  const shipped = new Set(obs.records.filter((r) => r.t === 'shipped' && r.role === 'maestro').map((r) => String(r.seg)));
  const out: { seg: string; at: number }[] = [];
  let maestroSysid = '';
  for (const r of obs.records) {
    if (r.t === 'server' && r.role === 'maestro' && r.sysid) maestroSysid = String(r.sysid);
    if (r.t !== 'arrived' || r.role !== standby || !shipped.has(String(r.seg)) || !maestroSysid) continue;
    const head = Buffer.from(String(r.head ?? ''), 'hex');
    const verdict = validateWalSegment({ name: String(r.seg), size: Number(r.size), firstPage: head, profile, expectedSysid: maestroSysid });
    if (verdict.ok) out.push({ seg: String(r.seg), at: r.at });
  }
  return out;
}

/** Steps `lab solve` ran, by `lab/step`, with the first time. */
export function solvedSteps(obs: Observation): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of obs.records) {
    if (r.t === 'solved' && r.src === 'lab' && typeof r.lab === 'string' && typeof r.step === 'string') {
      const key = `${r.lab}/${r.step}`;
      if (!out.has(key)) out.set(key, r.at);
    }
  }
  return out;
}
