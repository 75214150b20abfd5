/**
 * Issue 18 on real containers (one class shared by every case; PostgreSQL 15 by default,
 * PGLAB_E2E_VERSIONS=9.1 picks the course's version): a roster with quoted names, e-mails and
 * legajos → a class of 2 → one student does steps 1–2 → the Moodle CSV; `lab submit` → `class grade
 * --submissions` equals `lab grade`; one env handed in by two students, and a copied env (its
 * volumes cloned under another name), are flagged; a truncated or edited hand-in is refused.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/env/roster.js';
import { envNameFor, lab } from './helpers.js';

const PG = (process.env.PGLAB_E2E_VERSIONS ?? '15').split(',')[0];
const KLASS = envNameFor('gbk');
const OTHER = envNameFor('gbo');
const ANA = `${KLASS}-ana`;
const LUIS = `${KLASS}-luis`;
const COPY = `${KLASS}-copia`;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-gradebook-'));
const handins = path.join(tmp, 'entregas');
mkdirSync(handins);

const header = 'legajo,"Apellido, Nombre",Dirección de correo,entorno\r\n';
const rows = [
  `150001,"Pérez, Ana",ana.perez@unlu.edu.ar,${ANA}\r\n`,
  `150002,"Gómez, Luis ""Lucho""",luis.gomez@unlu.edu.ar,${LUIS}\r\n`,
  `150003,"Díaz, Sol",sol.diaz@unlu.edu.ar,${KLASS}-sol\r\n`,
];
const classRoster = path.join(tmp, 'clase.csv'); // who got an env
const fullRoster = path.join(tmp, 'inscriptos.csv'); // who is enrolled: Sol never got one
writeFileSync(classRoster, `\uFEFF${header}${rows[0]}${rows[1]}`);
writeFileSync(fullRoster, `\uFEFF${header}${rows.join('')}`);

interface Check { id: string; status: string; points: number }
interface Grade { env: string; score: number; maxScore: number; error?: string; handin?: string; student?: { legajo?: string; name?: string; email?: string };
  flags?: { kind: string; with: string; withStudent?: { legajo?: string } }[]; steps: { step: string; checks: Check[] }[] }

const docker = (args: string[]) => execFileSync('docker', args, { encoding: 'utf8' }).trim();

async function ok(args: string[]) {
  const r = await lab(args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}

async function jsonOf(args: string[]): Promise<{ envs: Grade[]; missing?: unknown[] }> {
  const out = path.join(tmp, `r-${Date.now()}.json`);
  const r = await lab([...args, '--format', 'json', '--out', out]);
  expect([0, 1], r.stderr).toContain(r.code);
  return JSON.parse(readFileSync(out, 'utf8'));
}

const verdicts = (g: Grade) => g.steps.flatMap((s) => s.checks.map((c) => `${s.step}/${c.id}:${c.status}:${c.points}`));

/** Copies every volume of `from` to `to` (labels too, with the new env name and a free subnet), as a student copying a classmate's env would. */
function cloneEnv(from: string, to: string): void {
  const vols = docker(['volume', 'ls', '-q', '--filter', `label=pglab.env=${from}`, '--filter', 'label=pglab.role']).split('\n').filter(Boolean);
  const used = new Set(docker(['network', 'ls', '-q', '--filter', 'label=pglab.subnet']).split('\n').filter(Boolean)
    .map((id) => docker(['network', 'inspect', '-f', '{{index .Labels "pglab.subnet"}}', id])));
  const subnet = Array.from({ length: 60 }, (_, i) => `10.213.${190 + i}.0/24`).find((s) => !used.has(s))!;
  for (const v of vols) {
    const labels = JSON.parse(docker(['volume', 'inspect', '-f', '{{json .Labels}}', v])) as Record<string, string>;
    labels['pglab.env'] = to;
    labels['pglab.subnet'] = subnet;
    const target = v.replace(`pglab-${from}-`, `pglab-${to}-`);
    docker(['volume', 'create', ...Object.entries(labels).flatMap(([k, val]) => ['--label', `${k}=${val}`]), target]);
    docker(['run', '--rm', '--network', 'none', '--entrypoint', 'cp', '-v', `${v}:/from:ro`, '-v', `${target}:/to`, labels['pglab.image'], '-a', '/from/.', '/to/']);
  }
}

describe(`from the lab to the gradebook (PostgreSQL ${PG})`, () => {
  beforeAll(async () => {
    await lab(['class', 'down', '--class', KLASS, '--purge', '--yes']);
  });
  afterAll(async () => {
    await lab(['class', 'down', '--class', KLASS, '--purge', '--yes']);
    await lab(['class', 'down', '--class', OTHER, '--purge', '--yes']);
  });

  it('a roster with quoted names, e-mails and legajos makes a class; another class never adopts its envs', async () => {
    const up = await ok(['class', 'up', '--roster', classRoster, '--pg', PG, '--class', KLASS]);
    expect(up.stdout).toMatch(/2 entornos listos, 0 con error/);
    const status = await ok(['class', 'status', '--class', KLASS]);
    expect(status.stdout).toContain('Gómez, Luis "Lucho" <luis.gomez@unlu.edu.ar> (legajo 150002)');
    // Per-student values: lab show names this student's own addresses.
    const show = await ok(['show', 'step-1', '--env', ANA, '--raw']);
    expect(show.stdout).toMatch(/Legajo 150001 — tus servidores: maestro 10\.213\.\d+\.10, esclavo 10\.213\.\d+\.11\./);
    // The same roster under another class: refused per env, nothing adopted.
    const other = await lab(['class', 'up', '--roster', classRoster, '--pg', PG, '--class', OTHER]);
    expect(other.code).toBe(1);
    expect(other.stderr).toContain(`El entorno "${ANA}" ya existe y es de la clase "${KLASS}", no de "${OTHER}"`);
    expect((await lab(['class', 'status', '--class', OTHER])).stdout).toMatch(/No hay entornos/);
    const bad = await lab(['class', 'up', '--count', '1', '--class', '../rel']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Nombre de clase inválido: "\.\.\/rel"/);
  });

  it('Moodle CSV: one student did steps 1–2, one nothing (the grade of a fresh env), one has no env (empty grade, a comment)', async () => {
    await ok(['solve', 'step-1', '--env', ANA, '--yes']);
    await ok(['solve', 'step-2', '--env', ANA, '--yes']);
    const out = path.join(tmp, 'moodle.csv');
    // Ana's steps were done with `lab solve`: counted on purpose (solved steps earn 0 by default).
    await ok(['class', 'grade', '--class', KLASS, '--roster', fullRoster, '--format', 'moodle', '--out', out, '--count-solved']);
    const text = readFileSync(out, 'utf8');
    const records = parseCsv(text, ',').map((r) => r.fields);
    expect(records[0]).toEqual(['Nombre', 'Dirección de correo', 'Número de ID', 'wal-streaming', 'wal-streaming comentarios']);
    expect(records.every((r) => r.length === 5)).toBe(true);
    const byId = Object.fromEntries(records.slice(1).map((r) => [r[2], r]));
    expect(Object.keys(byId).sort()).toEqual(['150001', '150002', '150003']);
    const ana = byId['150001'];
    expect(ana[0]).toBe('Pérez, Ana');
    expect(ana[1]).toBe('ana.perez@unlu.edu.ar');
    expect(Number(ana[3])).toBeGreaterThan(0);
    expect(Number(ana[3])).toBeLessThan(10);
    expect(ana[3]).toMatch(/^\d+(\.\d{1,2})?$/);
    expect(ana[4]).toMatch(/Paso 3: /);
    expect(ana[4]).not.toMatch(/Paso 1: /);
    // Luis did nothing: his grade is what lab grade gives a fresh env, scaled (0 once fresh envs earn
    // nothing at all: issue 17 item 14, today 2/54 from "El esclavo está en marcha" and the like).
    const luis = (await jsonOf(['grade', '--env', LUIS])).envs[0];
    expect(byId['150002'][3]).toBe(String(Math.round((luis.score / luis.maxScore) * 1000) / 100));
    expect(Number(byId['150002'][3])).toBeLessThan(1);
    expect(byId['150002'][4]).toMatch(/Paso 2: ninguna verificación aprobada \(−\d+\)/);
    expect(byId['150003'][3]).toBe('');
    expect(byId['150003'][4]).toBe(`Sin nota: no hay entorno "${KLASS}-sol" en la clase "${KLASS}".`);
    // --scale 100 and lab grade --format moodle --roster for one env.
    const one = await ok(['grade', '--env', ANA, '--roster', fullRoster, '--format', 'moodle', '--scale', '100', '--count-solved']);
    const row = parseCsv(one.stdout, ',')[1].fields;
    expect(Number(row[3])).toBeCloseTo(Number(ana[3]) * 10, 1);
  });

  it('lab submit → class grade --submissions gives what lab grade gives; one env handed in by two students flags both', async () => {
    const file = path.join(handins, 'ana.tar');
    const sub = await ok(['submit', '--env', ANA, '--student', '150001', '--out', file]);
    expect(sub.stdout).toMatch(/Entrega escrita en .*ana\.tar \(\d+(\.\d)? [kM]?B\)/);
    expect(sub.stdout).toMatch(/Contiene: pglab-handin\.json .*probes\.json .*facts\.json/);
    expect(sub.stdout).toMatch(/segmentos WAL del archivo/);
    expect(statSync(file).size).toBeGreaterThan(10_000);
    const live = (await jsonOf(['grade', '--env', ANA])).envs[0];
    // Luis hands in Ana's env as his own.
    await ok(['submit', '--env', ANA, '--student', '150002', '--out', path.join(handins, 'luis.tar')]);
    const report = await jsonOf(['class', 'grade', '--submissions', handins, '--roster', fullRoster]);
    const ana = report.envs.find((g) => g.student?.legajo === '150001')!;
    expect(ana.error).toBeUndefined();
    expect(ana.score).toBe(live.score);
    expect(verdicts(ana)).toEqual(verdicts(live));
    const luis = report.envs.find((g) => g.student?.legajo === '150002')!;
    expect(ana.flags?.some((f) => f.kind === 'env-identity' && f.with === 'luis.tar' && f.withStudent?.legajo === '150002')).toBe(true);
    expect(luis.flags?.some((f) => f.kind === 'env-identity' && f.with === 'ana.tar')).toBe(true);
    expect(luis.flags?.some((f) => f.kind === 'system-identifier')).toBe(true);
    expect(report.missing).toHaveLength(1); // Sol handed in nothing
    const csvOut = path.join(tmp, 'entregas.csv');
    await lab(['class', 'grade', '--submissions', handins, '--format', 'csv', '--out', csvOut]);
    const csv = parseCsv(readFileSync(csvOut, 'utf8'), ',').map((r) => r.fields);
    const alertas = csv[0].indexOf('alertas');
    expect(csv.slice(1).every((r) => /el mismo entorno/.test(r[alertas]))).toBe(true);
  });

  it('a truncated or edited hand-in is refused with a clear line, never graded', async () => {
    const good = readFileSync(path.join(handins, 'ana.tar'));
    const bad = path.join(tmp, 'malas');
    mkdirSync(bad);
    writeFileSync(path.join(bad, 'cortada.tar'), good.subarray(0, Math.floor(good.length / 2)));
    const edited = Buffer.from(good);
    // One answer of the record turned from "failed" to "worked": same length, so the tar itself stays valid.
    const at = edited.indexOf('"exitCode":0');
    expect(at).toBeGreaterThan(0);
    edited.write('"exitCode":1', at);
    writeFileSync(path.join(bad, 'editada.tar'), edited);
    const r = await lab(['class', 'grade', '--submissions', bad, '--format', 'text']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/La entrega cortada\.tar no verifica y no se corrigió: está cortada/);
    expect(r.stdout).toMatch(/La entrega editada\.tar no verifica y no se corrigió: probes\.json fue modificado después de `lab submit`/);
    const report = await jsonOf(['class', 'grade', '--submissions', bad]);
    for (const g of report.envs) expect(g.steps).toEqual([]);
  });

  it('a copied env (volumes cloned under another name) is flagged, and so is the original', async () => {
    await ok(['down', '--env', ANA]);
    cloneEnv(ANA, COPY);
    await ok(['up', '--env', ANA]);
    await ok(['up', '--env', COPY]);
    const report = await jsonOf(['class', 'grade', '--class', KLASS, '--count-solved']);
    const ana = report.envs.find((g) => g.env === ANA)!;
    const copy = report.envs.find((g) => g.env === COPY)!;
    expect(ana.flags?.find((f) => f.kind === 'system-identifier')?.with).toBe(COPY);
    expect(copy.flags?.find((f) => f.kind === 'system-identifier')?.with).toBe(ANA);
    expect(report.envs.find((g) => g.env === LUIS)!.flags).toBeUndefined();
    // The copy's configuration names Ana's addresses: it does not work at the copy's own.
    expect(copy.score).toBeLessThan(ana.score);
  });
});
