/**
 * Image bundles: lab images in one file an instructor hands to a class (USB stick, course page).
 *
 * The file is a plain tar (`tar tf` lists it) with exactly two members, in this order:
 *   pglab-bundle.json  what is inside: format version, each image's PostgreSQL version, recipe,
 *                      architecture and transport name, and the payload's length and sha256
 *                      (fixed size MANIFEST_BYTES, padded with spaces);
 *   images.tar.gz      `docker save` of the images under their transport names
 *                      (`pglab-bundle/pg:<major>-<recipe>`), gzip-compressed.
 * Loading checks everything it can before Docker sees a byte (member names, lengths, sha256, the
 * names inside the docker archive), then loads, then checks each image's labels on the engine:
 * contract and recipe. A bundle that fails any of it leaves nothing behind.
 */
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, createReadStream, createWriteStream, renameSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { dockerClient } from '../docker/client.js';
import { adoptImage, mib, type AdoptResult } from './distribute.js';
import { ensureImage } from './images.js';
import type { ProgressLine } from '../progress-line.js';
import { contractProblems, inspectImage, LABELS, tagAs, untag } from './recipe.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { isPgMajor, type PgMajor } from '../pg/profile.js';
import { parseTarHeader, tarHeader } from '../docker/tar.js';

export const BUNDLE_FORMAT = 'pglab-bundle/1';
export const MANIFEST_NAME = 'pglab-bundle.json';
export const PAYLOAD_NAME = 'images.tar.gz';
/** Room for the manifest: a few hundred bytes per image. */
export const MANIFEST_BYTES = 8192;
const BLOCK = 512;
/** Where images.tar.gz starts: its header follows the manifest's header and data. */
export const PAYLOAD_OFFSET = BLOCK + MANIFEST_BYTES + BLOCK;
/** Repository of the names images travel under inside a bundle (never a name `lab` uses). */
export const TRANSPORT_REPO = 'pglab-bundle/pg';

export interface BundleImage {
  /** PostgreSQL major version. */
  pg: PgMajor;
  /** The image's `pglab.recipe` label when saved. */
  recipe: string;
  /** Name inside the docker archive: `pglab-bundle/pg:<major>-<recipe>` (`…-<arch>` when the bundle has the version twice). */
  transport: string;
  /** amd64, arm64, … */
  arch: string;
  /** Image size on the engine that saved it (uncompressed). */
  size: number;
  id: string;
}

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  created: string;
  images: BundleImage[];
  payload: { name: typeof PAYLOAD_NAME; bytes: number; sha256: string; compression: 'gzip' };
}

export function transportName(pg: PgMajor, recipe: string, arch?: string): string {
  return `${TRANSPORT_REPO}:${pg}-${recipe}${arch ? `-${arch}` : ''}`;
}

const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;

/** The manifest as the fixed-size member data: JSON, then spaces, then a newline. */
export function encodeManifest(m: BundleManifest): Buffer {
  const json = JSON.stringify(m, null, 1);
  if (Buffer.byteLength(json) > MANIFEST_BYTES - 1) throw new Error('bundle manifest too large');
  return Buffer.from(json.padEnd(MANIFEST_BYTES - 1, ' ') + '\n');
}

/**
 * Reads and checks the first two members' headers and the manifest (a few KiB). Throws LabError:
 * bundle.notBundle (anything else), bundle.newerFormat, bundle.truncated.
 */
export async function readBundleHeader(file: string): Promise<BundleManifest> {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(file);
  } catch {
    throw new LabError('bundle.missing', { file });
  }
  if (st.isDirectory()) throw new LabError('bundle.isDirectory', { file });
  if (!st.isFile()) throw new LabError('bundle.notFile', { file });
  const size = st.size;
  const handle = await open(file, 'r');
  const head = Buffer.alloc(PAYLOAD_OFFSET);
  let got = 0;
  try {
    got = (await handle.read(head, 0, head.length, 0)).bytesRead;
  } finally {
    await handle.close();
  }
  const first = parseTarHeader(head.subarray(0, BLOCK));
  if (!first || first.name !== MANIFEST_NAME) throw new LabError('bundle.notBundle', { file });
  if (got < PAYLOAD_OFFSET) throw new LabError('bundle.truncated', { file, have: size, want: PAYLOAD_OFFSET });
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(head.toString('utf8', BLOCK, BLOCK + first.size)) as BundleManifest;
  } catch {
    throw new LabError('bundle.notBundle', { file });
  }
  if (typeof manifest?.format !== 'string' || !manifest.format.startsWith('pglab-bundle/')) throw new LabError('bundle.notBundle', { file });
  if (manifest.format !== BUNDLE_FORMAT) throw new LabError('bundle.newerFormat', { file, format: manifest.format, known: BUNDLE_FORMAT });
  problemsOf(manifest, file);
  const second = parseTarHeader(head.subarray(BLOCK + MANIFEST_BYTES, PAYLOAD_OFFSET));
  if (!second || second.name !== PAYLOAD_NAME || second.size !== manifest.payload.bytes) throw new LabError('bundle.notBundle', { file });
  const want = PAYLOAD_OFFSET + padded(manifest.payload.bytes) + 2 * BLOCK;
  if (size < want) throw new LabError('bundle.truncated', { file, have: size, want });
  return manifest;
}

/** The manifest's own consistency: known versions, transport names as `lab` writes them. */
function problemsOf(m: BundleManifest, file: string): void {
  const ok = Array.isArray(m.images) && m.images.length > 0
    && m.images.every((i) => isPgMajor(String(i?.pg)) && /^[0-9a-f]{16}$/.test(String(i?.recipe)) && (i.transport === transportName(i.pg, i.recipe) || i.transport === transportName(i.pg, i.recipe, String(i.arch).split('/')[0])))
    && new Set(m.images.map((i) => i.transport)).size === m.images.length
    && m.payload?.name === PAYLOAD_NAME && Number.isSafeInteger(m.payload?.bytes) && /^[0-9a-f]{64}$/.test(String(m.payload?.sha256));
  if (!ok) throw new LabError('bundle.notBundle', { file });
}

/**
 * Reads the payload once: its sha256 must be the manifest's, it must gunzip to a tar archive to the
 * end, and the image names in its manifest.json must be exactly the manifest's transport names.
 */
export async function verifyPayload(file: string, m: BundleManifest, progress: ProgressLine = () => {}): Promise<void> {
  const hash = createHash('sha256');
  let seen = 0;
  let last = Date.now();
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      seen += chunk.length;
      if (Date.now() - last > 3000) {
        last = Date.now();
        progress(`  ${t('bundle.verifying')} ${mib(seen)} / ${mib(m.payload.bytes)} MiB`);
      }
      done(null, chunk);
    },
  });
  const walker = new TarWalker(['manifest.json']);
  try {
    await pipeline(createReadStream(file, { start: PAYLOAD_OFFSET, end: PAYLOAD_OFFSET + m.payload.bytes - 1 }), meter, createGunzip(), walker);
  } catch (err) {
    throw new LabError('bundle.corrupt', { file, detail: String((err as Error)?.message ?? err).slice(0, 200) });
  }
  if (hash.digest('hex') !== m.payload.sha256) throw new LabError('bundle.corrupt', { file, detail: 'sha256' });
  if (!walker.ended) throw new LabError('bundle.corrupt', { file, detail: 'tar' });
  let tags: string[] = [];
  try {
    const entries = JSON.parse(walker.captured.get('manifest.json')?.toString('utf8') ?? 'null') as Array<{ RepoTags?: string[] }>;
    tags = entries.flatMap((e) => e.RepoTags ?? []);
  } catch {
    throw new LabError('bundle.corrupt', { file, detail: 'manifest.json' });
  }
  const expected = m.images.map((i) => i.transport).sort();
  if (JSON.stringify([...tags].sort()) !== JSON.stringify(expected)) {
    throw new LabError('bundle.corrupt', { file, detail: `names ${tags.join(', ') || '—'}` });
  }
}

/** Walks a tar stream, keeping the (small) members named in `wanted`; `ended` when the end blocks came. */
export class TarWalker extends Writable {
  readonly captured = new Map<string, Buffer>();
  ended = false;
  private buf = Buffer.alloc(0);
  private skip = 0;
  private capture?: { name: string; size: number; parts: Buffer[]; got: number };

  constructor(private readonly wanted: string[]) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    try {
      this.consume(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private consume(chunk: Buffer): void {
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.buf = Buffer.alloc(0);
    while (data.length) {
      if (this.ended) return; // padding after the end blocks
      if (this.skip > 0) {
        const n = Math.min(this.skip, data.length);
        if (this.capture && this.capture.got < this.capture.size) {
          const keep = data.subarray(0, Math.min(n, this.capture.size - this.capture.got));
          this.capture.parts.push(Buffer.from(keep));
          this.capture.got += keep.length;
          if (this.capture.got === this.capture.size) this.captured.set(this.capture.name, Buffer.concat(this.capture.parts));
        }
        this.skip -= n;
        data = data.subarray(n);
        if (this.skip === 0) this.capture = undefined;
        continue;
      }
      if (data.length < BLOCK) {
        this.buf = Buffer.from(data);
        return;
      }
      const block = data.subarray(0, BLOCK);
      data = data.subarray(BLOCK);
      if (block.every((b) => b === 0)) {
        this.ended = true; // one zero block is enough to know the archive was written to its end
        continue;
      }
      const entry = parseTarHeader(block);
      if (!entry) throw new Error('not a tar archive');
      this.skip = padded(entry.size);
      if (this.wanted.includes(entry.name.replace(/^\.\//, '')) && entry.size <= 4 * 1048576) {
        this.capture = { name: entry.name.replace(/^\.\//, ''), size: entry.size, parts: [], got: 0 };
        if (entry.size === 0) this.captured.set(this.capture.name, Buffer.alloc(0));
      }
    }
  }
}

// ---- save / load ----

/**
 * Writes one bundle with the (current, built if needed) lab images of `majors`, for each of
 * `platforms` (undefined: the engine's own). A version in two architectures gets `-<arch>` in its
 * transport names; a one-architecture bundle is exactly what earlier versions wrote.
 */
export async function saveBundle(
  file: string, majors: PgMajor[], progress: ProgressLine = () => {}, platforms: Array<string | undefined> = [undefined],
): Promise<BundleManifest> {
  // Before minutes of compression: a destination that can never be written is refused now.
  checkSaveTarget(file);
  const images: BundleImage[] = [];
  for (const pg of majors) {
    for (const platform of platforms) {
      const tag = await ensureImage(pg, progress, { platform, registry: false });
      const facts = (await inspectImage(tag))!;
      const recipe = facts.labels[LABELS.recipe]!;
      images.push({ pg, recipe, transport: transportName(pg, recipe, platforms.length > 1 ? facts.arch.split('/')[0] : undefined), arch: facts.arch, size: facts.size, id: facts.id });
    }
  }
  const estimate = images.reduce((n, i) => n + i.size, 0);
  progress(t('bundle.saving', { file, images: images.map((i) => `${i.pg}`).join(', '), mib: mib(estimate) }));
  try {
    for (const i of images) await tagAs(i.id, i.transport);
    // GET /images/get?names=…: one `docker save` of all of them (shared layers stored once).
    const client = dockerClient() as unknown as { getImages(opts: { names: string[] }): Promise<NodeJS.ReadableStream> };
    const source = await client.getImages({ names: images.map((i) => i.transport) });
    return await writeBundleFile(file, images, source, progress, estimate);
  } finally {
    for (const i of images) await untag(i.transport);
  }
}

/** A bundle is written as FILE.part in FILE's folder, then renamed: FILE must not be a folder, its folder must exist and be writable. */
export function checkSaveTarget(file: string): void {
  const existing = statOrUndefined(file);
  if (existing?.isDirectory()) throw new LabError('bundle.saveIsDirectory', { file });
  const dir = path.dirname(path.resolve(file));
  const parent = statOrUndefined(dir);
  if (!parent?.isDirectory()) throw new LabError('bundle.saveNoFolder', { file, dir });
  try {
    accessSync(dir, fsConstants.W_OK);
  } catch {
    throw new LabError('bundle.saveNotWritable', { file, dir });
  }
}

function statOrUndefined(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/**
 * Writes a bundle from a `docker save` stream: to FILE.part first, renamed only when complete, so an
 * interrupted save never leaves something that looks like a bundle.
 */
export async function writeBundleFile(
  file: string, images: BundleImage[], dockerArchive: NodeJS.ReadableStream, progress: ProgressLine = () => {}, estimate = 0,
): Promise<BundleManifest> {
  const part = `${file}.part`;
  const hash = createHash('sha256');
  let bytes = 0;
  let read = 0;
  let last = Date.now();
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      if (Date.now() - last > 3000) {
        last = Date.now();
        progress(`  ${t('bundle.progress', { read: mib(read), total: mib(estimate || read), written: mib(bytes) })}`);
      }
      done(null, chunk);
    },
  });
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(dockerArchive, counter, createGzip({ level: 6 }), meter, createWriteStream(part, { start: PAYLOAD_OFFSET }));
    const manifest: BundleManifest = {
      format: BUNDLE_FORMAT,
      created: new Date().toISOString(),
      images,
      payload: { name: PAYLOAD_NAME, bytes, sha256: hash.digest('hex'), compression: 'gzip' },
    };
    const handle = await open(part, 'r+');
    try {
      await handle.write(tarHeader(MANIFEST_NAME, MANIFEST_BYTES), 0, BLOCK, 0);
      await handle.write(encodeManifest(manifest), 0, MANIFEST_BYTES, BLOCK);
      await handle.write(tarHeader(PAYLOAD_NAME, bytes), 0, BLOCK, BLOCK + MANIFEST_BYTES);
      const end = Buffer.alloc(padded(bytes) - bytes + 2 * BLOCK, 0);
      await handle.write(end, 0, end.length, PAYLOAD_OFFSET + bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    renameSync(part, file);
    return manifest;
  } catch (err) {
    rmSync(part, { force: true });
    throw new LabError('bundle.saveFailed', { file, detail: String((err as Error)?.message ?? err).slice(0, 300) });
  }
}

export interface LoadResult {
  manifest: BundleManifest;
  results: Array<AdoptResult & { pg: PgMajor }>;
}

/**
 * Loads a bundle: checked whole before Docker sees it; after loading, every image's labels are
 * checked on the engine before any becomes a lab image. Images of another recipe are dropped
 * (`used: false`). On any failure nothing stays loaded.
 */
export async function loadBundle(file: string, progress: ProgressLine = () => {}): Promise<LoadResult> {
  const manifest = await readBundleHeader(file);
  progress(t('bundle.checking', { file, images: manifest.images.map((i) => `${i.pg} (${i.arch})`).join(', '), mib: mib(manifest.payload.bytes) }));
  await verifyPayload(file, manifest, progress);
  progress(t('bundle.loading'));
  const loaded: string[] = [];
  try {
    const client = dockerClient();
    const payload = createReadStream(file, { start: PAYLOAD_OFFSET, end: PAYLOAD_OFFSET + manifest.payload.bytes - 1 });
    const stream = (await client.loadImage(payload)) as NodeJS.ReadableStream;
    await new Promise<void>((resolve, reject) => {
      client.modem.followProgress(stream, (err: Error | null, output: Array<{ error?: string; stream?: string }>) => {
        for (const o of output ?? []) {
          const m = /Loaded image: (\S+)/.exec(o.stream ?? '');
          if (m) loaded.push(m[1]!);
        }
        const failure = err?.message ?? output?.find((o) => o.error)?.error;
        if (failure) reject(new LabError('bundle.loadFailed', { file, detail: failure.slice(0, 300) }));
        else resolve();
      });
    });
    // Every image must hold the contract before any is used: all or nothing.
    for (const i of manifest.images) {
      const facts = await inspectImage(i.transport);
      const problems = facts ? contractProblems(facts.labels, i.pg) : ['—'];
      if (facts && facts.labels[LABELS.recipe] !== i.recipe) problems.push(`LABEL ${LABELS.recipe}="${i.recipe}" (tiene: ${facts.labels[LABELS.recipe] ?? '—'})`);
      if (problems.length) throw new LabError('image.contract', { image: `${i.transport} (${file})`, missing: problems.join('\n  ') });
    }
  } catch (err) {
    for (const name of new Set([...loaded, ...manifest.images.map((i) => i.transport)])) await untag(name);
    throw err;
  }
  const results: LoadResult['results'] = [];
  for (const i of manifest.images) results.push({ pg: i.pg, ...(await adoptImage(i.transport, i.pg, progress)) });
  for (const name of loaded) if (!name.startsWith(TRANSPORT_REPO + ':')) await untag(name);
  return { manifest, results };
}
