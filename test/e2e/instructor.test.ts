/**
 * Instructors on real containers (PostgreSQL 15): grade reports in every format at three stages,
 * hostile student text escaped (HTML checked in headless Chromium), a class of several envs,
 * and reset --to.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJson, envNameFor, exec, lab } from './helpers.js';

const env = envNameFor('grd');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-grade-'));
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

interface EnvGrade { env: string; pg: string; imageId: string; score: number; maxScore: number; percentage: number; gradedAt: string;
  steps: {
    step: string; points: number; maxPoints: number; passed: boolean; firstPassed?: string;
    checks: { id: string; status: string; points: number; evidence: Record<string, unknown> }[];
  }[] }

async function grade(format: string, names = [env]): Promise<string> {
  const out = path.join(tmp, `${names.join('_')}.${format}`);
  // Steps done with `lab solve` score 0 unless the instructor counts them (these tests solve to build state).
  const r = await lab(['grade', '--env', ...names, '--format', format, '--out', out, '--count-solved']);
  expect(r.code, r.stderr).toBe(0);
  return readFileSync(out, 'utf8');
}

async function gradeJson(): Promise<EnvGrade> {
  return JSON.parse(await grade('json')).envs[0];
}

async function solve(step: string) {
  const r = await lab(['solve', step, '--env', env, '--yes']);
  expect(r.code, r.stderr).toBe(0);
}

/** Every format tells the same marks. */
async function allFormatsAgree(g: EnvGrade) {
  const csv = (await grade('csv')).trim().split('\r\n');
  expect(csv[0]).toBe('env,pg,score,maxScore,percentage,step-1,step-2,step-3,step-4,step-5,step-6,gradedAt,error,legajo,nombre,email,alertas');
  const cells = csv[1].split(',');
  expect(cells.slice(0, 5)).toEqual([env, '15', String(g.score), String(g.maxScore), String(g.percentage)]);
  expect(cells.slice(5, 11).map(Number)).toEqual(g.steps.map((s) => s.points));
  const junit = await grade('junit');
  const testcases = junit.match(/<testcase /g)?.length ?? 0;
  const failures = junit.match(/<failure /g)?.length ?? 0;
  const allChecks = g.steps.flatMap((s) => s.checks);
  expect(testcases).toBe(allChecks.length);
  expect(failures).toBe(allChecks.filter((c) => c.status === 'fail').length);
  const md = await grade('md');
  expect(md).toContain(`| ${env.replace(/_/g, '\\_')} | 15 | ${g.score}/${g.maxScore} | ${g.percentage} |`);
  const text = await grade('text');
  expect(text).toContain(`${g.score}/${g.maxScore} (${g.percentage}%)`);
}

describe('grading reports from a real env', () => {
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
    expect((await lab(['up', '--pg', '15', '--env', env])).code).toBe(0);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('fresh: only what is true by construction scores; every format agrees; grading twice gives the same marks', async () => {
    const g = await gradeJson();
    expect(g.env).toBe(env);
    expect(g.pg).toBe('15');
    expect(g.imageId).toMatch(/^sha256:/);
    expect(g.maxScore).toBe(53);
    expect(g.score).toBe(0); // same-version is true by construction: shown, worth 0 (issue 16); esclavo-up needs a standby (issue 17)
    expect(g.steps.map((s) => s.passed)).toEqual([false, false, false, false, false, false]);
    await allFormatsAgree(g);
    const again = await gradeJson();
    expect(again.steps.map((s) => s.checks.map((c) => `${c.id}:${c.status}:${c.points}`))).toEqual(g.steps.map((s) => s.checks.map((c) => `${c.id}:${c.status}:${c.points}`)));
  });

  it('escapes hostile student text in HTML, and Chromium renders it as text', async () => {
    // A pg_hba.conf line is student text that shows up verbatim in the evidence (rule for the wrong address).
    const hostile = `<script>document.title='pwned'</script><img src=x onerror=alert(1)>`;
    await exec(env, 'maestro', 'root', ['sh', '-c', 'printf "host replication postgres 10.9.9.9/32 trust # %s pglab-hostile\\n" "$1" >> /etc/postgresql/15/main/pg_hba.conf', 'sh', hostile]);
    const html = await grade('html');
    expect(html).toContain('&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).not.toMatch(/(src|href)=["']?https?:/); // self-contained
    if (CHROMIUM) {
      const file = path.join(tmp, `${env}.html`);
      const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', `--user-data-dir=${mkdtempSync(path.join(os.tmpdir(), 'chr-'))}`];
      const dom = spawnSync(CHROMIUM, [...flags, '--dump-dom', `file://${file}`], { encoding: 'utf8', timeout: 60_000 });
      expect(dom.stdout).toContain('<title>Replicación WAL');
      expect(dom.stdout).not.toContain('pwned</title>');
      expect(dom.stdout).toContain('&lt;script&gt;document.title');
      const png = path.join(tmp, 'report.png');
      spawnSync(CHROMIUM, [...flags, `--screenshot=${png}`, '--window-size=1200,1600', `file://${file}`], { timeout: 60_000 });
      expect(statSync(png).size).toBeGreaterThan(30_000); // a rendered page of tables, not a blank one
      const header = readFileSync(png).subarray(16, 24);
      expect([header.readUInt32BE(0), header.readUInt32BE(4)]).toEqual([1200, 1600]);
    } else {
      console.warn('chromium not installed: HTML rendering not checked');
    }
    await exec(env, 'maestro', 'root', ['sed', '-i', '/pglab-hostile/d', '/etc/postgresql/15/main/pg_hba.conf']);
  });

  it('half-done: steps 1–3 score fully, with the evidence the graders saw', async () => {
    for (const s of ['step-1', 'step-2', 'step-3']) await solve(s);
    const g = await gradeJson();
    expect(g.steps.slice(0, 3).map((s) => s.points === s.maxPoints)).toEqual([true, true, true]);
    expect(g.steps[4].points).toBe(0);
    const segments = g.steps[1].checks.find((c) => c.id === 'segments')!;
    expect(segments.evidence.segment).toMatch(/^[0-9A-F]{24}$/);
    expect(segments.evidence.size).toBe(16777216);
    expect(String(segments.evidence.sysid)).toMatch(/^\d+$/);
    await allFormatsAgree(g);
  });

  it('finished: full marks, progress recorded, nonce and lag in the evidence', async () => {
    for (const s of ['step-4', 'step-5']) await solve(s);
    const before = await gradeJson();
    const rows = before.steps[4].checks.find((c) => c.id === 'rows-replicated')!;
    expect(rows.evidence.nonce).toMatch(/^[0-9a-f]{16}$/);
    expect(Number(rows.evidence.lag_ms)).toBeGreaterThanOrEqual(0);
    await solve('step-6');
    const g = await gradeJson();
    expect(g.score).toBe(g.maxScore);
    expect(g.percentage).toBe(100);
    const sender = before.steps[4].checks.find((c) => c.id === 'wal-sender')!;
    expect(String(sender.evidence.client)).toMatch(/\.11\(\d+\)$/);
    const progress = await lab(['progress', '--env', env]);
    expect(progress.stdout.match(/✓ step-\d/g)?.length).toBe(6);
    await allFormatsAgree(g);
    // Grading left no probe objects behind.
    const schemas = await exec(env, 'maestro', 'postgres', ['psql', '-XAtc', "SELECT count(*) FROM pg_namespace WHERE nspname = 'pglab_probe'"]);
    expect(schemas.stdout.trim()).toBe('0');
  });
});

describe('a class on one server', () => {
  const klass = envNameFor('cls');
  afterAll(async () => {
    await lab(['class', 'down', '--class', klass, '--purge', '--yes']);
  });

  it('brings up several envs from a roster, re-runs safely, grades them all, and takes them down', async () => {
    const roster = path.join(tmp, 'roster.csv');
    const names = ['Pérez Ana', 'Gómez Luis', 'Díaz Sol'].map((n, i) => `${klass}-${i + 1},${n}`);
    execFileSync('sh', ['-c', `{ echo entorno,nombre; printf '%s\\n' "$@"; } > ${roster}`, 'sh', ...names]);
    const up = await lab(['class', 'up', '--roster', roster, '--pg', '15', '--class', klass]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/3 entornos listos, 0 con error/);
    const again = await lab(['class', 'up', '--roster', roster, '--pg', '15', '--class', klass]);
    expect(again.code).toBe(0);
    expect(again.stderr.match(/: = /g)?.length, again.stderr).toBe(3); // nothing recreated
    const subnets = new Set(execFileSync('docker', ['network', 'ls', '--filter', `label=pglab.class=${klass}`, '-q'], { encoding: 'utf8' }).trim().split('\n'));
    expect(subnets.size).toBe(3);
    const status = await lab(['class', 'status', '--class', klass]);
    expect(status.stdout.match(/maestro:running\s+esclavo:running/g)?.length).toBe(3);
    const full = await lab(['class', 'status', '--class', klass, '--full']);
    expect(full.stdout.match(/maestro .*running/g)?.length).toBe(3);
    const out = path.join(tmp, 'class.csv');
    const graded = await lab(['class', 'grade', '--class', klass, '--format', 'csv', '--out', out]);
    expect(graded.code, graded.stderr).toBe(0);
    const rows = readFileSync(out, 'utf8').trim().split('\r\n');
    expect(rows).toHaveLength(4);
    expect(rows.slice(1).map((r) => r.split(',')[0]).sort()).toEqual([`${klass}-1`, `${klass}-2`, `${klass}-3`]);
    for (const r of rows.slice(1)) expect(r.split(',').slice(2, 4)).toEqual(['0', '53']);
    const downR = await lab(['class', 'down', '--class', klass, '--purge', '--yes']);
    expect(downR.stdout).toMatch(/3 entornos borrados/);
    expect(execFileSync('docker', ['ps', '-aq', '--filter', `label=pglab.class=${klass}`], { encoding: 'utf8' }).trim()).toBe('');
  });
});

describe('reset', () => {
  const r = envNameFor('rst');
  afterAll(async () => {
    await lab(['down', '--env', r, '--purge', '--yes']);
  });

  it('reset --to step-4 leaves steps 1–3 passing and step 4 not', async () => {
    expect((await lab(['up', '--pg', '15', '--env', r])).code).toBe(0);
    await exec(r, 'maestro', 'postgres', ['psql', '-Xqc', 'CREATE TABLE se_pierde (i int)']);
    const noYes = await lab(['reset', '--env', r, '--to', 'step-4']);
    expect(noYes.code).toBe(2); // asks first; without a terminal it needs --yes
    const reset = await lab(['reset', '--env', r, '--to', 'step-4', '--yes']);
    expect(reset.code, reset.stderr).toBe(0);
    for (const s of ['step-1', 'step-2', 'step-3']) expect((await checkJson(r, s)).code, s).toBe(0);
    expect((await checkJson(r, 'step-4')).code).toBe(1);
    const gone = await exec(r, 'maestro', 'postgres', ['psql', '-XAtc', "SELECT count(*) FROM pg_class WHERE relname = 'se_pierde'"]);
    expect(gone.stdout.trim()).toBe('0');
  });
});
