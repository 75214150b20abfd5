/**
 * Probes: the facts graders ask for ("settings in effect on maestro", "files in the archive",
 * "is esclavo in recovery"). One Probes object lives for one `lab check` run and memoizes
 * every fact, so concurrent checks share one docker exec per fact. Every probe has a timeout.
 */
import { execInContainer, type ExecResult } from '../docker/client.js';
import { inspectContainer } from '../docker/objects.js';
import { imageFileSums, imagePackageMd5s } from '../docker/image-files.js';
import { runProbeContainer, type ProbeFile } from '../docker/probe-container.js';
import { networkName } from '../env/naming.js';
import { containerTop, readArchive, readContainerFile, type ArchiveRead } from '../docker/container-files.js';
import type { LabEnv } from '../env/env.js';
import { parseConf, type ParsedConf } from './conf.js';
import { controlFacts } from './controldata.js';
import { parsePsList, type ProcessLine } from './ps.js';
import { profileFor, type PgProfile } from './profile.js';
import { parseReadiness, readinessArgv, type Readiness } from './readiness.js';
import { parseRecording, type Recording } from './recorder.js';
import { TIMEOUTS } from '../timeouts.js';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

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

/** A file bigger than graders read: said plainly instead of judging a truncated copy. */
export class FileTooLargeError extends Error {
  constructor(readonly role: string, readonly path: string, readonly limit: number) {
    super(`${role}:${path} is larger than ${limit} bytes`);
  }
}

/** Bytes of stdout (and of stderr) kept of one probe; more is cut and said ("salida truncada"). */
export const PROBE_OUTPUT_MAX = 8 * 1024 * 1024;
/** Directory entries a listing keeps. */
export const MAX_DIR_ENTRIES = 5000;

/** Config files up to this size are read whole (a 100k-line pg_hba.conf is about 6 MiB). */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface DirEntry { name: string; size: number; type: string; owner: string; mtime: number }

/** Unit separator: cannot appear in names or settings we select. */
const SEP = '\x1f';

/** A probe as the plan of a step keeps it: enough to make it again. */
export interface PlannedProbe { role: string; argv: string[]; user?: 'root' | 'postgres'; env?: Record<string, string>; timeoutMs?: number }

/** Queries that change nothing: the only SQL a plan may run ahead of the checks. */
const READ_ONLY_SQL = /^\s*(SELECT|SHOW|IDENTIFY_SYSTEM)\b/i;
const WRITES = /\b(INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|TRUNCATE|COPY|CHECKPOINT|nextval|setval|set_config|pg_switch_\w+|pg_create_\w+|pg_drop_\w+|pg_start_backup|pg_stop_backup|pg_backup_\w+|pg_promote|pg_reload_conf|pg_terminate_backend|pg_cancel_backend|pg_rotate_logfile|pg_wal_replay_\w+|pg_xlog_replay_\w+|txid_current)\b/i;

/** May this probe run ahead of the check that asks for it? Only reads: files, ps, catalog SELECTs. */
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

function planKey(role: string, argv: string[], opts: { user?: string; env?: Record<string, string> }): string {
  return JSON.stringify([role, opts.user ?? 'postgres', opts.env ?? {}, argv]);
}

/**
 * Plans of earlier runs, by lab/step@pg, in one small JSON file in the user's cache
 * (PGLAB_CACHE_DIR, else $XDG_CACHE_HOME/pglab, else ~/.cache/pglab). Losing it costs speed only.
 */
class PlanStore {
  private loaded?: Record<string, PlannedProbe[]>;
  private pending = new Map<string, Probes>();

  private file(): string {
    const dir = process.env.PGLAB_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME || path.join(homedir(), '.cache'), 'pglab');
    return path.join(dir, 'plans.json');
  }

  private all(): Record<string, PlannedProbe[]> {
    if (!this.loaded) {
      try {
        const data = JSON.parse(readFileSync(this.file(), 'utf8')) as unknown;
        this.loaded = data && typeof data === 'object' && !Array.isArray(data) ? data as Record<string, PlannedProbe[]> : {};
      } catch {
        this.loaded = {};
      }
    }
    return this.loaded;
  }

  get(key: string): PlannedProbe[] {
    const plan = this.all()[key];
    // Only well-formed entries: the file is the user's and may be edited or torn.
    return Array.isArray(plan) ? plan.filter((p) => p && typeof p.role === 'string' && Array.isArray(p.argv) && p.argv.length > 0 && p.argv.every((a) => typeof a === 'string')).slice(0, 200) : [];
  }

  saveOnExit(key: string, probes: Probes): void {
    if (!this.pending.size) process.once('beforeExit', () => this.save());
    this.pending.set(key, probes);
  }

  save(): void {
    if (!this.pending.size) return;
    const all = { ...this.all() };
    for (const [key, probes] of this.pending) {
      delete all[key];
      all[key] = probes.plan().slice(0, 200);
    }
    // The most recently used plans (a class of 250 envs × 6 steps stays around a few MiB).
    const keys = Object.keys(all);
    for (const key of keys.slice(0, Math.max(0, keys.length - 2000))) delete all[key];
    this.pending.clear();
    try {
      const file = this.file();
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all));
      renameSync(tmp, file);
      this.loaded = all;
    } catch {
      // A read-only home: the next run is just not primed.
    }
  }
}

const PLANS = new PlanStore();

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
const BATCH_SCRIPT = [
  // Without setpriv (an image of one's own) or a writable /tmp, no output: each probe then runs alone.
  'command -v setpriv >/dev/null 2>&1 || exit 71',
  'd=$(mktemp -d /tmp/pglab-probe.XXXXXX) || exit 70',
  'trap \'rm -rf "$d"\' EXIT',
  'PGLAB_MAX=$1; n=$2; shift 2; pids=()',
  'for ((i = 0; i < n; i++)); do',
  '  u=$1; s=$2; c=$3; shift 3; cmd=("${@:1:c}"); shift "$c"',
  '  if [ "$u" = postgres ]; then',
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
  '  [ "$so" -gt "$PGLAB_MAX" ] && { so=$PGLAB_MAX; t=1; }; [ "$se" -gt "$PGLAB_MAX" ] && { se=$PGLAB_MAX; t=1; }',
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

export class Probes {
  readonly profile: PgProfile;
  private memo = new Map<string, Promise<unknown>>();

  constructor(readonly env: LabEnv) {
    this.profile = profileFor(env.pg);
  }

  ip(role: string): string {
    return this.env.servers.find((s) => s.role === role)?.ip ?? '';
  }

  containerRunning(role: string): boolean {
    return this.env.servers.find((s) => s.role === role)?.state === 'running';
  }

  private once<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    if (!p) {
      p = fn();
      this.memo.set(key, p);
    }
    return p;
  }

  /** Forget a fact (used after a probe write, or when polling). */
  forget(prefix: string): void {
    for (const k of [...this.memo.keys()]) if (k.startsWith(prefix)) this.memo.delete(k);
  }

  /**
   * Runs argv in a server's container. Probes asked for in the same turn of the event loop share
   * one docker exec per server (see BATCH_SCRIPT): a step's checks ask for a dozen facts at once,
   * and each exec costs ~65 ms of Docker API round trips, serialized on a small machine.
   */
  async exec(role: string, argv: string[], opts: ProbeExecOptions & { fresh?: boolean } = {}): Promise<ExecResult> {
    if (!this.containerRunning(role)) throw new ServerDownError(role);
    const key = opts.stdin === undefined && replayable(argv) ? planKey(role, argv, opts) : undefined;
    // A fresh read (a poll) is asked for again and again: not part of the plan.
    if (key && !opts.fresh && !this.recorded.has(key)) this.recorded.set(key, { role, argv, user: opts.user, env: opts.env, timeoutMs: opts.timeoutMs });
    const ahead = key && !opts.fresh ? this.prefetched.get(key) : undefined;
    if (ahead) {
      this.prefetched.delete(key!);
      const r = await ahead;
      if (r.timedOut) throw new ProbeTimeoutError(role, argv[0].split('/').pop() ?? argv[0]);
      return r;
    }
    return this.execNow(role, argv, opts);
  }

  /** Read-only probes this run made, in order: what the next run of the same step will ask for. */
  plan(): PlannedProbe[] {
    return [...this.recorded.values()];
  }

  /**
   * Starts, all at once (one exec per server), the read-only probes an earlier run of the same
   * step made; each result is used once, by the first identical probe of this run. A probe the
   * checks do not ask for again costs only its share of that exec.
   */
  prefetch(plan: PlannedProbe[]): void {
    for (const p of plan) {
      if (!this.containerRunning(p.role) || !replayable(p.argv)) continue;
      const key = planKey(p.role, p.argv, p);
      if (this.prefetched.has(key)) continue;
      const r = this.execNow(p.role, p.argv, { user: p.user, env: p.env, timeoutMs: p.timeoutMs, raw: true });
      r.catch(() => this.prefetched.delete(key));
      this.prefetched.set(key, r);
    }
  }

  /** The Probes of one run of a step, primed with the plan the last run of that step left (see PlanStore). */
  static forStep(env: LabEnv, step: string): Probes {
    const probes = new Probes(env);
    // Per env: plans name its IPs and files.
    const key = `${env.name}/${step}@${env.pg}`;
    probes.prefetch(PLANS.get(key));
    PLANS.saveOnExit(key, probes);
    return probes;
  }

  private recorded = new Map<string, PlannedProbe>();
  private prefetched = new Map<string, Promise<ExecResult>>();

  private async execNow(role: string, argv: string[], opts: ProbeExecOptions & { raw?: boolean }): Promise<ExecResult> {
    const item: BatchItem = { argv, user: opts.user ?? 'postgres', timeoutMs: opts.timeoutMs ?? TIMEOUTS.probeMs, env: opts.env ?? {}, resolve: () => {}, reject: () => {} };
    // A probe declared slow (ssh, a replication connection, hashing files) gets its own exec: in a
    // batch it would hold back every fast probe's answer until it ends.
    const slow = (opts.timeoutMs ?? TIMEOUTS.probeMs) > TIMEOUTS.probeMs;
    const result = opts.stdin !== undefined || !this.batching || slow
      ? this.execDirect(role, argv, opts)
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
    const container = this.env.servers.find((s) => s.role === role)!.container;
    this.execCount++;
    const t0 = Date.now();
    try {
      return await execInContainer(container, argv, { user: opts.user ?? 'postgres', timeoutMs: opts.timeoutMs ?? TIMEOUTS.probeMs, stdin: opts.stdin, env: opts.env, maxOutputBytes: 4 * PROBE_OUTPUT_MAX });
    } catch (err) {
      if (/no such container|is not running/i.test(String((err as Error).message))) throw new ServerDownError(role);
      throw err;
    } finally {
      // PGLAB_PROBE_TRACE=1: one line per docker exec on stderr (what a run really costs).
      if (process.env.PGLAB_PROBE_TRACE) process.stderr.write(`probe ${role} +${t0 - this.born}ms ${Date.now() - t0}ms ${traceLabel(argv)}\n`);
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
    const items = this.mergeSql(role, this.queue.get(role) ?? []);
    this.queue.delete(role);
    if (items.length === 1) {
      const [i] = items;
      return void this.execDirect(role, i.argv, { user: i.user, timeoutMs: i.timeoutMs, env: i.env }).then(i.resolve, i.reject);
    }
    const args: string[] = [String(PROBE_OUTPUT_MAX), String(items.length)];
    for (const i of items) {
      const argv = ['env', ...Object.entries(i.env).map(([k, v]) => `${k}=${v}`), ...i.argv];
      args.push(i.user, String(Math.max(1, Math.ceil(i.timeoutMs / 1000))), String(argv.length), ...argv);
    }
    const timeoutMs = Math.max(...items.map((i) => i.timeoutMs)) + 3000;
    let r: ExecResult;
    try {
      r = await this.execDirect(role, ['bash', '-c', BATCH_SCRIPT, 'pglab-batch', ...args], { user: 'root', timeoutMs });
    } catch (err) {
      return items.forEach((i) => i.reject(err));
    }
    const parts = parseBatch(r.stdout);
    if (!parts.size && !r.timedOut) {
      // The batch itself could not run (no writable /tmp, say): each probe on its own, as before.
      return void items.forEach((i) => this.execDirect(role, i.argv, { user: i.user, timeoutMs: i.timeoutMs, env: i.env }).then(i.resolve, i.reject));
    }
    items.forEach((item, n) => {
      const p = parts.get(n);
      if (!p) return item.resolve({ exitCode: -1, stdout: Buffer.alloc(0), stderr: r.stderr, timedOut: true });
      item.resolve({ ...p, timedOut: p.exitCode === 124 || p.exitCode === 137 });
    });
  }

  /** Is PostgreSQL accepting connections on this server? */
  async serverUp(role: string): Promise<boolean> {
    return (await this.readiness(role)) === 'accepting';
  }

  /** accepting, rejecting (starting up, or a standby without hot_standby), down (see readiness.ts). */
  readiness(role: string): Promise<Readiness> {
    return this.once(`ready:${role}`, async () => {
      if (!this.containerRunning(role)) return 'down';
      const r = await this.exec(role, readinessArgv(this.profile), { timeoutMs: TIMEOUTS.readinessMs });
      return parseReadiness(r.stdout.toString());
    });
  }

  /** The version's own psql: Debian's pg_wrapper dies on a broken postgresql.conf before connecting. */
  get psql(): string {
    return `${this.profile.binDir}/psql`;
  }

  /** Databases a student may have used (names passed via PGDATABASE, never into SQL or a shell). */
  databases(role: string): Promise<string[]> {
    return this.once(`dbs:${role}`, async () =>
      (await this.sql(role, 'SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname LIMIT 10')).map(([d]) => d));
  }

  /**
   * User tables with their row counts, in every database. Identifiers are quoted by the server
   * (format %I inside query_to_xml), so no student-chosen name ever reaches our SQL text.
   */
  userTables(role: string, opts: { memo?: boolean } = {}): Promise<Map<string, number>> {
    const run = async () => {
      const result = new Map<string, number>();
      for (const db of await this.databases(role)) {
        const rows = await this.sql(role, USER_TABLES_SQL, { database: db, memo: opts.memo });
        for (const [name, count] of rows) result.set(`${db}:${name}`, Number(count));
      }
      return result;
    };
    return opts.memo === false ? run() : this.once(`tables:${role}`, run);
  }

  /**
   * Runs fixed SQL (never student text) through psql on the server's socket and returns rows of
   * fields. Throws ServerDownError when the server does not answer.
   */
  async sql(role: string, query: string, opts: { timeoutMs?: number; memo?: boolean; database?: string } = {}): Promise<string[][]> {
    const run = async () => {
      // Asked together with readiness (one batch, one exec): a server that is down or frozen fails
      // the connection within PGCONNECT_TIMEOUT, and readiness decides what that means.
      // The database name may come from the student: passed through PGDATABASE, which libpq takes literally.
      const query_ = this.exec(role, [this.psql, '-X', '-A', '-t', '-q', '-F', SEP, '-v', 'ON_ERROR_STOP=1', '-c', query], {
        timeoutMs: opts.timeoutMs ?? 10_000,
        fresh: opts.memo === false,
        env: { PGDATABASE: opts.database ?? 'postgres', PGCONNECT_TIMEOUT: String(TIMEOUTS.readinessConnectS) },
      });
      query_.catch(() => {});
      if (!(await this.serverUp(role))) throw new ServerDownError(role);
      const r = await query_;
      if (r.exitCode !== 0) throw new SqlError(r.stderr.toString().trim());
      return r.stdout.toString().split('\n').filter((l) => l.length).map((l) => l.split(SEP));
    };
    return opts.memo === false ? run() : this.once(`sql:${role}:${opts.database ?? ''}:${query}`, run);
  }

  /** Runs SQL expected to fail; returns psql's exit code and stderr (with the SQLSTATE). */
  async sqlAttempt(role: string, query: string): Promise<{ ok: boolean; sqlstate?: string; message: string }> {
    const attempt = this.exec(role, [this.psql, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', '-d', 'postgres', '-c', query], { env: { PGCONNECT_TIMEOUT: String(TIMEOUTS.readinessConnectS) } });
    attempt.catch(() => {});
    if (!(await this.serverUp(role))) throw new ServerDownError(role);
    const r = await attempt;
    const message = r.stderr.toString().trim();
    return { ok: r.exitCode === 0, sqlstate: /ERROR:\s+([0-9A-Z]{5}):/.exec(message)?.[1], message };
  }

  /** Settings in effect (pg_settings). */
  settings(role: string): Promise<Map<string, string>> {
    return this.once(`settings:${role}`, async () => {
      const rows = await this.sql(role, 'SELECT name, setting, coalesce(unit, \'\') FROM pg_settings');
      return new Map(rows.map(([name, setting, unit]) => [name, normalizeUnit(setting, unit)]));
    });
  }

  inRecovery(role: string): Promise<boolean> {
    return this.once(`recovery:${role}`, async () => (await this.sql(role, 'SELECT pg_is_in_recovery()'))[0][0] === 't');
  }

  /**
   * File contents (up to maxBytes); undefined when the file does not exist or is not a regular file.
   * Read by the engine (archive API), never by a binary of the container.
   */
  readFile(role: string, path: string, maxBytes = MAX_FILE_BYTES): Promise<Buffer | undefined> {
    return this.once(`file:${role}:${path}:${maxBytes}`, async () => {
      const f = await this.fileInfo(role, path, maxBytes);
      if (!f) return undefined;
      if (f.size > maxBytes && maxBytes >= MAX_FILE_BYTES) throw new FileTooLargeError(role, path, maxBytes);
      return f.data;
    });
  }

  /** The first maxBytes of a regular file with its real size and owner's uid, read by the engine. */
  fileInfo(role: string, path: string, maxBytes: number): Promise<{ data: Buffer; size: number; uid: number; mtime: number } | undefined> {
    return this.once(`finfo:${role}:${path}:${maxBytes}`, async () => readContainerFile(this.container(role), path, maxBytes, TIMEOUTS.archiveReadMs));
  }

  /** A directory (or file) as the engine archives it, bounded (see container-files.ts); undefined when absent. */
  archive(role: string, path: string, limits: { maxEntries?: number; maxDataPerFile?: number; maxStreamBytes?: number; stopAfter?: number } = {}): Promise<ArchiveRead | undefined> {
    return this.once(`archive:${role}:${path}:${JSON.stringify(limits)}`, async () =>
      readArchive(this.container(role), path, { ...limits, timeoutMs: TIMEOUTS.archiveReadMs }));
  }

  /** User names by uid from the container's /etc/passwd (names only label what the engine reports). */
  users(role: string): Promise<Map<number, string>> {
    return this.once(`passwd:${role}`, async () => {
      const text = (await this.fileInfo(role, '/etc/passwd', 1 << 20))?.data.toString('utf8') ?? '';
      return new Map(text.split('\n').map((l) => l.split(':')).filter((f) => f.length > 3).map((f) => [Number(f[2]), f[0]] as [number, string]));
    });
  }

  private container(role: string): string {
    const server = this.env.servers.find((s) => s.role === role);
    if (!server || server.state === 'missing') throw new ServerDownError(role);
    return server.container;
  }

  /** Can the postgres user read this file? (root, who runs the graders, reads anything.) */
  readableByPostgres(role: string, path: string): Promise<boolean> {
    return this.once(`readable:${role}:${path}`, async () => (await this.exec(role, ['test', '-r', path], { user: 'postgres' })).exitCode === 0);
  }

  async readText(role: string, path: string): Promise<string | undefined> {
    return (await this.readFile(role, path))?.toString('utf8');
  }

  /**
   * Entries of a directory (depth 1); undefined when it does not exist. Names are candidates only
   * (find is the container's): what earns points is read again by the engine (readFile, fileInfo).
   * At most MAX_DIR_ENTRIES; `truncated` says the listing was cut.
   */
  listDir(role: string, dir: string): Promise<(DirEntry[] & { truncated?: boolean }) | undefined> {
    return this.once(`ls:${role}:${dir}`, async () => {
      const r = await this.exec(role, ['find', dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\t%s\\t%y\\t%u\\t%T@\\n'], { user: 'root' });
      if (r.exitCode !== 0 && !r.stdout.length) return undefined;
      const lines = r.stdout.toString().split('\n');
      const out: DirEntry[] & { truncated?: boolean } = [];
      for (const line of lines) {
        if (!line) continue;
        if (out.length >= MAX_DIR_ENTRIES) {
          out.truncated = true;
          break;
        }
        const [name, size, type, owner, mtime] = line.split('\t');
        out.push({ name, size: Number(size), type, owner, mtime: Number(mtime) });
      }
      if (r.truncated) out.truncated = true;
      return out;
    });
  }

  /** Stat of one path: type (d/f/l…), owner, mtime; undefined when absent. Read by the engine (archive API). */
  stat(role: string, path: string): Promise<{ type: string; owner: string; mtime: number; size: number } | undefined> {
    return this.once(`stat:${role}:${path}`, async () => {
      const r = await readArchive(this.container(role), path, { stopAfter: 1, timeoutMs: TIMEOUTS.archiveReadMs });
      const e = r?.entries[0];
      if (!e) return undefined;
      const owner = (await this.users(role)).get(e.uid) ?? String(e.uid);
      return { type: e.type, owner, mtime: e.mtime, size: e.size };
    });
  }

  /**
   * pg_controldata facts (works while the server is stopped). The system identifier is what the
   * engine reads in global/pg_control (its first 8 bytes, little-endian), never what the
   * container's pg_controldata prints: that binary can be replaced.
   */
  controldata(role: string) {
    return this.once(`controldata:${role}`, async () => {
      const [r, control] = await Promise.all([
        this.exec(role, [`${this.profile.binDir}/pg_controldata`, this.profile.dataDir], { user: 'postgres' }),
        this.fileInfo(role, `${this.profile.dataDir}/global/pg_control`, 8192).catch(() => undefined),
      ]);
      const facts = r.exitCode === 0 ? controlFacts(r.stdout.toString()) : undefined;
      if (!facts) return undefined;
      const sysid = control && control.data.length >= 8 ? control.data.readBigUInt64LE(0).toString() : undefined;
      return { ...facts, systemIdentifier: sysid };
    });
  }

  /**
   * Current timeline. pg_controldata only shows it after the next checkpoint (a promotion
   * does not wait for one on 9.3+), so a running primary is asked for its current WAL file name.
   */
  timeline(role: string): Promise<number> {
    return this.once(`tli:${role}`, async () => {
      const running = await this.serverUp(role).catch(() => false);
      if (running && !(await this.inRecovery(role))) {
        const [[file]] = await this.sql(role, `SELECT ${this.profile.walFileFunction}(${this.profile.currentLsnFunction}())`);
        return parseInt(file.slice(0, 8), 16);
      }
      return (await this.controldata(role))?.timeline ?? 0;
    });
  }

  /** The container's processes as the engine's ps sees them (docker top): pid, ppid, executable name, title. */
  processes(role: string): Promise<ProcessLine[]> {
    return this.once(`ps:${role}`, async () => {
      if (!this.containerRunning(role)) throw new ServerDownError(role);
      return (await containerTop(this.container(role), TIMEOUTS.archiveReadMs)).map((p) => ({ pid: p.pid, ppid: p.ppid, comm: p.comm, args: p.args }));
    });
  }

  /**
   * postgresql.conf as written, plus conf.d/*.conf and postgresql.auto.conf on modern versions,
   * in the server's reading order. One exec for all files (each exec costs ~70 ms).
   */
  configFiles(role: string): Promise<{ main?: ParsedConf; mainText?: string; extra: ParsedConf[] }> {
    return this.once(`conf:${role}`, async () => {
      const { confDir, dataDir, recoveryConfFile } = this.profile;
      const files = recoveryConfFile ? [`${confDir}/postgresql.conf`] : [`${confDir}/postgresql.conf`, `${confDir}/conf.d/*.conf`, `${dataDir}/postgresql.auto.conf`];
      // Fixed script; the paths are ours and arrive as arguments (the glob is expanded by the shell).
      const script = `for p in "$@"; do for f in $p; do [ -f "$f" ] && { printf "\\036%s\\n" "$f"; head -c ${MAX_FILE_BYTES + 1} "$f"; }; done; done; true`;
      const r = await this.exec(role, ['sh', '-c', script, 'sh', ...files], { user: 'root' });
      const chunks = r.stdout.toString().split('\x1e').slice(1).map((chunk) => {
        const nl = chunk.indexOf('\n');
        return { path: chunk.slice(0, nl), text: chunk.slice(nl + 1) };
      });
      const big = chunks.find((c) => Buffer.byteLength(c.text) > MAX_FILE_BYTES);
      if (big) throw new FileTooLargeError(role, big.path, MAX_FILE_BYTES);
      const main = chunks.find((c) => c.path === files[0]);
      return { main: main ? parseConf(main.text) : undefined, mainText: main?.text, extra: chunks.filter((c) => c !== main).map((c) => parseConf(c.text)) };
    });
  }

  /**
   * Why a stopped server will not start, from its files alone (never its log): lines of
   * postgresql.conf, and on 9.1 of recovery.conf, that PostgreSQL cannot parse.
   */
  startupBlockers(role: string): Promise<string[]> {
    return this.once(`blockers:${role}`, async () => {
      const problems: string[] = [];
      const lines = (conf: ParsedConf) => conf.errors.map((e) => e.line).join(', ');
      const confPath = `${this.profile.confDir}/postgresql.conf`;
      if (!(await this.readableByPostgres(role, confPath))) problems.push(`${confPath}: postgres no puede leerlo (permisos) / not readable by postgres`);
      const { main } = await this.configFiles(role);
      if (main?.errors.length) problems.push(`${confPath} (${lines(main)})`);
      if (this.profile.recoveryConfFile) {
        const path = `${this.profile.dataDir}/recovery.conf`;
        const text = await this.readText(role, path);
        const recovery = text === undefined ? undefined : parseConf(text);
        if (recovery?.errors.length) problems.push(`${path} (${lines(recovery)})`);
      }
      return problems;
    });
  }

  /**
   * This server's flight record (see recorder.ts) and the last recovery.conf it saw, in one exec.
   * Records outside the env's lifetime are rejected. Undefined when there is no record at all.
   */
  recording(role: string): Promise<(Recording & { recoveryConf?: string }) | undefined> {
    return this.once(`recording:${role}`, async () => {
      const dir = '/var/lib/pglab/recorder';
      const script = 'for f in "$1/previous.tsv" "$1/current.tsv"; do [ -f "$f" ] && tail -c 2097152 "$f"; done; printf "\\036"; [ -f "$1/recovery.conf" ] && head -c 65536 "$1/recovery.conf"; true';
      const r = await this.exec(role, ['sh', '-c', script, 'sh', dir], { user: 'root' });
      const [tsv, recoveryConf] = r.stdout.toString('utf8').split('\x1e');
      if (!tsv && !recoveryConf) return undefined;
      const created = Date.parse(this.env.created) / 1000;
      const now = Date.now() / 1000;
      const recording = parseRecording(tsv, { notBefore: Number.isFinite(created) ? created - 120 : 0, notAfter: now + 120 });
      return { ...recording, recoveryConf: recoveryConf || undefined };
    });
  }

  /**
   * sha256 of postgresql.conf and pg_hba.conf as pg_createcluster wrote them for this env's locale,
   * read from the image (see docker/pg/Dockerfile); undefined for images that do not ship them.
   */
  pristineSums(): Promise<Map<string, string> | undefined> {
    return this.once('pristine', async () => {
      const server = this.env.servers.find((s) => s.state !== 'missing');
      if (!server || !this.env.imageId) return undefined;
      const info = await inspectContainer(server.container);
      const locale = (info?.env ?? []).find((e) => e.startsWith('PGLAB_LOCALE='))?.slice('PGLAB_LOCALE='.length) ?? 'es_AR.UTF-8';
      const dir = `/usr/share/pglab/pristine/${locale}`;
      const sums = await imageFileSums(this.env.imageId, [`${dir}/postgresql.conf`, `${dir}/pg_hba.conf`]);
      const conf = sums.get(`${dir}/postgresql.conf`);
      const hba = sums.get(`${dir}/pg_hba.conf`);
      return conf && hba ? new Map([['postgresql.conf', conf], ['pg_hba.conf', hba]]) : undefined;
    });
  }

  /** md5 of each file of the lab's packages as the image's cached .deb files declare it (see image-files.ts). */
  packageMd5s(packages: string[]): Promise<Map<string, Map<string, string>> | undefined> {
    return this.once(`debsums:${packages.join(',')}`, async () => (this.env.imageId ? imagePackageMd5s(this.env.imageId, packages) : undefined));
  }

  /**
   * SSH as seen from outside both servers, in one probe container of the env's image (its own ssh
   * client, unpacked from the image's cached packages): the host keys maestro and esclavo answer
   * with (ssh-keyscan), compared with their /etc/ssh/*.pub read by the engine, and a login to
   * postgres@esclavo with postgres@maestro's private keys and known_hosts, as archive_command would.
   */
  sshFacts(): Promise<SshFacts> {
    return this.once('ssh', async () => {
      const [home, hostKeys] = await Promise.all([
        this.archive('maestro', '/var/lib/postgresql/.ssh', { maxEntries: 50, maxDataPerFile: 64 * 1024, maxStreamBytes: 4 << 20 }).catch(() => undefined),
        Promise.all(['maestro', 'esclavo'].map((role) => this.archive(role, '/etc/ssh', { maxEntries: 100, maxDataPerFile: 16 * 1024, maxStreamBytes: 4 << 20 }).catch(() => undefined))),
      ]);
      const files: ProbeFile[] = [];
      let n = 0;
      for (const e of home?.entries ?? []) {
        const base = e.name.split('/').pop() ?? '';
        if (e.type !== 'f') continue;
        if (base === 'known_hosts') files.push({ name: 'known_hosts', content: e.data });
        else if (/^id_\w+$/.test(base) && e.data.subarray(0, 40).toString().includes('PRIVATE KEY')) files.push({ name: `id_${n++}`, content: e.data });
      }
      const expected = hostKeys.map((r) => new Set((r?.entries ?? [])
        .filter((e) => e.type === 'f' && /ssh_host_\w+_key\.pub$/.test(e.name))
        .map((e) => e.data.toString().trim().split(/\s+/)[1]).filter(Boolean)));
      const r = await runProbeContainer({
        image: this.env.imageId ?? '', network: networkName(this.env.name), env: this.env.name,
        script: SSH_PROBE_SCRIPT, args: [this.ip('maestro'), this.ip('esclavo')], files, timeoutMs: TIMEOUTS.probeContainerMs,
      });
      const sections = new Map(r.stdout.split('\x1e').slice(1).map((c) => {
        const nl = c.indexOf('\n');
        return [c.slice(0, nl), c.slice(nl + 1)] as [string, string];
      }));
      const answered = (i: number, ip: string) => {
        const keys = (sections.get(`scan ${ip}`) ?? '').split('\n').map((l) => l.trim().split(/\s+/)).filter((f) => f.length >= 3 && f[0] === ip).map((f) => f[2]);
        return { answered: keys.length > 0, matches: keys.some((k) => expected[i].has(k)) };
      };
      const login = sections.get('login') ?? '';
      const rc = /(?:^|\n)rc=(\w+)\s*$/.exec(login)?.[1];
      return {
        sshd: { maestro: answered(0, this.ip('maestro')), esclavo: answered(1, this.ip('esclavo')) },
        login: { exit: rc === undefined ? -1 : rc === 'noid' ? -2 : Number(rc), stderr: login.replace(/(?:^|\n)rc=\w+\s*$/, '').trim().split('\n').slice(-2).join(' | ').slice(0, 300), keys: n, knownHosts: files.some((f) => f.name === 'known_hosts') },
      };
    });
  }

  /** Value a setting has in the files (last one wins, in the server's reading order). */
  async fileSetting(role: string, key: string): Promise<string | undefined> {
    const { main, extra } = await this.configFiles(role);
    let value: string | undefined;
    for (const conf of [main, ...extra]) {
      for (const e of conf?.entries ?? []) if (e.key === key.toLowerCase()) value = e.value;
    }
    return value;
  }

  /** The postmaster's start time and its config load time (epoch seconds). */
  serverTimes(role: string): Promise<{ start: number; load: number }> {
    return this.once(`times:${role}`, async () => {
      const [[start, load]] = await this.sql(role, 'SELECT extract(epoch from pg_postmaster_start_time())::bigint, extract(epoch from pg_conf_load_time())::bigint');
      return { start: Number(start), load: Number(load) };
    });
  }
}

export class SqlError extends Error {}

export interface SshFacts {
  sshd: Record<'maestro' | 'esclavo', { answered: boolean; matches: boolean }>;
  /** exit of `ssh … postgres@esclavo true` from the probe (-2: maestro's postgres has no private key). */
  login: { exit: number; stderr: string; keys: number; knownHosts: boolean };
}

/** Fixed text run in the probe container; IPs arrive as $1 (maestro) and $2 (esclavo). */
const SSH_PROBE_SCRIPT = [
  'k=/tmp/pglab-probe; o=$k/o; mkdir -p "$o"; export LC_ALL=C',
  // The image's own ssh client, from the packages it caches for the students (never installed in it).
  'dpkg-deb --fsys-tarfile /var/cache/apt/archives/openssh-client_*.deb | tar -x -C "$o" ./usr/bin/ssh ./usr/bin/ssh-keyscan 2>/dev/null',
  // Libraries the image lacks (another Debian release): every cached package, unpacked.
  '"$o/usr/bin/ssh" -V >/dev/null 2>&1 || { for f in /var/cache/apt/archives/*.deb; do dpkg-deb -x "$f" "$o" 2>/dev/null; done; LD_LIBRARY_PATH=$(printf "%s:" "$o"/usr/lib/*-linux-gnu* "$o"/lib/*-linux-gnu*); export LD_LIBRARY_PATH; }',
  'for ip in "$1" "$2"; do timeout 8 "$o/usr/bin/ssh-keyscan" -t ed25519,rsa -T 3 "$ip" >"$k/scan-$ip" 2>/dev/null & done',
  'ids=(); for f in "$k"/id_*; do [ -f "$f" ] && ids+=(-i "$f"); done',
  'touch "$k/known_hosts"; x=noid',
  'if [ ${#ids[@]} -gt 0 ]; then timeout 12 "$o/usr/bin/ssh" -F /dev/null -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile="$k/known_hosts" -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=4 -o IdentitiesOnly=yes "${ids[@]}" "postgres@$2" true </dev/null 2>"$k/err"; x=$?; fi',
  'wait',
  'for ip in "$1" "$2"; do printf "\\036scan %s\\n" "$ip"; cat "$k/scan-$ip"; done',
  'printf "\\036login\\n"; [ -f "$k/err" ] && tail -c 400 "$k/err"; echo; echo "rc=$x"',
].join('\n');

export const PROBE_SCHEMA = 'pglab_probe';

const USER_TABLES_SQL = `SELECT n.nspname || '.' || c.relname,
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${PROBE_SCHEMA}')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY 1 LIMIT 20`;

/** pg_settings reports sizes in units (8kB pages, MB…); normalise memory to MB for comparisons. */
function normalizeUnit(setting: string, unit: string): string {
  const n = Number(setting);
  if (!unit || Number.isNaN(n)) return setting;
  const kb: Record<string, number> = { kB: 1, '8kB': 8, '16kB': 16, MB: 1024, '16MB': 16384, GB: 1024 * 1024 };
  if (unit in kb) return String((n * kb[unit]) / 1024) + 'MB';
  return setting;
}
