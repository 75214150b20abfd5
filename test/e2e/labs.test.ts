/**
 * Labs as plugins, on real containers (PostgreSQL 15): an env records its lab, every command works
 * on it, and an env that finished wal-streaming goes on into sync-failback with the student's own
 * work, while the first lab's grade and progress stay what they were.
 */
import { describe, expect, it } from 'vitest';
import { LabCluster } from './cluster.js';
import { envNameFor, lab } from './helpers.js';

let c: LabCluster;

interface Listed { env: string; lab: string; pg: string; next: string | null; steps: { id: string; status: string | null }[] }

async function listJson(...extra: string[]): Promise<Listed> {
  const r = await c.run(['list', '--json', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed;
}

async function gradeJson(...extra: string[]) {
  // The steps were done with `lab solve`: counted on purpose (they score 0 by default).
  const r = await c.run(['grade', '--format', 'json', '--count-solved', ...extra]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { lab: string; envs: { lab: string; score: number; maxScore: number; steps: unknown[] }[] };
}

describe('labs as plugins (PostgreSQL 15)', () => {
  c = LabCluster.forSuite('labs', { pg: '15' });

  it('lists the labs, and refuses an unknown one before touching Docker', async () => {
    const labs = JSON.parse((await lab(['labs', '--json'])).stdout) as { id: string; startsFrom: string | null }[];
    expect(labs.map((l) => l.id)).toEqual(expect.arrayContaining(['wal-streaming', 'sync-failback']));
    expect(labs.find((l) => l.id === 'sync-failback')?.startsFrom).toBe('wal-streaming');
    const unknown = await lab(['up', '--lab', 'no-such-lab', '--env', envNameFor('nolab')]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/No existe el lab "no-such-lab"/);
    expect((await lab(['status', '--env', envNameFor('nolab')])).code).toBe(2); // nothing was created
  });

  it('a new env is of wal-streaming: list, show and check work on its steps', async () => {
    const listed = await listJson();
    expect([listed.lab, listed.next, listed.steps.length]).toEqual(['wal-streaming', 'step-1', 6]);
    const show = await c.run(['show', 'step-1', '--raw']);
    expect(show.stdout).toContain('lab check step-1');
  });

  it('an env that finished wal-streaming goes on into sync-failback with its own work, and keeps its first grade', async () => {
    for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']) {
      const r = await c.run(['solve', step, '--yes']);
      expect(r.code, r.stderr).toBe(0);
    }
    const first = await gradeJson();
    const lost = (first.envs[0].steps as { step: string; checks: { id: string; status: string; reason?: string }[] }[])
      .flatMap((s) => s.checks.filter((k) => k.status !== 'pass').map((k) => `${s.step}/${k.id}: ${k.reason}`));
    expect([first.lab, first.envs[0].score], lost.join('; ')).toEqual(['wal-streaming', first.envs[0].maxScore]);

    const next = await c.run(['up', '--lab', 'sync-failback']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toMatch(/sigue ahora con el lab sync-failback/);
    expect(next.stderr).not.toMatch(/Preparando el punto de partida/); // the student's work, not the solutions
    expect(next.stdout).toMatch(/esclavo2\s+10\.213\.\d+\.12/); // the lab's second standby was added

    const listed = await listJson();
    expect([listed.lab, listed.next]).toEqual(['sync-failback', 'step-1']);
    expect(listed.steps.every((s) => s.status === null)).toBe(true); // no progress of the first lab leaks in
    // Every command now works on sync-failback; the first lab stays gradeable by name, unchanged.
    const check = await c.run(['check', 'step-1', '--json']);
    expect(JSON.parse(check.stdout).lab).toBe('sync-failback');
    const again = await gradeJson('--lab', 'wal-streaming');
    expect(again.envs[0].score).toBe(first.envs[0].score);
    expect((await listJson('--lab', 'wal-streaming')).next).toBeNull();
    // Running it again changes nothing; a lab that does not continue sync-failback is refused.
    expect((await c.run(['up', '--lab', 'sync-failback'])).stdout).toMatch(/ya está en marcha/);
    const back = await c.run(['up', '--lab', 'wal-streaming']);
    expect(back.code).toBe(2);
    expect(back.stderr).toMatch(/es del lab sync-failback/);
  });
});
