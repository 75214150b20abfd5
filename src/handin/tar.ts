/** Reading a hand-in's plain ustar archive whole (hand-ins are a few MB; src/docker/tar.ts writes them). */
import { BLOCK, parseTarHeader } from '../docker/tar.js';

const pad = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

export type TarProblem = 'not-tar' | 'truncated' | 'damaged' | 'not-regular';

/**
 * The members of a tar, or what is wrong with it: a header that is not one (not a tar, or bytes
 * changed in it), a member cut short or a missing end-of-archive (truncated), a link or directory.
 */
export function readTar(buf: Buffer): { members: Map<string, Buffer> } | { problem: TarProblem; at?: string } {
  const members = new Map<string, Buffer>();
  let off = 0;
  for (;;) {
    if (off + BLOCK > buf.length) return { problem: 'truncated' };
    const block = buf.subarray(off, off + BLOCK);
    if (block.every((b) => b === 0)) {
      // Two zero blocks end a tar; a single one at the very end means it was cut.
      if (off + 2 * BLOCK > buf.length) return { problem: 'truncated' };
      return { members };
    }
    const h = parseTarHeader(block);
    if (!h) return { problem: members.size ? 'damaged' : 'not-tar', at: members.size ? [...members.keys()].at(-1) : undefined };
    if (h.type !== '0' && h.type !== '\0') return { problem: 'not-regular', at: h.name };
    if (off + BLOCK + h.size > buf.length) return { problem: 'truncated', at: h.name };
    members.set(h.name, buf.subarray(off + BLOCK, off + BLOCK + h.size));
    off += BLOCK + pad(h.size);
  }
}
