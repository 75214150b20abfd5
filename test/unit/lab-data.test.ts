/** Every lab's data: manifest, exercise text and solutions are complete for every version and language. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { exercisePath, fillPlaceholders, renderExerciseSource, selectVersion } from '../../src/lab/exercise.js';
import { checksFor, findStep, labIds, loadLab, readManifest } from '../../src/lab/manifest.js';
import { envFacts } from '../../src/lab/facts.js';
import { PG_MAJORS } from '../../src/pg/profile.js';
import { fakeEnv } from './support/fake-env.js';

const labs = await Promise.all(labIds().map((id) => loadLab(id)));
const lab = labs.find((l) => l.id === 'wal-streaming')!;

describe.each(labs.map((l) => [l.id, l] as const))('lab %s', (_id, each) => {
  const BY_CONSTRUCTION = ['same-version'];
  it('has steps, each with checks, points, graded hints in both languages and a solution for every version', () => {
    expect(each.format).toBe(1);
    for (const step of each.steps) {
      expect(step.checks.length).toBeGreaterThan(0);
      expect(step.hints.length).toBeGreaterThanOrEqual(2);
      for (const c of step.checks) {
        expect(each.checks[c.check], c.check).toBeTypeOf('function');
        expect(c.title.en, c.id).toBeTruthy();
        // True by construction in a fresh env (issue 16: a fresh env earns 0): shown, worth nothing.
        if (BY_CONSTRUCTION.includes(c.id)) expect(c.points, c.id).toBe(0);
        else expect(c.points, c.id).toBeGreaterThan(c.severity === 'warn' ? -1 : 0);
        for (const h of Object.values(c.hints)) expect(h.en, `${step.id}/${c.id}`).toBeTruthy();
      }
      for (const a of step.solution) expect(existsSync(path.join(each.dir, a.script)), a.script).toBe(true);
      for (const pg of PG_MAJORS) expect(step.solution.some((a) => !a.versions || a.versions.includes(pg)), `${step.id} on ${pg}`).toBe(true);
    }
  });

  it.each(PG_MAJORS.flatMap((pg) => (['es', 'en'] as const).map((lang) => [pg, lang] as const)))('renders every exercise for PostgreSQL %s in %s with this env\'s facts', (pg, lang) => {
    for (const step of each.steps) {
      expect(exercisePath(each.id, lang, step.exercise)).toContain(`/exercises/${each.id}/${lang}/`);
      const text = renderExerciseSource(each.id, lang, step.exercise, pg, envFacts(fakeEnv(pg, each.id, each.standbys ?? 1)));
      expect(text, step.id).not.toMatch(/\{\{\w+\}\}/);
      expect(text, step.id).not.toMatch(/^:::/m);
      expect(text, step.id).toContain(`lab check ${step.id}`);
    }
  });

  it('solution scripts ask the version\'s capabilities, never compare $PG', () => {
    for (const step of each.steps) {
      for (const a of step.solution) expect(readFileSync(path.join(each.dir, a.script), 'utf8'), a.script).not.toMatch(/\$\{?PG\}?["' ]*(=|!=|-eq|-ge|-lt)/);
    }
  });

  it('continues a lab that exists, and is listed by `lab labs`', () => {
    if (each.startsFrom) expect(readManifest(each.startsFrom).id).toBe(each.startsFrom);
    expect(labIds()).toContain(each.id);
  });
});

describe('wal-streaming manifest', () => {
  it('has the six tutorial steps', () => {
    expect(lab.steps.map((s) => s.id)).toEqual(['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']);
    for (const step of lab.steps) expect(step.checks.length).toBeGreaterThan(2);
  });

  it('every failure reason a check can return has its own hint or falls back to default', () => {
    // Reasons are literal strings in the lab's checks and the shared settings grader: each one used by a check must be handled.
    const src = [...['prep', 'shipping', 'standby', 'startup', 'streaming', 'promotion'].map((f) => `labs/wal-streaming/checks/${f}.ts`), 'src/checks/settings.ts']
      .map((f) => readFileSync(path.resolve(f), 'utf8')).join('\n');
    const reasons = new Set([...src.matchAll(/fail\('([a-z-]+)'/g)].map((m) => m[1]));
    const hinted = new Set(lab.steps.flatMap((s) => s.checks.flatMap((c) => Object.keys(c.hints))));
    // The engine words these itself, for every check (src/lab/runner.ts toResult).
    const ENGINE_HINTED = ['conf-unreadable'];
    const unhinted = [...reasons].filter((r) => !hinted.has(r) && !ENGINE_HINTED.includes(r));
    // These reasons are deliberately covered by their check's default hint; a new reason must be added here or hinted.
    const COVERED_BY_DEFAULT = ['arch-differs', 'bad-history', 'conninfo-port', 'down', 'failed', 'leftovers', 'major-differs',
      'maestro-down', 'missing-on-esclavo', 'no-datadir', 'no-maestro-sysid', 'no-rows', 'no-rule', 'not-dir', 'not-running',
      'not-set', 'not-streaming', 'other', 'other-error', 'other-server', 'present', 'same-timeline', 'wrong-value', 'write-refused'];
    expect(unhinted.filter((r) => !COVERED_BY_DEFAULT.includes(r))).toEqual([]);
  });

  it('finds steps by id or number and filters version-specific checks', () => {
    expect(findStep(lab, '3').id).toBe('step-3');
    expect(() => findStep(lab, 'step-9')).toThrow();
    const six = findStep(lab, 'step-6');
    expect(checksFor(six, '9.1').map((c) => c.id)).toContain('recovery-done-cleaned');
    expect(checksFor(six, '15').map((c) => c.id)).not.toContain('recovery-done-cleaned');
  });
});

describe('wal-streaming exercise text', () => {
  it.each(PG_MAJORS.flatMap((pg) => (['es', 'en'] as const).map((lang) => [pg, lang] as const)))('renders every step for PostgreSQL %s in %s with this env\'s facts', (pg, lang) => {
    for (const step of lab.steps) {
      const text = renderExerciseSource(lab.id, lang, step.exercise, pg, envFacts(fakeEnv(pg)));
      expect(text, step.id).not.toMatch(/\{\{\w+\}\}/);
      expect(text, step.id).not.toMatch(/<<IP SERVIDOR/);
      expect(text, step.id).not.toMatch(/^:::/m);
      expect(text, step.id).toContain(`lab check ${step.id}`);
      if (step.id === 'step-2') expect(text).toContain('10.213.7.11');
      if (step.id === 'step-3') expect(text).toContain(pg === '9.1' ? 'recovery.conf' : 'standby.signal');
    }
  });

  it('keeps version blocks for the right versions only', () => {
    const md = 'común\n::: only 9.1\nsolo 9.1\n:::\n::: only 15,17\nmoderno\n:::\nfin';
    expect(selectVersion(md, '9.1')).toBe('común\nsolo 9.1\nfin');
    expect(selectVersion(md, '17')).toBe('común\nmoderno\nfin');
    expect(fillPlaceholders('{{maestro_ip}} {{nada}}', { maestro_ip: '1.2.3.4' })).toBe('1.2.3.4 {{nada}}');
  });

  it('has an English version of every exercise', () => {
    for (const step of lab.steps) expect(exercisePath(lab.id, 'en', step.exercise)).toContain('/en/');
  });
});
