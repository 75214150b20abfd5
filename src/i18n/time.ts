import { lang } from './index.js';

/** Times people read: local time of this machine, never a raw UTC ISO string (machine formats keep ISO). */
export function localTime(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(lang() === 'en' ? 'en-GB' : 'es-AR', { dateStyle: 'short', timeStyle: 'short' });
}
