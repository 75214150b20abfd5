/**
 * The transport of probes: how a fact's command reaches a server's container. Probes asked for in
 * the same turn of the event loop go in one docker exec per server (a fixed bash script, every
 * probe as arguments), and read-only queries for one database share one psql session. Knows
 * nothing of facts, checks or plans (see probes.ts and plan-cache.ts).
 */
import { randomBytes } from 'node:crypto';
import { execInContainer, type ExecResult } from '../docker/client.js';
import { TIMEOUTS } from '../timeouts.js';

export type { ExecResult };

/** A probe could not get its fact because the server (or container) is not there. */
export class ServerDownError extends Error {
  constructor(readonly role: string) {
    super(`server ${role} is not running`);
  }
}

export class ProbeTimeoutError extends Error {
  constructor(readonly role: string, readonly command: string) {
    super(`probe timed out: ${role}: ${command}`);
  }
}

/** Unit separator: cannot appear in names or settings we select. */
export const SEP = '\x1f';

/** Queries that change nothing: the only SQL that may share a psql session with others. */
const READ_ONLY_SQL = /^\s*(SELECT|SHOW|IDENTIFY_SYSTEM)\b/i;
const WRITES = /\b(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|COPY|CHECKPOINT|nextval|setval|set_config|pg_switch_\w+|pg_create_\w+|pg_drop_\w+|pg_start_backup|pg_stop_backup|pg_backup_\w+|pg_promote|pg_reload_conf|pg_terminate_backend|pg_cancel_backend|pg_rotate_logfile|pg_wal_replay_\w+|pg_xlog_replay_\w+|txid_current)\b/i;

/**
 * May this probe share a batch's psql session? Only reads: files, ps, catalog SELECTs. It judges the
 * engine's own probes; what the plan cache may replay is judged by plan-cache.ts's allow-list.
 */
export function replayable(argv: string[]): boolean {
  const cmd = argv[0].split('/').pop() ?? '';
  if (cmd !== 'psql') return true;
  const i = argv.indexOf('-c');
  const query = i >= 0 ? argv[i + 1] ?? '' : '';
  return READ_ONLY_SQL.test(query) && !WRITES.test(query);
}

/** The query of a probe made by Probes.sql, if it may share a psql session (a read, our usual flags). */
function mergeableQuery(i: BatchItem): string | undefined {
  const a = i.argv;
  const flags = ['-X', '-A', '-t', '-q', '-F', SEP, '-v', 'ON_ERROR_STOP=1', '-c'];
  if (i.user !== 'postgres' || a.length !== 11 || !a[0].endsWith('/psql') || flags.some((f, k) => a[k + 1] !== f)) return undefined;
  return replayable(a) ? a[10] : undefined;
}

/** The readiness probe without a ready-file (see readiness.ts): a psql session that works answers it. */
function isReadinessItem(i: BatchItem): boolean {
  return i.argv[0] === 'sh' && i.argv[3] === 'readiness' && i.argv[7] === '';
}

/** The output of each query of a merged session, by the marker lines; undefined when any is missing. */
export function splitSections(out: string, marker: string, n: number): string[] | undefined {
  const sections: string[][] = [];
  let current: string[] | undefined;
  let ended = false;
  for (const line of out.split('\n')) {
    if (line.startsWith(`${marker} `)) {
      const what = line.slice(marker.length + 1);
      if (what === 'end') {
        ended = true;
        current = undefined;
      } else sections[Number(what)] = current = [];
    } else if (current && line !== '') current.push(line);
  }
  if (!ended || sections.length !== n || [...sections].some((x) => x === undefined)) return undefined;
  return sections.map((lines) => (lines.length ? lines.join('\n') + '\n' : ''));
}

export interface ProbeExecOptions { user?: 'root' | 'postgres'; timeoutMs?: number; stdin?: string; env?: Record<string, string> }

interface BatchItem {
  /** Already tried in a merged psql session: run on its own. */
  noMerge?: boolean;
  argv: string[];
  user: 'root' | 'postgres';
  timeoutMs: number;
  env: Record<string, string>;
  resolve: (r: ExecResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Runs several probes in one exec, as root, in parallel. Fixed text: every probe arrives as
 * arguments (count, then per probe: user, timeout in seconds, argc, argv), never inside the script.
 * Probes for postgres drop to it with setpriv (no PAM, its groups kept). Output, for each probe in
 * order: "\x1e<index> <exit> <stdout bytes> <stderr bytes>\n" then both outputs, byte-exact.
 */
/** Bytes of stdout (and of stderr) kept of one probe; more is cut and said ("salida truncada"). */
export const PROBE_OUTPUT_MAX = 8 * 1024 * 1024;

const BATCH_SCRIPT = [
  // Without setpriv (an image of one's own) or a writable /tmp, no output: each probe then runs alone.
  'command -v setpriv >/dev/null 2>&1 || exit 71',
  // TMPDIR: the SQL host's root is read-only (its home is not).
  'd=$(mktemp -d "${TMPDIR:-/tmp}/pglab-probe.XXXXXX") || exit 70',
  'trap \'rm -rf "$d"\' EXIT',
  'n=$1; shift; pids=()',
  'for ((i = 0; i < n; i++)); do',
  '  u=$1; s=$2; c=$3; shift 3; cmd=("${@:1:c}"); shift "$c"',
  // Run as postgres already (the SQL host): no setpriv, which only root may use.
  '  if [ "$u" = postgres ] && [ "$(id -u)" = 0 ]; then',
  '    (cd /var/lib/postgresql 2>/dev/null; exec setpriv --reuid=postgres --regid=postgres --init-groups env HOME=/var/lib/postgresql USER=postgres timeout -k 2 "$s" "${cmd[@]}") >"$d/$i.o" 2>"$d/$i.e" </dev/null &',
  '  else',
  '    (exec timeout -k 2 "$s" "${cmd[@]}") >"$d/$i.o" 2>"$d/$i.e" </dev/null &',
  '  fi',
  '  pids+=($!)',
  'done',
  'for ((i = 0; i < n; i++)); do',
  '  wait "${pids[i]}"; x=$?',
  // Each output bounded (PROBE_OUTPUT_MAX): a flooded directory cannot flood the grader's memory.
  '  so=$(stat -c %s "$d/$i.o"); se=$(stat -c %s "$d/$i.e"); t=0',
  `  [ "$so" -gt ${PROBE_OUTPUT_MAX} ] && { so=${PROBE_OUTPUT_MAX}; t=1; }; [ "$se" -gt ${PROBE_OUTPUT_MAX} ] && { se=${PROBE_OUTPUT_MAX}; t=1; }`,
  '  printf \'\\036%s %s %s %s %s\\n\' "$i" "$x" "$so" "$se" "$t"',
  '  head -c "$so" "$d/$i.o"; head -c "$se" "$d/$i.e"',
  'done',
].join('\n');

function traceLabel(argv: string[]): string {
  const one = (a: string[]) => a.filter((x) => !x.startsWith('-') && !x.includes('\n')).map((x) => x.split('/').pop()).join(' ').slice(0, 60);
  if (argv[0] !== 'bash' || argv[3] !== 'pglab-batch') return one(argv);
  const out: string[] = [];
  for (let i = 5, n = 0; n < Number(argv[4]) && i < argv.length; n++) {
    const c = Number(argv[i + 2]);
    out.push(one(argv.slice(i + 3, i + 3 + c).filter((x) => !/^\w+=/.test(x) && x !== 'env')));
    i += 3 + c;
  }
  return `batch[${out.length}] ${out.join(' | ')}`;
}

/** The outputs of BATCH_SCRIPT by probe index (exported for unit tests). */
export function parseBatch(out: Buffer): Map<number, { exitCode: number; stdout: Buffer; stderr: Buffer; truncated?: boolean }> {
  const parts = new Map<number, { exitCode: number; stdout: Buffer; stderr: Buffer; truncated?: boolean }>();
  let at = 0;
  while (at < out.length && out[at] === 0x1e) {
    const nl = out.indexOf(0x0a, at);
    if (nl < 0) break;
    const [index, exitCode, outLen, errLen, cut] = out.subarray(at + 1, nl).toString().split(' ').map(Number);
    if (![index, exitCode, outLen, errLen].every(Number.isInteger)) break;
    const stdout = out.subarray(nl + 1, nl + 1 + outLen);
    const stderr = out.subarray(nl + 1 + outLen, nl + 1 + outLen + errLen);
    if (stdout.length !== outLen || stderr.length !== errLen) break;
    parts.set(index, { exitCode, stdout, stderr, ...(cut === 1 ? { truncated: true } : {}) });
    at = nl + 1 + outLen + errLen;
  }
  return parts;
}

/**
 * Where a server's SQL is run from instead of the server itself: a container of lab's own (the env's
 * observer) holding the version's psql and the server's socket directory (`socketDir` there).
 */
export interface SqlClientHost {
  container: (role: string) => string; socketDir: (role: string) => string; tmpDir: string;
  /** pg_controldata of a server's data directory runs there too, on the server's /var/lib/postgresql mounted at homeDir(role). */
  pgControldata?: string; homeDir?: (role: string) => string;
}

/** The server's postgres home, which the SQL host mounts elsewhere (homeDir). */
const SERVER_HOME = '/var/lib/postgresql/';

export class ProbeTransport {
  /**
   * @param containerOf the container of a role, undefined when the env has no such server
   * @param psql the version's own psql (merged sessions run it)
   * @param sqlHost where SQL on a server's own socket runs: the student is root in the server and
   *   could replace its psql (or bash) to print any answer; the observer's psql cannot be reached.
   */
  constructor(
    private readonly containerOf: (role: string) => string | undefined, private readonly psql: string,
    private readonly sqlHost?: SqlClientHost,
  ) {}

  /** A psql session on the server's own socket (not a connection to another host): run from sqlHost. */
  private viaSqlHost(i: { argv: string[]; user: string }): boolean {
    if (!this.sqlHost || i.user !== 'postgres') return false;
    const a = i.argv;
    if (this.isControldata(a)) return true;
    if (a[0] === this.psql) return !a.includes('-h') && !a.some((x) => /(^|\s)(host|hostaddr)\s*=/.test(x));
    return a[0] === 'sh' && a[3] === 'pglab-sql' && a[5] === this.psql;
  }

  /** pg_controldata of a data directory under the server's postgres home: the SQL host's own binary reads it there (the server's can be replaced). */
  private isControldata(a: string[]): boolean {
    return !!this.sqlHost?.pgControldata && !!this.sqlHost.homeDir && a.length === 2 && a[0] === this.sqlHost.pgControldata
      && a[1].startsWith(SERVER_HOME) && !a[1].split('/').includes('..');
  }

  /** argv as the SQL host runs it: a data directory by where the host mounts it. */
  private hostArgv(role: string, argv: string[]): string[] {
    return this.isControldata(argv) ? [argv[0], `${this.sqlHost!.homeDir!(role)}/${argv[1].slice(SERVER_HOME.length)}`] : argv;
  }

  /** Runs a psql probe in the SQL host on the server's socket; a host that is not there (an env made before it) falls back to the server. */
  private async execSql(role: string, argv: string[], opts: ProbeExecOptions): Promise<ExecResult> {
    const host = this.sqlHost!;
    if (!this.containerOf(role)) throw new ServerDownError(role);
    return this.execCounted(host.container(role), `${role} (sql host)`, this.hostArgv(role, argv), { ...opts, user: 'postgres', env: { ...opts.env, PGHOST: host.socketDir(role) } },
      () => this.execDirect(role, argv, opts));
  }

  /**
   * Runs argv in a server's container. Probes asked for in the same turn of the event loop share
   * one docker exec per server (see BATCH_SCRIPT): a step's checks ask for a dozen facts at once,
   * and each exec costs ~65 ms of Docker API round trips, serialized on a small machine. `raw`: a
   * timed-out probe is returned (timedOut) instead of thrown.
   */
  async exec(role: string, argv: string[], opts: ProbeExecOptions & { raw?: boolean } = {}): Promise<ExecResult> {
    const item: BatchItem = { argv, user: opts.user ?? 'postgres', timeoutMs: opts.timeoutMs ?? TIMEOUTS.probeMs, env: opts.env ?? {}, resolve: () => {}, reject: () => {} };
    // A probe declared slow (ssh, a replication connection, hashing files) gets its own exec: in a
    // batch it would hold back every fast probe's answer until it ends.
    const slow = (opts.timeoutMs ?? TIMEOUTS.probeMs) > TIMEOUTS.probeMs;
    const result = opts.stdin !== undefined || !this.batching || slow
      ? (this.viaSqlHost(item) ? this.execSql(role, argv, opts) : this.execDirect(role, argv, opts))
      : new Promise<ExecResult>((resolve, reject) => this.enqueue(role, Object.assign(item, { resolve, reject })));
    const r = await result;
    if (r.timedOut && !opts.raw) throw new ProbeTimeoutError(role, argv[0].split('/').pop() ?? argv[0]);
    return r;
  }

  /** Docker execs made so far (a batch counts once): for benchmarks and tests. */
  execCount = 0;
  /** Set to false to give every probe its own exec (the behaviour before batching). */
  batching = process.env.PGLAB_PROBE_BATCH !== '0';
  private queue = new Map<string, BatchItem[]>();

  private async execDirect(role: string, argv: string[], opts: ProbeExecOptions): Promise<ExecResult> {
    const container = this.containerOf(role);
    if (!container) throw new ServerDownError(role);
    return this.execCounted(container, role, argv, opts, () => Promise.reject(new ServerDownError(role)));
  }

  /** One docker exec of a probe, counted and traced; `gone` answers when its container is not there (or not running). */
  private async execCounted(container: string, label: string, argv: string[], opts: ProbeExecOptions, gone: () => Promise<ExecResult>): Promise<ExecResult> {
    this.execCount++;
    const t0 = Date.now();
    try {
      return await execInContainer(container, argv, { user: opts.user ?? 'postgres', timeoutMs: opts.timeoutMs ?? TIMEOUTS.probeMs, stdin: opts.stdin, env: opts.env, maxOutputBytes: 4 * PROBE_OUTPUT_MAX });
    } catch (err) {
      if (/no such container|is not running/i.test(String((err as Error).message))) return gone();
      throw err;
    } finally {
      // PGLAB_PROBE_TRACE=1: one line per docker exec on stderr (what a run really costs).
      if (process.env.PGLAB_PROBE_TRACE) process.stderr.write(`probe ${label} +${t0 - this.born}ms ${Date.now() - t0}ms ${traceLabel(argv)}\n`);
    }
  }

  private readonly born = Date.now();

  private enqueue(role: string, item: BatchItem): void {
    const queue = this.queue.get(role);
    if (queue) return void queue.push(item);
    this.queue.set(role, [item]);
    setImmediate(() => this.flush(role));
  }

  /**
   * Read-only queries for one database (and the readiness probe, for postgres) in one psql session
   * instead of one psql and one backend each: each psql costs the server ~15 ms of CPU, most of a
   * cycle's cost. The queries are separated by a random marker; a session that says anything on
   * stderr, or fails, hands every query back to run on its own (so errors stay each query's).
   */
  private mergeSql(role: string, items: BatchItem[]): BatchItem[] {
    const units: BatchItem[] = [];
    const groups = new Map<string, BatchItem[]>();
    for (const i of items) {
      const db = i.noMerge ? undefined : isReadinessItem(i) ? 'postgres' : mergeableQuery(i) !== undefined ? i.env.PGDATABASE ?? 'postgres' : undefined;
      if (db === undefined) units.push(i);
      else groups.set(db, [...(groups.get(db) ?? []), i]);
    }
    for (const [db, members] of groups) {
      const queries = members.filter((m) => !isReadinessItem(m));
      if (members.length < 2 || !queries.length) {
        units.push(...members);
        continue;
      }
      const marker = `pglab-${randomBytes(8).toString('hex')}`;
      const script = queries.map((q, k) => `\\echo ${marker} ${k}\n${mergeableQuery(q)}\n;\n`).join('') + `\\echo ${marker} end\n`;
      const alone = () => members.forEach((m) => this.enqueue(role, { ...m, noMerge: true }));
      units.push({
        argv: ['sh', '-c', 'printf "%s" "$1" | "$2" -X -A -t -q -F "$3"', 'pglab-sql', script, this.psql, SEP],
        user: 'postgres',
        timeoutMs: Math.max(...members.map((m) => m.timeoutMs)),
        env: { PGDATABASE: db, PGCONNECT_TIMEOUT: String(TIMEOUTS.readinessConnectS) },
        resolve: (r) => {
          const sections = r.exitCode === 0 && !r.stderr.length ? splitSections(r.stdout.toString('utf8'), marker, queries.length) : undefined;
          if (!sections) return alone();
          const ok = (text: string): ExecResult => ({ exitCode: 0, stdout: Buffer.from(text), stderr: Buffer.alloc(0), timedOut: false });
          for (const m of members) m.resolve(ok(isReadinessItem(m) ? 'accepting\n' : sections[queries.indexOf(m)]));
        },
        reject: alone,
      });
    }
    return units;
  }

  /** One exec for every probe queued for this server; each keeps its own user, env, timeout, exit code and output. */
  private async flush(role: string): Promise<void> {
    const merged = this.mergeSql(role, this.queue.get(role) ?? []);
    this.queue.delete(role);
    // SQL sessions (one per database after merging) run from the SQL host: every server's in one exec.
    for (const i of merged.filter((m) => this.viaSqlHost(m))) this.enqueueSql(role, i);
    const items = merged.filter((m) => !this.viaSqlHost(m));
    const alone = (i: BatchItem) => this.execDirect(role, i.argv, { user: i.user, timeoutMs: i.timeoutMs, env: i.env }).then(i.resolve, i.reject);
    await this.runBatch(items, (argv, opts) => this.execDirect(role, argv, opts), alone);
  }

  private sqlQueue: { role: string; item: BatchItem }[] = [];

  /** Queued for the SQL host: flushed after every server's flush of this turn (setImmediate runs them in order). */
  private enqueueSql(role: string, item: BatchItem): void {
    if (!this.sqlQueue.length) setImmediate(() => this.flushSql());
    this.sqlQueue.push({ role, item });
  }

  private async flushSql(): Promise<void> {
    const queued = this.sqlQueue;
    this.sqlQueue = [];
    const host = this.sqlHost!;
    const alone = (role: string, i: BatchItem & { original?: string[] }) =>
      this.execSql(role, i.original ?? i.argv, { user: i.user, timeoutMs: i.timeoutMs, env: i.env }).then(i.resolve, i.reject);
    // Each session on its own server's socket; a server gone since it was queued answers as before.
    const items = queued.filter(({ role, item }) => this.containerOf(role) || void alone(role, item))
      // The server's own argv kept: a probe that must run alone runs as it was asked (execSql maps it again).
      .map(({ role, item }) => ({ ...item, argv: this.hostArgv(role, item.argv), env: { ...item.env, PGHOST: host.socketDir(role) }, role,
        original: item.argv }));
    // One exec per SQL host (one on a single engine; one per node on a Swarm, each beside its servers).
    const byHost = new Map<string, typeof items>();
    for (const i of items) byHost.set(host.container(i.role), [...(byHost.get(host.container(i.role)) ?? []), i]);
    await Promise.all([...byHost].map(([container, group]) => {
      const exec = (argv: string[], opts: ProbeExecOptions) => this.execCounted(container, 'sql host', argv,
        { ...opts, user: 'postgres', env: { TMPDIR: host.tmpDir } }, () => Promise.reject(new Error('no sql host')));
      return this.runBatch(group, exec, (i) => alone(i.role, i));
    }));
  }

  /**
   * Runs items in one exec of BATCH_SCRIPT (one alone as a plain exec); `alone` runs one by itself
   * when the batch itself could not run.
   */
  private async runBatch<I extends BatchItem>(
    items: I[], exec: (argv: string[], opts: ProbeExecOptions) => Promise<ExecResult>, alone: (i: I) => void,
  ): Promise<void> {
    if (!items.length) return;
    if (items.length === 1) return alone(items[0]);
    const args: string[] = [String(items.length)];
    for (const i of items) {
      const argv = ['env', ...Object.entries(i.env).map(([k, v]) => `${k}=${v}`), ...i.argv];
      args.push(i.user, String(Math.max(1, Math.ceil(i.timeoutMs / 1000))), String(argv.length), ...argv);
    }
    const timeoutMs = Math.max(...items.map((i) => i.timeoutMs)) + 3000;
    let r: ExecResult;
    try {
      r = await exec(['bash', '-c', BATCH_SCRIPT, 'pglab-batch', ...args], { user: 'root', timeoutMs });
    } catch {
      // No batch (its container gone, say): each probe on its own, which says why.
      return items.forEach(alone);
    }
    const parts = parseBatch(r.stdout);
    // The batch itself could not run (no writable /tmp, say): each probe on its own, as before.
    if (!parts.size && !r.timedOut) return items.forEach(alone);
    items.forEach((item, n) => {
      const p = parts.get(n);
      if (!p) return item.resolve({ exitCode: -1, stdout: Buffer.alloc(0), stderr: r.stderr, timedOut: true });
      item.resolve({ ...p, timedOut: p.exitCode === 124 || p.exitCode === 137 });
    });
  }
}
