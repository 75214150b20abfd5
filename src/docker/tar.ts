/**
 * ustar, the subset lab writes and reads whole: the image bundle's header members, hand-in files,
 * the files a probe container gets (putArchive). The engine's own archives (docker cp's, which
 * may carry pax and GNU long names) are streamed by container-files.ts.
 */
export const BLOCK = 512;
const pad = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

export interface TarMember { name: string; data: Buffer; mode?: number; dir?: boolean }

export function tarHeader(name: string, size: number, mtime = Math.floor(Date.now() / 1000), opts: { mode?: number; dir?: boolean } = {}): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(((opts.mode ?? 0o644).toString(8)).padStart(7, '0') + '\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write(mtime.toString(8).padStart(11, '0') + '\0', 136, 'ascii');
  h.write('        ', 148, 'ascii');
  h.write(opts.dir ? '5' : '0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

export interface TarEntry { name: string; size: number; type: string }

/** A ustar header block, or undefined when the block is not one (bad checksum, no magic, zeros). */
export function parseTarHeader(block: Buffer): TarEntry | undefined {
  if (block.length < BLOCK || block.every((b) => b === 0)) return undefined;
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  const stored = parseInt(block.toString('ascii', 148, 156).replace(/[\0 ]+/g, ''), 8);
  if (stored !== sum) return undefined;
  const cstr = (from: number, len: number) => block.toString('utf8', from, from + len).replace(/\0.*$/s, '');
  const prefix = block.toString('ascii', 257, 262) === 'ustar' ? cstr(345, 155) : '';
  const name = (prefix ? prefix + '/' : '') + cstr(0, 100);
  return { name, size: tarSize(block), type: String.fromCharCode(block[156]!) };
}

/** Octal, or GNU base-256 for members of 8 GiB and more. */
function tarSize(block: Buffer): number {
  if (block[124]! & 0x80) {
    let n = 0;
    for (let i = 125; i < 136; i++) n = n * 256 + block[i]!;
    return n;
  }
  return parseInt(block.toString('ascii', 124, 136).replace(/[\0 ]+/g, '') || '0', 8);
}

/** A whole archive of small members (names under 100 bytes), end-of-archive blocks included. */
export function writeTar(members: TarMember[], mtime = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    parts.push(tarHeader(m.name, m.data.length, mtime, m), m.data, Buffer.alloc(pad(m.data.length) - m.data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}
