/** A whole class on one server: one env per student, each with its own network and subnet. */
import { readFileSync, statSync } from 'node:fs';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { mapLimit } from '../concurrency.js';
import type { PgMajor } from '../pg/profile.js';
import { down, findEnv, listEnvNames, up, type UpOptions, type UpResult } from './env.js';
import { envName } from './naming.js';
import { parseRosterStudents, studentSubnet, type Student } from './roster.js';

export const DEFAULT_CLASS = 'clase';

/**
 * Roster CSV → env names (see roster.ts for the format). Every student gets an env or nothing is
 * created: a name that cannot be used stops the whole roster (cutting it silently could give two
 * students the same env).
 */
export function parseRoster(text: string, file = 'roster.csv', klass?: string): string[] {
  return parseRosterStudents(text, file, klass).map((s) => s.env);
}

/** `--count N`: <class>-alumno01…, so two classes on one server never share an env name. */
export function countNames(count: number, klass = DEFAULT_CLASS): string[] {
  const width = Math.max(2, String(count).length);
  return Array.from({ length: count }, (_, i) => envName(`${klass}-alumno${String(i + 1).padStart(width, '0')}`));
}

/** --count is validated by the CLI (an integer in range); a roster file is read and checked here. */
export function rosterNames(opts: { roster?: string; count?: number; className?: string }): string[] {
  return rosterStudents(opts).map((s) => s.env);
}

export function rosterStudents(opts: { roster?: string; count?: number; className?: string }): Student[] {
  if (opts.roster) return readRosterFile(opts.roster, opts.className);
  if (opts.count !== undefined && opts.count > 0) return countNames(opts.count, opts.className).map((env, i) => ({ env, line: i + 1 }));
  throw new LabError('class.noRoster');
}

export function readRosterFile(file: string, klass?: string): Student[] {
  return parseRosterStudents(readRoster(file), file, klass);
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
  students: (string | Student)[],
  opts: { pg?: PgMajor; className: string; parallel?: number; progress?: (l: string) => void; bringUp?: (o: UpOptions) => Promise<UpResult> },
): Promise<ClassUpResult[]> {
  let done = 0;
  const bringUp = opts.bringUp ?? up;
  const names = students.map((s) => (typeof s === 'string' ? { env: s, line: 0 } : s));
  return mapLimit(names, opts.parallel ?? 3, async (student) => {
    const env = student.env;
    try {
      // A student with a legajo gets the subnet derived from it (when free): see studentSubnet.
      const r = await bringUp({
        env, pg: opts.pg, className: opts.className,
        ...(student.legajo || student.name || student.email ? { student: { legajo: student.legajo, name: student.name, email: student.email } } : {}),
        ...(student.legajo ? { subnet: studentSubnet(student.legajo) } : {}),
      });
      // A server its student stopped before `class down` stays stopped (src/env/readiness.ts): not a failure.
      const failing = r.notAccepting.filter((s) => !s.kept);
      if (failing.length) {
        const roles = failing.map((s) => s.role);
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
