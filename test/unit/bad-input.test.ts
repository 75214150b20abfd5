/** Issue 9, items 3, 6 and 10: bad numbers, rosters and names end in a clear message (exit 2), never a silent default. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLASS_SIZE, PARALLEL, parseIntOption, STANDBYS } from '../../src/cli/options.js';
import { langFlag } from '../../src/cli/main.js';
import { parseRoster, rosterNames } from '../../src/env/class.js';
import { envName, MAX_ENV_NAME } from '../../src/env/naming.js';
import { LabError } from '../../src/errors.js';
import { setLang, t } from '../../src/i18n/index.js';

/** The LabError a call throws, so a test can look at its key and its printed message. */
function labError(fn: () => unknown): LabError {
  try {
    fn();
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('no LabError thrown');
}

describe('integer options', () => {
  it('accepts plain whole numbers inside the range', () => {
    expect(parseIntOption('1', '--standbys', STANDBYS)).toBe(1);
    expect(parseIntOption('4', '--standbys', STANDBYS)).toBe(4);
    expect(parseIntOption('16', '--parallel', PARALLEL)).toBe(16);
    expect(parseIntOption('250', '--count', CLASS_SIZE)).toBe(250);
  });

  it.each(['abc', '-1', '0', '5', '100', '1.5', '1e0', ' 2', '+3', '', '0x2', '２'])('refuses --standbys %j with the range, exit 2', (value) => {
    const err = labError(() => parseIntOption(value, '--standbys', STANDBYS));
    expect(err.key).toBe('cli.badInteger');
    expect(err.exitCode).toBe(2);
    setLang('es');
    expect(t(err.key, err.params)).toBe(`Valor inválido para --standbys: "${value}". Tiene que ser un número entero entre 1 y 4; no se creó nada.`);
  });

  it('refuses --parallel 0/abc/17 and --count 0/251', () => {
    for (const v of ['0', 'abc', '17']) expect(labError(() => parseIntOption(v, '--parallel', PARALLEL)).params).toMatchObject({ option: '--parallel', min: 1, max: 16 });
    for (const v of ['0', '251', '100000']) expect(labError(() => parseIntOption(v, '--count', CLASS_SIZE)).params).toMatchObject({ option: '--count', max: 250 });
  });
});

describe('roster', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'h9-roster-'));
  const file = (name: string, text: string) => { const f = path.join(dir, name); writeFileSync(f, text); return f; };

  it('reads names from the named column, strips accents and a spreadsheet BOM', () => {
    expect(parseRoster('\uFEFFnombre,entorno\nAna Pérez,Ana-Pérez\nJosé,jose_2\n')).toEqual(['ana-perez', 'jose_2']);
  });

  it('a missing file, a directory and an empty roster each get their own message', () => {
    expect(labError(() => rosterNames({ roster: path.join(dir, 'no-existe.csv') })).key).toBe('class.rosterMissing');
    const sub = path.join(dir, 'carpeta');
    mkdirSync(sub);
    expect(labError(() => rosterNames({ roster: sub })).key).toBe('class.rosterNotFile');
    for (const text of ['', '\n\n', '# solo un comentario\n', 'entorno,nombre\n']) {
      const err = labError(() => rosterNames({ roster: file('vacio.csv', text) }));
      expect(err.key, JSON.stringify(text)).toBe('class.rosterEmpty');
      expect(err.exitCode).toBe(2);
    }
  });

  it('refuses a name over the limit instead of cutting it, naming the line', () => {
    const long = 'a'.repeat(300);
    const err = labError(() => parseRoster(`entorno\nana\n${long}\n`));
    expect(err.key).toBe('class.rosterNameTooLong');
    expect(err.params).toMatchObject({ line: 3, length: 300 });
    // 31 is fine, 32 is not
    expect(parseRoster(`entorno\n${'b'.repeat(MAX_ENV_NAME)}\n`)).toEqual(['b'.repeat(MAX_ENV_NAME)]);
    expect(labError(() => parseRoster(`entorno\n${'b'.repeat(MAX_ENV_NAME + 1)}\n`)).key).toBe('class.rosterNameTooLong');
  });

  it('refuses a name with nothing usable instead of dropping the student', () => {
    const err = labError(() => parseRoster('entorno\nana\n张三\n'));
    expect(err.key).toBe('class.rosterNameUnusable');
    expect(err.params).toMatchObject({ line: 3, name: '张三' });
    expect(parseRoster('entorno\n_ana\n')).toEqual(['ana']);
  });

  it('refuses more students than subnets', () => {
    const many = ['entorno', ...Array.from({ length: 251 }, (_, i) => `alumno${i}`)].join('\n');
    expect(labError(() => parseRoster(many)).key).toBe('class.tooMany');
  });
});

describe('names and languages', () => {
  it('the name-rule message states the length limit and the first-character rule', () => {
    setLang('es');
    const err = labError(() => envName('-ana'));
    expect(t(err.key, err.params)).toMatch(/de 1 a 31 caracteres.*empezando por una letra o un dígito/);
    setLang('en');
    expect(t(err.key, err.params)).toMatch(/1 to 31 characters.*starting with a letter or a digit/);
    setLang('es');
    expect(() => envName('a'.repeat(31))).not.toThrow();
    expect(labError(() => envName('a'.repeat(32))).key).toBe('env.badName');
  });

  it('finds --lang in both spellings, but not in the command after `--`', () => {
    expect(langFlag(['node', 'lab', '--lang', 'fr', 'list'])).toBe('fr');
    expect(langFlag(['node', 'lab', 'list', '--lang=en'])).toBe('en');
    expect(langFlag(['node', 'lab', 'exec', 'maestro', '--', 'psql', '--lang', 'fr'])).toBeUndefined();
  });
});
