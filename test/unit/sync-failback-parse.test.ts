/** The sync-failback graders' pure parsing: synchronous_standby_names per version, application_name in a conninfo. */
import { describe, expect, it } from 'vitest';
import { conninfoApplicationName, listed, parseSyncNames } from '../../labs/sync-failback/checks/parse.js';

describe('synchronous_standby_names', () => {
  it('9.1: a plain list is a priority list with one synchronous standby', () => {
    expect(parseSyncNames('esclavo, esclavo2', false)).toEqual({ method: 'priority', num: 1, names: ['esclavo', 'esclavo2'] });
    expect(parseSyncNames('maestro', false)).toEqual({ method: 'priority', num: 1, names: ['maestro'] });
    expect(parseSyncNames('*', false)).toEqual({ method: 'priority', num: 1, names: ['*'] });
  });

  it('empty means none; what the server could not read is null', () => {
    expect(parseSyncNames('', true)).toBeUndefined();
    expect(parseSyncNames('   ', false)).toBeUndefined();
    expect(parseSyncNames('a,,b', false)).toBeNull();
    expect(parseSyncNames('"open', true)).toBeNull();
    // 9.1 has no FIRST/ANY syntax: the same text is not a list of names there.
    expect(parseSyncNames('FIRST 1 (a, b)', false)).toBeNull();
  });

  it('10+: FIRST n (…), ANY n (…), n (…) and a plain list', () => {
    expect(parseSyncNames('FIRST 1 (esclavo, esclavo2)', true)).toEqual({ method: 'priority', num: 1, names: ['esclavo', 'esclavo2'] });
    expect(parseSyncNames('first 2 (a,b,c)', true)).toEqual({ method: 'priority', num: 2, names: ['a', 'b', 'c'] });
    expect(parseSyncNames('ANY 1 (esclavo, esclavo2)', true)).toEqual({ method: 'quorum', num: 1, names: ['esclavo', 'esclavo2'] });
    expect(parseSyncNames('2 (a, b)', true)).toEqual({ method: 'priority', num: 2, names: ['a', 'b'] });
    expect(parseSyncNames('esclavo', true)).toEqual({ method: 'priority', num: 1, names: ['esclavo'] });
  });

  it('quoted names keep case, slashes and commas', () => {
    expect(parseSyncNames('"15/main", "A,b"', true)?.names).toEqual(['15/main', 'A,b']);
    expect(parseSyncNames('ANY 1 ("x""y", z)', true)?.names).toEqual(['x"y', 'z']);
  });

  it('a standby matches its name case-insensitively, or the wildcard', () => {
    const sync = parseSyncNames('Esclavo, esclavo2', false)!;
    expect(listed(sync, 'esclavo')).toBe(true);
    expect(listed(sync, 'walreceiver')).toBe(false);
    expect(listed(parseSyncNames('*', false)!, 'walreceiver')).toBe(true);
  });
});

describe('application_name in primary_conninfo', () => {
  it('key=value form, plain or quoted', () => {
    expect(conninfoApplicationName('host=10.213.4.11 port=5432 user=postgres application_name=maestro')).toBe('maestro');
    expect(conninfoApplicationName("host=x application_name = 'mi esclavo' user=postgres")).toBe('mi esclavo');
    expect(conninfoApplicationName("application_name='it\\'s'")).toBe("it's");
  });

  it('none set, or set empty', () => {
    expect(conninfoApplicationName('host=10.213.4.11 port=5432 user=postgres')).toBeUndefined();
    expect(conninfoApplicationName("host=x application_name=''")).toBeUndefined();
    expect(conninfoApplicationName('')).toBeUndefined();
  });

  it('URI form', () => {
    expect(conninfoApplicationName('postgresql://postgres@10.0.0.1:5432/postgres?application_name=esclavo2&sslmode=disable')).toBe('esclavo2');
    expect(conninfoApplicationName('postgres://10.0.0.1/postgres')).toBeUndefined();
  });
});

describe('sync-failback manifest', () => {
  it('every failure reason its graders return has a hint somewhere, and each check a default one', async () => {
    const { readFileSync } = await import('node:fs');
    const { loadLab } = await import('../../src/lab/manifest.js');
    const lab = await loadLab('sync-failback');
    const src = readFileSync(new URL('../../labs/sync-failback/checks/index.ts', import.meta.url), 'utf8');
    const reasons = new Set([...src.matchAll(/fail\('([a-z-]+)'/g)].map((m) => m[1]));
    const hinted = new Set(lab.steps.flatMap((s) => s.checks.flatMap((c) => Object.keys(c.hints))));
    // Only ever the reason of a fallback, which the runner lists under also_checked, never as the hint.
    const FALLBACK_ONLY = ['no-history'];
    expect([...reasons].filter((r) => !hinted.has(r) && !FALLBACK_ONLY.includes(r))).toEqual([]);
    for (const c of lab.steps.flatMap((s) => s.checks)) expect(c.hints.default, c.id).toBeTruthy();
    expect(Object.keys(lab.checks).filter((k) => k.startsWith('failback.')).length).toBe(15);
  });
});
