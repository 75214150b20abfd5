/**
 * Files and processes of a container read by the Docker engine from the host side: the archive API
 * (a tar of a path, parsed here) and `docker top` (ps run by the engine). The student is root in
 * maestro and esclavo and can replace any binary there (find, stat, ps, pg_controldata, even
 * /etc/ld.so.preload); none of them runs here. Every read is bounded: entries, bytes kept per
 * file, bytes streamed, and time.
 */
import type { Readable } from 'node:stream';
import { dockerClient } from './client.js';
import { archive, engineEndpoint, top } from './engine.js';

export interface TarEntry {
  /** Path inside the archive (the base name of the path asked for, then its children). */
  name: string;
  /** f regular, d directory, l symlink, h hard link, o other */
  type: 'f' | 'd' | 'l' | 'h' | 'o';
  size: number;
  mode: number;
  uid: number;
  mtime: number;
  linkname: string;
  /** The first bytes of a regular file (up to maxDataPerFile). */
  data: Buffer;
}

export interface ArchiveLimits {
  /** Entries kept; past this the read stops and `truncated` is set (default 5000). */
  maxEntries?: number;
  /** Bytes of each regular file kept (default 0: headers only). */
  maxDataPerFile?: number;
  /** Bytes streamed in all; past this the read stops and `truncated` is set (default 64 MiB). */
  maxStreamBytes?: number;
  /** Stop once this many entries were read, without calling it truncated (e.g. 1 for a stat). */
  stopAfter?: number;
  timeoutMs?: number;
}

export interface ArchiveRead { entries: TarEntry[]; truncated: boolean }

const BLOCK = 512;

function octal(buf: Buffer, at: number, len: number): number {
  // Base-256 (GNU) for big numbers: high bit of the first byte set.
  if (buf[at] & 0x80) {
    let n = buf[at] & 0x7f;
    for (let i = 1; i < len; i++) n = n * 256 + buf[at + i];
    return n;
  }
  const s = buf.toString('latin1', at, at + len).replace(/\0.*$/s, '').trim();
  return s ? parseInt(s, 8) : 0;
}

function cstr(buf: Buffer, at: number, len: number): string {
  const end = buf.indexOf(0, at);
  return buf.toString('utf8', at, end >= 0 && end < at + len ? end : at + len);
}

function paxRecords(data: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(data.toString('latin1', at, sp));
    if (!Number.isInteger(len) || len <= 0) break;
    const rec = data.toString('utf8', sp + 1, at + len - 1);
    const eq = rec.indexOf('=');
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/**
 * A streaming tar reader: feed chunks, read entries. Keeps at most `keep` bytes of each file; the
 * rest is counted and dropped, so a 16 MiB WAL segment costs 8 KiB of memory.
 */
export class TarReader {
  readonly entries: TarEntry[] = [];
  ended = false;
  private buf: Buffer = Buffer.alloc(0);
  private current?: TarEntry;
  private remaining = 0; // data bytes of the current entry still to come
  private padding = 0;
  private meta?: { kind: 'x' | 'L' | 'g'; size: number; chunks: Buffer[] };
  private pax = new Map<string, string>();
  private longName?: string;

  constructor(private readonly keep: number) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    for (;;) {
      if (this.ended) return;
      if (this.remaining > 0) {
        if (!this.buf.length) return;
        const n = Math.min(this.remaining, this.buf.length);
        const part = this.buf.subarray(0, n);
        if (this.meta) this.meta.chunks.push(Buffer.from(part));
        else if (this.current && this.current.data.length < this.keep) {
          this.current.data = Buffer.concat([this.current.data, part.subarray(0, this.keep - this.current.data.length)]);
        }
        this.buf = this.buf.subarray(n);
        this.remaining -= n;
        if (this.remaining > 0) return;
        this.endEntry();
        continue;
      }
      if (this.padding > 0) {
        const n = Math.min(this.padding, this.buf.length);
        this.buf = this.buf.subarray(n);
        this.padding -= n;
        if (this.padding > 0) return;
        continue;
      }
      if (this.buf.length < BLOCK) return;
      const h = this.buf.subarray(0, BLOCK);
      this.buf = this.buf.subarray(BLOCK);
      if (h.every((b) => b === 0)) {
        this.ended = true;
        return;
      }
      const flag = String.fromCharCode(h[156] || 0x30);
      const size = octal(h, 124, 12);
      this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
      this.remaining = size;
      if (flag === 'x' || flag === 'L' || flag === 'g') {
        this.meta = { kind: flag, size, chunks: [] };
        if (size === 0) this.endEntry();
        continue;
      }
      const prefix = h.toString('latin1', 257, 263).startsWith('ustar') ? cstr(h, 345, 155) : '';
      let name = cstr(h, 0, 100);
      if (prefix) name = `${prefix}/${name}`;
      name = this.pax.get('path') ?? this.longName ?? name;
      const type = flag === '0' || flag === '\0' || flag === '7' ? 'f' : flag === '5' ? 'd' : flag === '2' ? 'l' : flag === '1' ? 'h' : 'o';
      this.current = {
        name: name.replace(/\/$/, ''),
        type,
        size: Number(this.pax.get('size') ?? size),
        mode: octal(h, 100, 8),
        uid: Number(this.pax.get('uid') ?? octal(h, 108, 8)),
        mtime: Number(this.pax.get('mtime') ?? octal(h, 136, 12)),
        linkname: this.pax.get('linkpath') ?? cstr(h, 157, 100),
        data: Buffer.alloc(0),
      };
      this.pax = new Map();
      this.longName = undefined;
      // Listed as soon as its header is read (its data fills in as it arrives): a reader that wants
      // only the first bytes of a big file can stop without streaming the rest.
      this.entries.push(this.current);
      if (size === 0) this.endEntry();
    }
  }

  /** Has the last entry listed all the bytes that are kept of it? */
  lastComplete(): boolean {
    const e = this.entries[this.entries.length - 1];
    return !!e && (e !== this.current || e.data.length >= Math.min(this.keep, e.size));
  }

  private endEntry(): void {
    if (this.meta) {
      const data = Buffer.concat(this.meta.chunks);
      if (this.meta.kind === 'x') this.pax = paxRecords(data);
      else if (this.meta.kind === 'L') this.longName = data.toString('utf8').replace(/\0.*$/s, '');
      this.meta = undefined;
      return;
    }
    this.current = undefined;
  }
}

/**
 * A tar of `path` in the container, read and parsed under the limits; undefined when the path does
 * not exist. Symlinks are not followed (the archive holds the link itself).
 */
export async function readArchive(container: string, path: string, limits: ArchiveLimits = {}): Promise<ArchiveRead | undefined> {
  const maxEntries = limits.maxEntries ?? 5000;
  const maxStream = limits.maxStreamBytes ?? 64 * 1024 * 1024;
  const tar = new TarReader(limits.maxDataPerFile ?? 0);
  let streamed = 0;
  let truncated = false;
  const onData = (chunk: Buffer): boolean => {
    streamed += chunk.length;
    tar.push(chunk);
    if (limits.stopAfter && tar.entries.length >= limits.stopAfter && tar.lastComplete()) return false;
    if (tar.entries.length > maxEntries || streamed > maxStream) {
      truncated = !tar.ended;
      return false;
    }
    return !tar.ended;
  };
  const timeoutMs = limits.timeoutMs ?? 10_000;
  const ep = engineEndpoint(container);
  let status: number;
  if (ep) {
    status = await archive(ep, container, path, onData, timeoutMs);
  } else {
    status = await archiveWithDockerode(container, path, onData, timeoutMs);
  }
  if (status === 404) return undefined;
  if (status < 200 || status >= 300) throw new Error(`docker archive ${path}: HTTP ${status}`);
  if (tar.entries.length > maxEntries) tar.entries.length = maxEntries;
  return { entries: tar.entries, truncated };
}

async function archiveWithDockerode(container: string, path: string, onData: (c: Buffer) => boolean, timeoutMs: number): Promise<number> {
  let stream: Readable;
  try {
    stream = await dockerClient(container).getContainer(container).getArchive({ path }) as unknown as Readable;
  } catch (err) {
    return (err as { statusCode?: number }).statusCode ?? 500;
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { stream.destroy(); resolve(); }, timeoutMs);
    const done = () => { clearTimeout(timer); resolve(); };
    stream.on('data', (c: Buffer) => { if (!onData(c)) { stream.destroy(); done(); } });
    stream.on('end', done);
    stream.on('close', done);
    stream.on('error', done);
  });
  return 200;
}

export interface TopProcess { pid: number; ppid: number; comm: string; args: string }

/** The container's processes as the engine's ps sees them: pid and ppid (host namespace), the executable's name and the title. */
export async function containerTop(container: string, timeoutMs = 5000): Promise<TopProcess[]> {
  const ep = engineEndpoint(container);
  const psArgs = '-o pid,ppid,comm,args';
  const r = ep ? await top(ep, container, psArgs, timeoutMs)
    : await dockerClient(container).getContainer(container).top({ ps_args: psArgs }) as { Titles: string[]; Processes: string[][] };
  return (r.Processes ?? []).slice(0, 5000).map((p) => ({ pid: Number(p[0]), ppid: Number(p[1]), comm: p[2] ?? '', args: (p.slice(3).join(' ') || '').slice(0, 4096) }));
}
