import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { controlFacts, parseControldata } from '../../src/pg/controldata.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');

describe('parseControldata', () => {
  it('maps every label of a 9.1 pg_controldata run', () => {
    const map = parseControldata(fx('pg_controldata-maestro.txt'));
    expect(Object.keys(map)).toHaveLength(34);
    expect(map['pg_control version number']).toBe('903');
    expect(map['Latest checkpoint location']).toBe('0/4000020');
    expect(map["Latest checkpoint's oldestXID's DB"]).toBe('1');
    expect(map['Time of latest checkpoint']).toBe('Thu Nov 26 18:45:35 2026'); // colons in the value survive
    expect(map['Current wal_level setting']).toBe('hot_standby');
    expect(map['Date/time type storage']).toBe('64-bit integers');
  });

  it('ignores lines without a label', () => {
    expect(parseControldata('\nWARNING\n  : x\nA:   b  \r\n')).toEqual({ A: 'b' });
  });
});

describe('controlFacts on the 9.1 captures', () => {
  const facts = (f: string) => controlFacts(fx(f));

  it('initial clusters have different system identifiers', () => {
    expect(facts('pg_controldata-maestro-initial.txt')).toEqual({
      systemIdentifier: '7712552863478153215', clusterState: 'in production', timeline: 1, walSegmentSize: 16777216,
    });
    expect(facts('pg_controldata-esclavo-initial.txt').systemIdentifier).toBe('7712552863478579191');
  });

  it('after the rsync the esclavo is the maestro cluster, in archive recovery', () => {
    const m = facts('pg_controldata-maestro.txt');
    const e = facts('pg_controldata-esclavo.txt');
    expect(e.systemIdentifier).toBe(m.systemIdentifier);
    expect(m.clusterState).toBe('in production');
    expect(e).toMatchObject({ clusterState: 'in archive recovery', timeline: 1 });
  });

  it('the promoted esclavo is in production on timeline 2', () => {
    expect(facts('pg_controldata-esclavo-promoted.txt')).toEqual({
      systemIdentifier: '7712552863478153215', clusterState: 'in production', timeline: 2, walSegmentSize: 16777216,
    });
  });

  it('reads the Spanish labels of the es_AR run', () => {
    expect(facts('es/pg_controldata-esclavo.txt')).toEqual({
      systemIdentifier: '7712553997349453567', clusterState: 'in archive recovery', timeline: 1, walSegmentSize: 16777216,
    });
    expect(facts('es/pg_controldata-esclavo-promoted.txt')).toMatchObject({ clusterState: 'in production', timeline: 2 });
    expect(facts('es/pg_controldata-esclavo-initial.txt').systemIdentifier).not.toBe(facts('es/pg_controldata-maestro-initial.txt').systemIdentifier);
  });

  it('records why the image patches initdb: real 9.1 ORs tv_usec into the second, two clusters of one second nearly collide', () => {
    // The predicate test/e2e/adversarial-pg91.test.ts asserts false on the image's clusters holds for every real 9.1 capture.
    const ids = ['pg_controldata-maestro-initial.txt', 'pg_controldata-esclavo-initial.txt', 'es/pg_controldata-maestro-initial.txt', 'es/pg_controldata-esclavo-initial.txt']
      .map((f) => BigInt(facts(f).systemIdentifier!));
    for (const id of ids) expect((id & 0xffffffffn) & (id >> 32n)).toBe(id >> 32n);
    expect(ids[0] >> 32n).toBe(ids[1] >> 32n); // maestro and esclavo made in the same second
  });

  it('passes other states through and omits missing facts', () => {
    expect(controlFacts('Database cluster state:               shut down in recovery\n')).toEqual({ clusterState: 'shut down in recovery' });
    expect(controlFacts('')).toEqual({});
  });
});
