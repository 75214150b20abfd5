/**
 * A lab that continues another (manifest `startsFrom`) starts where that lab ends: a new env is
 * brought there by the earlier lab's reference solutions, once; an env the student already took
 * through the earlier lab keeps their own work. Which of the two happened is written in the env's
 * state (env/state.ts), so a `lab up` interrupted half-way prepares again and a finished one never does.
 */
import { readState, writeState } from '../env/state.js';
import { findEnv, up, type LabEnv, type UpOptions, type UpResult } from '../env/env.js';
import { t } from '../i18n/index.js';
import { TIMEOUTS } from '../timeouts.js';
import { DEFAULT_LAB, lineage, loadLab, type Lab } from './manifest.js';
import { applySolution } from './solve.js';
import type { ProgressLine } from '../progress-line.js';

const startMarker = (lab: string) => `started-${lab}`;

export type StartingPoint = 'prepared' | 'continued';

/** The labs a new env of `lab` must go through first, earliest first. */
export function labChain(lab: Lab): Promise<Lab[]> {
  return Promise.all(lineage(lab.id).slice(1).reverse().map((m) => loadLab(m.id)));
}

export async function startingPoint(env: LabEnv, lab: string): Promise<StartingPoint | undefined> {
  const text = (await readState(env, startMarker(lab), { timeoutMs: TIMEOUTS.probeMs, strict: true }))?.trim() ?? '';
  return text === 'prepared' || text === 'continued' ? text : undefined;
}

export async function markStartingPoint(env: LabEnv, lab: string, how: StartingPoint): Promise<void> {
  await writeState(env, startMarker(lab), how + '\n', { timeoutMs: TIMEOUTS.probeMs });
}

/** Applies every step's solution of the labs `lab` starts from; `step` reports "lab step i/n". */
export async function prepareStartingPoint(env: LabEnv, lab: Lab, step: (lab: string, index: number, total: number) => void): Promise<void> {
  for (const previous of await labChain(lab)) {
    for (const [i, s] of previous.steps.entries()) {
      step(previous.id, i + 1, previous.steps.length);
      await applySolution(env, previous, s);
    }
  }
  await markStartingPoint(env, lab.id, 'prepared');
}

/**
 * `lab up` for a lab: a new env gets the lab's label and its standbys, then the starting point of
 * a lab that continues another; an env of that other lab goes on into this one with the student's
 * own work (no solutions applied).
 */
export async function upLab(opts: UpOptions & { lab?: string }, progress: ProgressLine = () => {}): Promise<UpResult> {
  const existing = await findEnv(opts.env);
  const labId = opts.lab ?? (existing && !existing.incomplete ? existing.lab : DEFAULT_LAB);
  const lab = await loadLab(labId);
  const standbys = opts.standbys ?? lab.standbys;
  const result = await up({ ...opts, lab: labId, standbys, continuable: (from, to) => continues(to, from), progress });
  if (result.notAccepting.length || !lab.startsFrom) return result;
  if (result.continued) {
    await markStartingPoint(result.env, lab.id, 'continued');
  } else if (!(await startingPoint(result.env, lab.id))) {
    const t0 = Date.now();
    progress(t('up.preparing', { lab: lab.id, from: lab.startsFrom }));
    await prepareStartingPoint(result.env, lab, (from, i, n) => progress(`  ${from}: ${t('up.preparingStep', { i, n })}`));
    progress(t('up.prepared', { from: lab.startsFrom, seconds: Math.round((Date.now() - t0) / 1000) }));
  }
  return result;
}

/** `to` continues `from` directly or through a chain (a → b → c: c continues a). */
function continues(to: string, from: string): boolean {
  return lineage(to).slice(1).some((m) => m.id === from);
}
