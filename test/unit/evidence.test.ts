/** Evidence reads as labelled lines in the reader's language, long values cut between words. */
import { describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { clip, evidencePairs } from '../../src/render/evidence.js';

describe('evidence for people', () => {
  it('labels known keys in Spanish and English, and keeps unknown keys readable', () => {
    setLang('es');
    expect(evidencePairs({ segment: '000000010000000000000003', maestro_sysid: '58', some_key: 1 }))
      .toEqual(['segmento WAL: 000000010000000000000003', 'identificador del maestro: 58', 'some_key: 1']);
    setLang('en');
    expect(evidencePairs({ segment: 'x' })).toEqual(['WAL segment: x']);
    setLang('es');
  });

  it('never cuts a value in the middle of a word', () => {
    const long = Array.from({ length: 60 }, (_, i) => `palabra${i}`).join(' ');
    const cut = clip(long, 100);
    expect(cut.length).toBeLessThanOrEqual(102);
    expect(cut.endsWith(' …')).toBe(true);
    const words = cut.slice(0, -2).split(' ');
    expect(long.split(' ').slice(0, words.length)).toEqual(words);
    expect(clip('corto')).toBe('corto');
  });
});
