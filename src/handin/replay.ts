/**
 * The graders ask Probes for facts; a hand-in carries the answers. RecordingProbes grades an env
 * live and keeps every answer the graders got (each exec's output, the random values of the
 * graders' own probe writes, the image's pristine config sums); ReplayProbes answers the same
 * graders from that record, so an instructor re-grades a hand-in with the graders of their own
 * pglab, never with verdicts written by the student's copy.
 *
 * Answers are matched by the question (server, argv, user, environment, stdin). A question asked
 * several times (a poll) gets its answers in the recorded order, then the last one again. Answers
 * that took long live (a commit waiting for a standby) are given after the same delay, since a
 * grader may judge by how long a commit took. A question the record does not have is a miss: the
 * grading is then refused as a whole (see gradeReplay), never scored from a guess.
 */
import type { ExecResult } from '../docker/client.js';
import { EnvProbes, FactProbes, FileTooLargeError, ProbeTimeoutError, ServerDownError, type ProbeEnv, type ProbeExecOptions, type SshFacts } from '../pg/probes.js';
import type { Progress } from '../lab/progress.js';
import type { ArchiveLimits, ArchiveRead, TopProcess } from '../docker/container-files.js';
import type { ProbeFile } from '../docker/probe-container.js';
import { createHash } from 'node:crypto';
import { observedControl } from '../observer/observer.js';
import type { Observation } from '../observer/records.js';

export interface RecordedAnswer {
  exitCode?: number;
  /** base64 */
  stdout?: string;
  stderr?: string;
  timedOut?: boolean;
  /** How long the live answer took. */
  ms: number;
  /** The probe failed instead of answering (a stopped server, a timeout, a file too big). */
  error?: { kind: 'down' | 'timeout' | 'too-large' | 'other'; role?: string; command?: string; path?: string; limit?: number; message?: string };
}

export interface ProbeLog {
  /** Question (see questionKey) → answers in the order they were given. */
  calls: Record<string, RecordedAnswer[]>;
  /** Random values drawn for the graders' probe writes, by purpose, in order. */
  nonces: Record<string, string[]>;
  /** The image's pristine config sums (Probes.pristineSums), when it has them. */
  pristine?: [string, string][] | null;
  /** The env's recorded check progress, as the graders read it (earlier passes). */
  progress?: Progress;
  /**
   * Facts read from the host side, outside the containers (the engine's archive API, `docker top`, the
   * probe container, the image's package sums, the observer's verified records and its pg_control
   * reads): question (see hostKey) → answers in order, encoded by encodeValue.
   */
  host?: Record<string, { value?: unknown; error?: string }[]>;
}

/** A host-side question: the method and its arguments (file contents by their sha256). */
export function hostKey(method: string, args: unknown[]): string {
  return JSON.stringify([method, ...args.map((a) => encodeValue(a, true))]);
}

/** JSON for Buffers, Maps and Sets (a hand-in is JSON); `digest` puts a Buffer's sha256 in place of its bytes. */
export function encodeValue(v: unknown, digest = false): unknown {
  if (Buffer.isBuffer(v)) return digest ? { $sha256: createHash('sha256').update(v).digest('hex') } : { $b64: v.toString('base64') };
  if (v instanceof Map) return { $map: [...v].map(([k, x]) => [encodeValue(k, digest), encodeValue(x, digest)]) };
  if (v instanceof Set) return { $set: [...v].map((x) => encodeValue(x, digest)) };
  if (Array.isArray(v)) return v.map((x) => encodeValue(x, digest));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encodeValue(x, digest)]));
  return v;
}

export function decodeValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(decodeValue);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$b64 === 'string') return Buffer.from(o.$b64, 'base64');
    if (Array.isArray(o.$map)) return new Map((o.$map as unknown[][]).map(([k, x]) => [decodeValue(k), decodeValue(x)]));
    if (Array.isArray(o.$set)) return new Set(o.$set.map(decodeValue));
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, decodeValue(x)]));
  }
  return v;
}

/** Answers slower than this are replayed with their delay; faster ones at once (no grader can tell). */
export const SLOW_ANSWER_MS = 500;

/** The question a probe asks. Timeouts are left out: they scale with the machine (PGLAB_TIMEOUT_SCALE), the question does not. */
export function questionKey(role: string, argv: string[], opts: ProbeExecOptions): string {
  const env = Object.fromEntries(Object.entries(opts.env ?? {}).filter(([k]) => k !== 'PGCONNECT_TIMEOUT').sort(([a], [b]) => a.localeCompare(b)));
  return JSON.stringify([role, argv, opts.user ?? 'postgres', env, opts.stdin ?? null]);
}

export function emptyLog(): ProbeLog {
  return { calls: {}, nonces: {} };
}

export class RecordingProbes extends EnvProbes {
  readonly log: ProbeLog = emptyLog();

  override async exec(role: string, argv: string[], opts: ProbeExecOptions & { fresh?: boolean } = {}): Promise<ExecResult> {
    const key = questionKey(role, argv, opts);
    const t0 = Date.now();
    const keep = (a: RecordedAnswer) => { (this.log.calls[key] ??= []).push(a); };
    try {
      const r = await super.exec(role, argv, opts);
      keep({ exitCode: r.exitCode, stdout: r.stdout.toString('base64'), stderr: r.stderr.toString('base64'), ...(r.timedOut ? { timedOut: true } : {}), ms: Date.now() - t0 });
      return r;
    } catch (err) {
      keep({ ms: Date.now() - t0, error: describeError(err) });
      throw err;
    }
  }

  override nonce(purpose: string, bytes = 8): string {
    const v = super.nonce(purpose, bytes);
    (this.log.nonces[purpose] ??= []).push(v);
    return v;
  }

  override async pristineSums(): Promise<Map<string, string> | undefined> {
    const sums = await super.pristineSums();
    this.log.pristine = sums ? [...sums] : null;
    return sums;
  }

  /** Asks the host side as EnvProbes does, and keeps the answer (or the failure) for the replay. */
  private async host<T>(method: string, args: unknown[], ask: () => Promise<T>): Promise<T> {
    const answers = ((this.log.host ??= {})[hostKey(method, args)] ??= []);
    try {
      const value = await ask();
      answers.push({ value: encodeValue(value) });
      return value;
    } catch (err) {
      answers.push({ error: String((err as Error)?.message ?? err).slice(0, 300) });
      throw err;
    }
  }

  protected override readArchiveOf(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined> {
    return this.host('archive', [role, path, limits], () => super.readArchiveOf(role, path, limits));
  }

  protected override inspectorRead(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    return this.host('inspector-read', [role, path, limits], () => super.inspectorRead(role, path, limits));
  }

  protected override topOf(role: string): Promise<TopProcess[]> {
    return this.host('top', [role], () => super.topOf(role));
  }

  protected override probeContainer(script: string, args: string[], files: ProbeFile[]): Promise<{ exitCode: number; stdout: string }> {
    return this.host('probe-container', [script, args, files], () => super.probeContainer(script, args, files));
  }

  protected override identityProbeOf(role: string): Promise<{ exitCode: number; stdout: string }> {
    return this.host('server-identity', [role], () => super.identityProbeOf(role));
  }

  override packageMd5s(packages: string[]): Promise<Map<string, Map<string, string>> | undefined> {
    return this.host('package-md5s', [packages], () => super.packageMd5s(packages));
  }

  /** The ssh facts as a whole: live they may come from this machine's cache, which a replay elsewhere lacks. */
  override sshFacts(): Promise<SshFacts> {
    return this.host('ssh-facts', [], () => super.sshFacts());
  }

  /** The observer's verified records as the graders got them (checks/observer.ts prefers this method). */
  override observation(): Promise<Observation | undefined> {
    return this.host('observation', [], () => super.observation());
  }

  observedControl(role: string): Promise<{ sysid?: string; tli?: number; state?: string } | undefined> {
    return this.host('observed-control', [role], () => observedControl(this.env.name, this.env.pg, role, this.env.servers));
  }
}

function describeError(err: unknown): NonNullable<RecordedAnswer['error']> {
  if (err instanceof ServerDownError) return { kind: 'down', role: err.role };
  if (err instanceof ProbeTimeoutError) return { kind: 'timeout', role: err.role, command: err.command };
  if (err instanceof FileTooLargeError) return { kind: 'too-large', role: err.role, path: err.path, limit: err.limit };
  return { kind: 'other', message: String((err as Error)?.message ?? err) };
}

function rebuildError(e: NonNullable<RecordedAnswer['error']>): Error {
  switch (e.kind) {
    case 'down': return new ServerDownError(e.role ?? '');
    case 'timeout': return new ProbeTimeoutError(e.role ?? '', e.command ?? '');
    case 'too-large': return new FileTooLargeError(e.role ?? '', e.path ?? '', e.limit ?? 0);
    default: return new Error(e.message ?? 'error');
  }
}

export class ReplayProbes extends FactProbes {
  /** Questions the record had no answer for: any makes the replayed grade unusable. */
  readonly misses: string[] = [];
  private readonly used = new Map<string, number>();
  private readonly drawn = new Map<string, number>();

  constructor(env: ProbeEnv, private readonly log: ProbeLog) {
    super(env);
  }

  override async exec(role: string, argv: string[], opts: ProbeExecOptions & { fresh?: boolean } = {}): Promise<ExecResult> {
    const key = questionKey(role, argv, opts);
    const answers = this.log.calls[key];
    if (!answers?.length) {
      this.misses.push(key);
      throw new ReplayMissError(role, argv);
    }
    const i = this.used.get(key) ?? 0;
    this.used.set(key, i + 1);
    const a = answers[Math.min(i, answers.length - 1)];
    if (a.ms >= SLOW_ANSWER_MS) await new Promise((r) => setTimeout(r, a.ms));
    if (a.error) throw rebuildError(a.error);
    const r = { exitCode: a.exitCode ?? 0, stdout: Buffer.from(a.stdout ?? '', 'base64'), stderr: Buffer.from(a.stderr ?? '', 'base64'), timedOut: Boolean(a.timedOut) };
    if (r.timedOut) throw new ProbeTimeoutError(role, argv[0].split('/').pop() ?? argv[0]);
    return r;
  }

  override nonce(purpose: string): string {
    const list = this.log.nonces[purpose] ?? [];
    const i = this.drawn.get(purpose) ?? 0;
    this.drawn.set(purpose, i + 1);
    if (i >= list.length) {
      this.misses.push(`nonce:${purpose}`);
      return 'pglab-no-recorded-nonce';
    }
    return list[i];
  }

  override async pristineSums(): Promise<Map<string, string> | undefined> {
    return this.log.pristine ? new Map(this.log.pristine) : undefined;
  }

  private readonly hostUsed = new Map<string, number>();

  /** The recorded host-side answer, in order then the last again; none: a miss (the hand-in is refused). */
  private host<T>(method: string, args: unknown[]): Promise<T> {
    const key = hostKey(method, args);
    const answers = this.log.host?.[key];
    if (!answers?.length) {
      this.misses.push(key);
      return Promise.reject(new ReplayMissError('host', [method]));
    }
    const i = this.hostUsed.get(key) ?? 0;
    this.hostUsed.set(key, i + 1);
    const a = answers[Math.min(i, answers.length - 1)];
    return a.error !== undefined ? Promise.reject(new Error(a.error)) : Promise.resolve(decodeValue(a.value) as T);
  }

  protected override readArchiveOf(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined> {
    return this.host('archive', [role, path, limits]);
  }

  protected override inspectorRead(role: string, path: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    return this.host('inspector-read', [role, path, limits]);
  }

  protected override topOf(role: string): Promise<TopProcess[]> {
    return this.host('top', [role]);
  }

  protected override probeContainer(script: string, args: string[], files: ProbeFile[]): Promise<{ exitCode: number; stdout: string }> {
    return this.host('probe-container', [script, args, files]);
  }

  protected override identityProbeOf(role: string): Promise<{ exitCode: number; stdout: string }> {
    return this.host('server-identity', [role]);
  }

  override packageMd5s(packages: string[]): Promise<Map<string, Map<string, string>> | undefined> {
    return this.host('package-md5s', [packages]);
  }

  override sshFacts(): Promise<SshFacts> {
    return this.host('ssh-facts', []);
  }

  observation(): Promise<Observation | undefined> {
    return this.host('observation', []);
  }

  observedControl(role: string): Promise<{ sysid?: string; tli?: number; state?: string } | undefined> {
    return this.host('observed-control', [role]);
  }
}

export class ReplayMissError extends Error {
  constructor(readonly role: string, readonly argv: string[]) {
    super(`no recorded answer for ${role}: ${argv[0]}`);
  }
}
