/**
 * Apple Silicon, proven on an amd64 host: arm64 images built here (Debian base by debootstrap with
 * its second stage under qemu-user, 9.1 cross-compiled by a native builder stage, the runtime stage
 * arm64), the whole 9.1 tutorial solved and checked on arm64 servers running under emulation, 15 up
 * with sections 1–2, and one registry tag / one bundle holding 9.1 for amd64 and arm64.
 *
 * Slow (emulated initdb, apt, pg_basebackup): runs only with PGLAB_TEST_ARM64=1, on a host with
 * qemu-user-static registered in binfmt_misc (.ci/run sets that up; README, "arm64").
 * The arm64 images are the shared `<ns>/pg:<major>-arm64` (PGLAB_IMAGE_NAMESPACE, default pglab; built
 * once, reused); what this file removes lives in a namespace of its own.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recipeHash } from '../../src/images/images.js';
import { byId, checkJson, envNameFor, lab, type CliResult, type JsonCheck } from './helpers.js';

const RUN = process.env.PGLAB_TEST_ARM64 === '1';
const NS = process.env.PGLAB_IMAGE_NAMESPACE?.trim() || 'pglab';
const ARM = 'linux/arm64';
const ARM_ENV = { PGLAB_PLATFORM: ARM };
/** Per test: emulated servers are 5–20× slower (apt, initdb, pg_basebackup); vitest's default here is 10 min. */
const EMULATED_MS = 60 * 60_000;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pglab-arm64-e2e-'));

function docker(args: string[]): Promise<CliResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('docker', args, { maxBuffer: 16 * 1024 * 1024, timeout: 600_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as NodeJS.ErrnoException).code ?? 1) || 1 : 0, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const arch = async (ref: string) => (await docker(['image', 'inspect', '-f', '{{.Architecture}}', ref])).stdout.trim();

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!RUN)('arm64 images built on an amd64 host', () => {
  it('builds 9.1 (cross-compiled) and 15 for linux/arm64 beside the native images; they run aarch64 binaries', async () => {
    for (const pg of ['9.1', '15']) {
      const r = await lab(['images', 'build', '--pg', pg, '--platform', ARM]);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      expect(await arch(`${NS}/pg:${pg}-arm64`)).toBe('arm64');
      const run = await docker(['run', '--rm', '--entrypoint', 'sh', `${NS}/pg:${pg}-arm64`, '-c', `uname -m; /usr/lib/postgresql/${pg}/bin/postgres --version`]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toMatch(new RegExp(`^aarch64\\n.*PostgreSQL\\) ${pg.replace('.', '\\.')}`));
    }
    const listed = await lab(['images']);
    expect(listed.stdout).toMatch(new RegExp(`${NS}/pg:9\\.1-arm64\\s+9\\.1\\s+\\S+\\s+\\d+ MiB\\s+arm64\\s+al día`));
  }, EMULATED_MS);
});

describe.skipIf(!RUN)('the 9.1 tutorial on arm64 servers, emulated', () => {
  const env = envNameFor('arm91');
  const done: string[] = [];
  const checks = async (step: string): Promise<Record<string, JsonCheck>> => byId((await checkJson(env, step)).report.steps[0]);

  async function expectDoneSectionsPass(): Promise<void> {
    for (const step of done) {
      const failing = Object.values(await checks(step)).filter((c) => c.status !== 'pass');
      expect(failing.map((c) => `${step}/${c.id}: ${c.reason} ${JSON.stringify(c.evidence)}`)).toEqual([]);
    }
  }

  async function solve(step: string): Promise<void> {
    const r = await lab(['solve', step, '--env', env, '--yes']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    done.push(step);
  }

  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('lab up --platform linux/arm64: says it runs emulated and stretches the limits; lab status shows arm64', async () => {
    const up = await lab(['up', '--pg', '9.1', '--env', env, '--platform', ARM]);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect(up.stderr).toContain(`${NS}/pg:9.1-arm64 es arm64 y este Docker es amd64: corre emulada`);
    expect(up.stderr).toMatch(/se multiplican por 10/);
    const status = await lab(['status', '--env', env]);
    expect(status.stdout).toMatch(/maestro\s*: contenedor running, .*PostgreSQL 9\.1\.24.*, arm64 \(emulada\)/);
    expect(status.stdout).toMatch(/esclavo\s*: contenedor running, .*arm64 \(emulada\)/);
    const uname = await lab(['exec', 'maestro', '--env', env, '--', 'uname', '-m']);
    expect(uname.stdout.trim()).toBe('aarch64');
  }, EMULATED_MS);

  it('a fresh pair: every check of every section fails', async () => {
    const trueWhenFresh = new Set(['step-1/same-version', 'step-4/esclavo-up']);
    for (const step of ['step-1', 'step-2', 'step-3', 'step-4', 'step-5', 'step-6']) {
      const { code, report } = await checkJson(env, step);
      expect(code).toBe(1);
      for (const c of report.steps[0].checks) {
        if (trueWhenFresh.has(`${step}/${c.id}`)) continue;
        expect(c.status, `${step}/${c.id}: ${JSON.stringify(c.evidence)}`).not.toBe('pass');
      }
    }
  }, EMULATED_MS);

  it('1–5: ssh + rsync, genuine WAL shipped (arm64 segments), hot standby streaming, rows replicated', async () => {
    await solve('step-1');
    await expectDoneSectionsPass();
    await solve('step-2');
    expect((await checks('step-2')).segments.evidence.size).toBe(16777216);
    await expectDoneSectionsPass();
    for (const step of ['step-3', 'step-4', 'step-5']) await solve(step);
    await expectDoneSectionsPass();
  }, EMULATED_MS);

  it('6: esclavo promoted on a new timeline; `lab check` of everything passes', async () => {
    await solve('step-6');
    expect(Number((await checks('step-6')).timeline.evidence.esclavo_timeline)).toBeGreaterThanOrEqual(2);
    await expectDoneSectionsPass();
    const all = await lab(['check', '--env', env]);
    expect(all.code, all.stdout).toBe(0);
  }, EMULATED_MS);
});

describe.skipIf(!RUN)('PostgreSQL 15 on arm64, emulated (PGLAB_PLATFORM)', () => {
  const env = envNameFor('arm15');
  beforeAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });
  afterAll(async () => {
    await lab(['down', '--env', env, '--purge', '--yes']);
  });

  it('up from PGLAB_PLATFORM; sections 1 and 2 fail fresh and pass after their solutions', async () => {
    const up = await lab(['up', '--pg', '15', '--env', env], ARM_ENV);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect((await lab(['exec', 'esclavo', '--env', env, '--', 'uname', '-m'])).stdout.trim()).toBe('aarch64');
    for (const step of ['step-1', 'step-2']) {
      expect((await checkJson(env, step)).code).toBe(1);
      const r = await lab(['solve', step, '--env', env, '--yes']);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      const { code, report } = await checkJson(env, step);
      expect(code, JSON.stringify(report.steps[0].checks.filter((c) => c.status !== 'pass'))).toBe(0);
    }
  }, EMULATED_MS);
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.skipIf(!RUN)('one tag, two architectures: registry manifest list and a two-platform bundle', () => {
  let registry = '';
  let child: ChildProcess | undefined;
  const ns = `pglabarm${process.pid.toString(36)}`;
  const inNs = { PGLAB_IMAGE_NAMESPACE: ns };

  beforeAll(async () => {
    const dir = path.join(tmp, 'registry');
    mkdirSync(path.join(dir, 'data'), { recursive: true });
    registry = `127.0.0.1:${await freePort()}`;
    const config = path.join(dir, 'config.yml');
    writeFileSync(config, ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${path.join(dir, 'data')}`, 'http:', `  addr: ${registry}`, ''].join('\n'));
    child = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
    for (let i = 0; i < 50; i++) {
      if (await fetch(`http://${registry}/v2/`).then(() => true, () => false)) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`docker-registry did not start on ${registry}`);
  });
  afterAll(async () => {
    child?.kill();
    for (const tag of ['9.1', '9.1-arm64']) await docker(['rmi', `${ns}/pg:${tag}`]);
  });

  it('lab images push: 9.1 under its version tag and its recipe tag lists amd64 and arm64 (docker manifest inspect)', async () => {
    const push = await lab(['images', 'push', registry, '--pg', '9.1']);
    expect(push.code, push.stderr + push.stdout).toBe(0);
    const recipe = recipeHash('9.1');
    for (const tag of ['9.1', `9.1-${recipe}`]) {
      const r = await docker(['manifest', 'inspect', '--insecure', `${registry}/pglab/pg:${tag}`]);
      expect(r.code, r.stderr).toBe(0);
      const list = JSON.parse(r.stdout) as { mediaType: string; manifests: Array<{ platform: { architecture: string } }> };
      expect(list.mediaType).toBe('application/vnd.docker.distribution.manifest.list.v2+json');
      expect(list.manifests.map((m) => m.platform.architecture).sort()).toEqual(['amd64', 'arm64']);
    }
    // A student's engine pulls its own: amd64 here, arm64 when asked for that platform.
    const native = await lab(['images', 'pull', registry, '--pg', '9.1'], inNs);
    expect(native.code, native.stderr).toBe(0);
    expect(await arch(`${ns}/pg:9.1`)).toBe('amd64');
    const arm = await lab(['images', 'pull', registry, '--pg', '9.1', '--platform', ARM], inNs);
    expect(arm.code, arm.stderr).toBe(0);
    expect(await arch(`${ns}/pg:9.1-arm64`)).toBe('arm64');
    expect(await arch(`${ns}/pg:9.1`)).toBe('amd64');
  }, EMULATED_MS);

  it('lab images save --platform linux/amd64 linux/arm64: one bundle with both; load restores both tags', async () => {
    const file = path.join(tmp, 'both.pglab');
    const save = await lab(['images', 'save', file, '--pg', '9.1', '--platform', 'linux/amd64', ARM]);
    expect(save.code, save.stderr).toBe(0);
    const header = JSON.parse(readFileSync(file).subarray(512, 512 + 8192).toString('utf8')) as { images: Array<{ pg: string; arch: string; transport: string }> };
    expect(header.images.map((i) => i.arch).sort()).toEqual(['amd64', 'arm64']);
    for (const tag of ['9.1', '9.1-arm64']) await docker(['rmi', `${ns}/pg:${tag}`]);
    const load = await lab(['images', 'load', file], inNs);
    expect(load.code, load.stderr + load.stdout).toBe(0);
    expect(await arch(`${ns}/pg:9.1`)).toBe('amd64');
    expect(await arch(`${ns}/pg:9.1-arm64`)).toBe('arm64');
  }, EMULATED_MS);
});
