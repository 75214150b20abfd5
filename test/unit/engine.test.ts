/** Engine pieces that need no Docker: naming, i18n, settings helpers, docker error messages. */
import { describe, expect, it } from 'vitest';
import { isOn, listensOn, sizeInMb } from '../../src/checks/settings.js';
import { parseConninfo } from '../../labs/wal-streaming/checks/standby.js';
import { classifyDockerError } from '../../src/docker/client.js';
import { canonicalRole, envName, serverIp, serverRoles } from '../../src/env/naming.js';
import { MESSAGES } from '../../src/i18n/messages.js';
import { setLang, t } from '../../src/i18n/index.js';
import { profileFor } from '../../src/pg/profile.js';

describe('naming', () => {
  it('derives roles, IPs and accepts the English aliases', () => {
    expect(serverRoles(2)).toEqual(['maestro', 'esclavo', 'esclavo2']);
    expect(serverIp('10.213.4.0/24', 'maestro')).toBe('10.213.4.10');
    expect(serverIp('10.213.4.0/24', 'esclavo')).toBe('10.213.4.11');
    expect(serverIp('10.213.4.0/24', 'esclavo2')).toBe('10.213.4.12');
    expect(canonicalRole('master')).toBe('maestro');
    expect(canonicalRole('slave')).toBe('esclavo');
    expect(canonicalRole('slave2')).toBe('esclavo2');
    expect(envName('alumno01')).toBe('alumno01');
    expect(() => envName('../x')).toThrow();
  });
});

describe('messages', () => {
  it('has every Spanish message in English too, with the same placeholders', () => {
    for (const [key, es] of Object.entries(MESSAGES.es)) {
      const en = MESSAGES.en[key as keyof typeof MESSAGES.es];
      expect(en, key).toBeTruthy();
      expect([...en.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort(), key).toEqual([...es.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort());
    }
  });

  it('explains Docker problems without a stack trace, per cause', () => {
    setLang('es');
    const perm = classifyDockerError(Object.assign(new Error('x'), { code: 'EACCES' }));
    expect(t(perm.key)).toMatch(/grupo docker/);
    const down = classifyDockerError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
    expect(['docker.down', 'docker.missing']).toContain(down.key);
    setLang('en');
    expect(t('docker.permission')).toMatch(/docker group/);
    setLang('es');
  });
});

describe('settings helpers', () => {
  it('reads sizes, booleans, listen addresses and conninfo as PostgreSQL does', () => {
    expect(sizeInMb('128MB')).toBe(128);
    expect(sizeInMb('1GB')).toBe(1024);
    expect(sizeInMb("'256'")).toBe(256);
    expect(isOn('on')).toBe(true);
    expect(isOn('off')).toBe(false);
    expect(listensOn("*", '10.0.0.10')).toBe(true);
    expect(listensOn('10.0.0.10, localhost', '10.0.0.10')).toBe(true);
    expect(listensOn('localhost', '10.0.0.10')).toBe(false);
    expect(parseConninfo("host=10.0.0.10 port=5432 user=postgres")).toEqual({ host: '10.0.0.10', port: '5432', user: 'postgres' });
    expect(parseConninfo("host='10.0.0.10' application_name='a b'")).toEqual({ host: '10.0.0.10', application_name: 'a b' });
  });

  it('keeps per-version facts in the profile', () => {
    expect(profileFor('9.1').walDirName).toBe('pg_xlog');
    expect(profileFor('9.1').replPidColumn).toBe('procpid');
    expect(profileFor('15').exclusiveBackup).toBe(false);
    expect(profileFor('13').exclusiveBackup).toBe(true);
    expect(profileFor('17').triggerSetting).toBeNull();
    expect(profileFor('17').walPageMagic).toBe(0xd116);
  });
});
