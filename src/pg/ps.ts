/**
 * Reads replication state from process titles, which work even when the grader cannot log in to
 * the database. Titles differ by version (pg-versions.md §8): 9.1 `wal sender process` /
 * `wal receiver process` with three spaces before the activity of auxiliary processes, 11+
 * `walsender` / `walreceiver`, and 9.5+ an optional `<cluster_name>: ` prefix (Debian: `15/main: `).
 */

/** ppid and comm (the executable's name, which `exec -a` does not change) when read with `docker top`. */
export interface ProcessLine { pid: number; args: string; ppid?: number; comm?: string }
export interface WalSenderProc { pid: number; user: string; clientAddr: string; clientPort?: number; state: string; lsn?: string }
export interface WalReceiverProc { pid: number; state: string; lsn?: string }

const PS_EF_HEADER = /^\s*UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD\s*$/;
// UID PID PPID C STIME TTY TIME CMD; TIME may carry a day count (`1-02:03:04`).
const PS_EF_LINE = /^\s*\S+\s+(\d+)\s+\d+\s+\d+\s+\S+\s+\S+\s+(?:\d+-)?\d+:\d\d(?::\d\d)?\s+(.*)$/;
const PID_ARGS_LINE = /^\s*(\d+)\s+(.*)$/;
const GREP = /^(?:\S*\/)?[ef]?grep(?:\s|$)/;

/**
 * Accepts `ps -eo pid=,args=` output and `ps -ef` output, with or without its header
 * (`ps -ef | grep sender` has none). `grep` processes are dropped: they echo the pattern being searched.
 */
export function parsePsList(text: string): ProcessLine[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const psEf = lines.some((l) => PS_EF_HEADER.test(l)) || (lines.length > 0 && lines.every((l) => PS_EF_LINE.test(l)));
  const out: ProcessLine[] = [];
  for (const line of lines) {
    const m = (psEf ? PS_EF_LINE : PID_ARGS_LINE).exec(line);
    if (!m) continue; // headers such as `PID COMMAND`
    const args = m[2].trimEnd();
    if (!GREP.test(args)) out.push({ pid: Number(m[1]), args });
  }
  return out;
}

// `postgres: ` + optional cluster name + role label; the cluster name never contains whitespace on Debian.
const PREFIX = String.raw`^postgres:\s+(?:\S+:\s+)?`;
const SENDER = new RegExp(PREFIX + String.raw`wal\s?sender(?:\s+process)?\s+(\S+)\s+(\S+?)(?:\((\d+)\))?(?:\s+(.*))?$`);
const RECEIVER = new RegExp(PREFIX + String.raw`wal\s?receiver(?:\s+process)?(?:\s+(.*))?$`);
const STARTUP = new RegExp(PREFIX + String.raw`startup(?:\s+process)?\s+(?:recovering|waiting for)\s+\S+`);
const LSN = /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i;

/** Splits an activity such as `streaming 0/4000078` into its state word and the first LSN-looking token. */
function activity(text: string | undefined): { state: string; lsn?: string } {
  const words = (text ?? '').trim().split(/\s+/).filter(Boolean);
  const lsn = words.find((w) => LSN.test(w));
  return { state: words[0] ?? '', ...(lsn && { lsn }) };
}

/** WAL sender processes (primary side). `state` is the activity's first word: `streaming`, `catchup`, `startup`, `START_REPLICATION`…; '' if none yet. */
export function walSenders(procs: ProcessLine[]): WalSenderProc[] {
  return procs.flatMap(({ pid, args }) => {
    const m = SENDER.exec(args);
    if (!m) return [];
    return [{ pid, user: m[1], clientAddr: m[2], ...(m[3] && { clientPort: Number(m[3]) }), ...activity(m[4]) }];
  });
}

/** WAL receiver processes (standby side), e.g. state `streaming` with its LSN. */
export function walReceivers(procs: ProcessLine[]): WalReceiverProc[] {
  return procs.flatMap(({ pid, args }) => {
    const m = RECEIVER.exec(args);
    return m ? [{ pid, ...activity(m[1]) }] : [];
  });
}

/** True while a startup process is replaying WAL (`recovering <file>` or `waiting for <file>`): the server is a standby. */
export function hasStartupRecovering(procs: ProcessLine[]): boolean {
  return procs.some((p) => STARTUP.test(p.args));
}

/**
 * Processes forked by a postmaster: the only ones whose title PostgreSQL itself set (a student can
 * give any process any title with `exec -a`, not make the postmaster its parent). The postmaster is
 * a `postgres` executable whose parent is not one. Lines without ppid (a ps listing, unit tests)
 * are kept as they are.
 */
export function postmasterChildren(procs: ProcessLine[]): ProcessLine[] {
  if (!procs.every((p) => p.ppid !== undefined)) return procs;
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const postmasters = new Set(procs.filter((p) => p.comm === 'postgres' && byPid.get(p.ppid!)?.comm !== 'postgres').map((p) => p.pid));
  return procs.filter((p) => p.comm === 'postgres' && postmasters.has(p.ppid!));
}
