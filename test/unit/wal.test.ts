import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { controlFacts } from '../../src/pg/controldata.js';
import { profileFor } from '../../src/pg/profile.js';
import {
  isBackupHistoryName, isTimelineHistoryName, isWalSegmentName, parseWalLongHeader, timelineOfWalName, validateWalSegment,
} from '../../src/pg/wal.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');
const SEG = 16 * 1024 * 1024;

const page = readFileSync(path.join(FIX, 'wal-segment-first-page.bin'));
const name = fx('wal-segment-first-page.name.txt').trim();
const sysid = controlFacts(fx('pg_controldata-maestro.txt')).systemIdentifier!;
const pg91 = profileFor('9.1');
const base = { name, size: SEG, firstPage: page, profile: pg91, expectedSysid: sysid };

/** A 9.3+ long header as the server writes it. */
function v93Header(o: { magic: number; tli: number; pageAddr: bigint; sysid: bigint; info?: number }): Buffer {
  const b = Buffer.alloc(8192);
  b.writeUInt16LE(o.magic, 0);
  b.writeUInt16LE(o.info ?? 0x0006, 2);
  b.writeUInt32LE(o.tli, 4);
  b.writeBigUInt64LE(o.pageAddr, 8);
  b.writeBigUInt64LE(o.sysid, 24);
  b.writeUInt32LE(SEG, 32);
  b.writeUInt32LE(8192, 36);
  return b;
}

describe('9.1 captured segment', () => {
  it('decodes the v91 long header', () => {
    expect(name).toBe('000000010000000000000004');
    expect(parseWalLongHeader(page, 'v91')).toEqual({
      magic: 0xd066, info: 0x0002, tli: 1, pageAddr: 0x4000000n, sysid: '7712552863478153215', segSize: SEG, blcksz: 8192,
    });
  });

  it('validates against the maestro sysid on profile 9.1', () => {
    const v = validateWalSegment(base);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.header.sysid).toBe(sysid);
  });

  it('the Spanish run is another cluster: its segment validates only against its own sysid', () => {
    const esPage = readFileSync(path.join(FIX, 'es/wal-segment-first-page.bin'));
    const esSysid = controlFacts(fx('es/pg_controldata-maestro.txt')).systemIdentifier!;
    expect(validateWalSegment({ ...base, firstPage: esPage, expectedSysid: esSysid }).ok).toBe(true);
    expect(validateWalSegment({ ...base, firstPage: esPage })).toMatchObject({ ok: false, reason: 'sysid-mismatch' });
  });

  it.each([
    ['zero-filled page', 'bad-magic', { firstPage: Buffer.alloc(8192) }],
    ['the esclavo initial sysid', 'sysid-mismatch', { expectedSysid: controlFacts(fx('pg_controldata-esclavo-initial.txt')).systemIdentifier! }],
    ['timeline 2 name', 'tli-mismatch', { name: '000000020000000000000004' }],
    ['another segment name', 'pageaddr-mismatch', { name: '000000010000000000000005' }],
    ['another log id', 'pageaddr-mismatch', { name: '000000010000000100000004' }],
    ['lower-case hex in the name', 'bad-name', { name: '00000001000000000000000a' }],
    ['.partial name', 'bad-name', { name: `${name}.partial` }],
    ['FF segment on 9.1', 'ff-segment', { name: '0000000100000000000000FF' }],
    ['truncated file', 'bad-size', { size: 8192 }],
    ['short read', 'short-read', { firstPage: page.subarray(0, 20) }],
    ['the 9.1 page checked as 15', 'bad-magic', { profile: profileFor('15') }],
  ] as const)('%s → %s', (_label, reason, override) => {
    expect(validateWalSegment({ ...base, ...override })).toMatchObject({ ok: false, reason });
  });

  it('reports a 15 magic on the 9.1 profile, and a short-header page, and odd header fields', () => {
    const p15 = Buffer.from(page); p15.writeUInt16LE(0xd110, 0);
    expect(validateWalSegment({ ...base, firstPage: p15 })).toMatchObject({ ok: false, reason: 'bad-magic', detail: expect.stringContaining('0xD110') });
    const shortHdr = Buffer.from(page); shortHdr.writeUInt16LE(0x0001, 2);
    expect(validateWalSegment({ ...base, firstPage: shortHdr })).toMatchObject({ ok: false, reason: 'not-long-header' });
    const seg64 = Buffer.from(page); seg64.writeUInt32LE(64 * 1024 * 1024, 24);
    expect(validateWalSegment({ ...base, firstPage: seg64 })).toMatchObject({ ok: false, reason: 'bad-seg-size' });
    const blk = Buffer.from(page); blk.writeUInt32LE(16384, 28);
    expect(validateWalSegment({ ...base, firstPage: blk })).toMatchObject({ ok: false, reason: 'bad-blcksz' });
  });

  it('parseWalLongHeader throws on a buffer shorter than the header', () => {
    expect(() => parseWalLongHeader(page.subarray(0, 31), 'v91')).toThrow(RangeError);
    expect(() => parseWalLongHeader(page.subarray(0, 39), 'v93')).toThrow(RangeError);
  });
});

describe('v93 layout (13/15/17)', () => {
  const sys = 7400000000000000001n;
  const p15 = profileFor('15');
  it('decodes and validates a synthesised 15 header, FF segments included', () => {
    const buf = v93Header({ magic: 0xd110, tli: 2, pageAddr: (1n * 256n + 0xffn) * BigInt(SEG), sysid: sys });
    expect(parseWalLongHeader(buf, 'v93')).toEqual({
      magic: 0xd110, info: 6, tli: 2, pageAddr: 0x1ff000000n, sysid: sys.toString(), segSize: SEG, blcksz: 8192,
    });
    const input = { name: '0000000200000001000000FF', size: SEG, firstPage: buf, profile: p15, expectedSysid: sys.toString() };
    expect(validateWalSegment(input).ok).toBe(true);
    expect(validateWalSegment({ ...input, name: '000000020000000100000000' })).toMatchObject({ ok: false, reason: 'pageaddr-mismatch' });
    expect(validateWalSegment({ ...input, profile: profileFor('17') })).toMatchObject({ ok: false, reason: 'bad-magic' });
    // Read with the 9.1 layout, the 9.3+ sysid offset gives garbage.
    expect(parseWalLongHeader(buf, 'v91').sysid).not.toBe(sys.toString());
  });

  it('rejects the 9.1 page on 13 (magic) and a short read below 40 bytes', () => {
    expect(validateWalSegment({ ...base, profile: profileFor('13') })).toMatchObject({ ok: false, reason: 'bad-magic' });
    const buf = v93Header({ magic: 0xd106, tli: 1, pageAddr: 0x3000000n, sysid: sys });
    const input = { name: '000000010000000000000003', size: SEG, firstPage: buf.subarray(0, 36), profile: profileFor('13'), expectedSysid: sys.toString() };
    expect(validateWalSegment(input)).toMatchObject({ ok: false, reason: 'short-read' });
    expect(validateWalSegment({ ...input, firstPage: buf }).ok).toBe(true);
  });
});

describe('archive file names', () => {
  it('classifies the names seen in the 9.1 archive and pg_xlog', () => {
    expect(isWalSegmentName('000000010000000000000003')).toBe(true);
    expect(isWalSegmentName('000000010000000000000003.00000020.backup')).toBe(false);
    expect(isWalSegmentName('00000001000000000000000g')).toBe(false);
    expect(isBackupHistoryName('000000010000000000000003.00000020.backup')).toBe(true);
    expect(isBackupHistoryName('000000010000000000000003.backup')).toBe(false);
    expect(isTimelineHistoryName('00000002.history')).toBe(true);
    expect(isTimelineHistoryName('2.history')).toBe(false);
    expect(timelineOfWalName('000000020000000000000005')).toBe(2);
    expect(timelineOfWalName('00000002.history')).toBe(2);
    expect(timelineOfWalName('0000000A0000000000000003.00000020.backup')).toBe(10);
    expect(() => timelineOfWalName('archive_status')).toThrow();
  });

  it('every segment listed in the captured data dir after promotion has a valid name', () => {
    const names = fx('datadir-esclavo-after-promotion.txt').split('\n').map((l) => l.split(/\s+/).pop()!).filter((n) => /^0{7}/.test(n));
    expect(names.filter(isWalSegmentName).map(timelineOfWalName)).toEqual([1, 2, 2, 2, 2, 2]);
    expect(names.filter(isTimelineHistoryName)).toEqual(['00000002.history']);
  });
});
