/** No text a student reads ever shows a raw `{placeholder}`, whatever evidence a check could gather. */
import { describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { envFacts } from '../../src/lab/facts.js';
import { checksFor, labIds, loadLab } from '../../src/lab/manifest.js';
import { toResult } from '../../src/lab/runner.js';
import { PG_MAJORS } from '../../src/pg/profile.js';
import { fakeEnv } from './support/fake-env.js';

const labs = await Promise.all(labIds().map((id) => loadLab(id)));
const lab = labs.find((l) => l.id === 'wal-streaming')!;
const PLACEHOLDER = /\{\w+\}/;
// Reasons the runner produces for any check, besides the check's own.
const ENGINE_REASONS = ['server-down', 'timeout', 'sql-error', 'error', 'too-large', 'conf-unreadable', 'no-such-reason'];

describe.each(['es', 'en'] as const)('hints in %s', (lang) => {
  it.each(labs.flatMap((l) => PG_MAJORS.map((pg) => [l.id, pg] as const)))('lab %s on PostgreSQL %s: every hint of every check, with no evidence at all, is fully filled', (id, pg) => {
    setLang(lang);
    const lab = labs.find((l) => l.id === id)!;
    const facts = envFacts(fakeEnv(pg, lab.id, lab.standbys ?? 1));
    let filled = 0;
    for (const step of lab.steps) {
      for (const spec of checksFor(step, pg)) {
        for (const reason of [...Object.keys(spec.hints), ...ENGINE_REASONS]) {
          const r = toResult(spec, { status: 'fail', reason, evidence: {} }, facts, 0);
          for (const text of [r.hint ?? '', r.title, r.expected]) {
            expect(text, `${step.id}/${spec.id} (${reason})`).not.toMatch(PLACEHOLDER);
          }
          expect(r.hint, `${step.id}/${spec.id} (${reason})`).toBeTruthy();
          filled++;
        }
      }
    }
    expect(filled).toBeGreaterThan(lab.steps.length * 5);
    setLang('es');
  });

  it('an evidence key never overrides the env facts in a hint (the trigger file stays a path)', () => {
    setLang(lang);
    const spec = lab.steps.find((s) => s.id === 'step-6')!.checks.find((c) => c.id === 'promoted-properly')!;
    const r = toResult(spec, { status: 'fail', reason: 'still-standby', evidence: { trigger: 'no', timeline: 1 } }, envFacts(fakeEnv('9.1')), 0);
    expect(r.hint).toContain('touch /tmp/postgres-failover.trigger');
    expect(r.hint).not.toContain('touch no');
    setLang('es');
  });
});
