/**
 * Images that travel: a real registry (Debian's docker-registry, started here on 127.0.0.1 with its
 * storage in a temp dir), bundles, and a CRLF copy of the checkout. PostgreSQL 15 only.
 *
 * Everything this file removes or creates lives in its own namespaces (PGLAB_IMAGE_NAMESPACE), so
 * `pglab/pg:15` and `pglab/base:bookworm`, which other files use, are only read and pushed, never
 * changed. No test here asks Docker Hub for anything: PGLAB_BASE_REGISTRY is always set.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, copyFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient } from '../../src/docker/client.js';
import { transportName, writeBundleFile, type BundleImage } from '../../src/images/bundle.js';
import { ensureImage, recipeHash } from '../../src/images/images.js';
import { envNameFor, lab, ROOT, type CliResult } from './helpers.js';

const ID = process.pid.toString(36);
/** One namespace per scenario: what one test removes, no other test (or file) relies on. */
const ns = (s: string) => `pglabimg${ID}${s}`;
const NO_HUB = { PGLAB_BASE_REGISTRY: 'none' };
const BUILD_LINES = /construyendo imagen|reconstruyendo|debootstrap|Step \d+\/\d+|imagen base/;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-images-e2e-'));
const envs: Array<{ env: string; vars: Record<string, string>; root?: string }> = [];

function docker(args: string[], input?: string): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr, ms: Date.now() - started });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function imageExists(ref: string): Promise<boolean> {
  return (await docker(['image', 'inspect', ref])).code === 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Debian's docker-registry on 127.0.0.1, storage in a temp dir; `auth: silly` makes it want a login. */
class LocalRegistry {
  host = '';
  private child?: ChildProcess;
  private config = '';

  constructor(private readonly name: string, private readonly needsLogin = false) {}

  async start(): Promise<void> {
    if (!this.host) {
      const dir = path.join(tmp, this.name);
      mkdirSync(path.join(dir, 'data'), { recursive: true });
      this.host = `127.0.0.1:${await freePort()}`;
      this.config = path.join(dir, 'config.yml');
      writeFileSync(this.config, [
        'version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`,
        ...(this.needsLogin ? ['auth:', '  silly:', '    realm: pglab-test', '    service: pglab-test'] : []),
        'http:', `  addr: ${this.host}`, '',
      ].join('\n'));
    }
    this.child = spawn('docker-registry', ['serve', this.config], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      const ok = await fetch(`http://${this.host}/v2/`).then(() => true, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`docker-registry did not start on ${this.host}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }

  async tags(repo: string): Promise<string[]> {
    const res = await fetch(`http://${this.host}/v2/${repo}/tags/list`);
    return ((await res.json()) as { tags?: string[] }).tags ?? [];
  }
}

const registry = new LocalRegistry('open');
const loginRegistry = new LocalRegistry('login', true);
let recipe15 = '';

beforeAll(async () => {
  await ensureImage('15', (l) => console.log(l), { registry: false });
  recipe15 = recipeHash('15');
  await registry.start();
  await loginRegistry.start();
});

afterAll(async () => {
  for (const { env, vars } of envs) await lab(['down', '--env', env, '--purge', '--yes'], vars);
  await registry.stop();
  await loginRegistry.stop();
  // Only this file's namespaces and transport names: never pglab/*.
  const refs = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n')
    .filter((r) => r.startsWith(`pglabimg${ID}`) || r.startsWith('pglab-bundle/') || (registry.host && r.startsWith(registry.host + '/')));
  if (refs.length) await docker(['rmi', ...refs]);
  rmSync(tmp, { recursive: true, force: true });
});

async function up(env: string, vars: Record<string, string>, root?: string): Promise<CliResult> {
  envs.push({ env, vars, root });
  return root ? labFrom(root, ['up', '--pg', '15', '--env', env], vars) : lab(['up', '--pg', '15', '--env', env], vars);
}

/** `lab` from another copy of the checkout (its own bin/ and dist/). */
function labFrom(root: string, args: string[], vars: Record<string, string> = {}): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = execFile('node', [path.join(root, 'bin', 'lab.js'), ...args], { env: { ...process.env, ...vars }, maxBuffer: 32 * 1024 * 1024, timeout: 900_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr, ms: Date.now() - started });
    });
    // Nothing to type: stdin at EOF (`lab exec` passes piped stdin through and would wait for it).
    child.stdin?.end();
  });
}

describe('lab images with a registry', () => {
  it('pushes the lab image under its recipe, and `lab up` with PGLAB_REGISTRY pulls it instead of building', async () => {
    const push = await lab(['images', 'push', registry.host, '--pg', '15']);
    expect(push.code, push.stderr).toBe(0);
    const { arch } = await dockerClient().version().then((v) => ({ arch: v.Arch }));
    // An image of the other architecture with the same recipe (built by the arm64 tests, PGLAB_TEST_ARM64=1) is published beside it.
    const other = arch === 'arm64' ? 'amd64' : 'arm64';
    const otherToo = (await dockerClient().getImage(`pglab/pg:15-${other}`).inspect().catch(() => undefined))?.Config?.Labels?.['pglab.recipe'] === recipe15;
    const arches = [arch, ...(otherToo ? [other] : [])];
    expect((await registry.tags('pglab/pg')).sort()).toEqual(['15', `15-${recipe15}`, ...arches.map((a) => `15-${recipe15}-${a}`)].sort());

    const vars = { PGLAB_IMAGE_NAMESPACE: ns('a'), PGLAB_REGISTRY: registry.host, ...NO_HUB };
    expect(await imageExists(`${ns('a')}/pg:15`)).toBe(false);
    const r = await up(envNameFor('imgreg'), vars);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/descargada del registro/);
    expect(r.stderr).not.toMatch(BUILD_LINES);
    console.log(`lab up from the registry (layers already on this engine): ${(r.ms / 1000).toFixed(1)} s`);

    const list = await lab(['images', '--json'], vars);
    const row = (JSON.parse(list.stdout) as Array<{ major: string; state: string; recipe: string }>).find((x) => x.major === '15');
    expect(row).toMatchObject({ state: 'current', recipe: recipe15 });
  });

  it('an image under the right name but with wrong contract labels: exit 2, nothing kept', async () => {
    // Debian's base pushed where this checkout's pg 15 image would be (for another architecture name too).
    const { arch } = await dockerClient().version().then((v) => ({ arch: v.Arch }));
    const bad = `${registry.host}/pglab/pg:15-${recipe15}-${arch}`;
    await docker(['tag', 'pglab/base:bookworm', bad]);
    expect((await docker(['push', bad])).code).toBe(0);
    await docker(['rmi', bad]);
    const vars = { PGLAB_IMAGE_NAMESPACE: ns('c'), ...NO_HUB };
    const r = await lab(['images', 'pull', registry.host, '--pg', '15'], vars);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no cumple el contrato[\s\S]*pglab\.image\.contract/);
    expect(await imageExists(`${ns('c')}/pg:15`)).toBe(false);
    expect(await imageExists(bad)).toBe(false);
    // Put the real image back for the later tests.
    expect((await lab(['images', 'push', registry.host, '--pg', '15'])).code).toBe(0);
  });

  it('a registry that wants a login: a clear message and exit 2, for pull and push', async () => {
    const vars = { PGLAB_IMAGE_NAMESPACE: ns('l'), DOCKER_CONFIG: mkdtempSync(path.join(tmp, 'docker-config-')), ...NO_HUB };
    for (const args of [['images', 'pull', loginRegistry.host, '--pg', '15'], ['images', 'push', loginRegistry.host, '--pg', '15']]) {
      const r = await lab(args, vars);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`pide usuario y contraseña[\\s\\S]*docker login ${loginRegistry.host}`));
    }
    expect(await imageExists(`${ns('l')}/pg:15`)).toBe(false);
  });

  it('registry stopped: `lab images pull` says so within 10 s (exit 2); `lab up` says so and builds', async () => {
    await registry.stop();
    try {
      const vars = { PGLAB_IMAGE_NAMESPACE: ns('b'), ...NO_HUB };
      const pull = await lab(['images', 'pull', registry.host, '--pg', '15'], vars);
      expect(pull.code).toBe(2);
      expect(pull.stderr).toMatch(new RegExp(`registro ${registry.host} no responde`));
      expect(pull.ms).toBeLessThan(12_000);

      // The same base image as pglab/pg:15 (a tag, not a copy): the fallback build is real but cached.
      await docker(['tag', 'pglab/base:bookworm', `${ns('b')}/base:bookworm`]);
      const r = await up(envNameFor('imgdown'), { ...vars, PGLAB_REGISTRY: registry.host });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`no se usa el registro ${registry.host}: El registro ${registry.host} no responde`));
      expect(r.stderr).toMatch(/construyendo imagen .*\/pg:15/);
      expect(r.stderr).not.toMatch(/debootstrap/);
    } finally {
      await registry.start();
    }
  });
});

describe('lab images bundles', () => {
  const bundle = path.join(tmp, 'pg15.bundle');

  it('save → load in an engine without the image → `lab up` without any build', async () => {
    const save = await lab(['images', 'save', bundle, '--pg', '15']);
    expect(save.code, save.stderr).toBe(0);
    expect(save.stderr).toMatch(/guardando PostgreSQL 15/);
    expect(save.stdout).toMatch(/Paquete .*pg15\.bundle: \d+ MiB con PostgreSQL 15/);
    console.log(`bundle (15): ${(statSync(bundle).size / 1048576).toFixed(0)} MiB, saved in ${(save.ms / 1000).toFixed(1)} s`);

    const vars = { PGLAB_IMAGE_NAMESPACE: ns('d'), ...NO_HUB };
    const load = await lab(['images', 'load', bundle], vars);
    expect(load.code, load.stderr).toBe(0);
    expect(load.stdout).toMatch(new RegExp(`${ns('d')}/pg:15 cargada \\(receta ${recipe15}\\)`));
    expect(await imageExists(transportName('15', recipe15))).toBe(false);
    console.log(`lab images load (15): ${(load.ms / 1000).toFixed(1)} s`);

    const r = await up(envNameFor('imgbun'), vars);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(BUILD_LINES);
  });

  it('a truncated bundle, a file that is not one, a docker save archive: exit 2 and nothing loaded', async () => {
    const vars = { PGLAB_IMAGE_NAMESPACE: ns('e'), ...NO_HUB };
    const cut = path.join(tmp, 'cut.bundle');
    copyFileSync(bundle, cut);
    truncateSync(cut, Math.floor(statSync(bundle).size * 0.6));
    const truncated = await lab(['images', 'load', cut], vars);
    expect(truncated.code).toBe(2);
    expect(truncated.stderr).toMatch(/está incompleto \(\d+ bytes de \d+\)[\s\S]*No se cargó nada/);

    const notOne = path.join(tmp, 'notes.txt');
    writeFileSync(notOne, 'apuntes de la clase\n'.repeat(2000));
    const random = await lab(['images', 'load', notOne], vars);
    expect(random.code).toBe(2);
    expect(random.stderr).toMatch(/no es un paquete de imágenes de pglab/);

    const plain = path.join(tmp, 'plain.tar');
    expect((await docker(['save', '-o', plain, 'pglab/base:bookworm'])).code).toBe(0);
    const save = await lab(['images', 'load', plain], vars);
    expect(save.code).toBe(2);
    expect(save.stderr).toMatch(/no es un paquete de imágenes de pglab/);

    expect(await imageExists(`${ns('e')}/pg:15`)).toBe(false);
    expect((await docker(['images', '-q', 'pglab-bundle/pg'])).stdout.trim()).toBe('');
  });

  it('a bundle whose image breaks the contract: exit 2, nothing left loaded', async () => {
    // Debian's base presented as the pg 15 image: right file format, wrong image.
    const file = path.join(tmp, 'impostor.bundle');
    const transport = transportName('15', recipe15);
    await docker(['tag', 'pglab/base:bookworm', transport]);
    try {
      const info = await dockerClient().getImage(transport).inspect();
      const img: BundleImage = { pg: '15', recipe: recipe15, transport, arch: info.Architecture, size: info.Size, id: info.Id };
      const client = dockerClient() as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> };
      const stream = await client.getImages({ names: [transport] });
      await writeBundleFile(file, [img], stream);
    } finally {
      await docker(['rmi', transport]);
    }
    const vars = { PGLAB_IMAGE_NAMESPACE: ns('f'), ...NO_HUB };
    const r = await lab(['images', 'load', file], vars);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no cumple el contrato[\s\S]*pglab\.pg="15"/);
    expect(await imageExists(`${ns('f')}/pg:15`)).toBe(false);
    expect(await imageExists(transport)).toBe(false);
    expect(await imageExists('pglab/base:bookworm')).toBe(true);
  });

  it('a bundle of another recipe: said, not used, exit 1', async () => {
    const stale = '00000000000000aa';
    const transport = transportName('15', stale);
    const ctx = mkdtempSync(path.join(tmp, 'stale-'));
    writeFileSync(path.join(ctx, 'Dockerfile'), `FROM pglab/pg:15\nLABEL pglab.recipe=${stale}\n`);
    const built = await docker(['build', '-q', '-t', transport, ctx]);
    expect(built.code, built.stderr).toBe(0);
    const file = path.join(tmp, 'stale.bundle');
    try {
      const info = await dockerClient().getImage(transport).inspect();
      const client = dockerClient() as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> };
      const stream = await client.getImages({ names: [transport] });
      await writeBundleFile(file, [{ pg: '15', recipe: stale, transport, arch: info.Architecture, size: info.Size, id: info.Id }], stream);
    } finally {
      await docker(['rmi', transport]);
    }
    const vars = { PGLAB_IMAGE_NAMESPACE: ns('g'), ...NO_HUB };
    const r = await lab(['images', 'load', file], vars);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`es de otra receta \\(${stale}; esta copia necesita ${recipe15}\\): no se usa`));
    expect(await imageExists(`${ns('g')}/pg:15`)).toBe(false);
    expect(await imageExists(transport)).toBe(false);
  });
});

describe('a CRLF checkout (Git for Windows) and Debian\'s base from a registry mirror', () => {
  it('builds the same image from a CRLF copy, with the base pulled from the mirror (no debootstrap), and runs a solution', async () => {
    // Debian's base where a Docker Hub mirror keeps it: MIRROR/library/debian:bookworm-slim.
    const mirrorRef = `${registry.host}/library/debian:bookworm-slim`;
    await docker(['tag', 'pglab/base:bookworm', mirrorRef]);
    expect((await docker(['push', mirrorRef])).code).toBe(0);
    await docker(['rmi', mirrorRef]);

    // A copy of the checkout with CRLF line ends in docker/, labs/, exercises/ and observer/ (what core.autocrlf=true checks out).
    const root = path.join(tmp, 'crlf-checkout');
    for (const d of ['bin', 'dist', 'docker', 'labs', 'exercises', 'observer']) cpSync(path.join(ROOT, d), path.join(root, d), { recursive: true });
    copyFileSync(path.join(ROOT, 'package.json'), path.join(root, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(root, 'node_modules'));
    let converted = 0;
    const toCrlf = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = path.join(dir, name);
        if (statSync(p).isDirectory()) toCrlf(p);
        else {
          writeFileSync(p, readFileSync(p, 'utf8').replace(/\r?\n/g, '\r\n'));
          converted++;
        }
      }
    };
    for (const d of ['docker', 'labs', 'exercises', 'observer']) toCrlf(path.join(root, d));
    expect(converted).toBeGreaterThan(20);
    expect(readFileSync(path.join(root, 'docker/pg/pglab-init'), 'utf8')).toMatch(/^#![^\n]*\r\n/);
    expect(readFileSync(path.join(root, 'labs/wal-streaming/solutions/lib.sh'), 'utf8')).toContain('\r\n');

    const vars = { PGLAB_IMAGE_NAMESPACE: ns('h'), PGLAB_BASE_REGISTRY: registry.host };
    const build = await labFrom(root, ['images', 'build', '--pg', '15'], vars);
    expect(build.code, build.stderr).toBe(0);
    expect(build.stderr).toMatch(new RegExp(`imagen base ${ns('h')}/base:bookworm lista \\(desde ${registry.host}/library/debian:bookworm-slim\\)`));
    expect(build.stderr).not.toMatch(/debootstrap/);
    expect(build.stderr).toMatch(/Step 1\/\d+/);
    console.log(`image build from a pulled base (CRLF copy): ${(build.ms / 1000).toFixed(1)} s`);
    // Same recipe as the LF checkout: a CRLF laptop can use the instructor's images.
    expect(build.stdout).toContain(`receta ${recipe15}`);

    const env = envNameFor('imgcrlf');
    const r = await up(env, vars, root);
    expect(r.code, r.stderr).toBe(0);
    const init = await labFrom(root, ['exec', 'maestro', '--env', env, '--', 'grep', '-c', '\r', '/usr/local/sbin/pglab-init'], vars);
    expect(init.stdout.trim()).toBe('0'); // no CR in the script the container runs
    const solve = await labFrom(root, ['solve', 'step-1', '--env', env, '--yes'], vars);
    expect(solve.code, solve.stdout + solve.stderr).toBe(0);
    const check = await labFrom(root, ['check', 'step-1', '--env', env, '--json'], vars);
    expect(JSON.parse(check.stdout).passed, check.stdout).toBe(true);
  });
});
