/** Issue 18 (rosters) and issue 17 items 16–17: one strict CSV reader, a recognised header, nothing dropped silently. */
import { describe, expect, it } from 'vitest';
import { countNames, parseRoster } from '../../src/env/class.js';
import { className, parseCsv, parseRosterStudents, studentId, studentSubnet } from '../../src/env/roster.js';
import { LabError } from '../../src/errors.js';
import { setLang, t } from '../../src/i18n/index.js';

function labError(fn: () => unknown): LabError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('no LabError thrown');
}

describe('strict CSV (RFC 4180)', () => {
  it('quoted fields keep their commas, doubled quotes and line breaks; CRLF and a BOM are fine', () => {
    const text = '\uFEFFnombre,email\r\n"Pérez, Ana","ana@x.edu"\r\n"Dice ""hola""",b@x\r\n"dos\r\nlíneas",c@x\r\n';
    expect(parseCsv(text).map((r) => r.fields)).toEqual([['nombre', 'email'], ['Pérez, Ana', 'ana@x.edu'], ['Dice "hola"', 'b@x'], ['dos\r\nlíneas', 'c@x']]);
    // The record after a quoted line break starts on its own line number.
    expect(parseCsv('a\n"x\ny"\nz\n').map((r) => r.line)).toEqual([1, 2, 4]);
  });

  it('a Spanish-locale spreadsheet saves with ; and that is read from the header', () => {
    expect(parseCsv('nombre;legajo\n"Pérez, Ana";123\n').map((r) => r.fields)).toEqual([['nombre', 'legajo'], ['Pérez, Ana', '123']]);
  });

  it('refuses a stray quote, text after a closing quote and an unterminated quote, naming the line', () => {
    expect(labError(() => parseCsv('a,b\nPé"rez,1\n'))).toMatchObject({ key: 'csv.strayQuote', params: { line: 2 } });
    expect(labError(() => parseCsv('a,b\n"Pérez" Ana,1\n'))).toMatchObject({ key: 'csv.afterQuote', params: { line: 2 } });
    expect(labError(() => parseCsv('a,b\n1,2\n"Pérez, Ana,1\n'))).toMatchObject({ key: 'csv.unterminated', params: { line: 3 } });
  });
});

describe('rosters', () => {
  const moodle = '\uFEFFlegajo,"Apellido, Nombre",Dirección de correo,entorno\r\n123,"Pérez, Ana",ana@unlu.edu.ar,ana\r\n124,"Gómez, Luis",luis@unlu.edu.ar,luis\r\n';

  it('the usual quoted "Apellido, Nombre" roster: one student per line, names, e-mails and legajos kept (it was two duplicates)', () => {
    expect(parseRosterStudents(moodle)).toEqual([
      { env: 'ana', name: 'Pérez, Ana', email: 'ana@unlu.edu.ar', legajo: '123', line: 2 },
      { env: 'luis', name: 'Gómez, Luis', email: 'luis@unlu.edu.ar', legajo: '124', line: 3 },
    ]);
  });

  it('columns in any order, with their aliases; without an entorno column the env is <class>-<legajo>', () => {
    expect(parseRosterStudents('E-mail,Legajo,Nombre\nana@x.ar,123,Ana\n', 'r.csv', 'bd2')).toEqual([{ env: 'bd2-123', name: 'Ana', email: 'ana@x.ar', legajo: '123', line: 2 }]);
  });

  it('a header that is not recognised stops the roster saying which columns it knows (it became a phantom student)', () => {
    const err = labError(() => parseRoster('ana\nluis\n'));
    expect(err.key).toBe('class.rosterHeader');
    setLang('es');
    expect(t(err.key, err.params)).toMatch(/columnas que no conozco: "ana".*entorno \(env, alumno, usuario, user, student\); nombre.*email.*legajo/);
    expect(labError(() => parseRoster('entorno,comisión\nana,1\n')).params).toMatchObject({ unknown: 'comisión' });
    expect(labError(() => parseRoster('nombre,email\nAna,a@x\n')).key).toBe('class.rosterNoEnv');
  });

  it('a row with more fields than the header (an unquoted "Pérez, Ana") stops the roster', () => {
    expect(labError(() => parseRoster('entorno,nombre\nana,Pérez, Ana\n'))).toMatchObject({ key: 'class.rosterColumns', params: { line: 2, found: 3, expected: 2 } });
  });

  it('characters outside a-z0-9 are refused, not dropped (`rel-😀` became `rel`, an existing env)', () => {
    expect(labError(() => parseRoster('entorno\nrel-😀\n'))).toMatchObject({ key: 'class.rosterNameUnusable', params: { line: 2, name: 'rel-😀' } });
    expect(labError(() => parseRoster('entorno\n../rel\n')).key).toBe('class.rosterNameUnusable');
    // Accents and spaces are the only things turned into something else.
    expect(parseRoster('entorno\nJosé Pérez\n')).toEqual(['jose-perez']);
  });

  it('two students with the same env, e-mail or legajo stop the roster', () => {
    expect(labError(() => parseRoster('entorno,legajo\nana,1\nAna,2\n')).key).toBe('class.duplicate');
    expect(labError(() => parseRoster('entorno,legajo\nana,1\nluis,1\n'))).toMatchObject({ key: 'class.rosterDuplicate', params: { column: 'legajo', first: 2, line: 3 } });
    expect(labError(() => parseRoster('entorno,email\nana,A@x.ar\nluis,a@x.ar\n')).params).toMatchObject({ column: 'email' });
    expect(labError(() => parseRoster('entorno,email\nana,no-es-correo\n')).key).toBe('class.rosterEmail');
  });
});

describe('class names scope envs (issue 17 item 16)', () => {
  it('--class accepts only the env-name alphabet', () => {
    for (const bad of ['../rel', 'mi clase', '', 'Clase', '-x', 'a'.repeat(17), 'bd2/2026']) expect(labError(() => className(bad)).key, bad).toBe('class.badName');
    expect(className('bd2-2026')).toBe('bd2-2026');
  });

  it('--count names carry the class, so two classes never share alumno01', () => {
    expect(countNames(2, 'bd2')).toEqual(['bd2-alumno01', 'bd2-alumno02']);
    expect(countNames(2, 'bd3')).not.toEqual(countNames(2, 'bd2'));
    expect(countNames(1, 'a'.repeat(16))[0].length).toBeLessThanOrEqual(31);
  });
});

describe('per-student values', () => {
  it('a legajo always gives the same subnet, and different legajos mostly different ones', () => {
    expect(studentSubnet('123456')).toBe(studentSubnet(' 123456 '));
    const subnets = new Set(Array.from({ length: 30 }, (_, i) => studentSubnet(String(150000 + i))));
    expect(subnets.size).toBeGreaterThan(25);
    expect(studentSubnet('1')).toMatch(/^10\.213\.\d+\.0\/24$/);
  });

  it('a legajo on the command line is checked', () => {
    expect(studentId('12345/6')).toBe('12345/6');
    for (const bad of ['', '../x', 'a b', '$(id)']) expect(labError(() => studentId(bad)).key).toBe('up.badStudent');
  });
});
