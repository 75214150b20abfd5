/**
 * `lab dev check [LAB]`: what a lab author runs before asking for a review (rustlings' `dev check`
 * is the model). Everything a student would otherwise find broken: the manifest against its schema
 * (unknown keys included), checks that resolve, every hint filled with no evidence at all on every
 * version and in both languages, every text in Spanish and English, every step's reference solution
 * present for every version, and every check named by a test (or covered by a test file that says
 * it runs every check of the lab on a fresh env and after the reference solutions).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LabEnv } from '../env/env.js';
import { MAX_STANDBYS, serverRoles } from '../env/naming.js';
import { lang, setLang, t, type Lang } from '../i18n/index.js';
import { EXERCISES_DIR, LABS_DIR, PROJECT_ROOT } from '../paths.js';
import { PG_MAJORS, type PgMajor } from '../pg/profile.js';
import { exercisePath, renderExerciseSource } from './exercise.js';
import { envFacts } from './facts.js';
import { checksFor, loadLab, type Lab, type Text } from './manifest.js';
import { toResult } from './runner.js';
import { manifestProblems } from './schema.js';

/** A test file that asserts every check of a lab fails on a fresh env and passes after the solutions says so with this line. */
export const COVERS_ALL = 'lab-covers-all-checks:';

/** Reasons the runner gives any check, besides the check's own (their hints are the engine's). */
const ENGINE_REASONS = ['server-down', 'timeout', 'sql-error', 'error', 'too-large', 'conf-unreadable'];
const RAW = /\{\{?\w+\}?\}/;

/** An env as `lab up` would make it for this lab, without Docker: for filling texts. */
function sampleEnv(lab: Lab, pg: PgMajor): LabEnv {
  return {
    name: 'alumno01', lab: lab.id, pg, subnet: '10.213.7.0/24', created: '', image: '',
    servers: serverRoles(lab.standbys ?? 1).map((role, i) => ({ role, container: `c${i}`, ip: `10.213.7.${10 + i}`, state: 'running' })),
  };
}

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? testFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every problem of one lab, in the current language; an empty list: ready. */
export async function devCheck(id: string, opts: { testsDir?: string } = {}): Promise<string[]> {
  const out: string[] = [];
  const dir = path.join(LABS_DIR, id);
  const file = path.join(dir, 'lab.json');
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    return [t('lab.badJson', { lab: id, detail: String((err as Error).message) })];
  }
  out.push(...manifestProblems(data, MAX_STANDBYS).map((p) => p.message));
  let lab: Lab;
  try {
    lab = await loadLab(id);
  } catch (err) {
    return [...out, String((err as Error).message)];
  }
  const where = (step: string, check?: string) => (check ? `${step}/${check}` : step);

  // Both languages, everywhere a student reads.
  const texts: [string, Text | undefined][] = [['title', lab.title]];
  for (const step of lab.steps) {
    texts.push([`${step.id}.title`, step.title], ...step.hints.map((h, i): [string, Text] => [`${step.id}.hints[${i}]`, h]));
    for (const c of step.checks) {
      texts.push([`${where(step.id, c.id)}.title`, c.title], [`${where(step.id, c.id)}.expected`, c.expected]);
      for (const [reason, h] of Object.entries(c.hints)) texts.push([`${where(step.id, c.id)}.hints.${reason}`, h]);
    }
  }
  for (const [at, text] of texts) {
    if (!text?.es?.trim()) out.push(t('dev.noSpanish', { at }));
    if (!text?.en?.trim()) out.push(t('dev.noEnglish', { at }));
  }
  for (const step of lab.steps) {
    for (const l of ['es', 'en'] as const) {
      if (!existsSync(path.join(EXERCISES_DIR, lab.id, l, step.exercise))) out.push(t('dev.noExercise', { at: step.id, file: `exercises/${lab.id}/${l}/${step.exercise}` }));
    }
  }

  // Texts and hints filled with this env's facts and no evidence: nothing raw left, nothing empty.
  const was = lang();
  try {
    for (const l of ['es', 'en'] as Lang[]) {
      setLang(l);
      for (const pg of PG_MAJORS) {
        const facts = envFacts(sampleEnv(lab, pg), lab.id);
        for (const step of lab.steps) {
          if (existsSync(exercisePath(lab.id, l, step.exercise))) {
            const text = renderExerciseSource(lab.id, l, step.exercise, pg, facts);
            const raw = RAW.exec(text);
            if (raw) out.push(t('dev.rawInExercise', { at: step.id, lang: l, pg, raw: raw[0] }));
          }
          for (const spec of checksFor(step, pg)) {
            for (const reason of [...Object.keys(spec.hints), ...ENGINE_REASONS]) {
              const r = toResult(spec, { status: 'fail', reason, evidence: {} }, facts, 0);
              const shown = [r.hint ?? '', r.title, r.expected].join('\n');
              const raw = RAW.exec(shown);
              if (!r.hint?.trim()) out.push(t('dev.emptyHint', { at: where(step.id, spec.id), reason, lang: l, pg }));
              else if (raw || shown.includes('{—}')) out.push(t('dev.rawInHint', { at: where(step.id, spec.id), reason, lang: l, pg, raw: raw?.[0] ?? '{—}' }));
            }
          }
        }
      }
    }
  } finally {
    setLang(was);
  }

  // A reference solution for every step on every version, its scripts there, on servers the lab has.
  const roles = serverRoles(lab.standbys ?? 1);
  for (const step of lab.steps) {
    for (const pg of PG_MAJORS) {
      if (!step.solution.some((a) => !a.versions || a.versions.includes(pg))) out.push(t('dev.noSolution', { at: step.id, pg }));
    }
    for (const a of step.solution) {
      if (!existsSync(path.join(dir, a.script))) out.push(t('dev.noScript', { at: step.id, file: `labs/${lab.id}/${a.script}` }));
      if (!roles.includes(a.on)) out.push(t('dev.noServer', { at: step.id, role: a.on, roles: roles.join(', ') }));
    }
  }

  // Every check named by a test, or the lab covered whole by a test file that says so.
  const tests = testFiles(opts.testsDir ?? path.join(PROJECT_ROOT, 'test')).map((f) => readFileSync(f, 'utf8'));
  const coversAll = tests.some((text) => text.split('\n').some((line) => line.includes(COVERS_ALL) && line.split(COVERS_ALL)[1].trim().split(/[\s,]+/).includes(lab.id)));
  if (!coversAll) {
    for (const step of lab.steps) {
      for (const c of step.checks) {
        const fn = c.check.split('.').pop()!;
        const named = tests.some((text) => text.includes(`'${c.id}'`) || text.includes(`"${c.id}"`) || text.includes(`${step.id}/${c.id}`) || text.includes(c.check) || new RegExp(`\\b${fn}\\b`).test(text));
        if (!named) out.push(t('dev.untested', { at: where(step.id, c.id), check: c.check }));
      }
    }
  }
  return out;
}
