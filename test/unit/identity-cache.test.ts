import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { knownHashes, rememberHashes } from '../../src/pg/identity-cache.js';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);

describe('identity probe hash cache', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-idcache-'));
    process.env.PGLAB_CACHE_DIR = dir;
  });
  afterAll(() => {
    delete process.env.PGLAB_CACHE_DIR;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the image\'s hashes by image and path, a server\'s by container and stat key; nothing else', () => {
    expect(knownHashes('sha256:img', 'pglab-x-maestro')).toBe('\n');
    rememberHashes('sha256:img', 'pglab-x-maestro', [
      `listener\t99\t/var/run/postgresql/.s.PGSQL.5432\t1\t0\t\t/usr/lib/postgresql/15/bin/postgres`,
      `hash\town\t/usr/lib/postgresql/15/bin/postgres\t${A}`,
      `hash\ttheirs\t64769:1234:9000000:1796410759:1796410763.84454\t${B}`,
      'hash\ttheirs\t1:2:3:4:5\tnot-a-hash',
      `hash\ttheirs\t$(rm -rf /)\t${B}`,
      `hash\town\trelative/path\t${A}`,
    ].join('\n'));
    const known = knownHashes('sha256:img', 'pglab-x-maestro').trim().split('\n').sort();
    expect(known).toEqual([`own\t/usr/lib/postgresql/15/bin/postgres\t${A}`, `theirs\t64769:1234:9000000:1796410759:1796410763.84454\t${B}`]);
    // Another server of the same image shares the image's hashes, not the first server's files.
    expect(knownHashes('sha256:img', 'pglab-y-maestro').trim()).toBe(`own\t/usr/lib/postgresql/15/bin/postgres\t${A}`);
    expect(knownHashes('sha256:other', 'pglab-x-maestro').trim()).toBe(`theirs\t64769:1234:9000000:1796410759:1796410763.84454\t${B}`);
  });
});
