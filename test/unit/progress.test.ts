import { describe, expect, it } from 'vitest';
import { summarize } from '../../src/lab/progress.js';
import { lazy } from '../../src/lab/runner.js';

describe('progress log', () => {
  it('derives first pass and last status from the append-only records', () => {
    const p = summarize([
      { at: 't1', key: 'step-2', status: 'fail' },
      { at: 't1', key: 'step-2/segments', status: 'fail' },
      { at: 't2', key: 'step-2', status: 'pass' },
      { at: 't2', key: 'step-2/segments', status: 'pass' },
      { at: 't3', key: 'step-2/segments', status: 'fail' },
    ]);
    expect(p.steps['step-2']).toEqual({ firstPassed: 't2', lastStatus: 'pass', lastAt: 't2' });
    expect(p.checks['step-2/segments']).toEqual({ firstPassed: 't2', lastStatus: 'fail', lastAt: 't3' });
  });

  it('fetches a lazy value once, only when asked', async () => {
    let calls = 0;
    const get = lazy(async () => ++calls);
    expect(calls).toBe(0);
    expect(await get()).toBe(1);
    expect(await get()).toBe(1);
  });
});
