/**
 * The env's observer for a lab's checks: its verified records, read once per Probes object (one
 * `lab check`, one env's grading), and pg_control read with the observer's own binary.
 */
import { lang } from '../i18n/index.js';
import { observedControl, readObservation } from '../observer/observer.js';
import type { Observation } from '../observer/records.js';
import type { Probes } from '../pg/probes.js';

const memo = new WeakMap<Probes, Promise<Observation | undefined>>();

/** The observer's verified records; undefined when the env has no observer. */
export function observation(probes: Probes): Promise<Observation | undefined> {
  let p = memo.get(probes);
  // Unit tests' fixture probes bring their own records.
  const own = (probes as unknown as { observation?: () => Promise<Observation | undefined> }).observation;
  if (!p) memo.set(probes, (p = typeof own === 'function' ? own.call(probes) : readObservation(probes.env.name, probes.env.servers)));
  return p;
}

/** pg_control of a server's data volume, read by the observer (a pg_controldata replaced inside the server cannot lie). */
export function observedControlOf(probes: Probes, role: string) {
  type ObservedControl = (role: string) => Promise<{ sysid?: string; tli?: number; state?: string } | undefined>;
  const own = (probes as unknown as { observedControl?: ObservedControl }).observedControl;
  return typeof own === 'function' ? own.call(probes, role) : observedControl(probes.env.name, probes.env.pg, role, probes.env.servers);
}

/** "19:18" in the machine's local time. */
export function hhmm(epochS: number): string {
  return new Date(epochS * 1000).toLocaleTimeString(lang() === 'en' ? 'en-GB' : 'es-AR', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
}

/** "19:18–19:20" (one time when both ends fall in the same minute, or the period is still open). */
export const span = (from: number, to?: number) => (to === undefined || hhmm(from) === hhmm(to) ? hhmm(from) : `${hhmm(from)}–${hhmm(to)}`);
