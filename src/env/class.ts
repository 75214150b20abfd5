/** A whole class on one server: one env per student, each with its own network and subnet. */
import { readFileSync, statSync } from 'node:fs';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { mapLimit } from '../concurrency.js';
import type { PgMajor } from '../pg/profile.js';
import { down, findEnv, listEnvNames, up, type UpOptions, type UpResult } from './env.js';
import { candidateSubnets, envName, MAX_ENV_NAME } from './naming.js';

export const DEFAULT_CLASS = 'clase';

/**
 * Roster CSV: one student per line; the env name comes from a column named env/entorno/alumno/usuario
 * (or the first column), lower-cased with anything else turned into '-'. A header line is optional.
 * Every student gets an env or nothing is created: a name that cannot be used stops the whole roster
 * (cutting it silently could give two students the same env).
 */
export function parseRoster(text: string, file = 'roster.csv'): string[] {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/) // spreadsheets save UTF-8 with a BOM
    .map((l, i) => ({ text: l.trim(), line: i + 1 }))
    .filter(({ text: l }) => l && !l.startsWith('#'));
  if (!lines.length) throw new LabError('class.rosterEmpty', { file });
  const cells = (l: string) => l.split(/[,;\t]/).map((c) => c.trim().replace(/^"|"$/g, ''));
  const header = cells(lines[0].text).map((c) => c.toLowerCase());
  const named = header.findIndex((c) => ['env', 'entorno', 'alumno', 'usuario', 'user', 'student'].includes(c));
  const column = named >= 0 ? named : 0;
  const body = named >= 0 ? lines.slice(1) : lines;
  if (!body.length) throw new LabError('class.rosterEmpty', { file });
  const max = candidateSubnets().length;
  if (body.length > max) throw new LabError('class.tooMany', { count: body.length, max });
  const names = body.map(({ text: l, line }) => rosterEnvName(cells(l)[column] ?? '', line));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new LabError('class.duplicate', { name: dup });
  return names;
}

function rosterEnvName(cell: string, line: number): string {
  const name = slug(cell);
  if (!name) throw new LabError('class.rosterNameUnusable', { line, name: cell });
  if (name.length > MAX_ENV_NAME) throw new LabError('class.rosterNameTooLong', { line, name: cell, length: name.length });
  return envName(name);
}

/** "José Pérez" → "jose-perez"; never cut (see parseRoster). */
function slug(s: string): string {
  return s.normalize('NFD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9_-]+/g, '-').replace(/^[-_]+|-+$/g, '');
}

export function countNames(count: number): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => `alumno${String(i + 1).padStart(width, '0')}`);
}

/** --count is validated by the CLI (an integer in range); a roster file is read and checked here. */
export function rosterNames(opts: { roster?: string; count?: number }): string[] {
  if (opts.roster) return parseRoster(readRoster(opts.roster), opts.roster);
  if (opts.count !== undefined && opts.count > 0) return countNames(opts.count);
  throw new LabError('class.noRoster');
}

function readRoster(file: string): string {
  try {
    if (!statSync(file).isFile()) throw new LabError('class.rosterNotFile', { file });
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof LabError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new LabError('class.rosterMissing', { file }, 2, { cause: err });
    throw new LabError('class.rosterUnreadable', { file, detail: code ?? String(err) }, 2, { cause: err });
  }
}

export interface ClassUpResult {
  env: string;
  ok: boolean;
  changed: boolean;
  /** It completed what an interrupted `class up` (or another command) had left half-done. */
  resumed?: boolean;
  error?: string;
}

/**
 * Creates only what is missing (safe to re-run, also after a `class up` killed half-way: each env
 * is completed by `up`), at most `parallel` envs at a time.
 */
export async function classUp(
  names: string[],
  opts: { pg?: PgMajor; className: string; parallel?: number; progress?: (l: string) => void; bringUp?: (o: UpOptions) => Promise<UpResult> },
): Promise<ClassUpResult[]> {
  let done = 0;
  const bringUp = opts.bringUp ?? up;
  return mapLimit(names, opts.parallel ?? 3, async (env) => {
    try {
      const r = await bringUp({ env, pg: opts.pg, className: opts.className });
      if (r.notAccepting.length) {
        const roles = r.notAccepting.map((s) => s.role);
        throw new LabError('up.notAccepting', { env, roles: roles.join(', '), role: roles[0] });
      }
      const resumed = r.resumed ? ` (${t('class.upResumed')})` : '';
      opts.progress?.(`[${++done}/${names.length}] ${env}: ${r.changed ? 'ok' : '='} ${r.env.subnet}${resumed}`);
      return { env, ok: true, changed: r.changed, ...(r.resumed ? { resumed: true } : {}) };
    } catch (err) {
      opts.progress?.(`[${++done}/${names.length}] ${env}: error`);
      // The message a person reads, never a raw key like env.noSubnet.
      return { env, ok: false, changed: false, error: err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err) };
    }
  });
}

export async function classDown(
  className: string, opts: { purge?: boolean; parallel?: number; progress?: (l: string) => void; packagesOf: (lab: string) => string[] },
): Promise<string[]> {
  const names = await listEnvNames(className);
  await mapLimit(names, opts.parallel ?? 4, async (env) => {
    await down({ env, purge: opts.purge, packagesOf: opts.packagesOf });
    opts.progress?.(`${env}: down`);
  });
  return names;
}

export async function classEnvs(className: string) {
  const names = await listEnvNames(className);
  return Promise.all(names.map(async (n) => (await findEnv(n))!));
}
