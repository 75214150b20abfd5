import { describe, expect, it } from 'vitest';
import { parseAnswers } from '../../src/docker/inspector-files.js';
import { validFact } from '../../src/pg/plan-cache.js';

const hex = (s: string) => Buffer.from(s).toString('hex');
const entry = (id: number, type: string, name: string, data: string, link = '') =>
  Buffer.concat([Buffer.from(`E ${id} ${type} ${Buffer.byteLength(data)} ${type === 'd' ? 0o40755 : 0o100644} 0 1700000000 ${hex(name)} ${hex(link)} ${Buffer.byteLength(data)}\n`), Buffer.from(data)]);

describe('the inspector file reader\'s answers', () => {
  it('give each request its entries, with data holding any byte (newlines, a line that looks like a header)', () => {
    const out = Buffer.concat([
      entry(1, 'd', 'ssh', ''), entry(1, 'f', 'ssh/x', 'line\nE 1 f 0 0 0 0 00 00 0\nD 1 ok 0\n'), Buffer.from('D 1 ok 0\n'),
      Buffer.from('D 2 missing 0\n'),
      entry(3, 'l', 'pw-link', '', '/etc/passwd'), Buffer.from('D 3 ok 1\n'),
    ]);
    const answers = parseAnswers(out);
    expect(answers.get(1)!.entries.map((e) => [e.name, e.type, e.data.toString()])).toEqual([['ssh', 'd', ''], ['ssh/x', 'f', 'line\nE 1 f 0 0 0 0 00 00 0\nD 1 ok 0\n']]);
    expect(answers.has(2)).toBe(true);
    expect(answers.get(2)).toBeUndefined();
    expect(answers.get(3)).toMatchObject({ truncated: true, entries: [{ type: 'l', linkname: '/etc/passwd' }] });
  });

  it('leave out what the reader did not vouch for or did not finish (the caller asks the archive API)', () => {
    const cut = Buffer.concat([Buffer.from('D 1 unverified 0\nD 2 error 0\n'), entry(3, 'f', 'big', 'abcdef')]).subarray(0, -3);
    const answers = parseAnswers(Buffer.concat([cut]));
    expect([...answers.keys()]).toEqual([]);
    const noEnd = parseAnswers(entry(4, 'f', 'passwd', 'root:x:0:0'));
    expect(noEnd.has(4)).toBe(false);
  });
});

describe('a plan\'s reads', () => {
  it('take only ArchiveLimits of bounded whole numbers', () => {
    const fact = (limits: string) => ({ kind: 'archive', role: 'maestro', args: ['/etc/ssh', limits] });
    expect(validFact(fact('{"maxEntries":100,"maxDataPerFile":65536}'))).toBe(true);
    expect(validFact(fact('{"maxDataPerFile":99999999999}'))).toBe(false);
    expect(validFact(fact('{"timeoutMs":1}'))).toBe(false);
    expect(validFact(fact('{"stopAfter":-1}'))).toBe(false);
    expect(validFact(fact('not json'))).toBe(false);
    expect(validFact({ kind: 'archive', role: 'maestro', args: ['relative/path', '{}'] })).toBe(false);
    expect(validFact({ kind: 'fileInfo', role: 'esclavo', args: ['/etc/passwd', 1 << 20] })).toBe(true);
  });
});
