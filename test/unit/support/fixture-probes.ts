import type { Observation } from '../../../src/observer/records.js';
/**
 * FixtureProbes: a stand-in for `Probes` (src/pg/probes.ts) that answers from in-memory data built
 * from the real PostgreSQL 9.1 captures in shared/fixtures/pg91, so the real check functions can
 * judge a real 9.1 state without Docker.
 *
 * Two kinds of methods:
 * - Primitives, answered from the fixture: ip, containerRunning, readiness, sql, readFile, listDir,
 *   stat, controldata (real `controlFacts` over captured pg_controldata text), processes (real
 *   `parsePsList` over captured `ps` text), exec, userTables.
 * - Derived probes, inherited from the REAL facts API (FactProbes, src/pg/probes.ts) over those
 *   primitives: serverUp, inRecovery, settings, timeline, readText, configFiles, fileSetting,
 *   databases, sqlAttempt, serverTimes, startupBlockers. So the SQL they send (e.g. 9.1's `pg_xlogfile_name(pg_current_xlog_location())`)
 *   is the production text, and the test's SQL answers must expect it.
 *
 * Anything a test did not configure throws a FixtureError naming the call, instead of inventing an
 * answer. Paths: a path is "present" when it is in `files`/`dirs` or listed in its parent's
 * listing, "absent" when the parent is listed without it, and "unknown" (→ FixtureError) otherwise.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecResult } from '../../../src/docker/client.js';
import type { CheckContext } from '../../../src/checks/types.js';
import { labFacts } from '../../../src/lab/manifest.js';
import { controlFacts } from '../../../src/pg/controldata.js';
import { FactProbes, ServerDownError, type DirEntry, type SshFacts } from '../../../src/pg/probes.js';
import { profileFor, type PgProfile } from '../../../src/pg/profile.js';
import { parsePsList, type ProcessLine } from '../../../src/pg/ps.js';
import { parseUnaligned } from '../../../src/pg/psql.js';

export type Role = 'maestro' | 'esclavo';
export type Readiness = 'accepting' | 'rejecting' | 'down';

/** The state of one server. Every field is optional; a probe that needs a missing one throws. */
export interface RoleFixture {
  /** Container running (default true). When false: readiness 'down', exec/processes throw ServerDownError. */
  container?: boolean;
  /** What pg_isready would say. */
  readiness?: Readiness;
  /** File contents by absolute path (a prefix is enough: readFile returns at most maxBytes). */
  files?: Record<string, Buffer | string>;
  /** Directory listings by absolute directory path (see `lsLa`). */
  dirs?: Record<string, DirEntry[]>;
  /** `ps -ef` or `ps -eo pid=,args=` output. */
  ps?: string;
  /** `pg_controldata` output; null = pg_controldata failed (no data directory). */
  controldata?: string | null;
  /** User tables with row counts (db:schema.table → rows). */
  tables?: Map<string, number>;
}

/** Answers SQL sent to a running server. Throw for a query the test does not expect. */
export type SqlFn = (role: Role, query: string, opts: { database?: string }) => string[][];
export type ExecFn = (role: Role, argv: string[], opts: { user?: string; stdin?: string; env?: Record<string, string> }) => ExecResult;

export interface FixtureConfig {
  maestro?: RoleFixture;
  esclavo?: RoleFixture;
  sql?: SqlFn;
  exec?: ExecFn;
  profile?: PgProfile;
  ip?: { maestro: string; esclavo: string };
  /** The env observer's verified records (src/observer/); none: no observer. */
  observation?: Observation;
  /** md5 of package files as the image's .deb files declare them (package → path → md5); absent: presence only. */
  packageMd5s?: Map<string, Map<string, string>>;
  /** What the probe container would see of ssh (sshFacts); absent: sshFacts throws. */
  ssh?: SshFacts;
}

/** ssh and rsync really installed, as the checks read it: dpkg's status and the programs (any bytes: no md5s given). */
export const TOOLS_FILES: Record<string, string> = {
  '/var/lib/dpkg/status': ['openssh-server', 'openssh-client', 'rsync'].map((p) => `Package: ${p}\nStatus: install ok installed\nVersion: 1\n`).join('\n'),
  '/usr/bin/rsync': 'rsync-elf', '/usr/bin/ssh': 'ssh-elf', '/usr/bin/ssh-keygen': 'keygen-elf', '/usr/bin/ssh-keyscan': 'keyscan-elf', '/usr/sbin/sshd': 'sshd-elf',
};

export const IP91 = { maestro: '10.91.1.10', esclavo: '10.91.1.11' } as const;

export class FixtureError extends Error {
  constructor(message: string) {
    super(`FixtureProbes: ${message}`);
  }
}

export class FixtureProbes extends FactProbes {
  /** Every SQL the checks (and the real derived probes) sent, in order. */
  readonly queries: { role: Role; query: string; database?: string }[] = [];

  constructor(private readonly config: FixtureConfig) {
    const profile = config.profile ?? profileFor('9.1');
    const ip = config.ip ?? IP91;
    super({
      name: 'fixture', pg: profile.major, created: '',
      servers: (['maestro', 'esclavo'] as const).map((role) => ({ role, container: `fixture-${role}`, ip: ip[role], state: config[role]?.container === false ? 'exited' : 'running' })),
    });
  }

  private role(role: string): RoleFixture {
    if (role !== 'maestro' && role !== 'esclavo') throw new FixtureError(`unknown role "${role}"`);
    const fx = this.config[role];
    if (!fx) throw new FixtureError(`role ${role} is not configured by this test`);
    return fx;
  }

  private need<K extends keyof RoleFixture>(role: string, key: K, call: string): NonNullable<RoleFixture[K]> | null {
    const fx = this.role(role);
    if (!(key in fx) || fx[key] === undefined) throw new FixtureError(`${call} needs "${String(key)}" for ${role}, which this test did not configure`);
    return fx[key] as NonNullable<RoleFixture[K]> | null;
  }

  observation(): Promise<Observation | undefined> {
    return Promise.resolve(this.config.observation);
  }

  // ---- primitives -------------------------------------------------------------------------

  override ip(role: string): string {
    this.role(role);
    return (this.config.ip ?? IP91)[role as Role];
  }

  override containerRunning(role: string): boolean {
    return this.role(role).container !== false;
  }

  override async exec(role: string, argv: string[], opts: { user?: 'root' | 'postgres'; timeoutMs?: number; stdin?: string; env?: Record<string, string> } = {}): Promise<ExecResult> {
    if (!this.containerRunning(role)) throw new ServerDownError(role);
    // Probes.configFiles reads every config file in one `sh -c` (paths as arguments): answer it from the fixture files.
    if (argv[0] === 'sh' && argv[1] === '-c' && argv[2].includes('\\036')) {
      const parts: string[] = [];
      for (const file of argv.slice(4).filter((f) => !f.includes('*'))) {
        const text = await this.readFile(role, file).catch(() => undefined);
        if (text !== undefined) parts.push(`\x1e${file}\n${text.toString('utf8')}`);
      }
      return { exitCode: 0, stdout: Buffer.from(parts.join('')), stderr: Buffer.alloc(0), timedOut: false };
    }
    if (!this.config.exec) throw new FixtureError(`exec(${role}, ${JSON.stringify(argv)}) called but this test gave no exec handler`);
    return this.config.exec(role as Role, argv, opts);
  }

  override async readiness(role: string): Promise<Readiness> {
    if (!this.containerRunning(role)) return 'down';
    return this.need(role, 'readiness', `readiness(${role})`) as Readiness;
  }

  override async sql(role: string, query: string, opts: { timeoutMs?: number; memo?: boolean; database?: string } = {}): Promise<string[][]> {
    if (!(await this.serverUp(role))) throw new ServerDownError(role);
    this.queries.push({ role: role as Role, query, ...(opts.database !== undefined && { database: opts.database }) });
    if (!this.config.sql) throw new FixtureError(`sql(${role}) called but this test gave no SQL answers: ${query}`);
    return this.config.sql(role as Role, query, { database: opts.database }).map((r) => [...r]);
  }

  override async readFile(role: string, p: string, maxBytes = 1 << 20, _user: 'root' | 'postgres' = 'root'): Promise<Buffer | undefined> {
    const content = this.role(role).files?.[p];
    if (content !== undefined) return Buffer.from(content).subarray(0, maxBytes);
    const found = this.lookup(role, p, `readFile(${role}, ${p})`);
    if (!found) return undefined;
    if (found.type === 'd') return undefined; // head -c on a directory fails
    throw new FixtureError(`readFile(${role}, ${p}): the file is listed but its content was not given (add it to files)`);
  }

  /** readFile with the size the listing gives (fixtures keep only a segment's first page). */
  override async fileInfo(role: string, p: string, maxBytes: number): Promise<{ data: Buffer; size: number; uid: number; mtime: number } | undefined> {
    const data = await this.readFile(role, p, maxBytes);
    if (data === undefined) return undefined;
    const entry = this.parentEntry(role, p);
    return { data, size: entry?.size ?? Buffer.byteLength(this.role(role).files![p]), uid: 0, mtime: entry?.mtime ?? 0 };
  }

  /** The archive API over the listings and files: the path itself, then its children by name. */
  override async archive(role: string, p: string, limits: { maxDataPerFile?: number; stopAfter?: number } = {}) {
    const st = await this.stat(role, p);
    if (!st) return undefined;
    const base = p.split('/').pop() ?? p;
    const entry = (name: string, e: { type: string; size: number; mtime: number }, file?: Buffer | string) =>
      ({ name, type: e.type as 'f', size: e.size, mode: 0o600, uid: 0, mtime: e.mtime, linkname: '', data: file === undefined ? Buffer.alloc(0) : Buffer.from(file).subarray(0, limits.maxDataPerFile ?? 0) });
    const entries = [entry(base, st, this.role(role).files?.[p])];
    if (st.type === 'd') {
      const children = [...((await this.listDir(role, p)) ?? [])].sort((a, b) => a.name.localeCompare(b.name));
      for (const c of children) entries.push(entry(`${base}/${c.name}`, c, this.role(role).files?.[`${p}/${c.name}`]));
    }
    return { entries: entries.slice(0, limits.stopAfter ?? entries.length), truncated: false };
  }

  override async packageMd5s(): Promise<Map<string, Map<string, string>> | undefined> {
    return this.config.packageMd5s;
  }

  override async sshFacts(): Promise<SshFacts> {
    if (!this.config.ssh) throw new FixtureError('sshFacts() called but this test gave no ssh facts');
    return this.config.ssh;
  }

  override async listDir(role: string, dir: string): Promise<DirEntry[] | undefined> {
    const listing = this.role(role).dirs?.[dir];
    if (listing) return listing.map((e) => ({ ...e }));
    const found = this.lookup(role, dir, `listDir(${role}, ${dir})`);
    if (!found) return undefined;
    throw new FixtureError(`listDir(${role}, ${dir}): the directory exists but its listing was not given (add it to dirs)`);
  }

  override async stat(role: string, p: string): Promise<{ type: string; owner: string; mtime: number; size: number; mode: number } | undefined> {
    const fx = this.role(role);
    const entry = this.parentEntry(role, p);
    if (entry) return { type: entry.type, owner: entry.owner, mtime: entry.mtime, size: entry.size, mode: NaN };
    // Given without a listing: taken as postgres-owned (every captured data file is), mtime unknown (0).
    const content = fx.files?.[p];
    if (content !== undefined) return { type: 'f', owner: 'postgres', mtime: 0, size: Buffer.byteLength(content), mode: NaN };
    if (fx.dirs?.[p]) return { type: 'd', owner: 'postgres', mtime: 0, size: 4096, mode: NaN };
    this.lookup(role, p, `stat(${role}, ${p})`); // throws when unknown
    return undefined;
  }

  override async controldata(role: string) {
    const text = this.need(role, 'controldata', `controldata(${role})`);
    return text === null ? undefined : controlFacts(text as string);
  }

  override async processes(role: string): Promise<ProcessLine[]> {
    if (!this.containerRunning(role)) throw new ServerDownError(role);
    return parsePsList(this.need(role, 'ps', `processes(${role})`) as string);
  }

  override async userTables(role: string, _opts: { memo?: boolean } = {}): Promise<Map<string, number>> {
    return new Map(this.need(role, 'tables', `userTables(${role})`) as Map<string, number>);
  }

  // ---- derived: the production code over the primitives above -----------------------------

  /** The captures were taken with intact permissions: every config file is readable by postgres. */
  override async readableByPostgres(_role: string, _p: string): Promise<boolean> {
    return true;
  }

  // ---- helpers ----------------------------------------------------------------------------

  private parentEntry(role: string, p: string): DirEntry | undefined {
    return this.role(role).dirs?.[path.posix.dirname(p)]?.find((e) => e.name === path.posix.basename(p));
  }

  /** The path's entry in its parent's listing; undefined if listed as absent; throws if nothing covers it. */
  private lookup(role: string, p: string, call: string): DirEntry | undefined {
    const fx = this.role(role);
    if (!fx.files && !fx.dirs) throw new FixtureError(`${call} needs "files"/"dirs" for ${role}, which this test did not configure`);
    const parent = path.posix.dirname(p);
    const listing = fx.dirs?.[parent];
    if (!listing) throw new FixtureError(`${call}: no fixture covers this path (give it in files/dirs, or list ${parent})`);
    return listing.find((e) => e.name === path.posix.basename(p));
  }
}

/** The context a check gets, for PostgreSQL 9.1, the captures' addresses and wal-streaming's facts. */
export function ctx91(probes: FixtureProbes): CheckContext {
  return { probes, profile: profileFor('9.1'), ip: { maestro: IP91.maestro, esclavo: IP91.esclavo }, facts: labFacts('wal-streaming') };
}

// ---- captured files -----------------------------------------------------------------------

export const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../shared/fixtures/pg91');
/** A capture as text; `name` is relative to shared/fixtures/pg91 (`es/…` for the Spanish run). */
export const fx = (name: string): string => readFileSync(path.join(FIXTURES, name), 'utf8');
export const fxBuffer = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));

const MONTHS: Record<string, number> = {
  jan: 0, ene: 0, feb: 1, mar: 2, apr: 3, abr: 3, may: 4, jun: 5, jul: 6, aug: 7, ago: 7,
  sep: 8, sept: 8, set: 8, oct: 9, nov: 10, dec: 11, dic: 11,
};
const LS_LINE = /^([-dlcbps])[rwxsStT-]{9}[.+@]?\s+\d+\s+(\S+)\s+\S+\s+(\d+)\s+(\S+)\s+(\d{1,2})\s+(\d{1,2}:\d{2}|\d{4})\s+(.*)$/;

/**
 * `ls -la` output (one listing, or several with `dir:` headers as `ls -la a b` prints them) to
 * DirEntry lists keyed by directory, as `find -printf '%f\t%s\t%y\t%u\t%T@'` would give them:
 * `.` and `..` dropped, type f/d/l…, mtime in epoch seconds with ls's minute resolution (the
 * wall-clock time read as UTC; `year` fills in what ls omits). English and Spanish month names.
 */
export function lsLa(text: string, dir?: string, year = 2026): Record<string, DirEntry[]> {
  const out: Record<string, DirEntry[]> = {};
  let current = dir?.replace(/\/+$/, '');
  for (const line of text.split(/\r?\n/)) {
    const header = /^(\/.*?)\/?:$/.exec(line);
    if (header) { current = header[1]; continue; }
    const m = LS_LINE.exec(line);
    if (!m) continue;
    if (current === undefined) throw new Error('lsLa: listing without a directory header; pass dir');
    const [, t, owner, size, mon, day, timeOrYear, rawName] = m;
    const name = t === 'l' ? rawName.replace(/ -> .*$/, '') : rawName;
    if (name === '.' || name === '..') { (out[current] ??= []); continue; }
    const month = MONTHS[mon.toLowerCase().replace(/\.$/, '')];
    if (month === undefined) throw new Error(`lsLa: unknown month "${mon}"`);
    const [hh, mm] = timeOrYear.includes(':') ? timeOrYear.split(':').map(Number) : [0, 0];
    const y = timeOrYear.includes(':') ? year : Number(timeOrYear);
    (out[current] ??= []).push({ name, size: Number(size), type: t === '-' ? 'f' : t, owner, mtime: Date.UTC(y, month, Number(day), hh, mm) / 1000 });
  }
  return out;
}

/** A captured query result: the column names the server printed and the rows as records. */
export interface CapturedTable { columns: string[]; rows: Record<string, string>[] }

/**
 * psql output to a CapturedTable: aligned (`col | col`, dashes, rows, `(N rows)`; for several
 * tables in one file, pass the one wanted as `index`) or unaligned (`-A`: header line, rows, footer).
 */
export function psqlTable(text: string, index = 0): CapturedTable {
  const lines = text.split(/\r?\n/);
  const footer = (l: string) => /^\(\d+ [^\s()]+\)$/.test(l.trim());
  const tables: CapturedTable[] = [];
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].trim() || !/^-+(\+-+)*$/.test(lines[i + 1])) continue;
    const columns = lines[i].split('|').map((h) => h.trim());
    const rows: Record<string, string>[] = [];
    for (i += 2; i < lines.length && lines[i].trim() && !footer(lines[i]); i++) {
      const fields = lines[i].split('|').map((f) => f.trim());
      rows.push(Object.fromEntries(columns.map((h, k) => [h, fields[k] ?? ''])));
    }
    tables.push({ columns, rows });
  }
  if (tables.length) {
    if (!tables[index]) throw new Error(`psqlTable: no table #${index}`);
    return tables[index];
  }
  const head = lines.find((l) => l !== '');
  if (head === undefined) throw new Error('psqlTable: empty text');
  return { columns: head.split('|'), rows: parseUnaligned(text) };
}

// ---- SQL answers --------------------------------------------------------------------------

export interface SqlRule {
  role?: Role;
  /** Exact text (whitespace-normalised) or a pattern. */
  query: string | RegExp;
  rows: string[][] | ((query: string) => string[][]);
}

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();

/** An SqlFn answering only the listed queries; anything else throws with the query text. */
export function sqlAnswers(rules: SqlRule[]): SqlFn {
  return (role, query) => {
    const rule = rules.find((r) => (!r.role || r.role === role) && (typeof r.query === 'string' ? squash(r.query) === squash(query) : r.query.test(query)));
    if (!rule) throw new FixtureError(`unexpected SQL on ${role}: ${squash(query)}`);
    return typeof rule.rows === 'function' ? rule.rows(query) : rule.rows;
  };
}

/**
 * A rule answering `SELECT <list> FROM <relation>` from captured rows of that relation (records keyed
 * by the column names the 9.1 server printed). Each select item must be a captured column, possibly
 * wrapped in one function call such as host(client_addr) or coalesce(unit, ''); a column the 9.1
 * capture does not have (pid, sent_lsn…) throws. host(inet) is taken as the captured text, which for
 * the /32 addresses in the captures is the same.
 */
export function selectFrom(relation: string, captured: CapturedTable, role?: Role): SqlRule {
  const re = new RegExp(String.raw`^\s*SELECT\s+([\s\S]+?)\s+FROM\s+${relation}\s*;?\s*$`, 'i');
  const columns = new Set(captured.columns);
  return {
    role,
    query: re,
    rows: (query) => {
      const items = splitTopLevel(re.exec(query)![1]);
      const cols = items.map((item) => {
        const m = /^(?:\w+\s*\(\s*)?(\w+)(?:\s*,[^)]*)?\s*\)?$/.exec(item.trim());
        if (!m || !columns.has(m[1])) {
          throw new FixtureError(`"${item.trim()}" is not a column of the captured ${relation} (9.1 columns: ${[...columns].join(', ')})`);
        }
        return m[1];
      });
      return captured.rows.map((rec) => cols.map((c) => rec[c]));
    },
  };
}

function splitTopLevel(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const c of list) {
    if (c === "'") quoted = !quoted;
    if (!quoted && c === '(') depth++;
    if (!quoted && c === ')') depth--;
    if (!quoted && depth === 0 && c === ',') { out.push(cur); cur = ''; continue; }
    cur += c;
  }
  out.push(cur);
  return out;
}
