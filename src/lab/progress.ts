/**
 * Check results recorded inside the environment (its state, env/state.ts), so progress follows
 * the env and not the laptop. The record is an append-only JSON-lines log: recording a run is
 * one `cat >>` (no read first), and first-passed / last-status are derived when read.
 */
import type { LabEnv } from '../env/env.js';
import { APPEND_SCRIPT, appendState, readState } from '../env/state.js';
import { TIMEOUTS } from '../timeouts.js';
import { DEFAULT_LAB } from './manifest.js';

const PROGRESS_LOG = 'progress.jsonl';

export interface ProgressEntry { firstPassed?: string; lastStatus: string; lastAt: string }
export interface Progress {
  steps: Record<string, ProgressEntry>;
  checks: Record<string, ProgressEntry>;
  /** The newest record the student's own runs wrote (`lab check`, `lab watch`, their `lab web`): not a grading's or the board's. */
  lastActivity?: string;
}
/**
 * One line of the log: a step (`step-2`) or a check (`step-2/segments`) result of one lab. `by`
 * names who looked when it was not the student: an instructor's grading or a page opened from the
 * class board (their records are not the student's activity).
 */
export interface ProgressRecord { at: string; lab?: string; key: string; status: string; by?: 'grade' | 'board' }

export function summarize(records: ProgressRecord[]): Progress {
  const progress: Progress = { steps: {}, checks: {} };
  for (const r of records) {
    const map = r.key.includes('/') ? progress.checks : progress.steps;
    const prev = map[r.key];
    map[r.key] = { firstPassed: prev?.firstPassed ?? (r.status === 'pass' ? r.at : undefined), lastStatus: r.status, lastAt: r.at };
    if (!r.by && (!progress.lastActivity || Date.parse(r.at) > Date.parse(progress.lastActivity))) progress.lastActivity = r.at;
  }
  return progress;
}

/** Records without a lab were written before envs could go on into another lab: they are the first lab's. */
export function recordsOf(records: ProgressRecord[], lab: string): ProgressRecord[] {
  return records.filter((r) => (r.lab ?? DEFAULT_LAB) === lab);
}

export async function readProgress(env: LabEnv, lab: string): Promise<Progress> {
  const text = await readState(env, PROGRESS_LOG, { timeoutMs: TIMEOUTS.progressLogMs });
  return summarize(text === undefined ? [] : recordsOf(parseProgressLog(text), lab));
}

/**
 * The records of a log the student can edit (they are root on maestro): any line that is not a
 * progress record (`null`, `{"x":1}`, a torn write) is skipped, never fatal.
 */
export function parseProgressLog(text: string): ProgressRecord[] {
  const records: ProgressRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const record = parseRecord(line) ?? salvageGlued(line);
    if (record) records.push(record);
  }
  return records;
}

function parseRecord(text: string): ProgressRecord | undefined {
  try {
    return asRecord(JSON.parse(text));
  } catch {
    return undefined;
  }
}

const RECORD_KEY = /^[a-z0-9][\w-]*(\/[a-z0-9][\w-]*)?$/i;

function asRecord(value: unknown): ProgressRecord | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const { at, lab, key, status, by } = value as Record<string, unknown>;
  if (typeof at !== 'string' || typeof key !== 'string' || typeof status !== 'string') return undefined;
  if (lab !== undefined && (typeof lab !== 'string' || !RECORD_KEY.test(lab))) return undefined;
  // Keys are step ids (`step-2`) or step/check ids; anything else (`__proto__`, '') is not ours.
  if (!RECORD_KEY.test(key) || Number.isNaN(Date.parse(at))) return undefined;
  const record: ProgressRecord = lab === undefined ? { at, key, status } : { at, lab, key, status };
  if (by === 'grade' || by === 'board') record.by = by;
  return record;
}

/**
 * Logs written before the writer guarded against it can hold a torn line with the next record
 * glued to its end (`{"at":"…","ke{"at":"…","key":"step-2","status":"pass"}`): keep that record.
 */
function salvageGlued(line: string): ProgressRecord | undefined {
  const start = line.lastIndexOf('{"at":');
  return start > 0 ? parseRecord(line.slice(start)) : undefined;
}

/** Appending never glues a record to a torn line (see env/state.ts). */
export { APPEND_SCRIPT };

export async function appendProgress(env: LabEnv, records: ProgressRecord[]): Promise<void> {
  if (!records.length) return;
  await appendState(env, PROGRESS_LOG, records.map((r) => JSON.stringify(r)).join('\n') + '\n', { timeoutMs: TIMEOUTS.progressLogMs, label: 'append-progress' });
}
