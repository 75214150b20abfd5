import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseBackupHistory, parseBackupLabel, parseTimelineHistory } from '../../src/pg/backup.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');

describe('backup files', () => {
  it('parses the archived backup history file', () => {
    expect(parseBackupHistory(fx('backup-history-file.txt'))).toEqual({
      startWalLocation: '0/3000020',
      startWalFile: '000000010000000000000003',
      stopWalLocation: '0/30000D8',
      checkpointLocation: '0/3000058',
      label: 'base_backup',
      startTime: '2026-11-26 18:45:23 UTC',
      stopTime: '2026-11-26 18:45:24 UTC',
    });
    expect(parseBackupHistory(fx('es/backup-history-file.txt')).stopTime).toBe('2026-11-26 15:49:48 -03');
  });

  it.each(['backup_label.txt', 'backup_label.old.txt'])('parses %s (no STOP lines)', (file) => {
    expect(parseBackupLabel(fx(file))).toEqual({
      startWalLocation: '0/3000020',
      startWalFile: '000000010000000000000003',
      checkpointLocation: '0/3000058',
      label: 'base_backup',
      startTime: '2026-11-26 18:45:23 UTC',
    });
  });

  it('reads a 15-style label (extra keys ignored, labels with spaces)', () => {
    const text = 'START WAL LOCATION: 0/2000028 (file 000000010000000000000002)\nCHECKPOINT LOCATION: 0/2000060\nBACKUP METHOD: streamed\nBACKUP FROM: primary\nSTART TIME: 2026-11-26 10:00:00 UTC\nLABEL: my label: x\nSTART TIMELINE: 1\n';
    expect(parseBackupLabel(text)).toEqual({
      startWalLocation: '0/2000028', startWalFile: '000000010000000000000002', checkpointLocation: '0/2000060', startTime: '2026-11-26 10:00:00 UTC', label: 'my label: x',
    });
  });
});

describe('parseTimelineHistory', () => {
  it.each(['timeline-00000002.history', 'es/timeline-00000002.history'])('9.1 %s names a segment, not an LSN', (file) => {
    expect(parseTimelineHistory(fx(file))).toEqual([
      { parentTli: 1, switchLsn: '0/4000000', switchWalFile: '000000010000000000000004', reason: 'no recovery target specified' },
    ]);
  });

  it('reads the 9.3+ LSN form, comments and several entries', () => {
    const text = '1\t0/3000158\tno recovery target specified\n\n# comment\n2\t0/5000000\tbefore 2026-11-26 10:00:00+00\n';
    expect(parseTimelineHistory(text)).toEqual([
      { parentTli: 1, switchLsn: '0/3000158', reason: 'no recovery target specified' },
      { parentTli: 2, switchLsn: '0/5000000', reason: 'before 2026-11-26 10:00:00+00' },
    ]);
    expect(parseTimelineHistory('')).toEqual([]);
  });
});
