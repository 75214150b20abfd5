/**
 * The env's flight recorder (docker/pg/pglab-recorder): what each server said about its own
 * replication state every few seconds. Graders use it only where the live state is gone (after a
 * promotion, a cleanup, a stopped server), and never against what the live state or the
 * surviving evidence contradicts: the student is root in the container and can edit the file.
 */

export interface RecordLine {
  at: number;
  up: boolean;
  sysid: string;
  inRecovery?: boolean;
  walFile: string;
  receiveLsn: string;
  replayLsn: string;
  senders: { client: string; state: string; sent: string }[];
  receiver: string;
  lastArchived: string;
  ready: number;
}

export interface Recording {
  records: RecordLine[];
  /** Lines that are not records (torn, edited, garbage): reported, never trusted. */
  rejected: number;
}

const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/;
const SEGMENT = /^[0-9A-F]{24}$/;

/**
 * Strict parse: a line counts only if every field has the shape the recorder writes and its time
 * lies in [notBefore, notAfter] (the env's lifetime); anything else is counted as rejected.
 */
export function parseRecording(text: string, window: { notBefore: number; notAfter: number }): Recording {
  const records: RecordLine[] = [];
  let rejected = 0;
  for (const line of text.split('\n')) {
    if (!line) continue;
    const r = parseLine(line);
    if (r && r.at >= window.notBefore && r.at <= window.notAfter) records.push(r);
    else rejected++;
  }
  records.sort((a, b) => a.at - b.at);
  return { records, rejected };
}

function parseLine(line: string): RecordLine | undefined {
  const [tag, at, ...pairs] = line.split('\t');
  if (tag !== 'R1' || !/^\d{9,11}$/.test(at ?? '') || pairs.length !== 10) return undefined;
  const f: Record<string, string> = {};
  for (const p of pairs) {
    const eq = p.indexOf('=');
    if (eq < 1) return undefined;
    f[p.slice(0, eq)] = p.slice(eq + 1);
  }
  const keys = ['up', 'sysid', 'rec', 'wal', 'rcv', 'rpl', 'snd', 'wr', 'done', 'ready'];
  if (!keys.every((k) => k in f)) return undefined;
  if (!['0', '1'].includes(f.up) || !/^\d*$/.test(f.sysid) || !['', 't', 'f'].includes(f.rec)) return undefined;
  if ((f.wal && !SEGMENT.test(f.wal)) || (f.done && !SEGMENT.test(f.done)) || !/^\d+$/.test(f.ready)) return undefined;
  if ((f.rcv && !LSN.test(f.rcv)) || (f.rpl && !LSN.test(f.rpl))) return undefined;
  // client/state/sent, where sent is an LSN "X/Y" or empty.
  const senders = f.snd ? f.snd.split(',').map((s) => {
    const [client, state, ...lsn] = s.split('/');
    return { client, state: state ?? '', sent: lsn.join('/') };
  }) : [];
  if (senders.some((x) => !/^[0-9a-f.:]+$|^local$/i.test(x.client) || !/^[a-z]*$/.test(x.state) || (x.sent !== '' && !LSN.test(x.sent)))) return undefined;
  if (!/^[a-z]*$/.test(f.wr)) return undefined;
  return {
    at: Number(at),
    up: f.up === '1',
    sysid: f.sysid,
    inRecovery: f.rec === '' ? undefined : f.rec === 't',
    walFile: f.wal,
    receiveLsn: f.rcv,
    replayLsn: f.rpl,
    senders,
    receiver: f.wr,
    lastArchived: f.done,
    ready: Number(f.ready),
  };
}

/** LSN "X/Y" as a number of bytes (fits a double for any lab-sized WAL). */
export function lsnBytes(lsn: string): number {
  const [hi, lo] = lsn.split('/');
  return parseInt(hi, 16) * 2 ** 32 + parseInt(lo, 16);
}

/** The inverse of lsnBytes: "X/Y". */
export function lsnText(bytes: number): string {
  return `${Math.floor(bytes / 2 ** 32).toString(16).toUpperCase()}/${(bytes % 2 ** 32).toString(16).toUpperCase()}`;
}

/** Consecutive records where `pred` holds, as [from, to] epoch spans (gaps over `maxGapS` split spans). */
export function spans(records: RecordLine[], pred: (r: RecordLine) => boolean, maxGapS = 30): [number, number][] {
  const out: [number, number][] = [];
  for (const r of records) {
    if (!pred(r)) continue;
    const last = out[out.length - 1];
    if (last && r.at - last[1] <= maxGapS) last[1] = r.at;
    else out.push([r.at, r.at]);
  }
  return out;
}

/**
 * One point of a lag/archiving chart, as the live page draws it: one primary's at one moment (after
 * a promotion there are two primaries, each its own series: their archives and positions never mix).
 */
export interface ChartPoint {
  at: number;
  /** The primary this point is about. */
  role: string;
  /** Bytes the primary had sent that its standby had not received yet; undefined: nothing streams. */
  lagBytes?: number;
  waiting: number;
  lastArchived?: string;
}

/**
 * The last minutes of lag and archiving as the servers recorded them, so a page opened now shows a
 * chart at once instead of starting empty. Per primary record: the lag is what it had sent minus
 * what each standby had *received* by its next record (within one recorder period after). Not the
 * replayed position: 9.1 reports it only every 10 s and stops at a segment switch record, so
 * comparing it made a 16 MB lag out of every `pg_switch_xlog()`; and not a standby record from
 * before the primary's, which had not had the chance to receive it. Archiving is that primary's own
 * `.ready` count and last archived segment. For display only: a grader never reads it.
 */
export function chartFromRecords(byRole: Map<string, RecordLine[]>, sinceS: number, periodS = 5): ChartPoint[] {
  // Only standby records that can pair with a primary record of the window (up to 2 MiB of record per server).
  const standbys = [...byRole.values()].map((records) => records.filter((r) => r.inRecovery === true && r.receiveLsn && r.at >= sinceS))
    .filter((records) => records.length);
  const points: ChartPoint[] = [];
  for (const [role, records] of byRole) {
    for (const p of records) {
      if (!p.up || p.inRecovery !== false || p.at < sinceS) continue;
      const sent = p.senders.filter((x) => x.sent).map((x) => lsnBytes(x.sent));
      let lag: number | undefined;
      if (sent.length) {
        for (const recs of standbys) {
          const next = recs.find((r) => r.at >= p.at && r.at - p.at <= periodS);
          if (next) lag = Math.max(lag ?? 0, Math.max(0, Math.max(...sent) - lsnBytes(next.receiveLsn)));
        }
      }
      points.push({ at: p.at * 1000, role, lagBytes: lag, waiting: p.ready, lastArchived: p.lastArchived || undefined });
    }
  }
  return points.sort((a, b) => a.at - b.at);
}
