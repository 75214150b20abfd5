/**
 * The lab as data: labs/<lab>/lab.json lists steps → checks (with points, titles, hints per
 * failure reason) and reference solutions. The engine does not know which lab it runs.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../docker/images.js';
import { CHECKS } from '../checks/index.js';
import { LabError } from '../errors.js';
import type { PgMajor } from '../pg/profile.js';

export interface Text { es: string; en?: string }

export interface CheckSpec {
  /** Unique within its step. */
  id: string;
  /** Key in src/checks/index.ts. */
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
  /** The state it checks legitimately disappears once esclavo is promoted (step 6). */
  supersededByPromotion?: boolean;
  /**
   * Checks (keys in src/checks/index.ts) that judge the same requirement from surviving evidence or
   * the env's flight recorder; tried in order when the live check fails.
   */
  fallbacks?: string[];
}

export interface SolutionAction {
  on: string;
  user: 'root' | 'postgres';
  /** Relative to the lab folder; labs/<lab>/solutions/lib.sh is prepended. */
  script: string;
  /** Keep the script's stdout in this variable for the following actions. */
  capture?: string;
  timeoutSec?: number;
  versions?: PgMajor[];
}

export interface StepSpec {
  id: string;
  title: Text;
  /** File name under exercises/<lang>/. */
  exercise: string;
  /** From gentle to explicit. */
  hints: Text[];
  checks: CheckSpec[];
  solution: SolutionAction[];
}

export interface LabManifest {
  id: string;
  title: Text;
  steps: StepSpec[];
  /** Folder the manifest was read from. */
  dir: string;
}

export const DEFAULT_LAB = 'wal-streaming';

const cache = new Map<string, LabManifest>();

export function loadLab(id = DEFAULT_LAB): LabManifest {
  const cached = cache.get(id);
  if (cached) return cached;
  const dir = path.join(PROJECT_ROOT, 'labs', id);
  const lab = { ...(JSON.parse(readFileSync(path.join(dir, 'lab.json'), 'utf8')) as Omit<LabManifest, 'dir'>), dir };
  validateLab(lab);
  cache.set(id, lab);
  return lab;
}

/** Fails early on a manifest that names an unknown check or duplicates an id. */
export function validateLab(lab: LabManifest): void {
  const stepIds = new Set<string>();
  for (const step of lab.steps) {
    if (stepIds.has(step.id)) throw new Error(`duplicate step ${step.id}`);
    stepIds.add(step.id);
    const checkIds = new Set<string>();
    for (const c of step.checks) {
      if (!CHECKS[c.check]) throw new Error(`${step.id}/${c.id}: unknown check ${c.check}`);
      for (const f of c.fallbacks ?? []) if (!CHECKS[f]) throw new Error(`${step.id}/${c.id}: unknown fallback ${f}`);
      if (checkIds.has(c.id)) throw new Error(`${step.id}: duplicate check ${c.id}`);
      if (!c.hints.default) throw new Error(`${step.id}/${c.id}: no default hint`);
      checkIds.add(c.id);
    }
  }
}

export function findStep(lab: LabManifest, id: string): StepSpec {
  const normalized = /^\d+$/.test(id) ? `step-${id}` : id;
  const step = lab.steps.find((s) => s.id === normalized);
  if (!step) throw new LabError('lab.unknownStep', { step: id, steps: lab.steps.map((s) => s.id).join(', ') });
  return step;
}

export function checksFor(step: StepSpec, pg: PgMajor): CheckSpec[] {
  return step.checks.filter((c) => !c.versions || c.versions.includes(pg));
}
