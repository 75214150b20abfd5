/**
 * The PostgreSQL 9.1.24 source that docker/pg/Dockerfile.pg91 compiles. Debian no longer ships
 * 9.1, so the course's version is built from the official source, and only from a source we can
 * prove is 9.1.24:
 *   - PGLAB_PG91_SOURCE=FILE (offline): a git export of tag REL9_1_24 (`git archive` stamps the
 *     commit id in the tar header) or a release tarball whose sha256 is known or published beside it;
 *   - otherwise a copy downloaded earlier into the user's cache;
 *   - otherwise the release tarball from PostgreSQL's download site (PGLAB_PG91_URL overrides it),
 *     checked against the .sha256 file published beside it, then kept in the cache.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { ProgressLine } from '../progress-line.js';
import { TIMEOUTS } from '../timeouts.js';

export const PG91_VERSION = '9.1.24';
/** Tag REL9_1_24 ("Stamp 9.1.24."): identifies a git export of the release. */
export const PG91_COMMIT = 'e85493559c4678f54d30b6b4e04b17c03a3192d7';
/** sha256 of sources verified before (the git export kept in shared/vendor for offline builds and CI). */
const KNOWN_SHA256 = new Set(['05502a9d0453eec0a12a86fa111aa53c7a9b7a04a4767b9579002d82c25589aa']);
const OFFICIAL_URL = `https://ftp.postgresql.org/pub/source/v${PG91_VERSION}/postgresql-${PG91_VERSION}.tar.bz2`;

export interface Pg91Source {
  file: string;
  sha256: string;
  /** How it was verified, for the image label and the progress line. */
  verifiedBy: 'commit' | 'sha256';
}

export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache');
  return path.join(base, 'pglab');
}

/** Finds (or downloads) a verified 9.1.24 source; throws a LabError that says what to do otherwise. */
export async function resolvePg91Source(progress: ProgressLine = () => {}): Promise<Pg91Source> {
  const given = process.env.PGLAB_PG91_SOURCE;
  if (given) return verifyFile(path.resolve(given));
  const cached = path.join(cacheDir(), `postgresql-${PG91_VERSION}.tar.bz2`);
  if (existsSync(cached) && existsSync(cached + '.sha256')) {
    const expected = readFileSync(cached + '.sha256', 'utf8').trim();
    const sha256 = await sha256File(cached);
    if (sha256 === expected) return { file: cached, sha256, verifiedBy: 'sha256' };
  }
  return download(cached, progress);
}

async function verifyFile(file: string): Promise<Pg91Source> {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch {
    throw new LabError('pg91.sourceMissing', { file });
  }
  if (!isFile) throw new LabError('pg91.sourceMissing', { file });
  const sha256 = await sha256File(file);
  if (KNOWN_SHA256.has(sha256)) return { file, sha256, verifiedBy: 'sha256' };
  const published = publishedSha256(file);
  if (published && published === sha256) return { file, sha256, verifiedBy: 'sha256' };
  if ((await gitExportCommit(file)) === PG91_COMMIT) return { file, sha256, verifiedBy: 'commit' };
  throw new LabError('pg91.sourceUnverified', { file, sha256 });
}

/** `FILE.sha256` beside a release tarball, as PostgreSQL publishes it ("<hex>  <name>"). */
function publishedSha256(file: string): string | undefined {
  try {
    return /^[0-9a-f]{64}/.exec(readFileSync(file + '.sha256', 'utf8').trim())?.[0];
  } catch {
    return undefined;
  }
}

/**
 * The commit id `git archive` writes into the pax global header of a tar(.gz): the first 512-byte
 * block is the header ('g' type), the next holds "52 comment=<40 hex>\n".
 */
export async function gitExportCommit(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(head, 0, head.length, 0);
    let tar: Buffer = head.subarray(0, bytesRead);
    if (tar[0] === 0x1f && tar[1] === 0x8b) {
      try {
        tar = gunzipSync(tar, { finishFlush: 2 /* Z_SYNC_FLUSH: a prefix of the stream is enough */ });
      } catch {
        return undefined;
      }
    }
    if (tar.length < 1024 || String.fromCharCode(tar[156]) !== 'g') return undefined;
    return /comment=([0-9a-f]{40})\n/.exec(tar.subarray(512, 1024).toString('latin1'))?.[1];
  } finally {
    await handle.close();
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    createReadStream(file).on('data', (d) => h.update(d)).on('error', reject).on('end', () => resolve(h.digest('hex')));
  });
}

async function download(target: string, progress: ProgressLine): Promise<Pg91Source> {
  const url = process.env.PGLAB_PG91_URL ?? OFFICIAL_URL;
  progress(t('pg91.downloading', { version: PG91_VERSION, url }));
  let body: Buffer;
  let published: string | undefined;
  try {
    const [tarball, sums] = await Promise.all([fetchBuffer(url), fetchBuffer(url + '.sha256')]);
    body = tarball;
    published = /^[0-9a-f]{64}/.exec(sums.toString('utf8').trim())?.[0];
  } catch (err) {
    throw new LabError('pg91.noSource', { url, detail: (err as Error).message });
  }
  const sha256 = createHash('sha256').update(body).digest('hex');
  if (!published || published !== sha256) throw new LabError('pg91.checksumMismatch', { url, sha256, expected: published ?? '—' });
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target + '.part', body);
  renameSync(target + '.part', target);
  writeFileSync(target + '.sha256', sha256 + '\n');
  return { file: target, sha256, verifiedBy: 'sha256' };
}

async function fetchBuffer(url: string): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUTS.sourceDownloadMs) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
