/**
 * THE PLACE for the observer's authenticated records in a hand-in (issue 18, "Grades an instructor
 * can trust"; the observer is being built on branch `observer`). When it lands:
 * - `observerRecordsForHandin` returns the env's observer records (kept outside maestro/esclavo,
 *   HMAC-authenticated) as hand-in members under `observer/`; `lab submit` adds them as they are.
 * - `verifyObserverRecords` checks each record's HMAC (and their sequence) when a hand-in is read;
 *   a record that does not verify makes the whole hand-in not verify (handin.ts, verifyHandin),
 *   reported as such, never graded.
 * Until then a hand-in carries no observer records and this check has nothing to refuse.
 */
import type { LabEnv } from '../env/env.js';

export const OBSERVER_DIR = 'observer/';

export async function observerRecordsForHandin(env: LabEnv): Promise<{ name: string; data: Buffer }[]> {
  void env;
  return [];
}

/** undefined when the records verify; else the name of the first record that does not. */
export function verifyObserverRecords(members: Map<string, Buffer>): string | undefined {
  void members;
  return undefined;
}
