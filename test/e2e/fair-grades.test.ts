/**
 * Fair grades: a lab done right and graded once at the end earns full marks, with no `lab check`
 * ever run; what a student skipped or faked is lost, and nothing depends on progress.jsonl alone.
 * The promotion and the tutorial's cleanup consume the live state: the graders fall back to what
 * survives on disk and to the env's flight recorder, and say which source each verdict came from.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { envNameFor, exec, lab } from './helpers.js';

const VERSIONS = (process.env.PGLAB_FAIR_VERSIONS ?? '9.1,15').split(',');

interface GradedCheck { id: string; status: string; points: number; maxPoints: number; source: string; evidence: Record<string, unknown> }
interface Graded { score: number; maxScore: number; percentage: number; error?: string; steps: { step: string; checks: GradedCheck[] }[] }

async function grade(env: string): Promise<Graded> {
  const r = await lab(['grade', '--env', env, '--format', 'json']);
  expect(r.code, r.stderr).toBeLessThan(2);
  return JSON.parse(r.stdout).envs[0] as Graded;
}
const lost = (g: Graded) => g.steps.flatMap((s) => s.checks.filter((c) => c.points < c.maxPoints).map((c) => `${s.step}/${c.id}`)).sort();
const bySource = (g: Graded, source: string) => g.steps.flatMap((s) => s.checks.filter((c) => c.source === source).map((c) => `${s.step}/${c.id}`));
async function solve(env: string, step: string) {
  const r = await lab(['solve', step, '--env', env, '--yes']);
  expect(r.code, r.stderr + r.stdout).toBe(0);
}
/** The recorder writes every 5 s: let it see the last state before the next action consumes it. */
const recorderTick = () => new Promise((r) => setTimeout(r, 6000));

describe.each(VERSIONS)('fair grades on PostgreSQL %s', (pg) => {
  const done = envNameFor(`fair${pg.replace('.', '')}`);
  const skipped = envNameFor(`skip${pg.replace('.', '')}`);
  const data = `/var/lib/postgresql/${pg}/main`;

  beforeAll(async () => {
    for (const env of [done, skipped]) {
      await lab(['down', '--env', env, '--purge', '--yes']);
      const up = await lab(['up', '--pg', pg, '--env', env]);
      expect(up.code, up.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    for (const env of [done, skipped]) await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('the whole lab solved with no check at all earns 100 %, and says where each verdict came from', async () => {
    for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5']) await solve(done, step);
    await recorderTick();
    await solve(done, 'step-6'); // promotion + the tutorial's cleanup (wal_archive and recovery.done deleted)
    const g = await grade(done);
    expect(lost(g)).toEqual([]);
    expect(g.percentage).toBe(100);
    // The promotion and the cleanup consumed the live state of these: proven otherwise.
    expect(bySource(g, 'evidence')).toEqual(expect.arrayContaining(['step-2/segments', 'step-2/base-backup']));
    // 12+ keep the standby settings in postgresql.conf; 9.1's recovery.conf was renamed and then deleted
    // by the cleanup, so only the recorder's copy of it is left.
    expect(bySource(g, pg === '9.1' ? 'recorder' : 'evidence')).toContain('step-3/standby-config');
    expect(bySource(g, 'recorder')).toEqual(expect.arrayContaining(['step-5/wal-sender', 'step-5/wal-receiver', 'step-4/esclavo-recovery']));
    expect(bySource(g, 'earlier-pass')).toEqual([]); // no check was ever run
  });

  it('the same grade with progress.jsonl deleted: nothing depends on it alone', async () => {
    const before = await grade(done);
    await exec(done, 'maestro', 'root', ['rm', '-f', '/var/lib/pglab/progress.jsonl']);
    const after = await grade(done);
    expect(after.score).toBe(before.score);
    expect(lost(after)).toEqual([]);
  });

  it('a garbled flight record gives a grade from the surviving evidence, without crashing, and says so', async () => {
    // Grading recorded passes in progress.jsonl: the student deletes that too, leaving only what is on disk.
    await exec(done, 'maestro', 'root', ['rm', '-f', '/var/lib/pglab/progress.jsonl']);
    for (const server of ['maestro', 'esclavo']) {
      // The student is root: kill the recorder and overwrite its files.
      await exec(done, server, 'root', ['pkill', '-f', 'pglab-recorder']);
      await exec(done, server, 'root', ['sh', '-c', 'for f in /var/lib/pglab/recorder/*.tsv; do printf "R1\\tgarbage\\n{\\"x\\":1}\\n" > "$f"; done']);
    }
    const g = await grade(done);
    expect(g.error).toBeUndefined();
    // Surviving evidence still proves steps 2–3; what only the record proved is lost, with a note.
    expect(lost(g)).not.toContain('step-2/segments');
    expect(lost(g)).not.toContain('step-3/standby-config');
    const sender = g.steps.find((s) => s.step === 'step-5')!.checks.find((c) => c.id === 'wal-sender')!;
    expect(sender.points).toBe(0);
    expect(String(sender.evidence.also_checked)).toMatch(/streaming maestro → esclavo \(no hay registro\)|maestro → esclavo streaming \(nothing recorded\)/);
    expect(Number(sender.evidence.record_rejected_lines)).toBeGreaterThan(0);
  });

  it('step 5\'s own table skipped and the promotion faked: exactly those checks are lost', async () => {
    for (const step of ['step-1', 'step-2', 'step-3', 'step-4']) await solve(skipped, step);
    // Streaming runs, but the student creates no table of their own.
    await new Promise((r) => setTimeout(r, 12_000));
    // "Promotion" by deleting the standby file and restarting esclavo: a normal server on the same timeline.
    await exec(skipped, 'esclavo', 'postgres', ['rm', '-f', `${data}/${pg === '9.1' ? 'recovery.conf' : 'standby.signal'}`]);
    await exec(skipped, 'esclavo', 'root', ['/etc/init.d/postgresql', 'restart']);
    const g = await grade(skipped);
    expect(lost(g)).toEqual([
      'step-5/student-table',
      'step-6/promoted', 'step-6/promoted-properly', 'step-6/rows-kept', 'step-6/timeline',
    ]);
  });
});
