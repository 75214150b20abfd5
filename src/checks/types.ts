import type { Probes } from '../pg/probes.js';
import type { PgProfile } from '../pg/profile.js';

/** What a check returns. `reason` picks the hint in the lab manifest; evidence is what was really seen. */
export interface CheckOutcome {
  status: 'pass' | 'fail';
  reason?: string;
  evidence?: Record<string, string | number>;
  /**
   * Where the verdict came from: the live state (default), evidence that survives the promotion
   * and the cleanup, or the env's observer (src/observer/), whose records span the env's life.
   */
  source?: VerdictSource;
  /** Observer verdicts: when (epoch seconds) what they prove was last seen. */
  seenAt?: number;
}

export type VerdictSource = 'live' | 'evidence' | 'observer';

export interface CheckContext {
  probes: Probes;
  profile: PgProfile;
  /** IP of every server of this environment by role (maestro, esclavo, esclavo2…). */
  ip: { maestro: string; esclavo: string; [role: string]: string };
  /** The lab's own constants (lab.json `facts`: the archive folder, the trigger file…). */
  facts: Readonly<Record<string, string>>;
}

/** A small named function with one job; the manifest says which step uses it. */
export type CheckFn = (ctx: CheckContext) => Promise<CheckOutcome>;

export const pass = (evidence?: CheckOutcome['evidence']): CheckOutcome => ({ status: 'pass', evidence });
export const fail = (reason: string, evidence?: CheckOutcome['evidence']): CheckOutcome => ({ status: 'fail', reason, evidence });

/** Polls `fn` until it returns a value or the deadline passes (one central, bounded wait). */
export async function pollUntil<T>(fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 500): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined || Date.now() >= deadline) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * A client's error message (psql, ssh) as evidence: its lines joined on one line, tabs and runs of
 * spaces squeezed, at most `max` characters. The first line (the error itself) is kept; libpq's
 * indented continuation ("\tIs the server running…") follows it instead of replacing it.
 */
export function clientError(stderr: string, max = 200): string {
  const text = stderr.split('\n').map((l) => l.replace(/\s+/g, ' ').trim()).filter(Boolean).join(' ');
  return text.length <= max ? text : `${text.slice(0, max).replace(/\s+\S*$/, '')} …`;
}
