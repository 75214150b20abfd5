/**
 * Exercise text: exercises/<lab>/<lang>/<file>.md with `::: only 9.1,13` … `:::` version blocks and
 * `{{placeholder}}` facts of this environment.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { EXERCISES_DIR } from '../paths.js';
import type { Lang } from '../i18n/index.js';
import type { PgMajor } from '../pg/profile.js';

/** The reader's language when the lab has that text, else Spanish (every lab is written in Spanish first). */
export function exercisePath(lab: string, lang: Lang, file: string): string {
  const preferred = path.join(EXERCISES_DIR, lab, lang, file);
  return existsSync(preferred) ? preferred : path.join(EXERCISES_DIR, lab, 'es', file);
}

/** Keeps the blocks meant for `pg`, drops the others. */
export function selectVersion(markdown: string, pg: PgMajor): string {
  const out: string[] = [];
  let keep = true;
  for (const line of markdown.split('\n')) {
    const open = /^:::\s*only\s+([\d.,\s]+)$/.exec(line.trim());
    if (open) {
      keep = open[1].split(',').map((v) => v.trim()).includes(pg);
      continue;
    }
    if (line.trim() === ':::') {
      keep = true;
      continue;
    }
    if (keep) out.push(line);
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

export function fillPlaceholders(markdown: string, facts: Record<string, string>): string {
  return markdown.replace(/\{\{(\w+)\}\}/g, (m, key: string) => facts[key] ?? m);
}

export function renderExerciseSource(lab: string, lang: Lang, file: string, pg: PgMajor, facts: Record<string, string>): string {
  return fillPlaceholders(selectVersion(readFileSync(exercisePath(lab, lang, file), 'utf8'), pg), facts);
}
