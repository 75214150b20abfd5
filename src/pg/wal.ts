/**
 * Checks that a file in the WAL archive is a real segment of the primary's cluster, from its
 * name, size and long page header (pg-versions.md §10), so a grader can reject empty files, files
 * copied from another cluster (e.g. the esclavo's own initdb) or files renamed by hand.
 */
import { WAL_SEGMENT_SIZE, type PgProfile } from './profile.js';

export interface WalLongHeader { magic: number; info: number; tli: number; pageAddr: bigint; sysid: string /* decimal */; segSize: number; blcksz: number }

export type WalVerdict =
  | { ok: true; header: WalLongHeader }
  | { ok: false; reason: 'bad-name' | 'bad-size' | 'short-read' | 'bad-magic' | 'not-long-header' | 'tli-mismatch' | 'pageaddr-mismatch' | 'bad-seg-size' | 'bad-blcksz' | 'sysid-mismatch' | 'ff-segment'; detail: string };

const XLP_LONG_HEADER = 0x0002;
const HEADER_LEN = { v91: 32, v93: 40 } as const;
const hex = (n: number | bigint) => '0x' + n.toString(16).toUpperCase();

/** Decodes the long header at the start of a segment's first page (little-endian). Throws if the buffer is too short. */
export function parseWalLongHeader(firstPage: Buffer, layout: 'v91' | 'v93'): WalLongHeader {
  if (firstPage.length < HEADER_LEN[layout]) {
    throw new RangeError(`WAL long header (${layout}) needs ${HEADER_LEN[layout]} bytes, got ${firstPage.length}`);
  }
  const b = firstPage;
  const common = { magic: b.readUInt16LE(0), info: b.readUInt16LE(2), tli: b.readUInt32LE(4) };
  if (layout === 'v91') {
    // 9.1 XLogRecPtr is {xlogid, xrecoff}: two u32, log id first.
    const pageAddr = (BigInt(b.readUInt32LE(8)) << 32n) | BigInt(b.readUInt32LE(12));
    return { ...common, pageAddr, sysid: b.readBigUInt64LE(16).toString(), segSize: b.readUInt32LE(24), blcksz: b.readUInt32LE(28) };
  }
  return { ...common, pageAddr: b.readBigUInt64LE(8), sysid: b.readBigUInt64LE(24).toString(), segSize: b.readUInt32LE(32), blcksz: b.readUInt32LE(36) };
}

export function isWalSegmentName(name: string): boolean {
  return /^[0-9A-F]{24}$/.test(name);
}

export function isBackupHistoryName(name: string): boolean {
  return /^[0-9A-F]{24}\.[0-9A-F]{8}\.backup$/.test(name);
}

export function isTimelineHistoryName(name: string): boolean {
  return /^[0-9A-F]{8}\.history$/.test(name);
}

/** Timeline from the first 8 hex digits of a segment, backup history or timeline history name. Throws on other names. */
export function timelineOfWalName(name: string): number {
  if (!isWalSegmentName(name) && !isBackupHistoryName(name) && !isTimelineHistoryName(name)) {
    throw new Error(`not a WAL file name: ${name}`);
  }
  return parseInt(name.slice(0, 8), 16);
}

/** Validates one archived segment; `firstPage` needs only the header bytes, `size` is the file's size on disk. */
export function validateWalSegment(input: { name: string; size: number; firstPage: Buffer; profile: PgProfile; expectedSysid: string }): WalVerdict {
  const { name, size, firstPage, profile } = input;
  const layout = profile.walHeaderLayout;
  if (!isWalSegmentName(name)) return { ok: false, reason: 'bad-name', detail: `"${name}" is not 24 upper-case hex digits` };
  const logId = parseInt(name.slice(8, 16), 16);
  const seg = parseInt(name.slice(16, 24), 16);
  // Before 9.3 the last segment of each log id (…FF) was skipped; from 9.3 on segments run 00–FF.
  if (layout === 'v91' && seg === 0xff) return { ok: false, reason: 'ff-segment', detail: `${name}: segments ending in FF are never used before 9.3` };
  if (seg > 0xff) return { ok: false, reason: 'bad-name', detail: `${name}: segment number ${hex(seg)} is out of range for 16 MB segments` };
  if (size !== WAL_SEGMENT_SIZE) return { ok: false, reason: 'bad-size', detail: `${name} is ${size} bytes, expected ${WAL_SEGMENT_SIZE}` };
  if (firstPage.length < HEADER_LEN[layout]) {
    return { ok: false, reason: 'short-read', detail: `read ${firstPage.length} bytes, the ${layout} long header needs ${HEADER_LEN[layout]}` };
  }
  const h = parseWalLongHeader(firstPage, layout);
  const fail = (reason: Exclude<WalVerdict, { ok: true }>['reason'], detail: string): WalVerdict => ({ ok: false, reason, detail });
  if (h.magic !== profile.walPageMagic) return fail('bad-magic', `magic ${hex(h.magic)}, expected ${hex(profile.walPageMagic)} for PostgreSQL ${profile.major}`);
  if (!(h.info & XLP_LONG_HEADER)) return fail('not-long-header', `xlp_info ${hex(h.info)} lacks XLP_LONG_HEADER`);
  const nameTli = parseInt(name.slice(0, 8), 16);
  if (h.tli !== nameTli) return fail('tli-mismatch', `header timeline ${h.tli}, name says ${nameTli}`);
  const expectedAddr = layout === 'v91'
    ? (BigInt(logId) << 32n) | BigInt(seg * WAL_SEGMENT_SIZE)
    : (BigInt(logId) * 256n + BigInt(seg)) * BigInt(WAL_SEGMENT_SIZE);
  if (h.pageAddr !== expectedAddr) return fail('pageaddr-mismatch', `page address ${lsn(h.pageAddr)}, expected ${lsn(expectedAddr)} for ${name}`);
  if (h.segSize !== WAL_SEGMENT_SIZE) return fail('bad-seg-size', `xlp_seg_size ${h.segSize}, expected ${WAL_SEGMENT_SIZE}`);
  if (h.blcksz !== 8192) return fail('bad-blcksz', `xlp_xlog_blcksz ${h.blcksz}, expected 8192`);
  if (h.sysid !== input.expectedSysid.trim()) return fail('sysid-mismatch', `system identifier ${h.sysid}, expected ${input.expectedSysid.trim()}`);
  return { ok: true, header: h };
}

/** `X/X` text form of a 64-bit WAL position. */
function lsn(p: bigint): string {
  return `${(p >> 32n).toString(16).toUpperCase()}/${(p & 0xffffffffn).toString(16).toUpperCase()}`;
}
