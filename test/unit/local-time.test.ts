/** Issue 9, item 11: times people read are local time; machine formats keep ISO. */
import { describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { localTime } from '../../src/i18n/time.js';
import type { GradeReport } from '../../src/lab/grade.js';
import { renderReport } from '../../src/report/formats.js';

const GRADED = '2026-11-27T19:16:50.003Z';
const FIRST = '2026-11-26T08:05:00.000Z';
const BEFORE = '2026-11-25T12:30:00.000Z';

const report: GradeReport = {
  schema: 'pglab-grade/1', lab: 'wal-streaming', labTitle: 'Lab', gradedAt: GRADED,
  envs: [{
    env: 'alumno01', lab: 'wal-streaming', pg: '15', gradedAt: GRADED, score: 6, maxScore: 6, percentage: 100,
    steps: [{
      step: 'step-1', title: 'Paso 1', passed: true, points: 6, maxPoints: 6, percentage: 100, durationMs: 10, firstPassed: FIRST,
      checks: [{ id: 'c', title: 'C', status: 'pass', points: 6, maxPoints: 6, expected: '', evidence: {}, durationMs: 1, passedBefore: BEFORE, source: 'observer' }],
    }],
  }],
};

describe('local time in what people read', () => {
  it('formats an ISO instant in this machine\'s zone, and leaves junk as it is', () => {
    setLang('es');
    const d = new Date(GRADED);
    const shown = localTime(GRADED);
    expect(shown).not.toContain('T19:16');
    expect(shown).toContain(`:${String(d.getMinutes()).padStart(2, '0')}`);
    expect(shown).toContain(String(d.getDate()));
    expect(localTime('no-es-una-fecha')).toBe('no-es-una-fecha');
  });

  it('converts to the machine\'s zone (Argentina is UTC-3)', () => {
    const saved = process.env.TZ;
    process.env.TZ = 'America/Argentina/Buenos_Aires';
    try {
      expect(localTime('2026-11-27T19:16:50.003Z')).toMatch(/27\/11\/26.*\b(4|16):16\b/);
    } finally {
      if (saved === undefined) delete process.env.TZ; else process.env.TZ = saved;
    }
  });

  it('text, md and html reports show local times; json, csv and junit keep ISO', () => {
    setLang('es');
    const shown = { text: [GRADED, FIRST, BEFORE], md: [GRADED, BEFORE], html: [GRADED, FIRST, BEFORE] };
    for (const [format, times] of Object.entries(shown) as ['text' | 'md' | 'html', string[]][]) {
      const out = renderReport(report, format);
      for (const iso of times) {
        expect(out, `${format} ${iso}`).not.toContain(iso);
        expect(out, `${format} ${iso}`).toContain(localTime(iso));
      }
    }
    expect(renderReport(report, 'json')).toContain(GRADED);
    expect(renderReport(report, 'csv')).toContain(GRADED);
    expect(renderReport(report, 'junit')).toContain(GRADED);
  });
});
