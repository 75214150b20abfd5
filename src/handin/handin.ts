/**
 * Hand-ins from laptops: `lab submit` grades the env live with probes that record every answer
 * (replay.ts) and writes one plain tar; `lab class grade --submissions DIR` verifies each tar and
 * re-grades it by running the instructor's own graders against those answers. The verdicts the
 * student's copy of pglab saw are never in the tar, so nothing in it can be taken for a grade.
 *
 * What a hand-in proves: the facts were taken by pglab from that env, not edited afterwards by
 * hand (checksums), for this lab and grader version, and whether two students handed in the same
 * or a copied env (system identifier, WAL segments, env identity). What it cannot: a student who
 * controls the laptop and rewrites pglab can fabricate the facts (see README, "Entregas").
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { LabEnv, StudentInfo } from '../env/env.js';
import { isPgMajor } from '../pg/profile.js';
import { profileFor } from '../pg/profile.js';
import { isTimelineHistoryName, isWalSegmentName, parseWalLongHeader } from '../pg/wal.js';
import { PROJECT_ROOT } from '../paths.js';
import { gradeEnvWith, gradeWith, maxScoreOf, type EnvGrade } from '../lab/grade.js';
import { labFacts, loadLab, readManifest } from '../lab/manifest.js';
import { summarize, type Progress } from '../lab/progress.js';
import { encodeValue, hostKey, RecordingProbes, ReplayProbes, type ProbeLog } from './replay.js';
import { observationOf, observerRecordsForHandin, OBSERVER_DIR, verifyObserverRecords } from './observer.js';
import { writeTar } from '../docker/tar.js';
import { readTar } from './tar.js';

export const HANDIN_SCHEMA = 'pglab-handin/1';
export const MANIFEST = 'pglab-handin.json';
const PROBES = 'probes.json';
const FACTS = 'facts.json';

export interface HandinManifest {
  schema: typeof HANDIN_SCHEMA;
  /** pglab's version and a digest of the lab's definition: the graders it was recorded for. */
  pglab: string;
  lab: string;
  labDigest: string;
  pg: string;
  env: Pick<LabEnv, 'name' | 'lab' | 'pg' | 'subnet' | 'created' | 'image' | 'imageId' | 'servers' | 'className'>;
  /** One value per env for its whole life (name + creation time): two hand-ins of one env share it. */
  envIdentity: string;
  student: StudentInfo & { legajo: string };
  submittedAt: string;
  files: { name: string; size: number; sha256: string }[];
  /** sha256 of this manifest without this field: a manifest edited by hand does not verify. */
  digest?: string;
}

/** What the instructor (and copy detection) reads without grading: the facts the graders judged. */
export interface HandinFacts {
  servers: Record<string, {
    settings?: Record<string, string>;
    systemIdentifier?: string;
    timeline?: number;
    clusterState?: string;
    tables?: Record<string, number>;
    timelineHistories?: Record<string, string>;
  }>;
  /** esclavo's WAL archive: each segment's size, sha256 and long-header facts. */
  archive: { name: string; size: number; sha256?: string; sysid?: string; tli?: number }[];
}

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

export function pglabVersion(): string {
  return (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/** The graders' definition of a lab: its manifest (steps, checks, points) as this pglab has it. */
export function labDigest(lab: string): string {
  return sha256(JSON.stringify(readManifest(lab)));
}

export function envIdentity(env: Pick<LabEnv, 'name' | 'created'>): string {
  return sha256(`${env.name}\n${env.created}`).slice(0, 16);
}

const SETTINGS_KEPT = ['wal_level', 'archive_mode', 'archive_command', 'archive_timeout', 'max_wal_senders', 'wal_keep_segments', 'wal_keep_size',
  'hot_standby', 'listen_addresses', 'synchronous_standby_names', 'synchronous_commit', 'primary_conninfo', 'restore_command', 'checkpoint_segments', 'max_wal_size'];
const MAX_SEGMENTS = 64;

/** The facts, read with the same recording probes (their answers go into the record too). */
async function gatherFacts(probes: RecordingProbes, env: LabEnv): Promise<HandinFacts> {
  const profile = profileFor(env.pg);
  const facts: HandinFacts = { servers: {}, archive: [] };
  const soft = <T>(p: Promise<T>) => p.catch(() => undefined);
  for (const s of env.servers.filter((x) => x.state === 'running')) {
    const settings = await soft(probes.settings(s.role));
    const control = await soft(probes.controldata(s.role));
    const tables = await soft(probes.userTables(s.role));
    const walDir = `${profile.dataDir}/${profile.walDirName}`;
    const histories: Record<string, string> = {};
    for (const e of (await soft(probes.listDir(s.role, walDir))) ?? []) {
      if (!isTimelineHistoryName(e.name)) continue;
      const text = await soft(probes.readText(s.role, `${walDir}/${e.name}`));
      if (text !== undefined) histories[e.name] = text;
    }
    facts.servers[s.role] = {
      ...(settings ? { settings: Object.fromEntries([...settings].filter(([k]) => SETTINGS_KEPT.includes(k))) } : {}),
      ...(control?.systemIdentifier ? { systemIdentifier: control.systemIdentifier } : {}),
      ...(control?.timeline ? { timeline: control.timeline } : {}),
      ...(control?.clusterState ? { clusterState: control.clusterState } : {}),
      ...(tables ? { tables: Object.fromEntries(tables) } : {}),
      ...(Object.keys(histories).length ? { timelineHistories: histories } : {}),
    };
  }
  // The lab's WAL archive (lab.json `facts.archive`), when it has one.
  const WAL_ARCHIVE_DIR = labFacts(env.lab).archive;
  if (WAL_ARCHIVE_DIR && env.servers.some((s) => s.role === 'esclavo' && s.state === 'running')) {
    const entries = ((await soft(probes.listDir('esclavo', WAL_ARCHIVE_DIR))) ?? []).filter((e) => isWalSegmentName(e.name)).sort((a, b) => a.name.localeCompare(b.name)).slice(0, MAX_SEGMENTS);
    // One exec hashes them all (fixed argv; the names come from find itself, never from a shell string).
    const sums = new Map<string, string>();
    const r = await soft(probes.exec('esclavo', ['find', WAL_ARCHIVE_DIR, '-maxdepth', '1', '-type', 'f', '-name', '0*', '-size', '-17M', '-exec', 'sha256sum', '--', '{}', '+'], { user: 'root', timeoutMs: 60_000 }));
    for (const line of r?.stdout.toString().split('\n') ?? []) {
      const m = /^([0-9a-f]{64})\s+\*?(.+)$/.exec(line);
      if (m) sums.set(path.basename(m[2]), m[1]);
    }
    for (const e of entries) {
      const page = await soft(probes.readFile('esclavo', `${WAL_ARCHIVE_DIR}/${e.name}`, 8192));
      let header: { sysid?: string; tli?: number } = {};
      try {
        if (page && page.length >= 40) { const h = parseWalLongHeader(page, profile.walHeaderLayout); header = { sysid: h.sysid, tli: h.tli }; }
      } catch { /* not a WAL page: the graders say so; here it just has no header facts */ }
      facts.archive.push({ name: e.name, size: e.size, ...(sums.get(e.name) ? { sha256: sums.get(e.name) } : {}), ...header });
    }
  }
  return facts;
}

export interface SubmitResult {
  file: string;
  bytes: number;
  grade: EnvGrade;
  members: { name: string; size: number }[];
  facts: HandinFacts;
}

/** `lab submit`: grade live while recording, gather the facts, write FILE.part, then rename it. */
export async function submit(envName: string, student: StudentInfo & { legajo: string }, out: string): Promise<SubmitResult> {
  let recording: RecordingProbes | undefined;
  let found: LabEnv | undefined;
  const seen: { progress?: Progress } = {};
  const grade = await gradeEnvWith(envName, undefined, (env) => { found = env; return (recording = new RecordingProbes(env)); }, seen);
  if (!recording || !found) throw new LabError('submit.notGraded', { env: envName, error: grade.error ?? '' }, 2);
  if (grade.error) throw new LabError('submit.notGraded', { env: envName, error: grade.error }, 2);
  const env = found;
  const facts = await gatherFacts(recording, env);
  const log: ProbeLog = { ...recording.log, progress: seen.progress ?? summarize([]) };
  const members = [
    { name: PROBES, data: Buffer.from(JSON.stringify(log)) },
    { name: FACTS, data: Buffer.from(JSON.stringify(facts, null, 2)) },
    ...(await observerRecordsForHandin(env)).map((m) => ({ name: OBSERVER_DIR + m.name, data: m.data })),
  ];
  const tar = packHandin({
    pglab: pglabVersion(), lab: grade.lab, labDigest: labDigest(grade.lab), pg: env.pg,
    env: {
      name: env.name, lab: env.lab, pg: env.pg, subnet: env.subnet, created: env.created, image: env.image, imageId: env.imageId,
      servers: env.servers, className: env.className,
    },
    envIdentity: envIdentity(env),
    student: { ...env.student, ...student },
    submittedAt: new Date().toISOString(),
  }, members);
  const all = readTar(tar) as { members: Map<string, Buffer> };
  const part = `${out}.part`;
  try {
    writeFileSync(part, tar);
    renameSync(part, out);
  } catch (err) {
    rmSync(part, { force: true });
    throw new LabError('submit.writeFailed', { file: out, detail: (err as NodeJS.ErrnoException).code ?? String(err) }, 2, { cause: err });
  }
  return { file: out, bytes: tar.length, grade, members: [...all.members].map(([name, data]) => ({ name, size: data.length })), facts };
}

/** The tar: the manifest first (listing every member with its size and sha256), then the members. */
export function packHandin(base: Omit<HandinManifest, 'schema' | 'files' | 'digest'>, members: { name: string; data: Buffer }[]): Buffer {
  const files = members.map((m) => ({ name: m.name, size: m.data.length, sha256: sha256(m.data) }));
  const manifest: HandinManifest = { schema: HANDIN_SCHEMA, ...base, files };
  manifest.digest = manifestDigest(manifest);
  return writeTar([{ name: MANIFEST, data: Buffer.from(JSON.stringify(manifest, null, 2)) }, ...members]);
}

export const HANDIN_MEMBERS = { probes: PROBES, facts: FACTS } as const;

function manifestDigest(m: HandinManifest): string {
  const { digest: _omit, ...rest } = m;
  void _omit;
  return sha256(JSON.stringify(rest));
}

export type HandinProblem =
  | { reason: 'unreadable'; detail: string }
  | { reason: 'not-tar' | 'truncated' | 'damaged' | 'not-regular' | 'no-manifest' | 'bad-manifest' | 'manifest-edited' }
  | { reason: 'edited'; member: string }
  | { reason: 'extra'; member: string }
  | { reason: 'other-lab'; lab: string }
  | { reason: 'other-version'; pglab: string; mine: string }
  | { reason: 'observer'; member: string }
  | { reason: 'replay-miss'; count: number };

export type LoadedHandin =
  | { ok: true; manifest: HandinManifest; log: ProbeLog; facts: HandinFacts }
  | { ok: false; problem: HandinProblem; manifest?: HandinManifest };

/** Reads and verifies a hand-in: every member listed, unchanged, for a lab and grader version this pglab has. */
export function verifyHandin(buf: Buffer): LoadedHandin {
  const tar = readTar(buf);
  if ('problem' in tar) return { ok: false, problem: { reason: tar.problem } };
  const raw = tar.members.get(MANIFEST);
  if (!raw) return { ok: false, problem: { reason: 'no-manifest' } };
  let manifest: HandinManifest;
  try {
    manifest = JSON.parse(raw.toString('utf8')) as HandinManifest;
    if (manifest.schema !== HANDIN_SCHEMA || !Array.isArray(manifest.files) || !manifest.student?.legajo || !manifest.env?.name || !isPgMajor(manifest.pg)) throw new Error('shape');
  } catch {
    return { ok: false, problem: { reason: 'bad-manifest' } };
  }
  if (manifest.digest !== manifestDigest(manifest)) return { ok: false, problem: { reason: 'manifest-edited' }, manifest };
  for (const f of manifest.files) {
    const data = tar.members.get(f.name);
    if (!data || data.length !== f.size || sha256(data) !== f.sha256) return { ok: false, problem: { reason: 'edited', member: f.name }, manifest };
  }
  for (const name of tar.members.keys()) {
    if (name !== MANIFEST && !manifest.files.some((f) => f.name === name)) return { ok: false, problem: { reason: 'extra', member: name }, manifest };
  }
  const bad = verifyObserverRecords(tar.members);
  if (bad) return { ok: false, problem: { reason: 'observer', member: bad }, manifest };
  try {
    if (labDigest(manifest.lab) !== manifest.labDigest) throw new Error('digest');
  } catch {
    return { ok: false, problem: { reason: 'other-lab', lab: manifest.lab }, manifest };
  }
  if (manifest.pglab !== pglabVersion()) return { ok: false, problem: { reason: 'other-version', pglab: manifest.pglab, mine: pglabVersion() }, manifest };
  try {
    const log = JSON.parse(tar.members.get(PROBES)!.toString('utf8')) as ProbeLog;
    const facts = JSON.parse(tar.members.get(FACTS)!.toString('utf8')) as HandinFacts;
    // The observation the graders get is the records' own, verified line by line (not probes.json's copy).
    const observation = observationOf(tar.members);
    log.host = { ...log.host, [hostKey('observation', [])]: [{ value: encodeValue(observation) }] };
    return { ok: true, manifest, log, facts };
  } catch {
    return { ok: false, problem: { reason: 'bad-manifest' }, manifest };
  }
}

export function problemText(p: HandinProblem): string {
  return t(`handin.${p.reason}`, p as unknown as Record<string, string>);
}

/**
 * Re-grades one hand-in with this pglab's graders against its recorded answers. A hand-in that
 * does not verify, or whose record lacks an answer the graders ask for, gets no score, only the
 * reason (never a silent 0 or 100).
 */
export async function gradeHandin(file: string): Promise<EnvGrade> {
  const gradedAt = new Date().toISOString();
  const base = path.basename(file);
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    return refused(base, { reason: 'unreadable', detail: (err as NodeJS.ErrnoException).code ?? String(err) }, gradedAt);
  }
  const loaded = verifyHandin(buf);
  if (!loaded.ok) return refused(base, loaded.problem, gradedAt, loaded.manifest);
  const { manifest, log, facts } = loaded;
  const env: LabEnv = { ...manifest.env, pg: manifest.pg as LabEnv['pg'], student: manifest.student };
  const lab = await loadLab(manifest.lab);
  const probes = new ReplayProbes(env, log);
  const g = await gradeWith(env, lab, probes, async () => log.progress ?? summarize([]), gradedAt);
  if (probes.misses.length) return refused(base, { reason: 'replay-miss', count: probes.misses.length }, gradedAt, manifest);
  return {
    ...g, handin: base, student: manifest.student, envIdentity: manifest.envIdentity,
    walSegments: facts.archive.map((a) => a.sha256).filter((x): x is string => !!x),
  };
}

function refused(file: string, problem: HandinProblem, gradedAt: string, manifest?: HandinManifest): EnvGrade {
  let maxScore = 0;
  try { if (manifest) maxScore = maxScoreOf(readManifest(manifest.lab), manifest.pg as LabEnv['pg']); } catch { /* an unknown lab: no maximum to give */ }
  return {
    env: manifest?.env?.name ?? file, lab: manifest?.lab ?? '', pg: manifest?.pg ?? '', gradedAt, score: 0, maxScore, percentage: 0, steps: [],
    error: t('handin.refused', { file, why: problemText(problem) }), handin: file, refused: true,
    ...(manifest?.student ? { student: manifest.student } : {}),
  };
}

/** The hand-ins of a directory: every *.tar in it, in name order. */
export function handinFiles(dir: string): string[] {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new LabError('handin.notDir', { dir }, 2);
    names = readdirSync(dir);
  } catch (err) {
    if (err instanceof LabError) throw err;
    throw new LabError('handin.notDir', { dir }, 2, { cause: err });
  }
  const files = names.filter((n) => n.endsWith('.tar')).sort().map((n) => path.join(dir, n));
  if (!files.length) throw new LabError('handin.none', { dir }, 2);
  return files;
}
