/** `lab dev check` on the labs of this checkout (run by CI with the unit tests), and what it catches. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { setLang } from '../../src/i18n/index.js';
import { devCheck } from '../../src/lab/dev-check.js';
import { labIds, loadLab } from '../../src/lab/manifest.js';
import { manifestProblems } from '../../src/lab/schema.js';

describe('lab dev check', () => {
  it.each(labIds())('%s is ready: schema, hints, both languages, solutions, tests', async (id) => {
    expect(await devCheck(id)).toEqual([]);
  });

  it('names every check no test covers', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pglab-no-tests-'));
    try {
      const lab = await loadLab('sync-failback');
      const problems = await devCheck('sync-failback', { testsDir: empty });
      expect(problems).toHaveLength(lab.steps.reduce((n, s) => n + s.checks.length, 0));
      expect(problems[0]).toMatch(/^step-1\/maestro-standby \(failback\.maestroFollowsEsclavo\): ninguna prueba lo nombra/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('lab.json schema', () => {
  const good = {
    format: 1, id: 'x', title: { es: 'X', en: 'X' },
    steps: [{
      id: 'step-1', title: { es: 'P', en: 'S' }, exercise: 'step-1.md', hints: [{ es: 'h', en: 'h' }],
      checks: [{ id: 'c', check: 'x.c', points: 1, title: { es: 't', en: 't' }, expected: { es: 'e', en: 'e' }, hints: { default: { es: 'd', en: 'd' } } }],
      solution: [{ on: 'maestro', user: 'postgres', script: 'solutions/step-1/a.sh' }],
    }],
  };
  const clone = () => JSON.parse(JSON.stringify(good));

  it('accepts a well-formed manifest', () => {
    expect(manifestProblems(good, 4)).toEqual([]);
  });

  it('says where a problem is and what was expected, in Spanish or English', () => {
    const bad = clone();
    bad.steps[0].checks[0].points = -1;
    delete bad.steps[0].checks[0].hints.default;
    bad.steps[0].solution[0].user = 'admin';
    bad.steps[0].solution[0].script = 'solutions/../../etc/x.sh';
    bad.steps[0].checks[0].versions = ['16'];
    bad.standbys = 9;
    bad.steps[0].titel = 'typo';
    setLang('es');
    const es = manifestProblems(bad, 4);
    expect(es.map((p) => p.message)).toEqual([
      'standbys: tiene que ser un número entero entre 1 y 4.',
      'steps[0].titel: clave desconocida, se ignora (¿un error de tipeo? Las válidas son: id, title, exercise, hints, checks, solution).',
      'steps[0].checks[0].points: tiene que ser un número entero entre 0 y ∞.',
      'steps[0].checks[0].hints.default: falta (es obligatorio).',
      'steps[0].checks[0].versions[0]: "16" no es una versión de PostgreSQL de pglab (9.1, 13, 15, 17).',
      'steps[0].solution[0].user: tiene que ser uno de: root, postgres.',
      'steps[0].solution[0].script: "solutions/../../etc/x.sh" tiene que ser un script .sh dentro de solutions/ del lab.',
    ]);
    expect(es.filter((p) => p.unknownKey).map((p) => p.path)).toEqual(['steps[0].titel']);
    setLang('en');
    expect(manifestProblems({ format: 1, id: 'Bad Id', title: 'x', steps: [] }, 4).map((p) => p.message)).toEqual([
      'id: "Bad Id" is not a valid id: lowercase letters, digits, - and _ (up to 40).',
      'title: must be a JSON object ({ … }).',
      'steps: the list cannot be empty.',
    ]);
    setLang('es');
  });
});
