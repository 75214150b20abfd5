/**
 * Image bundles without Docker: the file layout (a tar that `tar` itself lists), and every way a file
 * can fail to be a usable bundle (not one, truncated, damaged, other names inside, newer format).
 * The payloads are small real docker-archive-shaped tars made here.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, openSync, writeSync, closeSync, statSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BUNDLE_FORMAT, checkSaveTarget, encodeManifest, MANIFEST_BYTES, PAYLOAD_OFFSET, readBundleHeader, transportName,
  verifyPayload, writeBundleFile, type BundleImage,
} from '../../src/images/bundle.js';
import { parseTarHeader, tarHeader } from '../../src/docker/tar.js';
import { LabError } from '../../src/errors.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-bundle-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const RECIPE = '0123456789abcdef';
const image: BundleImage = { pg: '15', recipe: RECIPE, transport: transportName('15', RECIPE), arch: 'amd64', size: 1000, id: 'sha256:00' };

/** A tar shaped like `docker save`: a layer and manifest.json naming `tags`. */
function dockerArchive(tags: string[], layerBytes = 300_000): Buffer {
  const member = (name: string, data: Buffer) => Buffer.concat([tarHeader(name, data.length), data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
  const layer = Buffer.alloc(layerBytes, 7);
  const manifest = Buffer.from(JSON.stringify([{ Config: 'abc.json', RepoTags: tags, Layers: ['l1/layer.tar'] }]));
  return Buffer.concat([member('l1/layer.tar', layer), member('abc.json', Buffer.from('{}')), member('manifest.json', manifest), Buffer.alloc(1024)]);
}

async function makeBundle(name: string, tags = [image.transport], images = [image]): Promise<string> {
  const file = path.join(dir, name);
  await writeBundleFile(file, images, Readable.from([dockerArchive(tags)]));
  return file;
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

describe('bundle file', () => {
  it('is a tar with the manifest first and the payload second, and verifies', async () => {
    const file = await makeBundle('ok.bundle');
    expect(existsSync(file + '.part')).toBe(false);
    const listing = execFileSync('tar', ['tvf', file]).toString();
    expect(listing).toMatch(/pglab-bundle\.json[\s\S]*images\.tar\.gz/);
    const manifest = await readBundleHeader(file);
    expect(manifest.format).toBe(BUNDLE_FORMAT);
    expect(manifest.images).toEqual([image]);
    await verifyPayload(file, manifest);
    // The payload is a gzip'd docker archive that `tar` can read back: manifest.json names the transport tag.
    const extracted = execFileSync('tar', ['-xOf', file, 'images.tar.gz']);
    expect(extracted.length).toBe(manifest.payload.bytes);
    const inner = execFileSync('tar', ['-xzOf', '-', 'manifest.json'], { input: extracted }).toString();
    expect(JSON.parse(inner)[0].RepoTags).toEqual([image.transport]);
  });

  it('says "not a bundle" for any other file, including a plain docker save tar', async () => {
    const random = path.join(dir, 'random.bin');
    writeFileSync(random, Buffer.alloc(20_000, 1));
    expect((await labErrorOf(readBundleHeader(random))).key).toBe('bundle.notBundle');
    const plain = path.join(dir, 'plain.tar');
    writeFileSync(plain, dockerArchive([image.transport]));
    expect((await labErrorOf(readBundleHeader(plain))).key).toBe('bundle.notBundle');
    const empty = path.join(dir, 'empty');
    writeFileSync(empty, '');
    expect((await labErrorOf(readBundleHeader(empty))).key).toBe('bundle.notBundle');
    expect((await labErrorOf(readBundleHeader(path.join(dir, 'absent')))).key).toBe('bundle.missing');
    // A folder is said to be one (issue 17), not "no such file".
    expect((await labErrorOf(readBundleHeader(dir))).key).toBe('bundle.isDirectory');
  });

  it('refuses a save target that is a folder, or in a folder that does not exist, before any work', () => {
    const keyOf = (f: () => void) => { try { f(); return 'none'; } catch (err) { return (err as LabError).key; } };
    expect(keyOf(() => checkSaveTarget(dir))).toBe('bundle.saveIsDirectory');
    expect(keyOf(() => checkSaveTarget(path.join(dir, 'absent', 'x.pglab')))).toBe('bundle.saveNoFolder');
    expect(keyOf(() => checkSaveTarget(path.join(dir, 'new.pglab')))).toBe('none');
  });

  it('says "truncated" for a copy cut short anywhere', async () => {
    const file = await makeBundle('full.bundle');
    const size = statSync(file).size;
    for (const cut of [600, PAYLOAD_OFFSET - 1, PAYLOAD_OFFSET + 1000, size - 1]) {
      const copy = path.join(dir, `cut-${cut}.bundle`);
      copyFileSync(file, copy);
      truncateSync(copy, cut);
      const err = await labErrorOf(readBundleHeader(copy));
      expect(err.key, `cut at ${cut}`).toBe('bundle.truncated');
      expect(err.exitCode).toBe(2);
    }
  });

  it('says "damaged" when one payload byte changed, or the archive inside names other images', async () => {
    const file = await makeBundle('flip.bundle');
    const manifest = await readBundleHeader(file);
    const fd = openSync(file, 'r+');
    writeSync(fd, Buffer.from([0x42]), 0, 1, PAYLOAD_OFFSET + Math.floor(manifest.payload.bytes / 2));
    closeSync(fd);
    expect((await labErrorOf(verifyPayload(file, manifest))).key).toBe('bundle.corrupt');

    const other = await makeBundle('names.bundle', ['pglab/pg:15']);
    const err = await labErrorOf(verifyPayload(other, await readBundleHeader(other)));
    expect(err.key).toBe('bundle.corrupt');
    expect(err.params.detail).toMatch(/pglab\/pg:15/);
  });

  it('refuses a manifest that does not describe lab images as `lab` writes them', async () => {
    const file = await makeBundle('edited.bundle');
    const manifest = await readBundleHeader(file);
    const edit = (m: object) => {
      const copy = path.join(dir, 'edited-copy.bundle');
      copyFileSync(file, copy);
      const fd = openSync(copy, 'r+');
      writeSync(fd, encodeManifest(m as never), 0, MANIFEST_BYTES, 512);
      closeSync(fd);
      return copy;
    };
    expect((await labErrorOf(readBundleHeader(edit({ ...manifest, images: [{ ...image, pg: '16' }] })))).key).toBe('bundle.notBundle');
    expect((await labErrorOf(readBundleHeader(edit({ ...manifest, images: [{ ...image, transport: 'pglab/pg:15' }] })))).key).toBe('bundle.notBundle');
    expect((await labErrorOf(readBundleHeader(edit({ ...manifest, format: 'pglab-bundle/2' })))).key).toBe('bundle.newerFormat');
    const bigger = await labErrorOf(readBundleHeader(edit({ ...manifest, payload: { ...manifest.payload, bytes: manifest.payload.bytes + 1 } })));
    expect(bigger.key).toBe('bundle.notBundle'); // the tar header still says the real length
  });

  it('writes nothing under the final name when the docker archive fails midway', async () => {
    const file = path.join(dir, 'failed.bundle');
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1000));
        this.destroy(new Error('engine went away'));
      },
    });
    const err = await labErrorOf(writeBundleFile(file, [image], failing));
    expect(err.key).toBe('bundle.saveFailed');
    expect(existsSync(file)).toBe(false);
    expect(existsSync(file + '.part')).toBe(false);
  });
});

describe('tar headers', () => {
  it('round-trip and reject a wrong checksum', () => {
    const h = tarHeader('pglab-bundle.json', 8192, 1_700_000_000);
    expect(parseTarHeader(h)).toEqual({ name: 'pglab-bundle.json', size: 8192, type: '0' });
    const bad = Buffer.from(h);
    bad[0] = 'q'.charCodeAt(0);
    expect(parseTarHeader(bad)).toBeUndefined();
    expect(parseTarHeader(Buffer.alloc(512))).toBeUndefined();
  });

  it('are read by GNU tar (the format is plain ustar)', () => {
    const file = path.join(dir, 'one.tar');
    const data = Buffer.from('hola\n');
    writeFileSync(file, Buffer.concat([tarHeader('a.txt', data.length), data, Buffer.alloc(512 - data.length), Buffer.alloc(1024)]));
    expect(execFileSync('tar', ['-xOf', file, 'a.txt']).toString()).toBe('hola\n');
    expect(readFileSync(file).length % 512).toBe(0);
  });
});
