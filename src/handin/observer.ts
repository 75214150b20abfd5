/**
 * The observer's authenticated records in a hand-in (issue 16): its signed lines and its key, as they
 * are on the observer's volume. A re-grade believes these, verified line by line, not the copy of the
 * observation in probes.json. The key travels with them: on a laptop the student owns the machine, so
 * this stops casual edits of the records (a line changed by hand no longer verifies), not someone who
 * re-signs them (README, "Entregas").
 */
import type { LabEnv } from '../env/env.js';
import { readObservationText } from '../observer/observer.js';
import { verifyRecords, type Observation } from '../observer/records.js';

export const OBSERVER_DIR = 'observer/';
const RECORDS = 'records.log';
const KEY = 'key';

export async function observerRecordsForHandin(env: LabEnv): Promise<{ name: string; data: Buffer }[]> {
  const raw = await readObservationText(env.name);
  return raw ? [{ name: RECORDS, data: Buffer.from(raw.log) }, { name: KEY, data: Buffer.from(raw.key) }] : [];
}

/** The records of a hand-in, verified; undefined when it carries none (an env without an observer). */
export function observationOf(members: Map<string, Buffer>): Observation | undefined {
  const log = members.get(OBSERVER_DIR + RECORDS);
  const key = members.get(OBSERVER_DIR + KEY)?.toString().trim();
  return log && key ? verifyRecords(log.toString(), key) : undefined;
}

/** undefined when the records verify; else the name of the member that does not. */
export function verifyObserverRecords(members: Map<string, Buffer>): string | undefined {
  const log = members.get(OBSERVER_DIR + RECORDS);
  const key = members.get(OBSERVER_DIR + KEY)?.toString().trim();
  if (!log && !key) return undefined;
  if (!log || !key || !/^[0-9a-f]{64}$/.test(key)) return OBSERVER_DIR + (log ? KEY : RECORDS);
  return verifyRecords(log.toString(), key).tampered ? OBSERVER_DIR + RECORDS : undefined;
}
