/**
 * Grading for instructors: every check of every step (no stop at the first failure), with the
 * env's metadata and progress. Uses exactly the checks students run, so nothing is graded twice
 * in two ways. Only the graders' own probe objects are touched (and cleaned up).
 */
import { findEnv, type LabEnv, type StudentInfo } from '../env/env.js';
import { NODE_DOWN } from '../env/discovery.js';
import type { Student } from '../env/roster.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import { mapLimit } from '../concurrency.js';
import { EnvProbes, type Probes } from '../pg/probes.js';
import { UNKNOWN_ENV_PG } from '../pg/profile.js';
import { checksFor, DEFAULT_LAB, loadLab, readManifest, type Lab, type LabManifest } from './manifest.js';
import { observation, solvedSteps } from '../checks/index.js';
import { appendProgress, readProgress, type Progress } from './progress.js';
import { lazy, progressRecords, runStep, type StepResult } from './runner.js';
import type { ProgressLine } from '../progress-line.js';

export interface StepGrade extends StepResult {
  percentage: number;
  /** When this step's checks first all passed (not set by grading: the progress log is display only). */
  firstPassed?: string;
  /** `lab solve` ran this step (an authenticated mark in the observer's records): ISO time. */
  solvedAt?: string;
  /** Points the checks earned before a solved step was zeroed (the step scores 0 unless --count-solved). */
  earnedPoints?: number;
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
  /** The observer's records: how many, how many did not verify (never believed), whether it hit its cap; absent: no observer. */
  observer?: { records: number; tampered: number; full: boolean; impostor?: number };
  /** Who the env is for: the roster's row when a roster was given, else the env's labels. */
  student?: StudentInfo;
  /** System identifiers of the env's clusters (pg_controldata of each running server): what copy detection compares. */
  systemIdentifiers?: string[];
  /** sha256 of the WAL segments in esclavo's archive (hand-ins): two students' work never shares one. */
  walSegments?: string[];
  /** The env's identity (hand-ins: name + creation time): one env handed in twice shares it. */
  envIdentity?: string;
  /** Possible copies: this env shares something that no two students' work can share by chance. */
  flags?: CopyFlag[];
  /** The hand-in file this grade comes from (`class grade --submissions`). */
  handin?: string;
  /** A hand-in that did not verify: no grade at all, `error` says why. */
  refused?: boolean;
}

/** Two envs (or hand-ins) that share a cluster: one was made from the other's data. */
export interface CopyFlag {
  kind: 'system-identifier' | 'wal-segment' | 'env-identity';
  /** The shared value (for WAL segments: how many are shared, and one of them). */
  value: string;
  /** The other env, and its student when known. */
  with: string;
  withStudent?: StudentInfo;
}

/** A roster student with no env to grade. */
export interface MissingStudent {
  student: StudentInfo;
  env: string;
  reason: 'no-env' | 'no-handin';
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

export interface GradeOptions {
  /**
   * Append the results to the env's progress log (marked as a grading's, not the student's
   * activity). Off for the class board and its reports: looking must not change what they show.
   */
  record?: boolean;
  /** Count steps done with `lab solve` (instructors: off by default, such steps score 0). */
  countSolved?: boolean;
}

export async function gradeEnv(name: string, labId?: string, opts: GradeOptions = {}): Promise<EnvGrade> {
  return gradeEnvWith(name, labId, (env) => new EnvProbes(env), undefined, opts);
}

/**
 * Grades an env with the Probes `makeProbes` gives (the live ones; `lab submit` passes probes that
 * record every answer for the hand-in).
 */
export async function gradeEnvWith(
  name: string, labId: string | undefined, makeProbes: (env: LabEnv) => Probes, seen?: { progress?: Progress }, opts: GradeOptions = {},
): Promise<EnvGrade> {
  const gradedAt = new Date().toISOString();
  let env: LabEnv | undefined;
  let lab: Lab | undefined;
  try {
    const found = await findEnv(name);
    if (!found) throw new LabError('env.notFound', { env: name });
    env = found;
    // A server on a Swarm node that does not answer: the env is reported so, never graded 0 as if empty.
    const away = found.servers.filter((s) => s.state === NODE_DOWN);
    if (away.length) throw new LabError('swarm.envNodeDown', { nodes: [...new Set(away.map((s) => s.node ?? '?'))].join(', '), roles: away.map((s) => s.role).join(', ') });
    lab = await loadLab(labId ?? found.lab);
    const graded = lab;
    // Display only (first-passed times): grading believes nothing from the log and writes nothing into the env.
    const progress = lazy(async () => (seen ? (seen.progress = await readProgress(found, graded.id)) : readProgress(found, graded.id)));
    const g = await gradeWith(found, lab, makeProbes(found), progress, gradedAt, opts);
    // Display only, marked as a grading's: no grade reads the log back (first-passed times come from the log read before).
    const records = progressRecords(lab.id, g.steps, 'grade');
    if (opts.record !== false) await appendProgress(found, records);
    for (const s of g.steps) s.firstPassed ??= s.passed ? records[0].at : undefined;
    return g;
  } catch (err) {
    const message = err instanceof LabError ? t(err.key, err.params) : String((err as Error)?.message ?? err);
    const manifest = lab ?? readManifest(labId ?? env?.lab ?? DEFAULT_LAB);
    const maxScore = maxScoreOf(manifest, env?.pg ?? UNKNOWN_ENV_PG);
    return { env: name, lab: manifest.id, pg: env?.pg ?? '', imageId: env?.imageId, created: env?.created, gradedAt, score: 0, maxScore, percentage: 0, steps: [], error: message, ...(env?.student ? { student: env.student } : {}) };
  }
}

/**
 * Every step of `lab` on `env`, with the facts `probes` gives: the live env's, or a hand-in's
 * recorded answers (src/handin/replay.ts). Nothing here knows which.
 */
export async function gradeWith(
  env: LabEnv, lab: Lab, probes: Probes, progress: () => Promise<Progress>, gradedAt = new Date().toISOString(), opts: GradeOptions = {},
): Promise<EnvGrade> {
  // Grading writes nothing into the env: no later grade can believe what this one computed.
  const shared = { probes, noRecord: true };
  // Steps run one after another (they share probes and the grader's probe schema); checks inside a step run concurrently.
  const steps: StepGrade[] = [];
  for (const step of lab.steps) {
    const r = await runStep(env, lab, step, shared);
    steps.push({ ...r, percentage: pct(r.points, r.maxPoints) });
  }
  const earlier = await progress(); // display only, memoized: read at most once per grading
  for (const s of steps) s.firstPassed = earlier.steps[s.step]?.firstPassed;
  // Steps `lab solve` ran (authenticated marks in the observer's records) score 0 unless counted.
  const obs = await observation(probes);
  const solved = obs ? solvedSteps(obs) : new Map<string, number>();
  for (const s of steps) {
    const at = solved.get(`${lab.id}/${s.step}`);
    if (at === undefined) continue;
    s.solvedAt = new Date(at * 1000).toISOString();
    if (opts.countSolved) continue;
    s.earnedPoints = s.points;
    s.points = 0;
    s.percentage = 0;
    for (const c of s.checks) c.points = 0;
  }
  const score = steps.reduce((a, s) => a + s.points, 0);
  const maxScore = steps.reduce((a, s) => a + s.maxPoints, 0);
  const systemIdentifiers = await clusterIdentities(probes, env);
  const observer = obs
    ? { records: obs.records.length, tampered: obs.tampered, full: obs.full, ...(obs.impostor ? { impostor: obs.impostor } : {}) }
    : undefined;
  return {
    env: env.name, lab: lab.id, pg: env.pg, imageId: env.imageId, image: env.image, created: env.created,
    gradedAt, score, maxScore, percentage: pct(score, maxScore), steps,
    ...(env.student ? { student: env.student } : {}), systemIdentifiers, ...(observer ? { observer } : {}),
  };
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

/**
 * Flags, on both sides, every pair of grades that share a system identifier, WAL segments or an
 * env identity, each flag naming the other side. Within one env these are shared by design (a base
 * backup carries maestro's identifier to esclavo); across two students' envs, only by copying.
 */
export function flagCopies(grades: EnvGrade[]): void {
  const kinds: [CopyFlag['kind'], (g: EnvGrade) => string[]][] = [
    ['env-identity', (g) => (g.envIdentity ? [g.envIdentity] : [])],
    ['system-identifier', (g) => g.systemIdentifiers ?? []],
    ['wal-segment', (g) => g.walSegments ?? []],
  ];
  for (const [kind, values] of kinds) {
    const owners = new Map<string, EnvGrade[]>();
    for (const g of grades) for (const v of new Set(values(g))) owners.set(v, [...(owners.get(v) ?? []), g]);
    const shared = new Map<EnvGrade, Map<EnvGrade, string[]>>();
    for (const [v, gs] of owners) {
      if (gs.length < 2) continue;
      for (const g of gs) for (const o of gs) if (o !== g) { const m = shared.get(g) ?? new Map(); m.set(o, [...(m.get(o) ?? []), v]); shared.set(g, m); }
    }
    for (const [g, others] of shared) {
      for (const [o, vs] of others) {
        const value = kind === 'wal-segment' ? `${vs.length}: ${vs[0].slice(0, 12)}…` : vs[0];
        (g.flags ??= []).push({ kind, value, with: o.handin ?? o.env, ...(o.student ? { withStudent: o.student } : {}) });
      }
    }
  }
}

/**
 * Joins a roster to a report: each graded env (or hand-in, matched by legajo) gets its roster row
 * (name, e-mail, legajo), and each roster student with nothing graded is listed as missing, so a
 * gradebook gets one row per student.
 */
export function applyRoster(report: GradeReport, students: Student[], by: 'env' | 'legajo' = 'env'): GradeReport {
  const keyOf = (g: EnvGrade) => (by === 'env' ? g.env : g.student?.legajo?.toLowerCase());
  const missing: MissingStudent[] = [];
  for (const s of students) {
    const student: StudentInfo = { ...(s.legajo ? { legajo: s.legajo } : {}), ...(s.name ? { name: s.name } : {}), ...(s.email ? { email: s.email } : {}) };
    const want = by === 'env' ? s.env : s.legajo?.toLowerCase();
    const matched = want ? report.envs.filter((g) => keyOf(g) === want) : [];
    for (const g of matched) g.student = student;
    if (!matched.length) missing.push({ student, env: s.env, reason: by === 'env' ? 'no-env' : 'no-handin' });
  }
  // A flag names the other side's student as the roster says.
  for (const g of report.envs) {
    for (const f of g.flags ?? []) {
      const o = report.envs.find((x) => (x.handin ?? x.env) === f.with && x !== g);
      if (o?.student) f.withStudent = o.student;
    }
  }
  return { ...report, missing };
}

/** Grades several envs concurrently, at most `parallel` at a time, reporting progress. */
/**
 * Grades several envs concurrently, at most `parallel` at a time, reporting progress. Each env is
 * graded on its own lab unless `lab` names one; the report names the lab when they all share it.
 */
export async function gradeEnvs(names: string[], opts: { lab?: string; parallel?: number; progress?: ProgressLine } & GradeOptions = {}): Promise<GradeReport> {
  if (opts.lab) await loadLab(opts.lab); // an unknown lab fails once, before any env
  const grades = await mapLimit(names, opts.parallel ?? 4, async (name) => {
    const g = await gradeEnv(name, opts.lab, { record: opts.record, countSolved: opts.countSolved });
    opts.progress?.(`${name}: ${g.error ? g.error : `${g.score}/${g.maxScore}`}`);
    return g;
  });
  flagCopies(grades);
  const labs = [...new Set(grades.map((g) => g.lab))];
  // One lab (always so with --lab): its id and title; envs of several labs: their ids.
  const single = labs.length <= 1 ? readManifest(labs[0] ?? DEFAULT_LAB) : undefined;
  return { schema: 'pglab-grade/1', lab: single?.id ?? labs.join(','), labTitle: single?.title.es ?? labs.join(', '), gradedAt: new Date().toISOString(), envs: grades };
}
