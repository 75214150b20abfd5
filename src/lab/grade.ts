/**
 * Grading for instructors: every check of every step (no stop at the first failure), with the
 * env's metadata and progress. Uses exactly the checks students run, so nothing is graded twice
 * in two ways. Only the graders' own probe objects are touched (and cleaned up).
 */
import { findEnv, type LabEnv } from '../env/env.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { mapLimit } from '../concurrency.js';
import { EnvProbes } from '../pg/probes.js';
import { UNKNOWN_ENV_PG } from '../pg/profile.js';
import { checksFor, DEFAULT_LAB, loadLab, readManifest, type Lab, type LabManifest } from './manifest.js';
import { appendProgress, readProgress } from './progress.js';
import { lazy, progressRecords, runStep, type StepResult } from './runner.js';
import type { ProgressLine } from '../progress-line.js';

export interface StepGrade extends StepResult {
  percentage: number;
  /** When this step's checks first all passed (from the env's recorded progress). */
  firstPassed?: string;
}

export interface EnvGrade {
  env: string;
  /** The lab graded: the env's own, unless the instructor asked for another (`--lab`). */
  lab: string;
  pg: string;
  imageId?: string;
  image?: string;
  created?: string;
  gradedAt: string;
  score: number;
  maxScore: number;
  percentage: number;
  steps: StepGrade[];
  /** Set when the env could not be graded at all (it then scores 0). */
  error?: string;
}

export interface GradeReport {
  schema: 'pglab-grade/1';
  lab: string;
  labTitle: string;
  gradedAt: string;
  envs: EnvGrade[];
}

const pct = (points: number, max: number) => (max ? Math.round((1000 * points) / max) / 10 : 0);

export function maxScoreOf(lab: LabManifest, pg: LabEnv['pg']): number {
  return lab.steps.reduce((sum, s) => sum + checksFor(s, pg).reduce((a, c) => a + c.points, 0), 0);
}

export async function gradeEnv(name: string, labId?: string): Promise<EnvGrade> {
  const gradedAt = new Date().toISOString();
  let env: LabEnv | undefined;
  let lab: Lab | undefined;
  try {
    const found = await findEnv(name);
    if (!found) throw new LabError('env.notFound', { env: name });
    env = found;
    lab = await loadLab(labId ?? found.lab);
    const graded = lab;
    const shared = { probes: new EnvProbes(found), progress: lazy(() => readProgress(found, graded.id)) };
    // Steps run one after another (they share probes and the grader's probe schema); checks inside a step run concurrently.
    const steps: StepGrade[] = [];
    for (const step of lab.steps) {
      const r = await runStep(found, lab, step, shared);
      steps.push({ ...r, percentage: pct(r.points, r.maxPoints) });
    }
    const earlier = await shared.progress(); // memoized: read at most once per grading
    const records = progressRecords(lab.id, steps);
    await appendProgress(found, records);
    for (const s of steps) s.firstPassed = earlier.steps[s.step]?.firstPassed ?? (s.passed ? records[0].at : undefined);
    const score = steps.reduce((a, s) => a + s.points, 0);
    const maxScore = steps.reduce((a, s) => a + s.maxPoints, 0);
    return {
      env: name, lab: lab.id, pg: found.pg, imageId: found.imageId, image: found.image, created: found.created,
      gradedAt, score, maxScore, percentage: pct(score, maxScore), steps,
    };
  } catch (err) {
    const message = err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err);
    const manifest = lab ?? readManifest(labId ?? env?.lab ?? DEFAULT_LAB);
    const maxScore = maxScoreOf(manifest, env?.pg ?? UNKNOWN_ENV_PG);
    return { env: name, lab: manifest.id, pg: env?.pg ?? '', imageId: env?.imageId, created: env?.created, gradedAt, score: 0, maxScore, percentage: 0, steps: [], error: message };
  }
}

/** Grades several envs concurrently, at most `parallel` at a time, reporting progress. */
/**
 * Grades several envs concurrently, at most `parallel` at a time, reporting progress. Each env is
 * graded on its own lab unless `lab` names one; the report names the lab when they all share it.
 */
export async function gradeEnvs(names: string[], opts: { lab?: string; parallel?: number; progress?: ProgressLine } = {}): Promise<GradeReport> {
  if (opts.lab) await loadLab(opts.lab); // an unknown lab fails once, before any env
  const grades = await mapLimit(names, opts.parallel ?? 4, async (name) => {
    const g = await gradeEnv(name, opts.lab);
    opts.progress?.(`${name}: ${g.error ? g.error : `${g.score}/${g.maxScore}`}`);
    return g;
  });
  const labs = [...new Set(grades.map((g) => g.lab))];
  // One lab (always so with --lab): its id and title; envs of several labs: their ids.
  const single = labs.length <= 1 ? readManifest(labs[0] ?? DEFAULT_LAB) : undefined;
  return { schema: 'pglab-grade/1', lab: single?.id ?? labs.join(','), labTitle: single?.title.es ?? labs.join(', '), gradedAt: new Date().toISOString(), envs: grades };
}
