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
import { EnvProbes, FactProbes, FileTooLargeError, ProbeTimeoutError, ServerDownError, type ProbeEnv, type ProbeExecOptions } from '../pg/probes.js';
import type { Progress } from '../lab/progress.js';

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
}

export class ReplayMissError extends Error {
  constructor(readonly role: string, readonly argv: string[]) {
    super(`no recorded answer for ${role}: ${argv[0]}`);
  }
}
