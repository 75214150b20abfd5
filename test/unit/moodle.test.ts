/**
 * Issue 18: the Moodle CSV, checked with a strict CSV parser against the rules of Moodle's grade
 * import (docs.moodle.org "Grade import"; grade/import/csv/classes/load_data.php; lib/csvlib.class.php):
 * - every record has as many fields as the header ("csvweirdcolumns" aborts the import);
 * - header names are trimmed and must be told apart to be mapped (no duplicates, none empty);
 * - the user is identified by "Email address" (useremail) or "ID number" (useridnumber), matched
 *   exactly, and one value that matches no user aborts the whole import (check_user_exists);
 * - a grade is '' or '-' (no grade) or a number unformat_float reads (decimal point), at most
 *   gradepointmax (100 by default), else "badgrade" / "gradevaluetoobig" abort it;
 * - feedback goes with its grade column (importing feedback alone clears the grades: Note 3).
 */
import { describe, expect, it } from 'vitest';
import { parseCsv, parseRosterStudents } from '../../src/env/roster.js';
import { setLang } from '../../src/i18n/index.js';
import { applyRoster, flagCopies, type EnvGrade, type GradeReport } from '../../src/lab/grade.js';
import { feedbackFor, renderReport, scaled } from '../../src/report/formats.js';

const AT = '2026-12-04T19:00:00.000Z';
const check = (id: string, title: string, points: number, maxPoints: number) => ({
  id, title, status: points === maxPoints ? 'pass' as const : 'fail' as const, points, maxPoints, expected: '', evidence: {}, durationMs: 1, source: 'live' as never,
});
const step = (n: number, checks: ReturnType<typeof check>[]) => {
  const points = checks.reduce((a, c) => a + c.points, 0);
  const maxPoints = checks.reduce((a, c) => a + c.maxPoints, 0);
  return { step: `step-${n}`, title: `Paso ${n} — Algo`, passed: points === maxPoints, points, maxPoints, percentage: 0, durationMs: 1, checks };
};
const grade = (env: string, steps: ReturnType<typeof step>[], extra: Partial<EnvGrade> = {}): EnvGrade => {
  const score = steps.reduce((a, s) => a + s.points, 0);
  const maxScore = steps.reduce((a, s) => a + s.maxPoints, 0);
  return { env, lab: 'wal-streaming', pg: '9.1', gradedAt: AT, score, maxScore, percentage: 0, steps, ...extra };
};

const ROSTER = 'legajo,"Apellido, Nombre",email,entorno\r\n'
  + '150001,"Pérez, Ana",ana.perez@unlu.edu.ar,ana\r\n'
  + '150002,"Gómez, Luis ""Lucho""",luis@unlu.edu.ar,luis\r\n'
  + '150003,"Díaz, Sol",sol@unlu.edu.ar,sol\r\n';

function classReport(): GradeReport {
  const ana = grade('ana', [step(1, [check('a', 'Misma versión', 1, 1), check('b', 'Respaldo', 1, 1), check('e', 'Otro', 1, 1)]), step(2, [check('c', 'Directorio del archivo WAL en el esclavo', 0, 1), check('d', 'Parámetros', 2, 2)])], { systemIdentifiers: ['7312'] });
  const luis = grade('luis', [step(1, [check('a', 'Misma versión', 0, 1), check('b', 'Respaldo', 0, 1)]), step(2, [check('c', 'Dir', 0, 1), check('d', 'Parámetros', 0, 2)])], { systemIdentifiers: ['7312', '9999'] });
  const report: GradeReport = { schema: 'pglab-grade/1', lab: 'wal-streaming', labTitle: 'WAL', gradedAt: AT, envs: [ana, luis], className: 'bd2' };
  flagCopies(report.envs);
  return applyRoster(report, parseRosterStudents(ROSTER));
}

/** Moodle's import rules, as a strict checker: returns what Moodle would abort on. */
function moodleImportErrors(csv: string, users: { email: string; idnumber: string }[], opts: { by: 'email' | 'idnumber'; gradepointmax?: number }): string[] {
  const errors: string[] = [];
  if (csv.startsWith('\uFEFF')) errors.push('BOM');
  const records = parseCsv(csv, ',');
  const header = records[0].fields.map((h) => h.trim());
  if (header.length < 2) errors.push('csvfewcolumns');
  if (new Set(header).size !== header.length || header.some((h) => !h)) errors.push('duplicate or empty header');
  for (const r of records) if (r.fields.length !== header.length) errors.push(`csvweirdcolumns line ${r.line}`);
  const idColumn = header.indexOf(opts.by === 'email' ? 'Dirección de correo' : 'Número de ID');
  if (idColumn < 0) errors.push('no identifier column');
  const gradeColumns = header.map((h, i) => ({ h, i })).filter(({ h }) => /^[a-z-]+$/.test(h));
  for (const { h } of gradeColumns) if (!header.includes(`${h} comentarios`)) errors.push(`grade ${h} without its feedback column`);
  for (const r of records.slice(1)) {
    const id = r.fields[idColumn];
    if (id && !users.some((u) => u[opts.by] === id)) errors.push(`usermappingerror ${id}`);
    for (const { i } of gradeColumns) {
      const v = r.fields[i].trim();
      if (v === '' || v === '-') continue;
      if (!/^-?\d+(\.\d+)?$/.test(v)) errors.push(`badgrade ${v}`);
      else if (Number(v) > (opts.gradepointmax ?? 100)) errors.push(`gradevaluetoobig ${v}`);
    }
  }
  return errors;
}

describe('Moodle CSV', () => {
  setLang('es');
  const users = parseRosterStudents(ROSTER).map((s) => ({ email: s.email!, idnumber: s.legajo! }));

  it('one row per roster student, matched by e-mail or by legajo, with nothing Moodle would abort on', () => {
    const csv = renderReport(classReport(), 'moodle');
    expect(moodleImportErrors(csv, users, { by: 'email' })).toEqual([]);
    expect(moodleImportErrors(csv, users, { by: 'idnumber' })).toEqual([]);
    const rows = parseCsv(csv, ',').map((r) => r.fields);
    expect(rows[0]).toEqual(['Nombre', 'Dirección de correo', 'Número de ID', 'wal-streaming', 'wal-streaming comentarios']);
    expect(rows).toHaveLength(4);
    expect(rows.map((r) => r[2]).slice(1).sort()).toEqual(['150001', '150002', '150003']);
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('grades scaled to --scale with a decimal point; a student who did nothing gets 0, one without an env an empty grade and a comment', () => {
    const rows = Object.fromEntries(parseCsv(renderReport(classReport(), 'moodle'), ',').slice(1).map((r) => [r.fields[2], r.fields]));
    expect(rows['150001'][3]).toBe('8.33'); // 5 of 6 points, out of 10
    expect(rows['150002'][3]).toBe('0');
    expect(rows['150003'][3]).toBe('');
    expect(rows['150003'][4]).toBe('Sin nota: no hay entorno "sol" en la clase "bd2".');
    const out100 = Object.fromEntries(parseCsv(renderReport(classReport(), 'moodle', { scale: 100 }), ',').slice(1).map((r) => [r.fields[2], r.fields]));
    expect(out100['150001'][3]).toBe('83.33');
    expect(scaled(54, 54, 10)).toBe('10');
    expect(scaled(1, 3, 10)).toBe('3.33');
  });

  it('the feedback says in plain Spanish where the points were lost, and names the flag', () => {
    const rows = Object.fromEntries(parseCsv(renderReport(classReport(), 'moodle'), ',').slice(1).map((r) => [r.fields[2], r.fields]));
    expect(rows['150001'][4]).toContain('Paso 2: no se cumple «Directorio del archivo WAL en el esclavo» (−1)');
    expect(rows['150001'][4]).not.toContain('Paso 1');
    expect(rows['150002'][4]).toContain('Paso 1: ninguna verificación aprobada (−2)');
    expect(rows['150001'][4]).toMatch(/ALERTA: mismo identificador de sistema \(7312\) que luis \(Gómez, Luis "Lucho"\)/);
    expect(rows['150002'][4]).toMatch(/ALERTA: .*\(7312\) que ana \(Pérez, Ana\)/);
    expect(rows['150002'][1]).toBe('luis@unlu.edu.ar');
    expect(rows['150002'][0]).toBe('Gómez, Luis "Lucho"');
  });

  it('an env that could not be graded gets no grade (never a silent 0) and says why', () => {
    const g = grade('ana', [], { error: 'El entorno "ana" no existe.', maxScore: 54 });
    const report = applyRoster({ schema: 'pglab-grade/1', lab: 'wal-streaming', labTitle: 'WAL', gradedAt: AT, envs: [g] }, parseRosterStudents(ROSTER).slice(0, 1));
    const row = parseCsv(renderReport(report, 'moodle'), ',')[1].fields;
    expect(row[3]).toBe('');
    expect(row[4]).toBe('No se pudo corregir: El entorno "ana" no existe.');
    expect(feedbackFor(grade('x', [step(1, [check('a', 'A', 1, 1)])]))).toBe('Completo: 1/1');
  });

  it('the CSV and JSON reports carry the student and the flags (alertas column)', () => {
    const csv = parseCsv(renderReport(classReport(), 'csv'), ',').map((r) => r.fields);
    const h = csv[0];
    expect(h.slice(-4)).toEqual(['legajo', 'nombre', 'email', 'alertas']);
    const luis = csv.find((r) => r[0] === 'luis')!;
    expect(luis[h.indexOf('nombre')]).toBe('Gómez, Luis "Lucho"');
    expect(luis[h.indexOf('alertas')]).toMatch(/que ana/);
    expect(csv.find((r) => r[0] === 'sol')![h.indexOf('error')]).toBe('Sin entorno "sol"');
    const json = JSON.parse(renderReport(classReport(), 'json'));
    expect(json.envs[0].flags[0]).toMatchObject({ kind: 'system-identifier', value: '7312', with: 'luis', withStudent: { legajo: '150002' } });
    expect(json.missing[0]).toMatchObject({ env: 'sol', student: { email: 'sol@unlu.edu.ar' } });
  });

  it('envs sharing nothing are not flagged', () => {
    const a = grade('a', [], { systemIdentifiers: ['1', '2'] });
    const b = grade('b', [], { systemIdentifiers: ['3'] });
    flagCopies([a, b]);
    expect(a.flags).toBeUndefined();
    expect(b.flags).toBeUndefined();
  });
});
