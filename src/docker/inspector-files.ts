/**
 * Files of running servers read by lab's inspector (observer/file-reader.pl) instead of the
 * engine's archive API: the reads a check asks for in one tick go out as one exec per node (an
 * archive call costs the engine ~50 ms of CPU each; step 1 asked for ~25). The result is what the
 * archive API gives (container-files.ts: the path, then its children, links not followed, under
 * the same limits). A read the inspector cannot vouch for (no inspector, a server whose root is not
 * its container's own overlay, a timeout) is answered 'unread', and the caller asks the archive
 * API, which is always right, only slower.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../paths.js';
import { execInContainer } from './client.js';
import type { ArchiveLimits, ArchiveRead, TarEntry } from './container-files.js';
import { nodeOf } from './route.js';
import { traced } from '../trace.js';

/** A running server's first process and its container's upper layer (see ContainerInspect). */
export interface ServerRoot { pid: number; upperDir: string }

interface Pending {
  id: number;
  root: ServerRoot;
  path: string;
  limits: Required<Omit<ArchiveLimits, 'timeoutMs'>>;
  resolve: (r: ArchiveRead | undefined | 'unread') => void;
}

let script: string | undefined;
function readerScript(): string {
  return (script ??= readFileSync(path.join(PROJECT_ROOT, 'observer', 'file-reader.pl'), 'utf8').replace(/\r\n/g, '\n'));
}

/** Bytes of one request's answer at most (names and data), for the exec's output bound. */
function answerBound(l: Pending['limits']): number {
  const entries = l.stopAfter ? Math.min(l.stopAfter, l.maxEntries) : l.maxEntries;
  return Math.min(entries * l.maxDataPerFile, l.maxStreamBytes + l.maxDataPerFile) + (entries + 1) * 9000;
}

export class InspectorFiles {
  private queues = new Map<string, Pending[]>();
  private nextId = 1;
  /** Execs made (for benchmarks and tests). */
  execs = 0;

  /**
   * @param inspector the inspector container on the node of `near` (made if needed)
   */
  constructor(private readonly inspector: (near: string) => Promise<string>, private readonly timeoutMs: number) {}

  /**
   * `path` in the server whose first process and upper layer are `root` (its container `container`);
   * 'unread' when the inspector could not vouch for the read (ask the archive API).
   */
  read(container: string, root: ServerRoot, filePath: string, limits: ArchiveLimits): Promise<ArchiveRead | undefined | 'unread'> {
    return new Promise((resolve) => {
      const node = nodeOf(container) ?? '';
      let queue = this.queues.get(node);
      if (!queue) {
        this.queues.set(node, (queue = []));
        // Every read asked for before the event loop turns goes in one exec.
        setImmediate(() => {
          this.queues.delete(node);
          void this.flush(container, queue!);
        });
      }
      queue.push({
        id: this.nextId++, root, path: filePath, resolve,
        limits: {
          maxEntries: limits.maxEntries ?? 5000, maxDataPerFile: limits.maxDataPerFile ?? 0,
          maxStreamBytes: limits.maxStreamBytes ?? 64 * 1024 * 1024, stopAfter: limits.stopAfter ?? 0,
        },
      });
    });
  }

  private async flush(near: string, batch: Pending[]): Promise<void> {
    const answers = new Map<number, ArchiveRead | undefined>();
    try {
      const inspector = await this.inspector(near);
      const roots = new Map(batch.map((p) => [p.root.pid, p.root.upperDir]));
      const input = batch.map((p) => [p.id, p.root.pid, p.limits.maxEntries, p.limits.maxDataPerFile, p.limits.maxStreamBytes, p.limits.stopAfter, Buffer.from(p.path).toString('hex')].join(' ')).join('\n');
      const seconds = Math.max(1, Math.floor(this.timeoutMs / 1000) - 1);
      this.execs++;
      const r = await traced(`inspector files [${batch.length}]`, () => execInContainer(inspector, ['perl', '-e', readerScript(), String(seconds), ...[...roots].map(([pid, upper]) => `${pid}:${Buffer.from(upper).toString('hex')}`)], {
        user: 'root', stdin: `${input}\n`, timeoutMs: this.timeoutMs,
        maxOutputBytes: Math.min(512 << 20, batch.reduce((n, p) => n + answerBound(p.limits), 0)),
      }));
      for (const [id, read] of parseAnswers(r.stdout)) answers.set(id, read);
    } catch (err) {
      // No inspector, or its exec failed: every read of the batch goes to the archive API.
      if (process.env.PGLAB_PROBE_TRACE) process.stderr.write(`inspector files: ${(err as Error).message}\n`);
    }
    for (const p of batch) p.resolve(answers.has(p.id) ? answers.get(p.id) : 'unread');
  }
}

/**
 * The reader's answers by request id: an ArchiveRead, or undefined for a path that is not there.
 * A request without its closing line (cut output, a timeout) or not vouched for is left out.
 */
export function parseAnswers(out: Buffer): Map<number, ArchiveRead | undefined> {
  const reads = new Map<number, TarEntry[]>();
  const answers = new Map<number, ArchiveRead | undefined>();
  let at = 0;
  while (at < out.length) {
    const nl = out.indexOf(0x0a, at);
    if (nl < 0) break;
    const f = out.toString('latin1', at, nl).split(' ');
    at = nl + 1;
    const id = Number(f[1]);
    if (f[0] === 'E' && f.length === 10) {
      const len = Number(f[9]);
      if (!Number.isSafeInteger(len) || len < 0 || at + len > out.length) break;
      const type = f[2] as TarEntry['type'];
      const entries = reads.get(id) ?? [];
      reads.set(id, entries);
      entries.push({
        name: Buffer.from(f[7], 'hex').toString('utf8'), type: 'fdlho'.includes(type) && type.length === 1 ? type : 'o',
        size: Number(f[3]), mode: Number(f[4]), uid: Number(f[5]), mtime: Number(f[6]),
        linkname: Buffer.from(f[8], 'hex').toString('utf8'), data: Buffer.from(out.subarray(at, at + len)),
      });
      at += len;
    } else if (f[0] === 'D' && f.length === 4) {
      if (f[2] === 'ok') answers.set(id, { entries: reads.get(id) ?? [], truncated: f[3] === '1' });
      else if (f[2] === 'missing') answers.set(id, undefined);
    } else {
      break;
    }
  }
  return answers;
}
