/**
 * Lab images: a Debian base made locally (debootstrap + docker import, no registry needed)
 * and the PostgreSQL layer built from docker/pg. Images are tagged by major and carry a
 * recipe hash label: a changed Dockerfile or init script rebuilds, anything else is reused.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerClient } from './client.js';
import { LabError } from '../errors.js';
import { profileFor, type PgMajor } from '../pg/profile.js';
import { PG91_COMMIT, PG91_VERSION, resolvePg91Source, type Pg91Source } from './pg91-source.js';

/** Measured on a 2-core machine (make -j2): the estimate shown before the compile. */
const PG91_BUILD_MINUTES = 5;

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKER_DIR = path.join(PROJECT_ROOT, 'docker');
const DEBIAN_MIRROR = process.env.PGLAB_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

export type Progress = (line: string) => void;

export function imageTag(major: PgMajor): string {
  return `pglab/pg:${major}`;
}

/** Files of docker/pg that go into the image's build context. */
function recipeFiles(major: PgMajor): string[] {
  const common = ['pglab-init', 'pglab-recorder'];
  return profileFor(major).buildFromSource ? ['Dockerfile.pg91', 'pg91-build.sh', ...common] : ['Dockerfile', ...common];
}

/**
 * Hash of everything that goes into the image; stored as a label to detect stale images.
 * For 9.1 that includes the pinned source (version + release commit): every source we accept is
 * verified to be exactly that release, so the image is built once and reused whichever copy built it.
 */
export function recipeHash(major: PgMajor): string {
  const h = createHash('sha256');
  for (const file of ['base/make-base.sh', ...recipeFiles(major).map((f) => `pg/${f}`)]) {
    h.update(file).update(readFileSync(path.join(DOCKER_DIR, file)));
  }
  h.update(major);
  if (profileFor(major).buildFromSource) h.update(`postgresql-${PG91_VERSION}@${PG91_COMMIT}`);
  return h.digest('hex').slice(0, 16);
}

async function imageLabels(tag: string): Promise<Record<string, string> | undefined> {
  try {
    const info = await dockerClient().getImage(tag).inspect();
    return info.Config?.Labels ?? {};
  } catch {
    return undefined;
  }
}

/** Builds in flight in this process: `class up` starts several envs at once, the image is built once. */
const inFlight = new Map<PgMajor, Promise<string>>();

/** Ensures the image for `major` exists and is current; returns its tag. */
export function ensureImage(major: PgMajor, progress: Progress = () => {}, opts: { noCache?: boolean } = {}): Promise<string> {
  let pending = inFlight.get(major);
  if (!pending || opts.noCache) {
    pending = buildIfStale(major, progress, opts).finally(() => inFlight.delete(major));
    inFlight.set(major, pending);
  }
  return pending;
}

async function buildIfStale(major: PgMajor, progress: Progress, opts: { noCache?: boolean }): Promise<string> {
  const tag = imageTag(major);
  const hash = recipeHash(major);
  const labels = await imageLabels(tag);
  if (labels?.['pglab.recipe'] === hash && !opts.noCache) return tag;
  progress(labels ? `imagen ${tag} desactualizada: reconstruyendo` : `construyendo imagen ${tag}`);
  // Find the 9.1 source before the (slow) base image, so a missing source is said at once.
  const source = profileFor(major).buildFromSource ? await resolvePg91Source(progress) : undefined;
  const base = await ensureBase(major, progress);
  await buildPgImage(major, base, tag, hash, progress, !!opts.noCache, source);
  return tag;
}

async function ensureBase(major: PgMajor, progress: Progress): Promise<string> {
  const suite = profileFor(major).debianSuite;
  const ownTag = `pglab/base:${suite}`;
  if (await imageLabels(ownTag)) return ownTag;
  await makeBase(suite, ownTag, DEBIAN_MIRROR, progress);
  return ownTag;
}

function makeBase(suite: string, tag: string, mirror: string, progress: Progress): Promise<void> {
  progress(`creando imagen base ${tag} con debootstrap (${mirror}), unos minutos…`);
  const script = path.join(DOCKER_DIR, 'base', 'make-base.sh');
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script, suite, tag, mirror], { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const remember = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        tail.push(line);
        if (tail.length > 15) tail.shift();
        if (line.startsWith('PGLAB_PROGRESS ')) progress('  ' + line.slice('PGLAB_PROGRESS '.length));
      }
    };
    child.stdout.on('data', remember);
    child.stderr.on('data', remember);
    child.on('error', (err) => reject(new LabError('image.baseFailed', { suite, tail: String(err) })));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      if (tail.some((l) => l.includes('missing-debootstrap'))) return reject(new LabError('image.noDebootstrap'));
      if (tail.some((l) => l.includes('not-root'))) return reject(new LabError('image.baseNeedsRoot'));
      reject(new LabError('image.baseFailed', { suite, tail: tail.join('\n') }));
    });
  });
}

async function buildPgImage(
  major: PgMajor, base: string, tag: string, hash: string, progress: Progress, noCache: boolean, source?: Pg91Source,
): Promise<void> {
  const client = dockerClient();
  const files = recipeFiles(major);
  const dockerfile = files[0];
  const context = source ? pg91Context(files, source.file) : path.join(DOCKER_DIR, 'pg');
  const heartbeat = source ? compileHeartbeat(progress) : undefined;
  const stream = await client.buildImage(
    { context, src: source ? [...files, 'pg91-source'] : files },
    {
      t: tag,
      dockerfile,
      buildargs: { BASE_IMAGE: base, PG_MAJOR: major },
      labels: { 'pglab.recipe': hash, ...(source ? { 'pglab.source.sha256': source.sha256 } : {}) },
      rm: true,
      forcerm: true,
      nocache: noCache, // benchmarks measure a real rebuild
    },
  );
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    client.modem.followProgress(
      stream,
      (err: Error | null, output: Array<{ error?: string }>) => {
        const failure = err?.message ?? output?.find((o) => o.error)?.error;
        if (failure) reject(new LabError('image.buildFailed', { tag, tail: [...tail, failure].slice(-12).join('\n') }));
        else resolve();
      },
      (event: { stream?: string; error?: string }) => {
        for (const line of (event.stream ?? '').split('\n').filter((l) => l.trim())) {
          tail.push(line);
          if (tail.length > 40) tail.shift();
          // 9.1's compile reports its phases; the other images show Docker's steps.
          if (source ? line.startsWith('PGLAB_PROGRESS ') : /^Step \d+\/\d+/.test(line)) {
            progress('  ' + line.replace('PGLAB_PROGRESS ', '').slice(0, 100));
          }
        }
      },
    );
  }).finally(() => {
    heartbeat?.stop();
    if (source) rmSync(context, { recursive: true, force: true });
  });
}

/** The build context for 9.1: docker/pg's recipe plus the verified source, in a temporary folder. */
function pg91Context(files: string[], sourceFile: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-pg91-'));
  for (const f of files) copyFileSync(path.join(DOCKER_DIR, 'pg', f), path.join(dir, f));
  copyFileSync(sourceFile, path.join(dir, 'pg91-source'));
  return dir;
}

/** The compile is long and silent: say once what is happening, then how long it has been. */
function compileHeartbeat(progress: Progress): { stop(): void } {
  const started = Date.now();
  progress(`compilando PostgreSQL ${PG91_VERSION}: unos ${PG91_BUILD_MINUTES} minutos, una sola vez (la imagen se reutiliza)`);
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    progress(`  … ${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')} de unos ${PG91_BUILD_MINUTES} minutos`);
  }, 30_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
