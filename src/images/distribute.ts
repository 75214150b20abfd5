/**
 * Lab images that were built elsewhere: pulled from a registry or loaded from a bundle. Either way
 * an image becomes `<ns>/pg:<major>` only after its labels were read from the engine: the contract
 * must hold, and the recipe must be this checkout's. Anything else is removed again, so nothing
 * half-usable stays behind under a lab name.
 *
 * In a registry, `pglab/pg:<major>-<recipe>-<arch>` (one per architecture), and `pglab/pg:<major>-<recipe>`
 * and `pglab/pg:<major>` (the latest pushed) as manifest lists of every architecture of that recipe
 * there, so the engine pulls its native image. A pull asks for this checkout's recipe, for the engine's
 * architecture first, so one registry serves amd64 and arm64 laptops (push from each, or build with --platform).
 */
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { PgMajor } from '../pg/profile.js';
import type { ProgressLine } from '../progress-line.js';
import {
  contractProblems, enginePlatform, imageTag, inspectImage, LAB_ARCHES, LABELS, platformArch, recipeHash, tagAs, untag,
} from './recipe.js';
import { putManifestList, type ListEntry, manifestOf } from './manifest-list.js';
import {
  normalizeRegistry, probeRegistry, pullRef, pushRef, TransferError, type TransferEvent,
} from './registry.js';


/** Repository of lab images inside any registry. */
const REMOTE_REPO = 'pglab/pg';

export interface AdoptResult {
  used: boolean;
  tag: string;
  /** The recipe the image was built from (when not used: why). */
  recipe: string;
  arch: string;
}

/**
 * Makes `source` (a pulled or loaded reference) the lab image of `major` when it passes: `<ns>/pg:<major>`
 * when it is of the engine's architecture, `<ns>/pg:<major>-<arch>` otherwise; removes `source` in
 * every case (it was only a transport name). Wrong contract labels: LabError, exit 2.
 */
export async function adoptImage(source: string, major: PgMajor, progress: ProgressLine = () => {}): Promise<AdoptResult> {
  const facts = await inspectImage(source);
  if (!facts) throw new LabError('image.notFound', { image: source });
  const { arch } = await enginePlatform();
  const imageArch = facts.arch.split('/')[0]!;
  const target = imageTag(major, imageArch === arch ? undefined : imageArch);
  const problems = contractProblems(facts.labels, major);
  if (problems.length) {
    if (source !== target) await untag(source);
    throw new LabError('image.contract', { image: source, missing: problems.join('\n  ') });
  }
  const recipe = facts.labels[LABELS.recipe]!;
  const wanted = recipeHash(major);
  if (recipe !== wanted) {
    if (source !== target) await untag(source);
    return { used: false, tag: target, recipe, arch: facts.arch };
  }
  if (source !== target) {
    await tagAs(source, target);
    await untag(source);
  }
  if (imageArch !== arch) progress(t('image.otherArch', { tag: target, arch: facts.arch, engine: arch }));
  return { used: true, tag: target, recipe, arch: facts.arch };
}

function remoteRef(registry: string, tag: string): string {
  return `${registry}/${REMOTE_REPO}:${tag}`;
}

/** Throttled download/upload lines: at most one every few seconds, in MiB. */
function transferReporter(progress: ProgressLine, verb: string): (e: TransferEvent) => void {
  const layers = new Map<string, { current: number; total: number }>();
  let last = 0;
  return (e) => {
    if (!e.id || !e.progressDetail?.total) return;
    if (layers.size === 0) last = Date.now(); // the first line after a few seconds, not at 0 / 0
    layers.set(e.id, { current: e.progressDetail.current ?? 0, total: e.progressDetail.total });
    if (Date.now() - last < 3000) return;
    last = Date.now();
    let current = 0;
    let total = 0;
    for (const l of layers.values()) {
      current += l.current;
      total += l.total;
    }
    progress(`  ${verb} ${mib(current)} / ${mib(total)} MiB`);
  };
}

export function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(0);
}

/**
 * Pulls this checkout's lab image of `major` from `registryRaw` and adopts it. Throws a LabError
 * (unreachable, login, not there, contract) that says what happened; returns `used: false` when the
 * registry's image is of another recipe.
 */
export async function pullLabImage(
  registryRaw: string, major: PgMajor, progress: ProgressLine = () => {}, opts: { platform?: string } = {},
): Promise<AdoptResult> {
  const registry = normalizeRegistry(registryRaw);
  const recipe = recipeHash(major);
  const arch = platformArch(opts.platform) ?? (await enginePlatform()).arch;
  progress(t('registry.pulling', { tag: imageTag(major), registry }));
  const probe = await probeRegistry(registry);
  const candidates = [remoteRef(registry, `${major}-${recipe}-${arch}`), remoteRef(registry, `${major}-${recipe}`)];
  for (const ref of candidates) {
    try {
      await pullRef(ref, { auth: probe.auth, platform: opts.platform, onEvent: transferReporter(progress, t('registry.downloaded')) });
    } catch (err) {
      if (!(err instanceof TransferError)) throw err;
      if (err.kind === 'not-found' || err.kind === 'platform') continue;
      throw transferLabError(err, registry);
    }
    return adoptImage(ref, major, progress);
  }
  throw new LabError('registry.noImage', { registry, image: `${REMOTE_REPO}:${major}`, recipe }, 1);
}

/**
 * Pushes the local lab images of `major` of this checkout's recipe, each architecture here (native and
 * built with --platform) under `<major>-<recipe>-<arch>`; then `<major>-<recipe>` and `<major>` become
 * manifest lists of every architecture of that recipe in the registry (also ones pushed from another
 * machine), so `docker pull` there gives each engine its own. Returns the references written.
 */
export async function pushLabImage(registryRaw: string, major: PgMajor, progress: ProgressLine = () => {}): Promise<string[]> {
  const registry = normalizeRegistry(registryRaw);
  const recipe = recipeHash(major);
  const { arch: engineArch } = await enginePlatform();
  const locals: Array<{ tag: string; arch: string }> = [];
  for (const arch of [engineArch, ...LAB_ARCHES.filter((a) => a !== engineArch)]) {
    const tag = imageTag(major, arch === engineArch ? undefined : arch);
    const facts = await inspectImage(tag);
    if (facts && facts.labels[LABELS.recipe] === recipe) locals.push({ tag, arch: facts.arch.split('/')[0]! });
  }
  if (!locals.length) throw new LabError('image.notFound', { image: imageTag(major) });
  const probe = await probeRegistry(registry);
  const refs: string[] = [];
  for (const local of locals) {
    const ref = remoteRef(registry, `${major}-${recipe}-${local.arch}`);
    progress(t('registry.pushing', { tag: local.tag, registry }));
    await tagAs(local.tag, ref);
    try {
      await pushRef(ref, { auth: probe.auth, onEvent: transferReporter(progress, t('registry.uploaded')) });
    } catch (err) {
      throw err instanceof TransferError ? transferLabError(err, registry) : err;
    } finally {
      await untag(ref);
    }
    refs.push(ref);
  }
  // Every architecture of this recipe the registry has now (pushed here or from another machine).
  const entries: ListEntry[] = [];
  for (const arch of LAB_ARCHES) {
    const m = await manifestOf(registry, REMOTE_REPO, `${major}-${recipe}-${arch}`, probe).catch((err) => {
      throw err instanceof LabError ? err : new LabError('registry.failed', { registry, detail: String((err as Error)?.message ?? err).slice(0, 300) });
    });
    if (m) entries.push({ ...m, platform: { os: 'linux', architecture: arch } });
  }
  for (const tag of [`${major}-${recipe}`, major]) {
    await putManifestList(registry, REMOTE_REPO, tag, entries, probe).catch((err) => {
      throw err instanceof LabError ? err : new LabError('registry.failed', { registry, detail: String((err as Error)?.message ?? err).slice(0, 300) });
    });
    refs.push(`${remoteRef(registry, tag)} (${entries.map((e) => e.platform.architecture).join(' + ')})`);
  }
  return refs;
}

function transferLabError(err: TransferError, registry: string): LabError {
  if (err.kind === 'login') return new LabError('registry.needsLogin', { registry: registry.split('/')[0]! });
  if (err.kind === 'tls') return new LabError('registry.tls', { registry: registry.split('/')[0]!, detail: err.message.slice(0, 200) });
  if (err.kind === 'unreachable') return new LabError('registry.unreachable', { registry, seconds: 10, detail: err.message.slice(0, 200) });
  return new LabError('registry.failed', { registry, detail: err.message.slice(0, 300) });
}
