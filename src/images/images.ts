/**
 * Lab images: `<ns>/pg:<major>` (see recipe.ts for names, recipe hash and contract). `ensureImage`
 * reuses a current image; otherwise it pulls one from PGLAB_REGISTRY when that is set and answers,
 * and builds it otherwise. A build needs the Debian base `<ns>/base:<suite>`: Debian's official
 * slim image from a registry (Docker Hub, or the mirror in PGLAB_BASE_REGISTRY) when one answers,
 * else debootstrap + docker import on Linux as root (docker/base/make-base.sh), else one message that
 * says where to get images. Every file sent into a build context goes out with LF line ends.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { dockerClient } from '../docker/client.js';
import type { ProgressLine } from '../progress-line.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { PG_MAJORS, profileFor, type PgMajor } from '../pg/profile.js';
import { PG91_VERSION, resolvePg91Source, type Pg91Source } from './pg91-source.js';
import {
  baseTag, DOCKER_DIR, enginePlatform, foreignArch, imageTag, inspectImage, LAB_ARCHES, LABELS, lf, platformArch, recipeFiles, recipeHash, untag,
} from './recipe.js';
import { DOCKER_HUB, normalizeRegistry, probeRegistry, pullRef, TransferError } from './registry.js';
import { pullLabImage } from './distribute.js';

export { PROJECT_ROOT, imageTag, recipeHash } from './recipe.js';

/** Measured on a 2-core machine (make -j2): the estimate shown before the compile. */
const PG91_BUILD_MINUTES = 5;
/** How often the silent 9.1 compile says how long it has been (a progress interval, not a limit). */
const HEARTBEAT_MS = 30_000;

const DEBIAN_MIRROR = process.env.PGLAB_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';


/** Debian's architecture → the GNU triplet of its cross compiler (gcc-<triplet with dashes>). */
const CROSS_HOSTS: Record<string, string> = { arm64: 'aarch64-linux-gnu', amd64: 'x86_64-linux-gnu' };

export interface EnsureOptions {
  /** Rebuild without Docker's layer cache (benchmarks); never pulls. */
  noCache?: boolean;
  /** false: do not ask PGLAB_REGISTRY (`lab images build`, `save`, `push`). */
  registry?: boolean;
  /** `linux/arm64` etc.: build (and pull the base) for another platform, where the engine supports it. */
  platform?: string;
}

/** Builds in flight in this process: `class up` starts several envs at once, the image is built once. */
const inFlight = new Map<string, Promise<string>>();

/** Ensures the image for `major` (and `opts.platform`, default the engine's) exists and is current; returns its tag. */
export function ensureImage(major: PgMajor, progress: ProgressLine = () => {}, opts: EnsureOptions = {}): Promise<string> {
  const key = `${imageTag(major)} ${platformArch(opts.platform) ?? ''}`;
  let pending = inFlight.get(key);
  if (!pending || opts.noCache) {
    pending = pullOrBuild(major, progress, opts).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

export type ImageState = 'current' | 'stale' | 'missing';

export interface ImageStatus {
  major: PgMajor;
  tag: string;
  state: ImageState;
  /** This checkout's recipe. */
  wanted: string;
  /** The image's recipe label. */
  recipe?: string;
  size?: number;
  arch?: string;
  created?: string;
}

/** The local image of `major`: the engine's own architecture, or `foreign` (`<ns>/pg:<major>-<arch>`). */
export async function imageStatus(major: PgMajor, foreign?: string): Promise<ImageStatus> {
  const tag = imageTag(major, foreign);
  const wanted = recipeHash(major);
  const facts = await inspectImage(tag);
  if (!facts) return { major, tag, state: 'missing', wanted };
  const recipe = facts.labels[LABELS.recipe];
  return { major, tag, state: recipe === wanted ? 'current' : 'stale', wanted, recipe, size: facts.size, arch: facts.arch, created: facts.created };
}

/** Every version's native image, then the images of other architectures that are here. */
export async function listImages(): Promise<ImageStatus[]> {
  const { arch } = await enginePlatform();
  const native = await Promise.all(PG_MAJORS.map((m) => imageStatus(m)));
  const foreign = await Promise.all(PG_MAJORS.flatMap((m) => LAB_ARCHES.filter((a) => a !== arch).map((a) => imageStatus(m, a))));
  return [...native, ...foreign.filter((s) => s.state !== 'missing')];
}

async function pullOrBuild(major: PgMajor, progress: ProgressLine, opts: EnsureOptions): Promise<string> {
  const status = await imageStatus(major, await foreignArch(opts.platform));
  const tag = status.tag;
  if (status.state === 'current' && !opts.noCache) return tag;
  const registry = process.env.PGLAB_REGISTRY?.trim();
  if (registry && opts.registry !== false && !opts.noCache) {
    try {
      const pulled = await pullLabImage(registry, major, progress, { platform: opts.platform });
      if (pulled.used) {
        progress(t('registry.pulled', { tag, recipe: pulled.recipe }));
        return tag;
      }
      progress(t('registry.staleBuild', { tag, registry, recipe: pulled.recipe, wanted: status.wanted }));
    } catch (err) {
      if (!(err instanceof LabError)) throw err;
      progress(t('registry.fallbackBuild', { registry, reason: t(err.key, err.params) }));
    }
  }
  return buildImage(major, progress, opts, status.state);
}

/**
 * Builds `<ns>/pg:<major>` from docker/pg (the base first, if missing); for another platform
 * `<ns>/pg:<major>-<arch>` on that platform's base. 9.1 is then cross-compiled in a builder stage
 * of the engine's own architecture (under qemu the compile is many times slower); only the runtime
 * stage (apt, locale-gen, pg_createcluster) runs emulated.
 */
export async function buildImage(major: PgMajor, progress: ProgressLine, opts: EnsureOptions = {}, state?: ImageState): Promise<string> {
  const foreign = await foreignArch(opts.platform);
  const tag = imageTag(major, foreign);
  const hash = recipeHash(major);
  progress(t(state === 'stale' ? 'image.rebuilding' : 'image.building', { tag }));
  // Find the 9.1 source before the (slow) base image, so a missing source is said at once.
  const source = profileFor(major).buildFromSource ? await resolvePg91Source(progress) : undefined;
  const suite = profileFor(major).debianSuite;
  const base = await ensureBase(suite, progress, opts.platform);
  let cross: CrossBuild | undefined;
  if (source && foreign) {
    const host = CROSS_HOSTS[foreign];
    if (!host) throw new LabError('image.badPlatform', { platform: opts.platform! });
    cross = { arch: foreign, host, builderBase: await ensureBase(suite, progress) };
  }
  await buildPgImage(major, base, tag, hash, progress, !!opts.noCache, source, opts.platform, cross);
  return tag;
}

/** 9.1 for another architecture: the builder stage runs on `builderBase` (native) with Debian's cross compiler. */
interface CrossBuild { arch: string; host: string; builderBase: string }

/** PGLAB_BASE_REGISTRY=none (or off): never ask a registry for Debian's base, go straight to debootstrap. */
function baseRegistry(): string | undefined {
  const raw = process.env.PGLAB_BASE_REGISTRY?.trim();
  if (raw && /^(none|off|no|false|0)$/i.test(raw)) return undefined;
  return raw ? normalizeRegistry(raw) : DOCKER_HUB;
}

/** Debian's official slim image of `suite` in `registry` (a Docker Hub mirror keeps Hub's `library/`). */
export function debianRef(registry: string, suite: string): string {
  return `${registry}/library/debian:${suite}-slim`;
}

/**
 * `<ns>/base:<suite>` (`<ns>/base:<suite>-<arch>` for another platform): present, else pulled from a
 * registry, else debootstrap (Linux, root; another architecture through qemu-user), else one clear message.
 */
export async function ensureBase(suite: string, progress: ProgressLine, platform?: string): Promise<string> {
  const foreign = await foreignArch(platform);
  const own = baseTag(suite, foreign);
  if (await inspectImage(own)) return own;
  const registry = baseRegistry();
  let registryReason = t('image.baseRegistryOff');
  if (registry) {
    const ref = debianRef(registry, suite);
    try {
      progress(t('image.basePulling', { ref }));
      const probe = await probeRegistry(registry);
      await pullRef(ref, { auth: probe.auth, platform });
      await deriveBase(ref, suite, own, platform);
      await untag(ref);
      progress(t('image.basePulled', { tag: own, ref }));
      return own;
    } catch (err) {
      registryReason = err instanceof LabError ? t(err.key, err.params)
        : err instanceof TransferError ? `${ref}: ${err.message.slice(0, 200)}`
        : String((err as Error)?.message ?? err);
      progress(t('image.baseRegistryFailed', { ref, reason: registryReason }));
    }
  }
  if (process.platform !== 'linux') throw new LabError('image.noBase', { suite, reason: registryReason, local: t('image.debootstrapLinuxOnly') });
  try {
    await makeBase(suite, own, DEBIAN_MIRROR, progress, foreign);
  } catch (err) {
    if (err instanceof LabError && (err.key === 'image.noDebootstrap' || err.key === 'image.baseNeedsRoot' || err.key === 'image.noEmulation')) {
      throw new LabError('image.noBase', { suite, reason: registryReason, local: t(err.key) });
    }
    throw err;
  }
  return own;
}

/**
 * Debian's slim images drop downloaded .debs (docker-clean) and most of /usr/share (dpkg excludes):
 * the lab image needs both (ssh/rsync installed offline; PostgreSQL's Spanish messages). A one-step
 * build makes the pulled image behave like make-base.sh's debootstrap base.
 */
async function deriveBase(ref: string, suite: string, tag: string, platform?: string): Promise<void> {
  const context = stageContext([{ name: 'Dockerfile', from: path.join(DOCKER_DIR, 'base', 'Dockerfile.registry') }]);
  try {
    await runBuild(context, ['Dockerfile'], {
      t: tag,
      buildargs: { DEBIAN_IMAGE: ref, SUITE: suite },
      labels: { 'pglab.base.suite': suite, 'pglab.base.source': ref },
      ...(platform ? { platform } : {}),
    }, () => {}, tag);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

function makeBase(suite: string, tag: string, mirror: string, progress: ProgressLine, arch?: string): Promise<void> {
  progress(t('image.debootstrapping', { tag, mirror }));
  // Run from a copy with LF line ends: a CRLF checkout works too.
  const dir = stageContext([{ name: 'make-base.sh', from: path.join(DOCKER_DIR, 'base', 'make-base.sh') }]);
  return new Promise<void>((resolve, reject) => {
    const child = spawn('bash', [path.join(dir, 'make-base.sh'), suite, tag, mirror, ...(arch ? [arch] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (tail.some((l) => l.includes('PGLAB_ERROR no-emulation'))) return reject(new LabError('image.noEmulation', { arch: arch ?? '' }));
      reject(new LabError('image.baseFailed', { suite, tail: tail.join('\n') }));
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

interface ContextFile {
  name: string;
  from: string;
  /** Copied byte for byte (the 9.1 source archive); everything else is text and gets LF line ends. */
  binary?: boolean;
}

/** A build context in a temporary folder: text files with LF line ends, whatever the checkout has. */
export function stageContext(files: ContextFile[]): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-build-'));
  for (const f of files) {
    if (f.binary) copyFileSync(f.from, path.join(dir, f.name));
    else writeFileSync(path.join(dir, f.name), lf(readFileSync(f.from, 'utf8')));
  }
  return dir;
}

async function buildPgImage(
  major: PgMajor, base: string, tag: string, hash: string, progress: ProgressLine, noCache: boolean, source?: Pg91Source, platform?: string,
  cross?: CrossBuild,
): Promise<void> {
  const files = recipeFiles(major);
  const context = stageContext([
    ...files.map((name) => ({ name, from: path.join(DOCKER_DIR, 'pg', name) })),
    ...(source ? [{ name: 'pg91-source', from: source.file, binary: true }] : []),
  ]);
  const heartbeat = source ? compileHeartbeat(progress) : undefined;
  try {
    await runBuild(context, source ? [...files, 'pg91-source'] : files, {
      t: tag,
      dockerfile: files[0],
      buildargs: {
        BASE_IMAGE: base, PG_MAJOR: major,
        ...(source ? { BUILDER_IMAGE: cross?.builderBase ?? base, PG91_CROSS_ARCH: cross?.arch ?? '', PG91_CROSS_HOST: cross?.host ?? '' } : {}),
      },
      labels: { [LABELS.recipe]: hash, ...(source ? { 'pglab.source.sha256': source.sha256 } : {}) },
      nocache: noCache, // benchmarks measure a real rebuild
      // Not for a cross build: the classic builder checks every stage against the build's platform,
      // and the builder stage is the engine's own. Each stage then runs on its base's platform
      // (the runtime stage's base is the target's), which is what the image records.
      ...(platform && !cross ? { platform } : {}),
    }, (line) => {
      // 9.1's compile reports its phases; the other images show Docker's steps.
      if (source ? line.startsWith('PGLAB_PROGRESS ') : /^Step \d+\/\d+/.test(line)) {
        progress('  ' + line.replace('PGLAB_PROGRESS ', '').slice(0, 100));
      }
    }, tag);
  } finally {
    heartbeat?.stop();
    rmSync(context, { recursive: true, force: true });
  }
  if (platform) {
    const { arch } = await enginePlatform();
    if (platformArch(platform) !== arch) progress(t('image.builtForPlatform', { tag, platform }));
  }
}

/** One build through the Docker API; rejects with the last lines of its output. */
async function runBuild(context: string, src: string[], options: Record<string, unknown>, onLine: (line: string) => void, tag: string): Promise<void> {
  const client = dockerClient();
  const stream = await client.buildImage({ context, src }, { rm: true, forcerm: true, ...options });
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
          onLine(line);
        }
      },
    );
  });
}

/** The compile is long and silent: say once what is happening, then how long it has been. */
function compileHeartbeat(progress: ProgressLine): { stop(): void } {
  const started = Date.now();
  progress(t('image.compiling', { version: PG91_VERSION, minutes: PG91_BUILD_MINUTES }));
  const timer = setInterval(() => {
    const s = Math.round((Date.now() - started) / 1000);
    progress(t('image.compilingElapsed', { elapsed: `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`, minutes: PG91_BUILD_MINUTES }));
  }, HEARTBEAT_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
