/**
 * Registry answers as `lab` reads them, against real HTTP servers on 127.0.0.1 (no Docker): a registry
 * that answers, one that wants a login (with and without `docker login`), a closed port and one that
 * never answers (given up within the bound). Also names, engine errors, --pg lists and line ends.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePgList } from '../../src/cli/image-commands.js';
import { contractProblems, lf, platformArch } from '../../src/images/recipe.js';
import { classifyTransferError, normalizeRegistry, probeRegistry, splitRef } from '../../src/images/registry.js';
import { LabError } from '../../src/errors.js';

const servers: Server[] = [];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-registry-unit-'));
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function labErrorOf(p: Promise<unknown>): Promise<LabError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof LabError) return err;
    throw err;
  }
  throw new Error('expected a LabError');
}

describe('probeRegistry', () => {
  it('accepts a registry that answers /v2/ (plain http on 127.0.0.1)', async () => {
    const host = await serve((_req, res) => res.writeHead(200).end('{}'));
    expect((await probeRegistry(host)).scheme).toBe('http');
  });

  it('asks for `docker login` when the registry answers 401 and there is no login', async () => {
    const host = await serve((_req, res) => res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end());
    const saved = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = mkdtempSync(path.join(tmp, 'cfg-'));
    try {
      const err = await labErrorOf(probeRegistry(host));
      expect(err.key).toBe('registry.needsLogin');
      expect(err.exitCode).toBe(2);
      // After `docker login`: the credentials from config.json are handed to the engine.
      writeFileSync(path.join(process.env.DOCKER_CONFIG, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from('ana:s3:cret').toString('base64') } } }));
      expect((await probeRegistry(host)).auth).toEqual({ username: 'ana', password: 's3:cret', serveraddress: host });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved;
    }
  });

  it('says unreachable at once for a closed port', async () => {
    const host = await serve(() => {});
    servers.pop()!.close();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const err = await labErrorOf(probeRegistry(host));
    expect(err.key).toBe('registry.unreachable');
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('gives up on a registry that never answers within the bound', async () => {
    const host = await serve(() => { /* never answers */ });
    const started = Date.now();
    const err = await labErrorOf(probeRegistry(host, 1500));
    expect(err.key).toBe('registry.unreachable');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('names and errors', () => {
  it('normalizes registry names and refuses what cannot be one', () => {
    expect(normalizeRegistry('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(normalizeRegistry(' http://Registro.UNLU.edu.ar/bd2/ ')).toBe('registro.unlu.edu.ar/bd2');
    for (const bad of ['', 'a b', 'host:port', 'host/UPPER', 'host/../x']) {
      expect(() => normalizeRegistry(bad), bad).toThrow(LabError);
    }
  });

  it('splits references with ports', () => {
    expect(splitRef('127.0.0.1:5000/pglab/pg:15-abc')).toEqual({ repo: '127.0.0.1:5000/pglab/pg', tag: '15-abc' });
    expect(splitRef('127.0.0.1:5000/pglab/pg')).toEqual({ repo: '127.0.0.1:5000/pglab/pg', tag: 'latest' });
  });

  it('classifies the engine\'s pull and push errors', () => {
    expect(classifyTransferError('manifest for 127.0.0.1:5000/pglab/pg:15-x not found: manifest unknown')).toBe('not-found');
    expect(classifyTransferError('unauthorized: authentication required')).toBe('login');
    expect(classifyTransferError('no matching manifest for linux/arm64/v8 in the manifest list entries')).toBe('platform');
    expect(classifyTransferError('Get "https://h:5000/v2/": dial tcp 10.0.0.1:5000: connect: connection refused')).toBe('unreachable');
    expect(classifyTransferError('x509: certificate signed by unknown authority')).toBe('tls');
  });

  it('checks contract labels', () => {
    expect(contractProblems({ 'pglab.image.contract': '1', 'pglab.pg': '15', 'pglab.recipe': '0123456789abcdef' }, '15')).toEqual([]);
    expect(contractProblems({ 'pglab.image.contract': '1', 'pglab.pg': '17', 'pglab.recipe': '0123456789abcdef' }, '15')).toHaveLength(1);
    expect(contractProblems(undefined, '15')).toHaveLength(3);
  });

  it('parses --pg lists and platforms', () => {
    expect(parsePgList(undefined)).toEqual(['9.1', '13', '15', '17']);
    expect(parsePgList(['17', '9.1'])).toEqual(['9.1', '17']);
    expect(parsePgList('15,17')).toEqual(['15', '17']);
    expect(() => parsePgList(['16'])).toThrow(LabError);
    expect(platformArch('linux/arm64/v8')).toBe('arm64');
    expect(platformArch(undefined)).toBeUndefined();
    expect(() => platformArch('arm64')).toThrow(LabError);
  });

  it('normalizes CRLF line ends and nothing else', () => {
    expect(lf('#!/bin/sh\r\necho a\r\n')).toBe('#!/bin/sh\necho a\n');
    expect(lf('a\rb\n')).toBe('a\rb\n');
  });
});
