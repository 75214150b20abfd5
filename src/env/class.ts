/** A whole class on one server: one env per student, each with its own network and subnet. */
import { readFileSync } from 'node:fs';
import { LabError } from '../errors.js';
import { mapLimit } from '../concurrency.js';
import type { PgMajor } from '../pg/profile.js';
import { down, findEnv, listEnvNames, up } from './env.js';
import { envName } from './naming.js';

export const DEFAULT_CLASS = 'clase';

/**
 * Roster CSV: one student per line; the env name comes from a column named env/entorno/alumno/usuario
 * (or the first column), lower-cased with anything else turned into '-'. A header line is optional.
 */
export function parseRoster(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  if (!lines.length) return [];
  const cells = (l: string) => l.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ''));
  const header = cells(lines[0]).map((c) => c.toLowerCase());
  const named = header.findIndex((c) => ['env', 'entorno', 'alumno', 'usuario', 'user', 'student'].includes(c));
  const column = named >= 0 ? named : 0;
  const body = named >= 0 ? lines.slice(1) : lines;
  const names = body.map((l) => slug(cells(l)[column] ?? '')).filter(Boolean);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new LabError('class.duplicate', { name: dup });
  return names.map((n) => envName(n));
}

function slug(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 31);
}

export function countNames(count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `alumno${String(i + 1).padStart(width, '0')}`);
}

export function rosterNames(opts: { roster?: string; count?: number }): string[] {
  if (opts.roster) return parseRoster(readFileSync(opts.roster, 'utf8'));
  if (opts.count && opts.count > 0) return countNames(opts.count);
  throw new LabError('class.noRoster');
}

export interface ClassUpResult { env: string; ok: boolean; changed: boolean; error?: string }

/** Creates only what is missing (safe to re-run), at most `parallel` envs at a time. */
export async function classUp(names: string[], opts: { pg?: PgMajor; className: string; parallel?: number; progress?: (l: string) => void }): Promise<ClassUpResult[]> {
  let done = 0;
  return mapLimit(names, opts.parallel ?? 3, async (env) => {
    try {
      const r = await up({ env, pg: opts.pg, className: opts.className });
      opts.progress?.(`[${++done}/${names.length}] ${env}: ${r.changed ? 'ok' : '='} ${r.env.subnet}`);
      return { env, ok: true, changed: r.changed };
    } catch (err) {
      opts.progress?.(`[${++done}/${names.length}] ${env}: error`);
      return { env, ok: false, changed: false, error: err instanceof LabError ? err.key : String(err) };
    }
  });
}

export async function classDown(className: string, opts: { purge?: boolean; parallel?: number; progress?: (l: string) => void }): Promise<string[]> {
  const names = await listEnvNames(className);
  await mapLimit(names, opts.parallel ?? 4, async (env) => {
    await down({ env, purge: opts.purge });
    opts.progress?.(`${env}: down`);
  });
  return names;
}

export async function classEnvs(className: string) {
  const names = await listEnvNames(className);
  return Promise.all(names.map(async (n) => (await findEnv(n))!));
}
