/**
 * What a lab image is: its name, the recipe it was built from (a hash of docker/'s files, stored as
 * the `pglab.recipe` label) and the contract labels `lab` relies on. Shared by building, pulling,
 * pushing and bundles, so an image from anywhere is judged the same way.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { dockerClient } from '../docker/client.js';
import { engineEndpoint, inspectImage as engineInspectImage, version as engineVersion } from '../docker/engine.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { profileFor, type PgMajor } from '../pg/profile.js';
import { PG91_COMMIT, PG91_VERSION } from './pg91-source.js';
import { PROJECT_ROOT } from '../paths.js';
import { noteEmulation } from '../timeouts.js';

export { PROJECT_ROOT };

export const DOCKER_DIR = path.join(PROJECT_ROOT, 'docker');

/** Label names of the image contract (docker/README.md). */
export const LABELS = { contract: 'pglab.image.contract', pg: 'pglab.pg', recipe: 'pglab.recipe' } as const;

/**
 * The local repository namespace of lab images: `<ns>/pg:<major>` and `<ns>/base:<suite>`.
 * `pglab` unless PGLAB_IMAGE_NAMESPACE says otherwise (a second set of images on one engine, e.g. tests).
 */
export function imageNamespace(): string {
  const ns = process.env.PGLAB_IMAGE_NAMESPACE?.trim();
  if (!ns) return 'pglab';
  if (!/^[a-z0-9]+([._-][a-z0-9]+)*$/.test(ns)) throw new LabError('image.badNamespace', { namespace: ns });
  return ns;
}

/**
 * `<ns>/pg:<major>` for the engine's own architecture; an image of another one (built or pulled with
 * --platform, loaded from a bundle) is `<ns>/pg:<major>-<arch>`, so both live side by side on one
 * engine (a tag names one image) and the native one is never replaced by an emulated one.
 */
export function imageTag(major: PgMajor, foreignArch?: string): string {
  return `${imageNamespace()}/pg:${major}${foreignArch ? `-${foreignArch}` : ''}`;
}

export function baseTag(suite: string, foreignArch?: string): string {
  return `${imageNamespace()}/base:${suite}${foreignArch ? `-${foreignArch}` : ''}`;
}

/** The architecture of `platform` when it is not the engine's own (undefined: native, or none given). */
export async function foreignArch(platform: string | undefined): Promise<string | undefined> {
  const arch = platformArch(platform);
  if (!arch) return undefined;
  return arch === (await enginePlatform()).arch ? undefined : arch;
}

/** The local lab image of `major` for `platform` (the engine's own when none is given). */
export async function localImageTag(major: PgMajor, platform?: string): Promise<string> {
  return imageTag(major, await foreignArch(platform));
}

/** Architectures lab images are published for (a registry's manifest list holds these). */
export const LAB_ARCHES = ['amd64', 'arm64'] as const;

/**
 * LF line ends. A Windows checkout (Git's core.autocrlf) turns scripts into CRLF, and a script with
 * `#!/bin/sh\r` cannot run in a container: everything `lab` sends into an image or a container
 * goes through this, so such a checkout builds the very same image as a Linux one.
 */
export function lf(text: string): string {
  return text.replace(/\r\n/g, '\n');
}

/** Files of docker/pg that go into the image's build context (the Dockerfile first). */
export function recipeFiles(major: PgMajor): string[] {
  const common = ['pglab-init', 'pglab-recorder'];
  return profileFor(major).buildFromSource ? ['Dockerfile.pg91', 'pg91-build.sh', ...common] : ['Dockerfile', ...common];
}

/**
 * Hash of everything that goes into the image; stored as a label to detect stale images.
 * Line ends are normalised first, so a CRLF checkout has the same recipe as an LF one (and can use
 * the images an instructor built on Linux). For 9.1 it includes the pinned source (version + release
 * commit): every source we accept is verified to be exactly that release.
 */
export function recipeHash(major: PgMajor): string {
  const h = createHash('sha256');
  for (const file of ['base/make-base.sh', ...recipeFiles(major).map((f) => `pg/${f}`)]) {
    h.update(file).update(lf(readFileSync(path.join(DOCKER_DIR, file), 'utf8')));
  }
  h.update(major);
  if (profileFor(major).buildFromSource) h.update(`postgresql-${PG91_VERSION}@${PG91_COMMIT}`);
  return h.digest('hex').slice(0, 16);
}

/** What is wrong with an image's labels for use as the lab image of `major` (empty: nothing). */
export function contractProblems(labels: Record<string, string> | undefined, major: PgMajor): string[] {
  const l = labels ?? {};
  const problems: string[] = [];
  if (l[LABELS.contract] !== '1') problems.push(`LABEL ${LABELS.contract}="1"`);
  if (l[LABELS.pg] !== major) problems.push(t('image.contractHas', { label: `LABEL ${LABELS.pg}="${major}"`, value: l[LABELS.pg] ?? '—' }));
  if (!/^[0-9a-f]{16}$/.test(l[LABELS.recipe] ?? '')) problems.push(t('image.contractHas', { label: `LABEL ${LABELS.recipe}=<hash>`, value: l[LABELS.recipe] ?? '—' }));
  return problems;
}

export interface ImageFacts {
  id: string;
  labels: Record<string, string>;
  size: number;
  /** amd64, arm64, … as the engine reports it. */
  arch: string;
  created: string;
}

export async function inspectImage(ref: string): Promise<ImageFacts | undefined> {
  try {
    // The plain engine client where it can (a check pays no dockerode start-up), dockerode otherwise.
    const ep = engineEndpoint();
    const info = ep ? await engineInspectImage(ep, ref) : await dockerClient().getImage(ref).inspect();
    return {
      id: info.Id,
      labels: info.Config?.Labels ?? {},
      size: info.Size,
      arch: [info.Architecture, (info as { Variant?: string }).Variant].filter(Boolean).join('/'),
      created: info.Created,
    };
  } catch {
    return undefined;
  }
}

/** Removes a tag (and the image, if nothing else names it); quiet when it is already gone. */
export async function untag(ref: string): Promise<void> {
  await dockerClient().getImage(ref).remove({ noprune: false }).catch(() => undefined);
}

export async function tagAs(source: string, target: string): Promise<void> {
  const slash = target.lastIndexOf('/');
  const colon = target.lastIndexOf(':');
  const [repo, tag] = colon > slash ? [target.slice(0, colon), target.slice(colon + 1)] : [target, 'latest'];
  await dockerClient().getImage(source).tag({ repo, tag });
}

let engine: Promise<{ os: string; arch: string }> | undefined;

/** The engine's platform (Docker Desktop on Apple Silicon: linux/arm64), asked once per process. */
export function enginePlatform(): Promise<{ os: string; arch: string }> {
  const ep = engineEndpoint();
  engine ??= (ep ? engineVersion(ep) : dockerClient().version()).then((v) => ({ os: v.Os ?? 'linux', arch: v.Arch ?? 'amd64' }), () => ({ os: 'linux', arch: 'amd64' }));
  return engine;
}

/** `linux/arm64/v8` → `arm64`; undefined for nothing given. */
export function platformArch(platform: string | undefined): string | undefined {
  if (!platform) return undefined;
  const parts = platform.split('/');
  if (parts.length < 2 || parts[0] !== 'linux' || !/^[a-z0-9]+$/.test(parts[1] ?? '')) throw new LabError('image.badPlatform', { platform });
  return parts[1];
}

const imageArches = new Map<string, Promise<string | undefined>>();

export interface ImagePlatform {
  /** The image's architecture (amd64, arm64, …); undefined when the image is gone. */
  arch?: string;
  engine: string;
  /** Another architecture than the engine's: it runs under emulation (qemu-user, Rosetta). */
  emulated: boolean;
}

/**
 * Where `ref` (a tag or an image id) runs: natively or emulated. The first emulated image a `lab`
 * process meets stretches every time limit (timeouts.ts noteEmulation), unless PGLAB_TIMEOUT_SCALE
 * is set. One image inspect per image and process.
 */
export async function imagePlatform(ref: string): Promise<ImagePlatform> {
  let pending = imageArches.get(ref);
  if (!pending) {
    pending = inspectImage(ref).then((f) => f?.arch.split('/')[0]);
    imageArches.set(ref, pending);
  }
  const [arch, { arch: engine }] = await Promise.all([pending, enginePlatform()]);
  const emulated = Boolean(arch && arch !== engine);
  if (emulated) noteEmulation();
  return { arch, engine, emulated };
}
