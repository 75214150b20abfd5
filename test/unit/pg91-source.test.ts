/**
 * The 9.1 source is used only when it is provably 9.1.24: the vendored git export (commit stamped
 * in its tar header), a release tarball with its published .sha256, or a download checked against
 * the .sha256 published beside it (served here by a real HTTP server on 127.0.0.1).
 */
import { createServer, type Server } from 'node:http';
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LabError } from '../../src/errors.js';
import { PG91_COMMIT, gitExportCommit, resolvePg91Source, sha256File } from '../../src/images/pg91-source.js';

const VENDOR = path.resolve('../shared/vendor/postgresql-9.1.24.git-REL9_1_24.tar.gz');
const VENDOR_SHA = '05502a9d0453eec0a12a86fa111aa53c7a9b7a04a4767b9579002d82c25589aa';
/**
 * Skipped only where no 9.1 source was ever meant to be (no vendored file and PGLAB_PG91_SOURCE
 * unset), and then visibly, by name; with either one there, a missing vendored file fails.
 */
const SKIP = !existsSync(VENDOR) && !process.env.PGLAB_PG91_SOURCE;
const SKIPPED = SKIP ? ` — skipped: ${VENDOR} is absent and PGLAB_PG91_SOURCE is unset` : '';
if (SKIP) console.warn(`pg91-source.test.ts${SKIPPED}`);
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-src-test-'));
const saved = { ...process.env };

async function errorKey(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LabError);
    return (err as LabError).key;
  }
  return 'no error';
}

afterEach(() => {
  process.env = { ...saved };
});

describe.skipIf(SKIP)(`PGLAB_PG91_SOURCE (offline)${SKIPPED}`, () => {
  it('has the vendored 9.1 source (shared/vendor beside the checkout)', () => {
    expect(existsSync(VENDOR), `missing ${VENDOR} (PGLAB_PG91_SOURCE=${process.env.PGLAB_PG91_SOURCE ?? 'unset'})`).toBe(true);
  });

  it('accepts the vendored git export: known sha256 and the REL9_1_24 commit in its header', async () => {
    expect(await gitExportCommit(VENDOR)).toBe(PG91_COMMIT);
    process.env.PGLAB_PG91_SOURCE = VENDOR;
    expect(await resolvePg91Source()).toEqual({ file: VENDOR, sha256: VENDOR_SHA, verifiedBy: 'sha256' });
  });

  it('accepts another git export of the same commit by the commit id alone', async () => {
    // Same bytes plus trailing padding: another sha256, same header.
    const copy = path.join(tmp, 'export.tar.gz');
    writeFileSync(copy, Buffer.concat([readFileSync(VENDOR), Buffer.alloc(512)]));
    process.env.PGLAB_PG91_SOURCE = copy;
    expect((await resolvePg91Source()).verifiedBy).toBe('commit');
  });

  it('refuses a missing file, a directory and an unverifiable file, each with its own message', async () => {
    process.env.PGLAB_PG91_SOURCE = path.join(tmp, 'nope.tar.bz2');
    expect(await errorKey(resolvePg91Source())).toBe('pg91.sourceMissing');
    process.env.PGLAB_PG91_SOURCE = tmp;
    expect(await errorKey(resolvePg91Source())).toBe('pg91.sourceMissing');
    const junk = path.join(tmp, 'postgresql-9.1.24.tar.bz2');
    writeFileSync(junk, 'not a tarball');
    process.env.PGLAB_PG91_SOURCE = junk;
    expect(await errorKey(resolvePg91Source())).toBe('pg91.sourceUnverified');
    // A release tarball is accepted with the .sha256 published beside it.
    writeFileSync(junk + '.sha256', `${await sha256File(junk)}  postgresql-9.1.24.tar.bz2\n`);
    expect((await resolvePg91Source()).verifiedBy).toBe('sha256');
  });
});

describe.skipIf(SKIP)(`download (a real HTTP server on 127.0.0.1)${SKIPPED}`, () => {
  let server: Server;
  let base = '';
  let corrupt = false;
  let requests = 0;
  beforeAll(async () => {
    const body = readFileSync(VENDOR);
    server = createServer((req, res) => {
      requests++;
      if (req.url === '/pg.tar.gz') return res.end(corrupt ? Buffer.concat([body, Buffer.from('x')]) : body);
      if (req.url === '/pg.tar.gz.sha256') return res.end(`${VENDOR_SHA}  postgresql-9.1.24.tar.bz2\n`);
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(() => server.close());

  it('downloads, checks the published sha256, keeps it in the cache and reuses it', async () => {
    delete process.env.PGLAB_PG91_SOURCE;
    process.env.XDG_CACHE_HOME = mkdtempSync(path.join(tmp, 'cache-'));
    process.env.PGLAB_PG91_URL = `${base}/pg.tar.gz`;
    const lines: string[] = [];
    const first = await resolvePg91Source((l) => lines.push(l));
    expect(first.sha256).toBe(VENDOR_SHA);
    expect(first.file.startsWith(process.env.XDG_CACHE_HOME)).toBe(true);
    expect(lines.join('\n')).toMatch(/descargando/);
    const before = requests;
    expect((await resolvePg91Source()).file).toBe(first.file);
    expect(requests).toBe(before); // from the cache, no second download
  });

  it('refuses a download that does not match its published checksum, and an unreachable site', async () => {
    delete process.env.PGLAB_PG91_SOURCE;
    process.env.XDG_CACHE_HOME = mkdtempSync(path.join(tmp, 'cache-'));
    process.env.PGLAB_PG91_URL = `${base}/pg.tar.gz`;
    corrupt = true;
    expect(await errorKey(resolvePg91Source())).toBe('pg91.checksumMismatch');
    corrupt = false;
    process.env.PGLAB_PG91_URL = `${base}/missing.tar.gz`;
    expect(await errorKey(resolvePg91Source())).toBe('pg91.noSource');
  });
});

it.skipIf(SKIP)(`a copy of the vendored file is verified by content, wherever it lives${SKIPPED}`, async () => {
  const copy = path.join(tmp, 'renamed.tgz');
  copyFileSync(VENDOR, copy);
  process.env.PGLAB_PG91_SOURCE = copy;
  expect((await resolvePg91Source()).sha256).toBe(VENDOR_SHA);
});
