/** Issue 9, item 1: a progress log the student can edit never breaks reading it. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APPEND_SCRIPT, parseProgressLog, recordsOf, summarize } from '../../src/lab/progress.js';

const rec = (at: string, key: string, status: string) => JSON.stringify({ at, key, status });
const T1 = '2026-11-27T10:00:00.000Z';
const T2 = '2026-11-27T11:00:00.000Z';

describe('progress log parsing', () => {
  it('skips JSON lines that are not progress records', () => {
    const text = [
      'null', '{"x":1}', '[1,2]', '42', '"texto"', 'true',
      '{"at":"ayer","key":"step-1","status":"pass"}', // not a date
      '{"at":"2026-11-27T09:00:00Z","key":"__proto__","status":"pass"}',
      '{"at":"2026-11-27T09:00:00Z","key":5,"status":"pass"}',
      rec(T1, 'step-1', 'pass'),
    ].join('\n');
    const records = parseProgressLog(text);
    expect(records).toEqual([{ at: T1, key: 'step-1', status: 'pass' }]);
    const p = summarize(records);
    expect(p.steps['step-1'].firstPassed).toBe(T1);
    expect(Object.getPrototypeOf(p.steps)).toBe(Object.prototype);
  });

  it('keeps each lab\'s records apart; records written before labs were recorded are the first lab\'s', () => {
    const text = [
      rec(T1, 'step-1', 'pass'), // an old record: no lab
      JSON.stringify({ at: T2, lab: 'sync-failback', key: 'step-1', status: 'fail' }),
      JSON.stringify({ at: T2, lab: 'wal-streaming', key: 'step-2', status: 'pass' }),
      JSON.stringify({ at: T2, lab: '../x', key: 'step-3', status: 'pass' }), // not a lab id: not ours
    ].join('\n');
    const records = parseProgressLog(text);
    expect(records).toHaveLength(3);
    const first = summarize(recordsOf(records, 'wal-streaming'));
    expect(Object.keys(first.steps)).toEqual(['step-1', 'step-2']);
    const second = summarize(recordsOf(records, 'sync-failback'));
    expect(second.steps['step-1']).toEqual({ firstPassed: undefined, lastStatus: 'fail', lastAt: T2 });
  });

  it('skips a torn line and keeps a record glued to its end', () => {
    const text = `${rec(T1, 'step-1', 'fail')}\n{"at":"2026-11-27T10:30:00.000Z","ke${rec(T2, 'step-1', 'pass')}\n{"at":"20`;
    expect(parseProgressLog(text)).toEqual([
      { at: T1, key: 'step-1', status: 'fail' },
      { at: T2, key: 'step-1', status: 'pass' },
    ]);
  });

  it('reads binary junk and an empty log as no progress', () => {
    expect(parseProgressLog('\u0000\u0001\xff{{{\n\n   \n')).toEqual([]);
    expect(summarize(parseProgressLog(''))).toEqual({ steps: {}, checks: {} });
  });
});

describe('progress log writer script', () => {
  // The fixed script appendProgress runs in the container, run here with the host's sh.
  const append = (file: string, text: string) => execFileSync('sh', ['-c', APPEND_SCRIPT, 'append-progress', file], { input: text });

  it('starts on a new line when the log ends in a torn line, so the next record is not lost', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'h9-progress-')), 'progress.jsonl');
    writeFileSync(file, `${rec(T1, 'step-1', 'fail')}\n{"at":"2026-11-27T10:3`);
    append(file, rec(T2, 'step-1', 'pass') + '\n');
    append(file, rec(T2, 'step-2', 'fail') + '\n'); // log ends in \n now: no blank line added
    const text = readFileSync(file, 'utf8');
    expect(text.split('\n')).toHaveLength(5); // 4 lines + the final ''
    expect(parseProgressLog(text).map((r) => r.key + ':' + r.status)).toEqual(['step-1:fail', 'step-1:pass', 'step-2:fail']);
  });

  it('creates the log when it does not exist', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'h9-progress-')), 'progress.jsonl');
    append(file, rec(T1, 'step-1', 'pass') + '\n');
    expect(readFileSync(file, 'utf8')).toBe(rec(T1, 'step-1', 'pass') + '\n');
  });
});
