/**
 * Two architectures without Docker: local names per architecture, the manifest list `lab images push`
 * writes (against a small registry double that speaks the distribution API and its Bearer token
 * dance), two-architecture bundles, `--platform` lists, and time limits stretched for emulation.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readBundleHeader, transportName, writeBundleFile, type BundleImage } from '../../src/images/bundle.js';
import { MANIFEST_LIST, MANIFEST_V2, manifestListBody, manifestOf, parseChallenge, putManifestList } from '../../src/images/manifest-list.js';
import { baseTag, imageTag } from '../../src/images/recipe.js';
import { parsePlatformList } from '../../src/cli/image-commands.js';
import { LabError } from '../../src/errors.js';
import { EMULATION_SCALE, noteEmulation, timeoutScale, TIMEOUTS } from '../../src/timeouts.js';

describe('local names per architecture', () => {
  it('keeps the native name and suffixes another architecture', () => {
    expect(imageTag('9.1')).toBe('pglab/pg:9.1');
    expect(imageTag('9.1', 'arm64')).toBe('pglab/pg:9.1-arm64');
    expect(baseTag('bookworm', 'arm64')).toBe('pglab/base:bookworm-arm64');
  });

  it('parses --platform lists, once per architecture, and refuses a malformed one', () => {
    expect(parsePlatformList(undefined)).toEqual([undefined]);
    expect(parsePlatformList(['linux/amd64', 'linux/arm64'])).toEqual(['linux/amd64', 'linux/arm64']);
    expect(parsePlatformList('linux/amd64,linux/arm64/v8,linux/arm64')).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(() => parsePlatformList(['arm64'])).toThrow(LabError);
  });
});

describe('time limits under emulation', () => {
  it('are read when used, and grow by EMULATION_SCALE once an emulated image is noted', () => {
    // vitest runs each file in its own module graph: this does not leak into other files.
    expect(process.env.PGLAB_TIMEOUT_SCALE).toBeUndefined();
    expect(timeoutScale()).toBe(1);
    expect(TIMEOUTS.probeMs).toBe(10_000);
    expect(TIMEOUTS.connectS).toBe(5);
    expect(noteEmulation()).toBe(true);
    expect(timeoutScale()).toBe(EMULATION_SCALE);
    expect(TIMEOUTS.probeMs).toBe(10_000 * EMULATION_SCALE);
    expect(TIMEOUTS.connectS).toBe(5 * EMULATION_SCALE);
    expect(Object.keys(TIMEOUTS)).toContain('upReadyMs');
  });
});

describe('two-architecture bundles', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-arm64-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const RECIPE = '0123456789abcdef';
  const img = (arch: string, suffix: boolean): BundleImage => ({ pg: '15', recipe: RECIPE, transport: transportName('15', RECIPE, suffix ? arch : undefined), arch, size: 1, id: `sha256:${arch}` });
  const archive = (tags: string[]) => {
    const data = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: tags, Layers: [] }]));
    const h = Buffer.alloc(512);
    h.write('manifest.json', 0);
    h.write('0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(data.length.toString(8).padStart(11, '0') + '\0', 124);
    h.write('00000000000\0', 136);
    h.write('0', 156);
    h.write('ustar\0', 257);
    h.write('00', 263);
    h.fill(' ', 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148);
    return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512), Buffer.alloc(1024)]);
  };

  it('names each architecture apart and reads back', async () => {
    const images = [img('amd64', true), img('arm64', true)];
    expect(images[1]!.transport).toBe('pglab-bundle/pg:15-0123456789abcdef-arm64');
    const file = path.join(dir, 'both.pglab');
    await writeBundleFile(file, images, Readable.from([archive(images.map((i) => i.transport))]));
    expect((await readBundleHeader(file)).images.map((i) => i.arch)).toEqual(['amd64', 'arm64']);
  });

  it('refuses two images under one transport name', async () => {
    const images = [img('amd64', false), { ...img('arm64', false) }];
    const file = path.join(dir, 'dup.pglab');
    await writeBundleFile(file, images, Readable.from([archive([images[0]!.transport])]));
    await expect(readBundleHeader(file)).rejects.toMatchObject({ key: 'bundle.notBundle' });
  });
});

/** A registry double: manifests by tag, Bearer tokens from /token for a Basic login, as Docker Hub and harbor do. */
class FakeRegistry {
  manifests = new Map<string, { type: string; body: Buffer }>();
  tokenRequests: string[] = [];
  server!: Server;
  host = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.host = `127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  private async handle(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const url = new URL(req.url!, `http://${this.host}`);
    if (url.pathname === '/token') {
      this.tokenRequests.push(`${url.searchParams.get('scope')} ${req.headers.authorization ?? ''}`);
      res.writeHead(req.headers.authorization === `Basic ${Buffer.from('alumno:secreto').toString('base64')}` ? 200 : 401, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ token: 'tok' }));
    }
    if (req.headers.authorization !== 'Bearer tok') {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${this.host}/token",service="fake"` });
      return void res.end();
    }
    const m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (!m) return void res.writeHead(404).end();
    const key = `${m[1]}:${m[2]}`;
    if (req.method === 'PUT') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      this.manifests.set(key, { type: String(req.headers['content-type']), body: Buffer.concat(chunks) });
      return void res.writeHead(201).end();
    }
    const found = this.manifests.get(key);
    if (!found) return void res.writeHead(404).end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    res.writeHead(200, { 'content-type': found.type });
    res.end(found.body);
  }
}

describe('manifest lists through the registry API', () => {
  const reg = new FakeRegistry();
  const probe = { scheme: 'http' as const, auth: { username: 'alumno', password: 'secreto', serveraddress: '' } };
  beforeAll(() => reg.start());
  afterAll(() => new Promise<void>((r) => reg.server.close(() => r())));

  it('reads each architecture\'s manifest (digest of its bytes) and writes one list naming both', async () => {
    const bodies = { amd64: Buffer.from('{"schemaVersion":2,"a":1}'), arm64: Buffer.from('{"schemaVersion":2,"b":22}') };
    for (const [arch, body] of Object.entries(bodies)) reg.manifests.set(`curso/pglab/pg:15-r-${arch}`, { type: MANIFEST_V2, body });
    const registry = `${reg.host}/curso`;
    const amd = await manifestOf(registry, 'pglab/pg', '15-r-amd64', probe);
    const arm = await manifestOf(registry, 'pglab/pg', '15-r-arm64', probe);
    expect(await manifestOf(registry, 'pglab/pg', '15-r-riscv64', probe)).toBeUndefined();
    expect(amd).toEqual({ mediaType: MANIFEST_V2, size: bodies.amd64.length, digest: `sha256:${createHash('sha256').update(bodies.amd64).digest('hex')}` });
    const entries = [{ ...arm!, platform: { os: 'linux', architecture: 'arm64' } }, { ...amd!, platform: { os: 'linux', architecture: 'amd64' } }];
    await putManifestList(registry, 'pglab/pg', '15', entries, probe);
    const list = reg.manifests.get('curso/pglab/pg:15')!;
    expect(list.type).toBe(MANIFEST_LIST);
    const parsed = JSON.parse(list.body.toString()) as { mediaType: string; manifests: Array<{ digest: string; platform: { architecture: string } }> };
    expect(parsed.mediaType).toBe(MANIFEST_LIST);
    expect(parsed.manifests.map((e) => e.platform.architecture)).toEqual(['amd64', 'arm64']);
    expect(parsed.manifests[1]!.digest).toBe(arm!.digest);
    // The token was asked for this repository, push and pull, with the user's login.
    expect(reg.tokenRequests[0]).toBe(`repository:curso/pglab/pg:pull,push Basic ${Buffer.from('alumno:secreto').toString('base64')}`);
    // A list under a per-architecture tag is not an image of one architecture.
    reg.manifests.set('curso/pglab/pg:15-r-amd64', { type: MANIFEST_LIST, body: Buffer.from(manifestListBody(entries)) });
    expect(await manifestOf(registry, 'pglab/pg', '15-r-amd64', probe)).toBeUndefined();
  });

  it('fails, saying the status, when the login is refused', async () => {
    await expect(putManifestList(reg.host, 'pglab/pg', '15', [], { scheme: 'http' })).rejects.toThrow(/HTTP 401/);
  });

  it('parses challenges', () => {
    expect(parseChallenge('Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"')).toEqual({
      scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry', scope: 'repository:a:pull' },
    });
    expect(parseChallenge(null)).toBeUndefined();
  });
});
