/**
 * A lab is a plugin: labs/<id>/lab.json (steps → checks with points, titles, hints per failure
 * reason; reference solutions), labs/<id>/solutions/, labs/<id>/checks/index.ts (its graders,
 * built on the lab-author API in src/checks/), and exercises/<id>/<lang>/ (the text students read). The engine knows no
 * lab by name except the default one for envs made before labs were recorded.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { CheckFn } from '../checks/types.js';
import { DEFAULT_LAB, MAX_STANDBYS } from '../env/naming.js';
import { LabError } from '../errors.js';
import { LABS_DIR } from '../paths.js';
import type { PgMajor } from '../pg/profile.js';
import { manifestProblems } from './schema.js';

/** The manifest format this engine reads; a newer lab says so instead of half-working. */
export const MANIFEST_FORMAT = 1;

export interface Text { es: string; en?: string }

export interface CheckSpec {
  /** Unique within its step. */
  id: string;
  /** Key in the lab's own checks (labs/<id>/checks/index.ts). */
  check: string;
  points: number;
  title: Text;
  expected: Text;
  /** Hint per failure reason returned by the check; `default` for any other. */
  hints: Record<string, Text>;
  /** `warn`: a failure is reported with ! and does not fail the step. */
  severity?: 'error' | 'warn';
  /** Only for these PostgreSQL majors. */
  versions?: PgMajor[];
  /**
   * A check key that passes once a later step has legitimately consumed this check's state (e.g.
   * the promotion consumes recovery.conf): a pass recorded before then is kept.
   */
  supersededWhen?: string;
  /**
   * Checks that judge the same requirement from surviving evidence or the env's flight recorder;
   * tried in order when the live check fails.
   */
  fallbacks?: string[];
}

export interface SolutionAction {
  on: string;
  user: 'root' | 'postgres';
  /** Relative to the lab folder; labs/lib.sh and labs/<lab>/solutions/lib.sh are prepended. */
  script: string;
  /** Keep the script's stdout in this variable for the following actions. */
  capture?: string;
  timeoutSec?: number;
  versions?: PgMajor[];
}

export interface StepSpec {
  id: string;
  title: Text;
  /** File name under exercises/<lab>/<lang>/. */
  exercise: string;
  /** From gentle to explicit. */
  hints: Text[];
  checks: CheckSpec[];
  solution: SolutionAction[];
}

export interface LabManifest {
  format: number;
  id: string;
  title: Text;
  /** Standbys a new env of this lab gets (esclavo, esclavo2…); `lab up --standbys` may ask for more. */
  standbys?: number;
  /** Packages students install for this lab; kept across `lab down` / `lab up` (reinstalled offline). */
  packages?: string[];
  /** A lab that continues another: a new env is first brought to the end of that lab by its solutions. */
  startsFrom?: string;
  /**
   * The lab's own constants (the tutorial's archive folder, trigger file…): {{name}} in its texts and
   * hints, NAME in its solutions, ctx.facts.name in its checks. A lab that continues another has its facts too.
   */
  facts?: Record<string, string>;
  /** The lab asks students to set archive_mode = off: status shows archiving off as expected, not as a failure. */
  archiveOff?: boolean;
  steps: StepSpec[];
}

/** A manifest ready to run: where it was read from and every check it may call. */
export interface Lab extends LabManifest {
  dir: string;
  checks: Record<string, CheckFn>;
}

/** The lab of envs whose containers carry no lab label (made before labs were plugins). */
export { DEFAULT_LAB };

const LAB_ID = /^[a-z][a-z0-9-]{0,39}$/;

/** Ids of the labs in this checkout (folders of labs/ with a lab.json). */
export function labIds(): string[] {
  return readdirSync(LABS_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && LAB_ID.test(d.name) && existsSync(path.join(LABS_DIR, d.name, 'lab.json')))
    .map((d) => d.name)
    .sort((a, b) => (a === DEFAULT_LAB ? -1 : b === DEFAULT_LAB ? 1 : a.localeCompare(b)));
}

const manifests = new Map<string, LabManifest>();

/** The manifest alone (no checks loaded): enough to list labs, plan an env or render text. */
/** Whether a lab tells students to turn archiving off (an unknown lab: no). */
export function labAsksArchiveOff(lab: string | undefined): boolean {
  try {
    return !!lab && readManifest(lab).archiveOff === true;
  } catch {
    return false;
  }
}

export function readManifest(id: string): LabManifest {
  const cached = manifests.get(id);
  if (cached) return cached;
  if (!LAB_ID.test(id) || !existsSync(path.join(LABS_DIR, id, 'lab.json'))) {
    throw new LabError('lab.unknownLab', { lab: id, labs: labIds().join(', ') }, 2);
  }
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path.join(LABS_DIR, id, 'lab.json'), 'utf8'));
  } catch (err) {
    throw new LabError('lab.badJson', { lab: id, detail: String((err as Error).message) }, 2);
  }
  const format = (data as { format?: unknown } | null)?.format;
  if (format !== MANIFEST_FORMAT) throw new LabError('lab.badFormat', { lab: id, format: String(format), supported: MANIFEST_FORMAT }, 2);
  // The schema, not a cast: a manifest with a wrong or missing field says where, in the reader's language.
  const problems = manifestProblems(data, MAX_STANDBYS).filter((p) => !p.unknownKey);
  if (problems.length) throw new LabError('lab.invalid', { lab: id, problems: problems.map((p) => p.message).join('\n  ') }, 2);
  const manifest = data as LabManifest;
  if (manifest.id !== id) throw new Error(`labs/${id}/lab.json says id ${manifest.id}`);
  manifests.set(id, manifest);
  return manifest;
}

/**
 * `id` and the labs it starts from, nearest first (c → b → a for c startsFrom b startsFrom a). Stops
 * at a lab this checkout does not have, or where the chain would loop (validateLab refuses both).
 */
export function lineage(id: string): LabManifest[] {
  const chain: LabManifest[] = [];
  for (let next: string | undefined = id; next && !chain.some((m) => m.id === next); ) {
    let manifest: LabManifest;
    try {
      manifest = readManifest(next);
    } catch {
      break;
    }
    chain.push(manifest);
    next = manifest.startsFrom;
  }
  return chain;
}

/**
 * The packages a lab's students install, with those of the labs it starts from (an env that went on
 * into a later lab still runs the ssh and rsync its archive_command needs). Empty when no manifest
 * lists any, or the lab is unknown to this checkout. `lab down` keeps them (env/packages.ts).
 */
export function labPackages(lab: string): string[] {
  return [...new Set(lineage(lab).flatMap((m) => m.packages ?? []))];
}

/** The facts of a lab and of the labs it starts from (the nearer lab wins); empty for an unknown lab. */
export function labFacts(lab: string): Record<string, string> {
  return Object.assign({}, ...lineage(lab).reverse().map((m) => m.facts ?? {})) as Record<string, string>;
}

const labs = new Map<string, Promise<Lab>>();

/** The lab with its checks: those labs/<id>/checks/index.ts names (built on the lab-author API, src/checks/). */
export function loadLab(id: string = DEFAULT_LAB): Promise<Lab> {
  let lab = labs.get(id);
  if (!lab) {
    lab = (async () => {
      const manifest = readManifest(id);
      const loaded: Lab = { ...manifest, dir: path.join(LABS_DIR, id), checks: await labChecks(id) };
      validateLab(loaded);
      return loaded;
    })();
    labs.set(id, lab);
    lab.catch(() => labs.delete(id));
  }
  return lab;
}

/**
 * A lab's own checks: from src/ (tests run the .ts) the lab's index.ts under LABS_DIR; from
 * dist/src/ (the built CLI) the compiled .js next to it in dist/labs/.
 */
async function labChecks(id: string): Promise<Record<string, CheckFn>> {
  const file = import.meta.url.endsWith('.ts')
    ? pathToFileURL(path.join(LABS_DIR, id, 'checks', 'index.ts'))
    : new URL(`../../labs/${id}/checks/index.js`, import.meta.url);
  if (!existsSync(file)) return {};
  const mod = (await import(file.href)) as { CHECKS?: Record<string, CheckFn> };
  return mod.CHECKS ?? {};
}

/** Fails early on a manifest that names an unknown check or duplicates an id. */
export function validateLab(lab: Lab): void {
  const stepIds = new Set<string>();
  if (lab.startsFrom && !labIds().includes(lab.startsFrom)) throw new Error(`${lab.id}: startsFrom unknown lab ${lab.startsFrom}`);
  const root = lineage(lab.id).at(-1);
  if (root?.startsFrom) throw new Error(`${lab.id}: startsFrom cycle at ${root.startsFrom}`);
  for (const step of lab.steps) {
    if (stepIds.has(step.id)) throw new Error(`duplicate step ${step.id}`);
    stepIds.add(step.id);
    const checkIds = new Set<string>();
    for (const c of step.checks) {
      if (!lab.checks[c.check]) throw new Error(`${step.id}/${c.id}: unknown check ${c.check}`);
      for (const f of c.fallbacks ?? []) if (!lab.checks[f]) throw new Error(`${step.id}/${c.id}: unknown fallback ${f}`);
      if (c.supersededWhen && !lab.checks[c.supersededWhen]) throw new Error(`${step.id}/${c.id}: unknown supersededWhen ${c.supersededWhen}`);
      if (checkIds.has(c.id)) throw new Error(`${step.id}: duplicate check ${c.id}`);
      if (!c.hints.default) throw new Error(`${step.id}/${c.id}: no default hint`);
      checkIds.add(c.id);
    }
  }
}

/** A step by its id, or by its number (`3`: the third step, whatever the lab calls it). */
export function findStep(lab: LabManifest, id: string): StepSpec {
  const step = /^\d+$/.test(id) ? lab.steps[Number(id) - 1] : lab.steps.find((s) => s.id === id);
  if (!step) throw new LabError('lab.unknownStep', { step: id, steps: lab.steps.map((s) => s.id).join(', ') });
  return step;
}

export function checksFor(step: StepSpec, pg: PgMajor): CheckSpec[] {
  return step.checks.filter((c) => !c.versions || c.versions.includes(pg));
}
