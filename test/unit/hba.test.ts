import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { matchHba, parseHba } from '../../src/pg/hba.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../shared/fixtures/pg91');
const fx = (name: string) => readFileSync(path.join(FIX, name), 'utf8');

const standby = { database: 'replication', user: 'postgres', ip: '10.91.1.11' };

describe('parseHba / matchHba on the 9.1 captures', () => {
  it('original pg_hba.conf: no rule lets the esclavo replicate', () => {
    const { rules, errors } = parseHba(fx('pg_hba.conf-maestro-original.txt'));
    expect(errors).toEqual([]);
    expect(rules.map((r) => [r.type, r.databases, r.users, r.address, r.method])).toEqual([
      ['local', ['all'], ['postgres'], undefined, 'peer'],
      ['local', ['all'], ['all'], undefined, 'peer'],
      ['host', ['all'], ['all'], '127.0.0.1/32', 'md5'],
      ['host', ['all'], ['all'], '::1/128', 'md5'],
    ]);
    expect(matchHba(rules, standby)).toBeUndefined();
    // `all` does not cover replication, even from localhost.
    expect(matchHba(rules, { ...standby, ip: '127.0.0.1' })).toBeUndefined();
    expect(matchHba(rules, { database: 'postgres', user: 'postgres', ip: '127.0.0.1' })?.line).toBe(rules[2].line);
    expect(matchHba(rules, { database: 'postgres', user: 'postgres', ip: '::1' })?.address).toBe('::1/128');
  });

  it.each(['pg_hba.conf-maestro-final.txt', 'es/pg_hba.conf-maestro-final.txt'])('%s lets 10.91.1.11 replicate', (file) => {
    const { rules, errors } = parseHba(fx(file));
    expect(errors).toEqual([]);
    const rule = matchHba(rules, standby);
    expect(rule).toMatchObject({ type: 'host', databases: ['replication'], users: ['postgres'], address: '10.91.1.11/32', method: 'trust' });
    expect(rule!.raw).toBe('host    replication   postgres       10.91.1.11/32       trust');
    expect(rule!.line).toBe(fx(file).split('\n').indexOf(rule!.raw) + 1);
    expect(matchHba(rules, { ...standby, ip: '10.91.1.12' })).toBeUndefined();
    expect(matchHba(rules, { ...standby, user: 'replicator' })).toBeUndefined();
    // A normal connection from the esclavo is still refused: the rule is for replication only.
    expect(matchHba(rules, { database: 'postgres', user: 'postgres', ip: '10.91.1.11' })).toBeUndefined();
  });
});

describe('matchHba semantics', () => {
  it('a rule for the wrong address does not match', () => {
    const { rules } = parseHba('host replication postgres 10.91.1.10/32 trust\n');
    expect(matchHba(rules, standby)).toBeUndefined();
  });

  it('first match wins: an earlier reject hides a later trust', () => {
    const { rules } = parseHba('host replication all 10.91.1.0/24 reject\nhost replication postgres 10.91.1.11/32 trust\n');
    expect(matchHba(rules, standby)?.method).toBe('reject');
    expect(matchHba(rules.slice(1), standby)?.method).toBe('trust');
  });

  it('supports address + netmask columns', () => {
    const { rules, errors } = parseHba('host  replication  postgres  10.91.1.0  255.255.255.0  md5\n');
    expect(errors).toEqual([]);
    expect(rules[0]).toMatchObject({ address: '10.91.1.0', netmask: '255.255.255.0', method: 'md5' });
    expect(matchHba(rules, standby)?.line).toBe(1);
    expect(matchHba(rules, { ...standby, ip: '10.91.2.11' })).toBeUndefined();
  });

  it('handles all, 0.0.0.0/0, lists, quoting, samenet and ssl types', () => {
    const text = [
      'hostssl   all          all        0.0.0.0/0     md5',
      'host      "replication" postgres  0.0.0.0/0     md5   # a database literally named replication',
      'host      samenet_db   all        samenet       trust',
      'hostnossl app,replication alice,+postgres 10.0.0.0/8 md5',
      'host      all          all        all           password',
    ].join('\n');
    const { rules, errors } = parseHba(text);
    expect(errors).toEqual([]);
    expect(rules[1].databases).toEqual(['"replication"']);
    expect(rules[3]).toMatchObject({ databases: ['app', 'replication'], users: ['alice', '+postgres'] });
    expect(matchHba(rules, standby)?.line).toBe(4);
    expect(matchHba(rules, { ...standby, ssl: true })).toBeUndefined(); // hostnossl skipped, `all` never covers replication
    expect(matchHba(rules, { database: 'app', user: 'alice', ip: '10.1.2.3', ssl: true })?.line).toBe(1);
    expect(matchHba(rules, { database: 'samenet_db', user: 'x', ip: '192.168.0.9' })?.line).toBe(5);
    expect(matchHba(rules, { database: 'app', user: 'bob', ip: '192.168.0.9' })?.method).toBe('password');
  });

  it('matches IPv6 CIDR and ignores family mismatches', () => {
    const { rules } = parseHba('host replication all fe80::/10 trust\nhost replication all ::ffff:10.91.1.11/128 md5\n');
    expect(matchHba(rules, { ...standby, ip: 'fe80::1%eth0' })?.line).toBe(1);
    expect(matchHba(rules, { ...standby, ip: '::ffff:10.91.1.11' })?.line).toBe(2);
    expect(matchHba(rules, standby)).toBeUndefined();
    expect(matchHba(rules, { ...standby, ip: 'not-an-ip' })).toBeUndefined();
  });
});

describe('parseHba errors', () => {
  it.each([
    ['hots all all 1.2.3.4/32 md5', 'invalid connection type "hots"'],
    ['host', 'end-of-line before database specification'],
    ['host all', 'end-of-line before role specification'],
    ['host all all', 'end-of-line before IP address specification'],
    ['host all all 10.91.1.11/32', 'end-of-line before authentication method'],
    ['host all all 10.91.1.11/33 md5', 'invalid CIDR mask in address "10.91.1.11/33"'],
    ['host all all 10.91.1.300/32 md5', 'invalid IP address "10.91.1.300"'],
    ['host all all 10.91.1.0 md5', 'invalid IP mask "md5"'],
    ['host all all 10.91.1.0', 'end-of-line before netmask specification'],
    ['host all all 10.91.1.11/32 trusted', 'invalid authentication method "trusted"'],
    ['local all all 127.0.0.1/32 md5', 'invalid authentication method "127.0.0.1/32"'],
    ['host "all all 1.2.3.4/32 md5', 'unterminated quoted string'],
  ])('%j', (line, message) => {
    expect(parseHba(line)).toEqual({ rules: [], errors: [{ line: 1, raw: line, message }] });
  });
});
