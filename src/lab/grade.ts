/**
 * Grading for instructors: every check of every step (no stop at the first failure), with the
 * env's metadata and progress. Uses exactly the checks students run, so nothing is graded twice
 * in two ways. Only the graders' own probe objects are touched (and cleaned up).
 */
import { findEnv, type LabEnv, type StudentInfo } from '../env/env.js';
import type { Student } from '../env/roster.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { mapLimit } from '../concurrency.js';
import { Probes } from '../pg/probes.js';
import { checksFor, DEFAULT_LAB, loadLab, readManifest, type Lab, type LabManifest } from './manifest.js';
import { appendProgress, readProgress } from './progress.js';
import { lazy, progressRecords, runStep, type StepResult } from './runner.js';
import type { ProgressLine } from '../docker/images.js';

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
  /** Who the env is for: the roster's row when a roster was given, else the env's labels. */
  student?: StudentInfo;
  /** System identifiers of the env's clusters (pg_controldata of each running server): what copy detection compares. */
  systemIdentifiers?: string[];
  /** Possible copies: this env shares something that no two students' work can share by chance. */
  flags?: CopyFlag[];
}

/** Two envs (or hand-ins) that share a cluster: one was made from the other's data. */
export interface CopyFlag {
  kind: 'system-identifier';
  value: string;
  /** The other env, and its student when known. */
  with: string;
  withStudent?: StudentInfo;
}

/** A roster student with no env to grade. */
export interface MissingStudent {
  student: StudentInfo;
  env: string;
  reason: 'no-env';
}

export interface GradeReport {
  schema: 'pglab-grade/1';
  lab: string;
  labTitle: string;
  gradedAt: string;
  envs: EnvGrade[];
  /** Roster students without an env (only with a roster): a gradebook still needs their row. */
  missing?: MissingStudent[];
  /** The class graded, when it is one. */
  className?: string;
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
    const shared = { probes: new Probes(found), progress: lazy(() => readProgress(found, graded.id)) };
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
    const systemIdentifiers = await clusterIdentities(shared.probes, found);
    return {
      env: name, lab: lab.id, pg: found.pg, imageId: found.imageId, image: found.image, created: found.created, gradedAt, score, maxScore, percentage: pct(score, maxScore), steps,
      ...(found.student ? { student: found.student } : {}), systemIdentifiers,
    };
  } catch (err) {
    const message = err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err);
    const manifest = lab ?? readManifest(labId ?? env?.lab ?? DEFAULT_LAB);
    const maxScore = maxScoreOf(manifest, env?.pg ?? '15');
    return { env: name, lab: manifest.id, pg: env?.pg ?? '', imageId: env?.imageId, created: env?.created, gradedAt, score: 0, maxScore, percentage: 0, steps: [], error: message, ...(env?.student ? { student: env.student } : {}) };
  }
}

/**
 * The system identifier of each running server's cluster (read with pg_controldata, as the graders
 * do). initdb draws it at random when an env is first started, and a base backup carries it from
 * maestro to esclavo: two envs sharing one means one was made from the other's data.
 */
async function clusterIdentities(probes: Probes, env: LabEnv): Promise<string[]> {
  const ids = await Promise.all(env.servers.filter((s) => s.state === 'running')
    .map((s) => probes.controldata(s.role).then((c) => c?.systemIdentifier, () => undefined)));
  return [...new Set(ids.filter((x): x is string => !!x))].sort();
}

/** Flags, on both sides, every pair of graded envs that share a system identifier. */
export function flagCopies(grades: EnvGrade[]): void {
  const owners = new Map<string, EnvGrade[]>();
  for (const g of grades) for (const id of g.systemIdentifiers ?? []) owners.set(id, [...(owners.get(id) ?? []), g]);
  for (const [id, envs] of owners) {
    if (envs.length < 2) continue;
    for (const g of envs) {
      for (const other of envs) {
        if (other === g || g.flags?.some((f) => f.with === other.env && f.value === id)) continue;
        (g.flags ??= []).push({ kind: 'system-identifier', value: id, with: other.env, ...(other.student ? { withStudent: other.student } : {}) });
      }
    }
  }
}

/**
 * Joins a roster to a report: each env gets its roster row (name, e-mail, legajo), and each roster
 * student without an env is listed as missing, so a gradebook gets one row per student.
 */
export function applyRoster(report: GradeReport, students: Student[]): GradeReport {
  const byEnv = new Map(report.envs.map((g) => [g.env, g]));
  const missing: MissingStudent[] = [];
  for (const s of students) {
    const student: StudentInfo = { ...(s.legajo ? { legajo: s.legajo } : {}), ...(s.name ? { name: s.name } : {}), ...(s.email ? { email: s.email } : {}) };
    const g = byEnv.get(s.env);
    if (g) g.student = student;
    else missing.push({ student, env: s.env, reason: 'no-env' });
  }
  // A flag names the other side's student as the roster says.
  for (const g of report.envs) for (const f of g.flags ?? []) { const o = byEnv.get(f.with); if (o?.student) f.withStudent = o.student; }
  return { ...report, missing };
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
  flagCopies(grades);
  const labs = [...new Set(grades.map((g) => g.lab))];
  // One lab (always so with --lab): its id and title; envs of several labs: their ids.
  const single = labs.length <= 1 ? readManifest(labs[0] ?? DEFAULT_LAB) : undefined;
  return { schema: 'pglab-grade/1', lab: single?.id ?? labs.join(','), labTitle: single?.title.es ?? labs.join(', '), gradedAt: new Date().toISOString(), envs: grades };
}
