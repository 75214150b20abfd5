/** Issue 9, item 4: two networks of one name (Docker 20.10 allows it under a race) are settled on the oldest. */
import { describe, expect, it } from 'vitest';
import { createdKey } from '../../src/env/env.js';

describe('network creation times', () => {
  it('sorts Docker times as times, although Docker drops trailing zeros of the nanoseconds', () => {
    const earlier = '2026-11-27T21:08:23.8258373Z'; // = .825837300
    const later = '2026-11-27T21:08:23.825837365Z';
    expect(earlier.localeCompare(later)).toBeGreaterThan(0); // plain strings get it wrong
    expect(createdKey(earlier).localeCompare(createdKey(later))).toBeLessThan(0);
    expect(createdKey('2026-11-27T21:08:23Z').localeCompare(createdKey('2026-11-27T21:08:23.000000001Z'))).toBeLessThan(0);
    expect(createdKey(undefined)).toBe('');
  });
});
