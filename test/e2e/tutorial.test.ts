/**
 * The wal-streaming lab told as its story, on real containers, once per PostgreSQL version: a
 * fresh pair of servers where nothing is done yet; then each section of the tutorial done by its
 * reference solution, what the graders must see after it, and that the earlier sections keep
 * passing; finally the promotion, after which what it consumed is proven from what survives.
 * Like PostgreSQL's own recovery tests, each `it` is one moment of the story, in order.
 *
 * lab-covers-all-checks: wal-streaming (every check fails on the fresh env and passes after the solutions; `lab dev check` reads this line)
 */
import { describe, expect, it } from 'vitest';
import { LabCluster } from './cluster.js';

const VERSIONS = (process.env.PGLAB_E2E_VERSIONS ?? '9.1,13,15,17').split(',');

describe.each(VERSIONS)('wal-streaming on PostgreSQL %s', (pg) => {
  const c = LabCluster.forSuite(`tut${pg.replace('.', '')}`, { pg });
  const solve = (step: string) => c.solve(step);
  const checks = (step: string) => c.checks(step);
  /** A step's checks once `id` passes: the observer looks every few seconds, so poll (bounded, 30 s) as a student re-checking would. */
  const passing = async (step: string, id: string) => {
    let got = await checks(step);
    for (const deadline = Date.now() + 30_000; got[id]?.status !== 'pass' && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 2000));
      got = await checks(step);
    }
    return got;
  };
  /** Every section done so far passes, not only the last one: a later section never breaks an earlier one. */
  const expectDoneSectionsPass = () => c.expectSolvedPass();

  it('a fresh pair of servers: every check of every section fails, quickly, with a filled-in hint', async () => {
    // True of any new env by construction (each has its own failing test elsewhere): same version on
    // both servers. (esclavo running as a primary of its own is not "esclavo está en marcha": step 4 asks for a standby.)
    const trueWhenFresh = new Set(['step-1/same-version']);
    for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']) {
      const { code, report, ms } = await c.check(step);
      expect(code).toBe(1);
      expect(ms).toBeLessThan(15_000); // nothing done yet: no long waits on absent things
      for (const check of report.steps[0].checks) {
        const key = `${step}/${check.id}`;
        if (trueWhenFresh.has(key)) continue;
        expect(check.status, `${key} should not pass on a fresh env: ${JSON.stringify(check.evidence)}`).not.toBe('pass');
        expect(check.hint, key).toBeTruthy();
        expect(check.hint, key).not.toMatch(/\{\w+\}/);
      }
    }
  });

  it('1. maestro reaches esclavo as postgres over ssh with no password, rsync on both', async () => {
    await solve('step-1');
    await expectDoneSectionsPass();
  });

  it('2. maestro archives genuine WAL segments into esclavo\'s archive; a base backup is taken and restored', async () => {
    await solve('step-2');
    // Segments count once the observer saw the archiver ship them and esclavo receive them: it looks every few seconds.
    const shipping = await passing('step-2', 'segments');
    expect(shipping.segments.evidence.size).toBe(16777216);
    // The tutorial leaves esclavo stopped until section 4.
    expect((await checks('step-4'))['esclavo-up'].status).toBe('fail');
    await expectDoneSectionsPass();
  });

  it('3. esclavo is configured as a hot standby that streams from maestro', async () => {
    await solve('step-3');
    await expectDoneSectionsPass();
  });

  it('4. maestro restarted with the new settings; esclavo starts in recovery and answers reads', async () => {
    await solve('step-4');
    await expectDoneSectionsPass();
  });

  it('5. a table written on maestro appears on esclavo through the wal sender and receiver', async () => {
    await solve('step-5');
    expect(Number((await checks('step-5'))['rows-replicated'].evidence.lag_ms)).toBeGreaterThanOrEqual(0);
    await expectDoneSectionsPass();
  });

  it('6. esclavo is promoted: a new timeline, two primaries, and the standby\'s state proven from what survives', async () => {
    await solve('step-6');
    expect(Number((await checks('step-6')).timeline.evidence.esclavo_timeline)).toBeGreaterThanOrEqual(2);
    // The promotion consumed the streaming: section 5 now passes from what the observer saw, and says so. The
    // observer looks every few seconds: wait (bounded) until it has recorded the promotion, as a grade made later would.
    const streamed = (await passing('step-5', 'rows-replicated'))['rows-replicated'];
    expect(streamed.status).toBe('pass');
    expect(['observer', 'evidence']).toContain(streamed.source);
    const status = await c.run(['status']);
    expect(status.stdout).toMatch(/promovido: ahora hay dos primarios/i);
    expect(status.stdout).toMatch(/línea de tiempo 2/);
    await expectDoneSectionsPass();
    // `lab check` with no step runs everything and passes on a finished env.
    const all = await c.run(['check']);
    expect(all.code, all.stdout).toBe(0);
  });
});
