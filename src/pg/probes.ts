/**
 * Probes: the facts graders ask for ("settings in effect on maestro", "files in the archive",
 * "is esclavo in recovery"). One Probes object lives for one `lab check` run and memoizes every
 * fact, so concurrent checks share one probe per fact. Every probe has a timeout.
 *
 * Three parts: the facts API (this file: `Probes`, and `FactProbes`, every fact over one primitive,
 * `exec`), the transport that takes a fact's command to a container (probe-transport.ts: batches,
 * merged psql sessions) and the plan cache (plan-cache.ts: which facts the last run of a step
 * needed). Test fakes extend FactProbes and answer the primitives they need from fixtures.
 */
import { execInContainer } from '../docker/client.js';
import { containerTop, readArchive, type ArchiveLimits, type ArchiveRead, type TopProcess } from '../docker/container-files.js';
import { inspectContainer, type ContainerInspect } from '../docker/objects.js';
import { InspectorFiles } from '../docker/inspector-files.js';
import { ensureInspector, runProbeContainer, type ProbeFile } from '../docker/probe-container.js';
import { nodeOf } from '../docker/route.js';
import { networkName } from '../env/naming.js';
import { imageFileSums, imagePackageMd5s } from '../images/image-files.js';
import { TIMEOUTS } from '../timeouts.js';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { userCacheDir } from '../paths.js';
import path from 'node:path';
import { parseConf, type ParsedConf } from './conf.js';
import { controlFacts } from './controldata.js';
import { PLANS, type PlannedFact } from './plan-cache.js';
import { ProbeTimeoutError, ProbeTransport, SEP, ServerDownError, type ExecResult, type ProbeExecOptions } from './probe-transport.js';
import { type ProcessLine } from './ps.js';
import { knownHashes, rememberHashes } from './identity-cache.js';
import { identityOf, identityScript, identityScriptFile, splitByServer, type ServerIdentity } from './server-identity.js';
import { OBSERVER_TMP, observerHomeDir, observerOf, observerSocketDir, readObservation } from '../observer/observer.js';
import type { Observation } from '../observer/records.js';
import { profileFor, type PgMajor, type PgProfile } from './profile.js';
import { parseReadiness, readinessArgv, type Readiness } from './readiness.js';
import { parseRecording, type Recording } from './recorder.js';
import { traced } from '../trace.js';

export { ProbeTimeoutError, ServerDownError, type ExecResult, type ProbeExecOptions };
export type { PlannedFact };

/** A file bigger than graders read: said plainly instead of judging a truncated copy. */
export class FileTooLargeError extends Error {
  constructor(readonly role: string, readonly path: string, readonly limit: number) {
    super(`${role}:${path} is larger than ${limit} bytes`);
  }
}

/** Config files up to this size are read whole (a 100k-line pg_hba.conf is about 6 MiB). */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;

export interface DirEntry { name: string; size: number; type: string; owner: string; mtime: number }

/** Directory entries a listing keeps; `truncated` says it was cut. */
export const MAX_DIR_ENTRIES = 5000;

/** A regular file's first bytes with its real size, owner's uid and mtime, as the engine reads them. */
export interface FileInfo { data: Buffer; size: number; uid: number; mtime: number }

/** SSH as a probe container sees it (see sshFacts). */
export interface SshFacts {
  sshd: Record<'maestro' | 'esclavo', { answered: boolean; matches: boolean }>;
  /** exit of `ssh … postgres@esclavo true` from the probe (-2: maestro's postgres has no private key). */
  login: { exit: number; stderr: string; keys: number; knownHosts: boolean };
}

/** What probes need of an env (an env/ LabEnv is one): its version, servers and age. */
export interface ProbeEnv {
  name: string;
  pg: PgMajor;
  /** ISO time the env was made (bounds the flight record). */
  created: string;
  imageId?: string;
  /** emulated: the image is of another architecture than the engine's (discovery.ts), so it runs under qemu-user. */
  servers: readonly { role: string; container: string; ip: string; state: string; emulated?: boolean; node?: string; arch?: string }[];
}

export type ControlFacts = ReturnType<typeof controlFacts>;

/** Server identities seen by this process (a `lab check` lasts less than this; `lab web` and the portal poll). */
const IDENTITY_CACHE = new Map<string, { at: number; identity: ServerIdentity }>();
const IDENTITY_TTL_MS = 10_000;

/** The facts a check may ask for. Implemented by EnvProbes (real containers) and by the unit tests' fakes. */
export interface Probes {
  readonly env: ProbeEnv;
  readonly profile: PgProfile;
  /** The version's own psql binary (for the rare check that runs its own session through exec). */
  readonly psql: string;
  ip(role: string): string;
  containerRunning(role: string): boolean;
  /** Forget memoized facts whose key starts with `prefix` (after a probe write, or when polling). */
  forget(prefix: string): void;
  /** A fresh random value for a grader's probe write, named by its purpose (a hand-in's replay gives back the recorded one). */
  nonce(purpose: string, bytes?: number): string;
  /** A command of the check's own (argv, never a shell string of student text) in a server's container. */
  exec(role: string, argv: string[], opts?: ProbeExecOptions & { fresh?: boolean }): Promise<ExecResult>;
  serverUp(role: string): Promise<boolean>;
  readiness(role: string): Promise<Readiness>;
  databases(role: string): Promise<string[]>;
  userTables(role: string, opts?: { memo?: boolean }): Promise<Map<string, number>>;
  sql(role: string, query: string, opts?: { timeoutMs?: number; memo?: boolean; database?: string }): Promise<string[][]>;
  sqlAttempt(role: string, query: string): Promise<{ ok: boolean; sqlstate?: string; message: string }>;
  settings(role: string): Promise<Map<string, string>>;
  inRecovery(role: string): Promise<boolean>;
  readFile(role: string, path: string, maxBytes?: number, user?: 'root' | 'postgres'): Promise<Buffer | undefined>;
  /** The first maxBytes of a regular file, its real size and owner, read by the engine (never a binary of the container). */
  fileInfo(role: string, path: string, maxBytes: number): Promise<FileInfo | undefined>;
  /** A path as the engine archives it (the path, then its children), bounded; undefined when absent. */
  archive(role: string, path: string, limits?: ArchiveLimits): Promise<ArchiveRead | undefined>;
  /** md5 of the lab packages' files as the image's cached .deb files declare them; undefined without them. */
  packageMd5s(packages: string[]): Promise<Map<string, Map<string, string>> | undefined>;
  /** SSH proven from a probe container of the env's image (host keys, passwordless login). */
  sshFacts(): Promise<SshFacts>;
  readableByPostgres(role: string, path: string): Promise<boolean>;
  readText(role: string, path: string): Promise<string | undefined>;
  listDir(role: string, dir: string): Promise<(DirEntry[] & { truncated?: boolean }) | undefined>;
  /** mode: permission bits, when the probe could read them. */
  stat(role: string, path: string): Promise<{ type: string; owner: string; mtime: number; size: number; mode?: number } | undefined>;
  controldata(role: string): Promise<ControlFacts | undefined>;
  timeline(role: string): Promise<number>;
  processes(role: string): Promise<ProcessLine[]>;
  configFiles(role: string): Promise<{ main?: ParsedConf; mainText?: string; extra: ParsedConf[] }>;
  startupBlockers(role: string): Promise<string[]>;
  recording(role: string): Promise<(Recording & { recoveryConf?: string }) | undefined>;
  pristineSums(): Promise<Map<string, string> | undefined>;
  fileSetting(role: string, key: string): Promise<string | undefined>;
  serverTimes(role: string): Promise<{ start: number; load: number }>;
  /** Whether what answers on a running server's socket is the image's PostgreSQL (see server-identity.ts). */
  serverIdentity(role: string): Promise<ServerIdentity>;
}

/**
 * Every fact of `Probes`, memoized, over one primitive: `exec` (a command in a server's container).
 * A fake overrides exec, or the facts it answers from fixtures; the rest is this production code.
 */
export abstract class FactProbes implements Probes {
  readonly profile: PgProfile;
  private memo = new Map<string, Promise<unknown>>();

  constructor(readonly env: ProbeEnv) {
    this.profile = profileFor(env.pg);
  }

  abstract exec(role: string, argv: string[], opts?: ProbeExecOptions & { fresh?: boolean }): Promise<ExecResult>;

  /**
   * Primitives read from the host side, outside the student's reach: the engine's archive API,
   * `docker top`, a probe container of the image. Only real envs have them (EnvProbes); a fake
   * answers the facts built on them instead.
   */
  protected readArchiveOf(_role: string, _path: string, _limits: ArchiveLimits): Promise<ArchiveRead | undefined> {
    return Promise.reject(new Error('archive API not available'));
  }

  /** A read by lab's inspector only; 'unread' where it cannot vouch for it (and in fakes). */
  protected inspectorRead(_role: string, _path: string, _limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    return Promise.resolve('unread');
  }

  protected topOf(_role: string): Promise<TopProcess[]> {
    return Promise.reject(new Error('docker top not available'));
  }

  protected probeContainer(_script: string, _args: string[], _files: ProbeFile[]): Promise<{ exitCode: number; stdout: string }> {
    return Promise.reject(new Error('probe container not available'));
  }

  /** The identity probe's raw output for one server (a probe container in that server's pid namespace). */
  protected identityProbeOf(_role: string): Promise<{ exitCode: number; stdout: string }> {
    return Promise.reject(new Error('probe container not available'));
  }

  serverIdentity(role: string): Promise<ServerIdentity> {
    return this.once(`identity:${role}`, undefined, async () => {
      // A live view checks every few seconds: one probe container per server per IDENTITY_TTL_MS in such a process.
      const key = `${this.env.name}/${role}`;
      const cached = IDENTITY_CACHE.get(key);
      if (cached && Date.now() - cached.at < IDENTITY_TTL_MS) return cached.identity;
      const r = await traced(`identity ${role}`, () => this.identityProbeOf(role)).catch(() => undefined);
      const identity: ServerIdentity = r ? identityOf(r.exitCode, r.stdout) : { verdict: 'unknown', listeners: [] };
      if (identity.verdict !== 'unknown') IDENTITY_CACHE.set(key, { at: Date.now(), identity });
      return identity;
    });
  }

  packageMd5s(_packages: string[]): Promise<Map<string, Map<string, string>> | undefined> {
    return Promise.resolve(undefined);
  }

  /** Docker's own facts about the image (not a container's): only real envs have them. */
  pristineSums(): Promise<Map<string, string> | undefined> {
    return Promise.resolve(undefined);
  }

  ip(role: string): string {
    return this.env.servers.find((s) => s.role === role)?.ip ?? '';
  }

  containerRunning(role: string): boolean {
    return this.env.servers.find((s) => s.role === role)?.state === 'running';
  }

  /** A fact was asked for (`created`: first time this run): EnvProbes keeps it for the plan of the next run. */
  protected noted(_key: string, _fact: PlannedFact, _created: boolean): void {}

  protected once<T>(key: string, fact: PlannedFact | undefined, fn: () => Promise<T>): Promise<T> {
    let p = this.memo.get(key) as Promise<T> | undefined;
    const created = !p;
    if (!p) {
      p = fn();
      this.memo.set(key, p);
    }
    if (fact) this.noted(key, fact, created);
    return p;
  }

  /**
   * A fresh random value for a grader's probe write (a row only this grading knows). Drawn here so
   * a hand-in's recording can give the replay the same value (src/handin/replay.ts); `purpose`
   * names the draw for that.
   */
  nonce(purpose: string, bytes = 8): string {
    void purpose;
    return randomBytes(bytes).toString('hex');
  }

  forget(prefix: string): void {
    for (const k of [...this.memo.keys()]) if (k.startsWith(prefix)) this.memo.delete(k);
  }

  /** Is PostgreSQL accepting connections on this server? */
  async serverUp(role: string): Promise<boolean> {
    return (await this.readiness(role)) === 'accepting';
  }

  /** accepting, rejecting (starting up, or a standby without hot_standby), down (see readiness.ts). */
  readiness(role: string): Promise<Readiness> {
    return this.once(`ready:${role}`, { kind: 'readiness', role, args: [] }, async () => {
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
    return this.once(`dbs:${role}`, { kind: 'databases', role, args: [] }, async () =>
      // Hex-encoded by the server, as table names: a newline in a name cannot split it.
      (await this.sql(role, "SELECT encode(convert_to(datname, 'UTF8'), 'hex') FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY datname LIMIT 10"))
        .map(([d]) => Buffer.from(d, 'hex').toString('utf8')));
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
        for (const [hex, count] of rows) result.set(`${db}:${Buffer.from(hex, 'hex').toString('utf8')}`, Number(count));
      }
      return result;
    };
    return opts.memo === false ? run() : this.once(`tables:${role}`, { kind: 'userTables', role, args: [] }, run);
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
    return opts.memo === false ? run() : this.once(`sql:${role}:${opts.database ?? ''}:${query}`, { kind: 'sql', role, args: [query, opts.database ?? ''] }, run);
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
    return this.once(`settings:${role}`, { kind: 'settings', role, args: [] }, async () => {
      const rows = await this.sql(role, 'SELECT name, setting, coalesce(unit, \'\') FROM pg_settings');
      return new Map(rows.map(([name, setting, unit]) => [name, normalizeUnit(setting, unit)]));
    });
  }

  inRecovery(role: string): Promise<boolean> {
    return this.once(`recovery:${role}`, { kind: 'inRecovery', role, args: [] }, async () => (await this.sql(role, 'SELECT pg_is_in_recovery()'))[0][0] === 't');
  }

  /**
   * File contents (up to maxBytes); undefined when the file does not exist or is not a regular file.
   * Read by the engine (archive API), never by a binary of the container. (`user` is kept for plans.)
   */
  readFile(role: string, path: string, maxBytes = MAX_FILE_BYTES, user: 'root' | 'postgres' = 'root'): Promise<Buffer | undefined> {
    return this.once(`file:${role}:${path}:${maxBytes}`, { kind: 'readFile', role, args: [path, maxBytes, user] }, async () => {
      const f = await this.fileInfo(role, path, maxBytes);
      if (!f) return undefined;
      if (f.size > maxBytes && maxBytes >= MAX_FILE_BYTES) throw new FileTooLargeError(role, path, maxBytes);
      return f.data;
    });
  }

  fileInfo(role: string, path: string, maxBytes: number): Promise<FileInfo | undefined> {
    return this.once(`finfo:${role}:${path}:${maxBytes}`, { kind: 'fileInfo', role, args: [path, maxBytes] }, async () => {
      const r = await this.readArchiveOf(role, path, { maxDataPerFile: maxBytes, stopAfter: 1, maxStreamBytes: maxBytes + 64 * 1024 });
      const e = r?.entries[0];
      return e && e.type === 'f' ? { data: e.data, size: e.size, uid: e.uid, mtime: e.mtime } : undefined;
    });
  }

  archive(role: string, path: string, limits: ArchiveLimits = {}): Promise<ArchiveRead | undefined> {
    const json = JSON.stringify(limits);
    return this.once(`archive:${role}:${path}:${json}`, { kind: 'archive', role, args: [path, json] }, () => this.readArchiveOf(role, path, limits));
  }

  /** User names by uid from the container's /etc/passwd (names only label the uids the engine reports). */
  users(role: string): Promise<Map<number, string>> {
    return this.once(`passwd:${role}`, undefined, async () => {
      const text = (await this.fileInfo(role, '/etc/passwd', 1 << 20))?.data.toString('utf8') ?? '';
      return new Map(text.split('\n').map((l) => l.split(':')).filter((f) => f.length > 3).map((f) => [Number(f[2]), f[0]] as [number, string]));
    });
  }

  /** Can the postgres user read this file? (root, who runs the graders, reads anything.) */
  readableByPostgres(role: string, path: string): Promise<boolean> {
    return this.once(`readable:${role}:${path}`, { kind: 'readable', role, args: [path] }, async () => (await this.exec(role, ['test', '-r', path], { user: 'postgres' })).exitCode === 0);
  }

  async readText(role: string, path: string): Promise<string | undefined> {
    return (await this.readFile(role, path))?.toString('utf8');
  }

  /**
   * Entries of a directory (depth 1); undefined when it does not exist. Read by the inspector
   * (headers only) where it can vouch for the server's root; else by the container's find, whose
   * names are candidates only: what earns points is read again by the engine (readFile, fileInfo).
   * At most MAX_DIR_ENTRIES; `truncated` says the listing was cut.
   */
  listDir(role: string, dir: string): Promise<(DirEntry[] & { truncated?: boolean }) | undefined> {
    return this.once(`ls:${role}:${dir}`, { kind: 'listDir', role, args: [dir] }, async () => {
      const read = await this.listDirByInspector(role, dir);
      const found = read === 'unread' ? await this.listDirByFind(role, dir) : read;
      if (!found) return undefined;
      const out: DirEntry[] & { truncated?: boolean } = found.entries.slice(0, MAX_DIR_ENTRIES);
      if (found.truncated || found.entries.length > MAX_DIR_ENTRIES) out.truncated = true;
      return out;
    });
  }

  /** listDir by the inspector (headers only): undefined when there is no such directory, 'unread' where it cannot vouch for the read. */
  private async listDirByInspector(role: string, dir: string): Promise<{ entries: DirEntry[]; truncated: boolean } | undefined | 'unread'> {
    const read = await this.inspectorRead(role, dir, { maxEntries: MAX_DIR_ENTRIES + 1, maxStreamBytes: 16 << 20 });
    if (read === 'unread') return read;
    const top = read?.entries[0];
    if (!top || top.type !== 'd') return undefined;
    // /etc/passwd: usually in the same first read, by the plan.
    const names = await this.users(role).catch(() => new Map<number, string>());
    const prefix = `${top.name}/`;
    // Children only (the read goes on into subdirectories).
    const entries = read.entries.slice(1).filter((e) => e.name.startsWith(prefix) && !e.name.slice(prefix.length).includes('/')).map((e) => ({
      name: e.name.slice(prefix.length), size: e.size, type: e.type === 'h' ? 'f' : e.type === 'o' ? 'p' : e.type, owner: names.get(e.uid) ?? String(e.uid), mtime: e.mtime,
    }));
    return { entries, truncated: read.truncated };
  }

  /** listDir by the container's find: its names are candidates only (see listDir). */
  private async listDirByFind(role: string, dir: string): Promise<{ entries: DirEntry[]; truncated: boolean } | undefined> {
    const r = await this.exec(role, ['find', dir, '-mindepth', '1', '-maxdepth', '1', '-printf', '%f\\t%s\\t%y\\t%u\\t%T@\\n'], { user: 'root' });
    if (r.exitCode !== 0 && !r.stdout.length) return undefined;
    const entries = r.stdout.toString().split('\n').filter(Boolean).slice(0, MAX_DIR_ENTRIES + 1).map((line) => {
      const [name, size, type, owner, mtime] = line.split('\t');
      return { name, size: Number(size), type, owner, mtime: Number(mtime) };
    });
    return { entries, truncated: Boolean(r.truncated) };
  }

  /** Stat of one path: type (d/f/l…), owner, mtime; undefined when absent. Read by the engine (archive API). */
  stat(role: string, path: string): Promise<{ type: string; owner: string; mtime: number; size: number; mode: number } | undefined> {
    return this.once(`stat:${role}:${path}`, { kind: 'stat', role, args: [path] }, async () => {
      // /etc/passwd asked for at once (one read of the inspector for both).
      const users = this.users(role);
      users.catch(() => {});
      const r = await this.readArchiveOf(role, path, { stopAfter: 1 });
      const e = r?.entries[0];
      if (!e) return undefined;
      const owner = (await users).get(e.uid) ?? String(e.uid);
      return { type: e.type, owner, mtime: e.mtime, size: e.size, mode: e.mode & 0o7777 };
    });
  }

  /**
   * pg_controldata facts (works while the server is stopped). The system identifier is what the
   * engine reads in global/pg_control (its first 8 bytes, little-endian), never what the
   * container's pg_controldata prints: that binary can be replaced.
   */
  controldata(role: string): Promise<ControlFacts | undefined> {
    return this.once(`controldata:${role}`, { kind: 'controldata', role, args: [] }, async () => {
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
    return this.once(`tli:${role}`, { kind: 'timeline', role, args: [] }, async () => {
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
    return this.once(`ps:${role}`, { kind: 'processes', role, args: [] }, async () => {
      if (!this.containerRunning(role)) throw new ServerDownError(role);
      return (await this.topOf(role)).map((p) => ({ pid: p.pid, ppid: p.ppid, comm: p.comm, args: p.args }));
    });
  }

  /**
   * postgresql.conf as written, plus conf.d/*.conf and postgresql.auto.conf on modern versions,
   * in the server's reading order. Read by the inspector or the engine, never by the container's
   * own tools (a link is followed, as the server does).
   */
  configFiles(role: string): Promise<{ main?: ParsedConf; mainText?: string; extra: ParsedConf[] }> {
    return this.once(`conf:${role}`, { kind: 'configFiles', role, args: [] }, async () => {
      const { confDir, dataDir, recoveryConfFile } = this.profile;
      const mainPath = `${confDir}/postgresql.conf`;
      const [main, confD, auto] = await Promise.all([
        this.confText(role, mainPath),
        recoveryConfFile ? undefined : this.archive(role, `${confDir}/conf.d`, { maxEntries: 200, maxDataPerFile: MAX_FILE_BYTES + 1, maxStreamBytes: 64 << 20 }).catch(() => undefined),
        recoveryConfFile ? undefined : this.confText(role, `${dataDir}/postgresql.auto.conf`),
      ]);
      const extra: string[] = [];
      // conf.d/*.conf in name order, as the shell's glob and the server's include_dir take them (no hidden files).
      const children = (confD?.entries ?? []).slice(1).filter((e) => /^[^/]+\/[^./][^/]*\.conf$/.test(e.name)).sort((a, b) => (a.name < b.name ? -1 : 1));
      for (const e of children) {
        const file = `${confDir}/${e.name}`;
        const text = e.type === 'f' ? confData(role, file, e.data) : e.type === 'l' ? await this.confText(role, file) : undefined;
        if (text !== undefined) extra.push(text);
      }
      if (auto !== undefined) extra.push(auto);
      return { main: main === undefined ? undefined : parseConf(main), mainText: main, extra: extra.map((t) => parseConf(t)) };
    });
  }

  /** A config file's text, through up to 8 links (the server follows them); undefined when it is not a readable regular file. */
  private async confText(role: string, filePath: string): Promise<string | undefined> {
    let at = filePath;
    for (let hops = 0; hops < 8; hops++) {
      const r = await this.archive(role, at, { maxDataPerFile: MAX_FILE_BYTES + 1, stopAfter: 1, maxStreamBytes: MAX_FILE_BYTES + (64 << 10) });
      const e = r?.entries[0];
      if (!e) return undefined;
      if (e.type === 'f') return confData(role, filePath, e.data);
      if (e.type !== 'l' || !e.linkname) return undefined;
      at = e.linkname.startsWith('/') ? e.linkname : path.posix.join(path.posix.dirname(at), e.linkname);
    }
    return undefined;
  }

  /**
   * Why a stopped server will not start, from its files alone (never its log): lines of
   * postgresql.conf, and on 9.1 of recovery.conf, that PostgreSQL cannot parse.
   */
  startupBlockers(role: string): Promise<string[]> {
    return this.once(`blockers:${role}`, { kind: 'startupBlockers', role, args: [] }, async () => {
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
    return this.once(`recording:${role}`, { kind: 'recording', role, args: [] }, async () => {
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
   * SSH as seen from outside both servers, in one probe container of the env's image (its own ssh
   * client, unpacked from the image's cached packages): the host keys maestro and esclavo answer
   * with (ssh-keyscan), compared with their /etc/ssh/*.pub read by the engine, and a login to
   * postgres@esclavo with postgres@maestro's private keys and known_hosts, as archive_command would.
   */
  sshFacts(): Promise<SshFacts> {
    return this.once('ssh', undefined, async () => {
      const small = { maxEntries: 100, maxDataPerFile: 64 * 1024, maxStreamBytes: 4 << 20 };
      const [home, hostKeys, esclavoSsh, esclavoHome, esclavoPasswd, sshds] = await Promise.all([
        this.archive('maestro', '/var/lib/postgresql/.ssh', small).catch(() => undefined),
        Promise.all(['maestro', 'esclavo'].map((role) => this.archive(role, '/etc/ssh', small).catch(() => undefined))),
        this.archive('esclavo', '/var/lib/postgresql/.ssh', small).catch(() => undefined),
        this.archive('esclavo', '/var/lib/postgresql', { stopAfter: 1 }).catch(() => undefined),
        this.fileInfo('esclavo', '/etc/passwd', 1 << 20).catch(() => undefined),
        // The listening sshd only (its per-connection children come and go with every archived segment).
        Promise.all(['maestro', 'esclavo'].map((role) => this.processes(role).then((ps) => {
          const sshd = new Set(ps.filter((p) => p.comm === 'sshd').map((p) => p.pid));
          return ps.filter((p) => sshd.has(p.pid) && !sshd.has(p.ppid ?? -1)).map((p) => p.pid);
        }).catch(() => []))),
      ]);
      // Everything the probe's outcome depends on, read by the engine: the same inputs give the same
      // facts, so a live session (or the next check within minutes) need not start another container.
      const fingerprint = createHash('sha256');
      for (const r of [home, ...hostKeys, esclavoSsh, esclavoHome]) {
        for (const e of r?.entries ?? []) fingerprint.update(`${e.name}\0${e.type}\0${e.mode}\0${e.uid}\0`).update(e.data);
        fingerprint.update('\x1e');
      }
      fingerprint.update(esclavoPasswd?.data ?? Buffer.alloc(0)).update(JSON.stringify([sshds, this.ip('maestro'), this.ip('esclavo'), this.env.name, this.env.imageId]));
      const cacheKey = fingerprint.digest('hex');
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
      const cached = SSH_FACTS_CACHE.get(cacheKey);
      if (cached) return cached;
      const r = await this.probeContainer(SSH_PROBE_SCRIPT, [this.ip('maestro'), this.ip('esclavo')], files);
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
      const facts: SshFacts = {
        sshd: { maestro: answered(0, this.ip('maestro')), esclavo: answered(1, this.ip('esclavo')) },
        login: { exit: rc === undefined ? -1 : rc === 'noid' ? -2 : Number(rc), stderr: login.replace(/(?:^|\n)rc=\w+\s*$/, '').trim().slice(-400), keys: n, knownHosts: files.some((f) => f.name === 'known_hosts') },
      };
      // A success is kept for 10 min; a failure (maybe a timeout on a loaded host) for a minute, so a
      // live session watching a student at work on step 1 does not start a container every cycle.
      SSH_FACTS_CACHE.set(cacheKey, facts, facts.login.exit === 0 && facts.sshd.maestro.matches && facts.sshd.esclavo.matches ? SSH_FACTS_TTL_MS : 60_000);
      return facts;
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
    return this.once(`times:${role}`, { kind: 'serverTimes', role, args: [] }, async () => {
      const [[start, load]] = await this.sql(role, 'SELECT extract(epoch from pg_postmaster_start_time())::bigint, extract(epoch from pg_conf_load_time())::bigint');
      return { start: Number(start), load: Number(load) };
    });
  }
}

/**
 * The probes of a real env: commands go through the ProbeTransport (batched docker execs), and the
 * facts one run asked for become the plan the next run of the same step asks for at once.
 */
export class EnvProbes extends FactProbes {
  private readonly transport: ProbeTransport;
  private recorded = new Map<string, PlannedFact>();

  constructor(env: ProbeEnv) {
    super(env);
    // SQL on a server's socket runs from the env's observer (its own psql; the server's socket shared
    // read-only with it), never from a psql the student could replace inside the server.
    this.transport = new ProbeTransport((role) => this.env.servers.find((s) => s.role === role)?.container, this.psql, {
      container: (role) => observerOf(env.name, env.servers, role), socketDir: observerSocketDir, tmpDir: OBSERVER_TMP,
      pgControldata: `${this.profile.binDir}/pg_controldata`, homeDir: observerHomeDir,
    });
  }

  /** Docker execs made so far (a batch counts once): for benchmarks and tests. */
  get execCount(): number {
    return this.transport.execCount;
  }

  /** Set to false to give every probe its own exec (the behaviour before batching). */
  get batching(): boolean {
    return this.transport.batching;
  }

  set batching(on: boolean) {
    this.transport.batching = on;
  }

  async exec(role: string, argv: string[], opts: ProbeExecOptions & { fresh?: boolean } = {}): Promise<ExecResult> {
    if (!this.containerRunning(role)) throw new ServerDownError(role);
    return this.transport.exec(role, argv, opts);
  }

  private container(role: string): string {
    const server = this.env.servers.find((s) => s.role === role);
    if (!server || server.state === 'missing') throw new ServerDownError(role);
    return server.container;
  }

  /**
   * A path of a server read by the image's inspector, with every other read of the same tick (one
   * exec); through the engine's archive API where the inspector cannot vouch for it (a stopped
   * server, a root that is not the container's own, no inspector): see inspector-files.ts.
   */
  protected override readArchiveOf(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined> {
    return traced(`archive ${role} ${path}`, async () => {
      const read = await this.readByInspector(role, path, limits);
      return read !== 'unread' ? read : readArchive(this.container(role), path, { timeoutMs: TIMEOUTS.archiveReadMs, ...limits });
    });
  }

  protected override inspectorRead(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    return this.readByInspector(role, path, limits);
  }

  /** Not the overridable inspectorRead: a hand-in records readArchiveOf's answer, and need not record the same read twice. */
  private async readByInspector(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    const container = this.container(role);
    const info = this.containerRunning(role) && this.env.imageId ? await this.inspected(role) : undefined;
    if (!info?.pid || !info.upperDir) return 'unread';
    return this.inspectorFiles.read(container, { pid: info.pid, upperDir: info.upperDir }, path, limits);
  }

  private readonly inspectorFiles = new InspectorFiles((near) => this.inspector(near), TIMEOUTS.archiveReadMs);

  /** The image's inspector on the node of `near` (one lookup per node and run). */
  private inspector(near: string): Promise<string> {
    const node = nodeOf(near) ?? '';
    let p = this.inspectors.get(node);
    if (!p) this.inspectors.set(node, (p = ensureInspector(this.env.imageId!, TIMEOUTS.probeContainerMs, near)));
    return p;
  }

  private inspectors = new Map<string, Promise<string>>();

  /** A server container's inspect (its first process's pid, its upper layer), once a run. */
  private async inspected(role: string): Promise<ContainerInspect | undefined> {
    // All servers at once: their reads then resolve together and go out in one batch.
    const all = await this.once('inspect', undefined, () => Promise.all(this.env.servers.map((s) =>
      s.state === 'missing' ? undefined : inspectContainer(s.container).catch(() => undefined))));
    return all[this.env.servers.findIndex((s) => s.role === role)];
  }

  protected override topOf(role: string): Promise<TopProcess[]> {
    return traced(`top ${role}`, () => containerTop(this.container(role), TIMEOUTS.archiveReadMs));
  }

  protected override probeContainer(script: string, args: string[], files: ProbeFile[]): Promise<{ exitCode: number; stdout: string }> {
    if (!this.env.imageId) return Promise.reject(new Error('env without an image id'));
    return traced('probe container', () => runProbeContainer({
      image: this.env.imageId!, network: networkName(this.env.name), env: this.env.name, script, args, files, timeoutMs: TIMEOUTS.probeContainerMs,
      near: this.container(this.env.servers[0]?.role ?? 'maestro'),
    }));
  }

  protected override async identityProbeOf(role: string): Promise<{ exitCode: number; stdout: string }> {
    const image = this.env.imageId;
    if (!image) throw new Error('env without an image id');
    const container = this.container(role);
    // An image of another architecture runs under qemu-user: its processes' executable is the emulator (discovery.ts says so).
    const emulated = this.env.servers.find((s) => s.role === role)?.emulated ? '1' : '0';
    // Every running server in one exec of the image's inspector (each exec costs ~50 ms of the engine's CPU).
    const node = nodeOf(container) ?? '';
    let look = this.inspectorLooks.get(node);
    if (!look) this.inspectorLooks.set(node, (look = this.identityByInspector(image, emulated, role)));
    const inspected = await look.catch(() => undefined);
    const r = inspected?.get(role) ?? await runProbeContainer({
      // No inspector (an engine that refuses the host's pid namespace): a probe container in the server's.
      image, network: 'none', env: this.env.name, pidOf: container,
      script: 'exec perl /tmp/pglab-probe/server-identity.pl "$1" /tmp/pglab-probe/known-hashes.tsv "$2"', args: [this.env.pg, emulated],
      files: [identityScriptFile(), { name: 'known-hashes.tsv', content: Buffer.from(knownHashes(image, container)), mode: 0o644 }],
      timeoutMs: TIMEOUTS.probeContainerMs,
    });
    if (r.exitCode === 0) rememberHashes(image, container, r.stdout);
    return r;
  }

  /** One inspector look per node (one on a single machine), shared by every server on it. */
  private inspectorLooks = new Map<string, Promise<Map<string, { exitCode: number; stdout: string }>>>();

  /** The identity script exec'd once in the image's inspector (host pid namespace) about every running server: its output per role. */
  private async identityByInspector(image: string, emulated: string, role: string): Promise<Map<string, { exitCode: number; stdout: string }>> {
    // On a Swarm, the servers on the asked server's node (another node's pids mean nothing there).
    const node = nodeOf(this.container(role));
    const running = this.env.servers.filter((s) => s.state === 'running' && nodeOf(s.container) === node);
    const [inspector, ...servers] = await Promise.all([this.inspector(this.container(role)), ...running.map((s) => this.inspected(s.role))]);
    const pids = running.map((s, i) => ({ role: s.role, container: s.container, pid: servers[i]?.pid ?? 0 })).filter((s) => s.pid > 0);
    const known = pids.map((s) => knownHashes(image, s.container)).join('');
    const r = await execInContainer(inspector, ['perl', '-e', identityScript(), this.env.pg, '/dev/stdin', emulated, ...pids.map((s) => String(s.pid))], {
      user: 'root', stdin: Buffer.from(known), timeoutMs: TIMEOUTS.probeContainerMs, maxOutputBytes: 512 * 1024,
    });
    const sections = splitByServer(r.stdout.toString('utf8'));
    const byRole = new Map<string, { exitCode: number; stdout: string }>();
    for (const s of pids) {
      const text = sections.get(s.pid);
      if (text !== undefined) byRole.set(s.role, { exitCode: r.exitCode, stdout: text });
    }
    return byRole;
  }

  /**
   * The observer's verified records after a fresh look (checks/observer.ts prefers this method): a
   * fact of the plan, so a step whose last run needed them asks at once, beside the live probes.
   */
  observation(): Promise<Observation | undefined> {
    const role = this.env.servers[0]?.role ?? 'maestro';
    return this.once('observation', { kind: 'observation', role, args: [] }, () => traced('observation', () => readObservation(this.env.name, this.env.servers)));
  }

  override packageMd5s(packages: string[]): Promise<Map<string, Map<string, string>> | undefined> {
    return this.once(`debsums:${packages.join(',')}`, undefined, async () => (this.env.imageId ? imagePackageMd5s(this.env.imageId, packages) : undefined));
  }

  /** Facts asked for ahead of the checks and not yet by one: they stay out of the next plan unless a check asks. */
  private unclaimed = new Map<string, PlannedFact>();
  private prefetching = false;

  protected override noted(key: string, fact: PlannedFact, created: boolean): void {
    // Made by prefetch: nobody's yet. Any later use claims it (a planned fact using another claims
    // that one: its leaves stay in the plan, so they go in the first exec); unused ones drop out.
    if (created && this.prefetching) return void this.unclaimed.set(key, fact);
    if (!created && !this.unclaimed.has(key)) return;
    this.unclaimed.delete(key);
    if (!this.recorded.has(key)) this.recorded.set(key, fact);
  }

  /** The facts this run asked for, in order: what the next run of the same step will ask for. */
  plan(): PlannedFact[] {
    return [...this.recorded.values()];
  }

  /**
   * Asks, all at once (one exec per server), for the facts an earlier run of the same step asked
   * for; the checks then find them memoized. Only facts of this env's running servers, through the
   * facts API's own code: a plan names facts, never commands (see plan-cache.ts).
   */
  prefetch(plan: readonly PlannedFact[]): void {
    this.prefetching = true;
    try {
      this.prefetchAll(plan);
    } finally {
      this.prefetching = false;
    }
  }

  private prefetchAll(plan: readonly PlannedFact[]): void {
    for (const f of plan) {
      if (!this.containerRunning(f.role)) continue;
      const [a, b, c] = f.args;
      const s = (v: unknown) => String(v);
      let p: Promise<unknown>;
      switch (f.kind) {
        case 'readiness': p = this.readiness(f.role); break;
        case 'sql': p = this.sql(f.role, s(a), b ? { database: s(b) } : {}); break;
        case 'settings': p = this.settings(f.role); break;
        case 'inRecovery': p = this.inRecovery(f.role); break;
        case 'readFile': p = this.readFile(f.role, s(a), Number(b), c === 'postgres' ? 'postgres' : 'root'); break;
        case 'readable': p = this.readableByPostgres(f.role, s(a)); break;
        case 'listDir': p = this.listDir(f.role, s(a)); break;
        case 'stat': p = this.stat(f.role, s(a)); break;
        case 'controldata': p = this.controldata(f.role); break;
        case 'timeline': p = this.timeline(f.role); break;
        case 'processes': p = this.processes(f.role); break;
        case 'configFiles': p = this.configFiles(f.role); break;
        case 'observation': p = this.observation(); break;
        case 'archive': p = this.archive(f.role, s(a), JSON.parse(s(b)) as ArchiveLimits); break;
        case 'fileInfo': p = this.fileInfo(f.role, s(a), Number(b)); break;
        case 'startupBlockers': p = this.startupBlockers(f.role); break;
        case 'recording': p = this.recording(f.role); break;
        case 'databases': p = this.databases(f.role); break;
        case 'userTables': p = this.userTables(f.role); break;
        case 'serverTimes': p = this.serverTimes(f.role); break;
        default: continue;
      }
      // A fact that fails now fails the same way for the check that asks for it.
      p.catch(() => {});
    }
  }

  /** The Probes of one run of a step, primed with the plan the last run of that step left. */
  static forStep(env: ProbeEnv, step: string): EnvProbes {
    const probes = new EnvProbes(env);
    // Per env: plans name its files and databases.
    const key = `${env.name}/${step}@${env.pg}`;
    probes.prefetch(PLANS.get(key, FACT_SQL));
    PLANS.saveOnExit(key, () => probes.plan());
    return probes;
  }

  /**
   * sha256 of postgresql.conf and pg_hba.conf as pg_createcluster wrote them for this env's locale,
   * read from the image (see docker/pg/Dockerfile); undefined for images that do not ship them.
   */
  override pristineSums(): Promise<Map<string, string> | undefined> {
    return this.once('pristine', undefined, async () => {
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
}

export class SqlError extends Error {}

/** A config file's text; one past MAX_FILE_BYTES (it is read one byte further) is said, not judged cut. */
function confData(role: string, file: string, data: Buffer): string {
  if (data.length > MAX_FILE_BYTES) throw new FileTooLargeError(role, file, MAX_FILE_BYTES);
  return data.toString('utf8');
}

/**
 * sshFacts by the fingerprint of their inputs, for SSH_FACTS_TTL_MS, in this process and in a small
 * file of the user's cache (losing it costs one probe container).
 */
const SSH_FACTS_TTL_MS = 10 * 60 * 1000;
const SSH_FACTS_CACHE = {
  file: () => path.join(userCacheDir(), 'ssh-facts.json'),
  read(): Record<string, { at: number; ttl?: number; facts: SshFacts }> {
    try {
      const data = JSON.parse(readFileSync(this.file(), 'utf8')) as unknown;
      return data && typeof data === 'object' && !Array.isArray(data) ? data as Record<string, { at: number; ttl?: number; facts: SshFacts }> : {};
    } catch {
      return {};
    }
  },
  get(key: string): SshFacts | undefined {
    const hit = this.read()[key];
    return hit && typeof hit.at === 'number' && Date.now() - hit.at < Math.min(Number(hit.ttl) || 0, SSH_FACTS_TTL_MS) && hit.facts?.sshd && hit.facts.login ? hit.facts : undefined;
  },
  set(key: string, facts: SshFacts, ttl: number): void {
    const now = Date.now();
    const all = Object.fromEntries(Object.entries(this.read()).filter(([, v]) => now - v.at < SSH_FACTS_TTL_MS).slice(-500));
    all[key] = { at: now, ttl, facts };
    try {
      mkdirSync(path.dirname(this.file()), { recursive: true });
      const tmp = `${this.file()}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(all));
      renameSync(tmp, this.file());
    } catch {
      // A read-only home: the next check starts its own probe container.
    }
  },
};

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

/** Names hex-encoded by the server: a table named with a newline or the field separator cannot split a row. */
const USER_TABLES_SQL = `SELECT encode(convert_to(n.nspname || '.' || c.relname, 'UTF8'), 'hex'),
  (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', '${PROBE_SCHEMA}')
  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
ORDER BY n.nspname, c.relname LIMIT 20`;

/** The facts API's own fixed queries: a plan may name them though they call query_to_xml. */
const FACT_SQL: ReadonlySet<string> = new Set([USER_TABLES_SQL]);

/** pg_settings reports sizes in units (8kB pages, MB…); normalise memory to MB for comparisons. */
function normalizeUnit(setting: string, unit: string): string {
  const n = Number(setting);
  if (!unit || Number.isNaN(n)) return setting;
  const kb: Record<string, number> = { kB: 1, '8kB': 8, '16kB': 16, MB: 1024, '16MB': 16384, GB: 1024 * 1024 };
  if (unit in kb) return String((n * kb[unit]) / 1024) + 'MB';
  return setting;
}
