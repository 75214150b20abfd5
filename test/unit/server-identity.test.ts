import { describe, expect, it } from 'vitest';
import { identityOf, impostorDetail, parseIdentity, splitByServer } from '../../src/pg/server-identity.js';

const line = (pid: number, exeOk: 0 | 1, preload: 0 | 1, foreign: string, exe: string) =>
  ['listener', pid, '/var/run/postgresql/.s.PGSQL.5432', exeOk, preload, foreign, exe].join('\t');

describe('server identity (observer/server-identity.pl output)', () => {
  it('the image\'s postgres, nothing preloaded, nothing foreign mapped: genuine', () => {
    const id = identityOf(0, `${line(157, 1, 0, '', '/usr/lib/postgresql/15/bin/postgres')}\n`);
    expect(id.verdict).toBe('genuine');
    expect(id.listeners[0]).toMatchObject({ pid: 157, sockets: ['/var/run/postgresql/.s.PGSQL.5432'], exeMatches: true });
    expect(impostorDetail(id)).toBe('');
  });

  it('a patched binary, a preloaded library or a foreign mapping: replaced, and says which', () => {
    const patched = identityOf(0, line(298, 0, 0, '/tmp/postgres', '/tmp/postgres'));
    expect(patched.verdict).toBe('replaced');
    expect(impostorDetail(patched)).toBe('/tmp/postgres (pid 298)');
    const preload = identityOf(0, line(396, 1, 1, '', '/usr/lib/postgresql/15/bin/postgres'));
    expect(preload.verdict).toBe('replaced');
    expect(impostorDetail(preload)).toBe('LD_PRELOAD/LD_LIBRARY_PATH');
    const lib = identityOf(0, line(400, 1, 0, '/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)', '/usr/lib/postgresql/15/bin/postgres'));
    expect(lib.verdict).toBe('replaced');
    expect(impostorDetail(lib)).toBe('/usr/lib/x86_64-linux-gnu/libc.so.6 (deleted)');
  });

  it('one genuine and one fake listener (a proxy on a second socket): replaced', () => {
    const id = identityOf(0, [line(157, 1, 0, '', '/usr/lib/postgresql/15/bin/postgres'), line(900, 0, 0, '/usr/bin/perl', '/usr/bin/perl')].join('\n'));
    expect(id.verdict).toBe('replaced');
    expect(impostorDetail(id)).toBe('/usr/bin/perl (pid 900)');
  });

  it('nothing listening is "none" (the live checks say the server is down); a probe that failed gives no verdict', () => {
    expect(identityOf(0, '').verdict).toBe('none');
    expect(identityOf(2, line(1, 0, 0, '', 'x')).verdict).toBe('unknown');
    expect(parseIdentity('garbage\nlistener\t1\n')).toEqual([]);
  });

  it('one look at several servers (the inspector): each server\'s lines by its pid; a server gone meanwhile gives no verdict', () => {
    const out = ['hash\town\t/usr/lib/postgresql/15/bin/postgres\t' + 'a'.repeat(64), 'server\t4242', line(754, 1, 0, '', '/usr/lib/postgresql/15/bin/postgres'),
      'server\t4343', line(764, 0, 0, '/tmp/pg', '/tmp/pg'), 'server\t4444', 'gone\t4444', ''].join('\n');
    const sections = splitByServer(out);
    expect([...sections.keys()]).toEqual([4242, 4343, 4444]);
    expect(identityOf(0, sections.get(4242)!).verdict).toBe('genuine');
    expect(identityOf(0, sections.get(4343)!).verdict).toBe('replaced');
    expect(identityOf(0, sections.get(4444)!).verdict).toBe('unknown');
    // A student's process cannot start a section: only the probe prints lines, a listener's fields are its own.
    expect(splitByServer(line(1, 1, 0, '', 'server\t99')).size).toBe(0);
  });
});
