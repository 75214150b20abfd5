/**
 * A third lab needs no engine file: a skeleton written only as lab files (lab.json, its checks on
 * the lab-author API, a solution script, the exercise text in Spanish and English) in a labs root of
 * its own is found, validated, passes `lab dev check`, and its check fails on a fresh env and passes
 * after the reference solution. The labs root is a temp dir (paths.ts points there for this file
 * only), so the checkout is not touched; docs/adding-a-lab.md walks through the same files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { ExecResult } from '../../src/pg/probes.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const ROOT = mkdtempSync(path.join(tmpdir(), 'pglab-third-lab-'));
const ID = 'skeleton';
const CHECK = 'skeleton.tableExists';

vi.mock('../../src/paths.js', () => ({
  PROJECT_ROOT: REPO,
  LABS_DIR: path.join(ROOT, 'labs'),
  EXERCISES_DIR: path.join(ROOT, 'exercises'),
}));

function write(rel: string, text: string): void {
  const file = path.join(ROOT, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, text);
}

const t = (es: string, en: string) => ({ es, en });
write(`labs/${ID}/lab.json`, JSON.stringify({
  format: 1, id: ID, title: t('Esqueleto de un lab', 'A lab skeleton'), standbys: 1,
  facts: { table: 'pglab_esqueleto' },
  steps: [{
    id: 'step-1', title: t('Crear la tabla', 'Create the table'), exercise: 'step-1.md',
    hints: [t('Conectate al maestro con psql.', 'Connect to maestro with psql.'), t('CREATE TABLE {{table}} (i int);', 'CREATE TABLE {{table}} (i int);')],
    checks: [{
      id: 'table', check: CHECK, points: 1,
      title: t('La tabla {table} existe en el maestro', 'Table {table} exists on maestro'),
      expected: t('{table} en pg_tables', '{table} in pg_tables'),
      hints: {
        missing: t('Creá la tabla {table} en el maestro ({maestro_ip}).', 'Create table {table} on maestro ({maestro_ip}).'),
        default: t('Revisá que el maestro esté corriendo.', 'Check that maestro is running.'),
      },
    }],
    solution: [{ on: 'maestro', user: 'postgres', script: 'solutions/step-1/create.sh' }],
  }],
}, null, 1));
// The lab's checks: only the lab-author API (absolute path here; `../../../src/checks/index.js` in a checkout).
write(`labs/${ID}/checks/index.ts`, `
import { fail, pass, type CheckFn } from '${path.join(REPO, 'src/checks/index.js')}';
const tableExists: CheckFn = async ({ probes, facts }) => {
  if (!(await probes.serverUp('maestro'))) return fail('down', { server: 'maestro' });
  const [[n]] = await probes.sql('maestro', \`SELECT count(*) FROM pg_tables WHERE tablename = '\${facts.table}'\`);
  return n === '1' ? pass({ table: facts.table }) : fail('missing', { table: facts.table });
};
export const CHECKS: Record<string, CheckFn> = { '${CHECK}': tableExists };
`);
write(`labs/${ID}/solutions/step-1/create.sh`, 'psql -q -c "CREATE TABLE IF NOT EXISTS $TABLE (i int)"\n');
write(`exercises/${ID}/es/step-1.md`, '# Crear la tabla\n\nEn el maestro ({{maestro_ip}}), creá `{{table}}`. Después: `lab check step-1`.\n');
write(`exercises/${ID}/en/step-1.md`, '# Create the table\n\nOn maestro ({{maestro_ip}}), create `{{table}}`. Then: `lab check step-1`.\n');

afterAll(() => rmSync(ROOT, { recursive: true, force: true }));

describe('a third lab, written as lab files only', async () => {
  const { labIds, loadLab, readManifest } = await import('../../src/lab/manifest.js');
  const { devCheck } = await import('../../src/lab/dev-check.js');
  const { runStep } = await import('../../src/lab/runner.js');
  const { FactProbes } = await import('../../src/pg/probes.js');
  const { fakeEnv } = await import('./support/fake-env.js');

  /** A maestro whose pg_tables has the table or not; anything else this check must not ask. */
  class TableProbes extends FactProbes {
    constructor(private readonly hasTable: boolean) {
      super(fakeEnv('15', ID));
    }

    override exec(role: string, argv: string[]): Promise<ExecResult> {
      throw new Error(`unexpected exec on ${role}: ${argv.join(' ')}`);
    }

    override async readiness(): Promise<'accepting'> {
      return 'accepting';
    }

    override async sql(role: string, query: string): Promise<string[][]> {
      expect(role).toBe('maestro');
      expect(query).toBe("SELECT count(*) FROM pg_tables WHERE tablename = 'pglab_esqueleto'");
      return [[this.hasTable ? '1' : '0']];
    }
  }

  it('is found and read by the engine, with its facts', () => {
    expect(labIds()).toEqual([ID]);
    expect(readManifest(ID).facts).toEqual({ table: 'pglab_esqueleto' });
  });

  it('passes lab dev check: schema, hints, both languages, solution, a test naming its check', async () => {
    expect(await devCheck(ID)).toEqual([]);
  });

  it('its check fails on a fresh env with a filled-in hint, and passes after the solution', async () => {
    const lab = await loadLab(ID);
    const env = fakeEnv('15', ID);
    const noProgress = async () => ({ steps: {}, checks: {} });
    const run = (hasTable: boolean) => runStep(env, lab, lab.steps[0], { probes: new TableProbes(hasTable), progress: noProgress });
    const fresh = await run(false);
    expect(fresh.passed).toBe(false);
    expect(fresh.checks[0]).toMatchObject({ status: 'fail', reason: 'missing', hint: 'Creá la tabla pglab_esqueleto en el maestro (10.213.7.10).', title: 'La tabla pglab_esqueleto existe en el maestro' });
    const solved = await run(true);
    expect(solved.passed).toBe(true);
    expect(solved.checks[0]).toMatchObject({ status: 'pass', points: 1, evidence: { table: 'pglab_esqueleto' } });
  });
});
