/**
 * Lab images: a Debian base made locally (debootstrap + docker import, no registry needed)
 * and the PostgreSQL layer built from docker/pg. Images are tagged by major and carry a
 * recipe hash label: a changed Dockerfile or init script rebuilds, anything else is reused.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dockerClient } from './client.js';
import { LabError } from '../errors.js';
import { profileFor, type PgMajor } from '../pg/profile.js';

export const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const DOCKER_DIR = path.join(PROJECT_ROOT, 'docker');
const DEBIAN_MIRROR = process.env.PGLAB_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

export type Progress = (line: string) => void;

export function imageTag(major: PgMajor): string {
  return `pglab/pg:${major}`;
}

function dockerfileFor(major: PgMajor): string {
  return major === '9.1' ? 'Dockerfile.wheezy' : 'Dockerfile';
}

/** Hash of everything that goes into the image; stored as a label to detect stale images. */
export function recipeHash(major: PgMajor): string {
  const h = createHash('sha256');
  for (const file of ['base/make-base.sh', `pg/${dockerfileFor(major)}`, 'pg/pglab-init']) {
    h.update(file).update(readFileSync(path.join(DOCKER_DIR, file)));
  }
  h.update(major);
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
  const base = await ensureBase(major, progress);
  await buildPgImage(major, base, tag, hash, progress, !!opts.noCache);
  return tag;
}

async function ensureBase(major: PgMajor, progress: Progress): Promise<string> {
  const suite = profileFor(major).debianSuite;
  const ownTag = `pglab/base:${suite}`;
  if (await imageLabels(ownTag)) return ownTag;
  if (suite === 'wheezy') {
    // The registry image, if someone loaded it (docker load) or a registry is reachable.
    if (await imageLabels('debian/eol:wheezy')) return 'debian/eol:wheezy';
    const mirror = process.env.PGLAB_WHEEZY_MIRROR;
    if (!mirror) throw new LabError('image.wheezyUnavailable');
    await makeBase(suite, ownTag, mirror, progress);
    return ownTag;
  }
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

async function buildPgImage(major: PgMajor, base: string, tag: string, hash: string, progress: Progress, noCache: boolean): Promise<void> {
  const client = dockerClient();
  const dockerfile = dockerfileFor(major);
  const stream = await client.buildImage(
    { context: path.join(DOCKER_DIR, 'pg'), src: [dockerfile, 'pglab-init'] },
    {
      t: tag,
      dockerfile,
      buildargs: { BASE_IMAGE: base, PG_MAJOR: major },
      labels: { 'pglab.recipe': hash },
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
          if (tail.length > 12) tail.shift();
          if (/^Step \d+\/\d+/.test(line)) progress('  ' + line.slice(0, 100));
        }
      },
    );
  });
}
