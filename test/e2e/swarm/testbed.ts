/**
 * A Docker Swarm test bed for test/e2e/swarm.test.ts: N docker-in-docker "nodes" (containers running
 * Debian's dockerd) on a user network of this test, joined into a swarm, each with pglab's image loaded.
 * Never the CI machine's own engine: lab reaches every node as a sysadmin would set it up, over TLS on
 * 2376 with a client certificate (made here with openssl); the test's own set-up (swarm init/join,
 * image load, stopping a node) goes through `docker exec NODE docker …` on the node's unix socket.
 *
 * The nodes are not privileged: on some hosts privileged dind fails ("unable to apply caps: operation
 * not permitted", CAP_SYS_RESOURCE missing from the bounding set), so they get every capability but
 * that one, seccomp and AppArmor unconfined, and remount the cgroup hierarchy read-write themselves.
 * Every object is named `pglabswarm-…` so nobody else's clean-up touches them.
 */
import { execFile, spawn } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const NODE_IMAGE = 'pglabswarm/node:test';
export const BED_NETWORK = 'pglabswarm-net';
/** The test's own network for the nodes (their dockerd listens on .11, .12, …). */
export const BED_SUBNET = process.env.PGLAB_SWARM_BED_SUBNET ?? '10.199.231.0/24';
const PREFIX = BED_SUBNET.replace(/\.0\/24$/, '');
/** One generous knob for every wait of the bed (scaled like lab's own, PGLAB_TIMEOUT_SCALE). */
const SCALE = Number(process.env.PGLAB_TIMEOUT_SCALE ?? 1) || 1;

export interface Cmd { code: number; stdout: string; stderr: string }

/** Runs argv (never a shell string) with a timeout; never throws. */
export function run(argv: string[], opts: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<Cmd> {
  return new Promise((resolve) => {
    const options = { timeout: (opts.timeoutMs ?? 120_000) * SCALE, maxBuffer: 64 * 1024 * 1024, cwd: opts.cwd };
    const child = execFile(argv[0], argv.slice(1), options, (err, stdout, stderr) => {
      const code = err ? (typeof (err as NodeJS.ErrnoException).code === 'number' ? Number((err as NodeJS.ErrnoException).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.end(opts.input);
  });
}

async function must(argv: string[], opts: { timeoutMs?: number; input?: string; cwd?: string } = {}): Promise<string> {
  const r = await run(argv, opts);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} → ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

export interface BedNode { name: string; ip: string; manager: boolean; host: string }

export interface TestBed {
  nodes: BedNode[];
  /** The client certificate lab uses (ca.pem, cert.pem, key.pem), as DOCKER_CERT_PATH. */
  certDir: string;
  /** What a lab run needs to reach the manager: DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH. */
  managerEnv: Record<string, string>;
  /** Seconds each phase took. */
  timings: Record<string, number>;
  /** `docker …` on a node's own engine (unix socket, test set-up only). */
  docker(node: string, args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<Cmd>;
  teardown(): Promise<void>;
}

/** Why dind cannot run here, or undefined when it can (a node starts and its dockerd answers). */
export async function dindUnavailable(): Promise<string | undefined> {
  const v = await run(['docker', 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 });
  if (v.code !== 0) return `no Docker engine on this machine: ${v.stderr.trim()}`;
  const lsmod = await run(['sh', '-c', 'test -d /sys/module/vxlan || modprobe -n vxlan'], { timeoutMs: 5000 });
  if (lsmod.code !== 0) return 'the kernel has no vxlan module (overlay networks need it)';
  return undefined;
}

/** Builds the node image (from the local pglab base: no registry), cached by Docker. */
export async function buildNodeImage(base = 'pglab/base:bookworm'): Promise<void> {
  await must(['docker', 'build', '-q', '-t', NODE_IMAGE, '--build-arg', `BASE_IMAGE=${base}`, '-f', path.join(HERE, 'Dockerfile.node'), HERE], { timeoutMs: 600_000 });
}

/** A CA, one server certificate for every node (their names and IPs), and lab's client certificate. */
export async function makeCerts(dir: string, nodes: { name: string; ip: string }[]): Promise<void> {
  const o = (args: string[]) => must(['openssl', ...args], { cwd: dir, timeoutMs: 30_000 });
  await o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=pglabswarm-ca', '-keyout', 'ca-key.pem', '-out', 'ca.pem']);
  const san = ['DNS:localhost', 'IP:127.0.0.1', ...nodes.flatMap((n) => [`DNS:${n.name}`, `IP:${n.ip}`])].join(',');
  writeFileSync(path.join(dir, 'server.ext'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [who, ext] of [['server', 'server.ext'], ['client', 'client.ext']]) {
    await o(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=pglabswarm-${who}`, '-keyout', `${who}-key.pem`, '-out', `${who}.csr`]);
    await o(['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', `${who}-cert.pem`]);
  }
  // DOCKER_CERT_PATH's names.
  writeFileSync(path.join(dir, 'cert.pem'), await must(['cat', path.join(dir, 'client-cert.pem')]));
  writeFileSync(path.join(dir, 'key.pem'), await must(['cat', path.join(dir, 'client-key.pem')]));
  await must(['chmod', '0644', ...['ca.pem', 'server-cert.pem', 'server-key.pem', 'cert.pem', 'key.pem'].map((f) => path.join(dir, f))]);
}

export const nodeName = (i: number) => `pglabswarm-n${i + 1}`;

async function waitFor(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs * SCALE;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`test bed: timed out waiting for ${what}`);
}

/** Starts (or restarts) one node container and waits for its dockerd. */
export async function waitEngine(name: string): Promise<void> {
  await waitFor(`${name}'s dockerd`, async () => (await run(['docker', 'exec', name, 'docker', 'version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 })).code === 0, 90_000);
}

/** Removes every object of the bed (only pglabswarm-* names). */
export async function removeBed(count = 5): Promise<void> {
  const names = Array.from({ length: count }, (_, i) => nodeName(i));
  await run(['docker', 'rm', '-f', '-v', ...names], { timeoutMs: 120_000 });
  await run(['docker', 'volume', 'rm', '-f', ...names.map((n) => `${n}-data`)], { timeoutMs: 120_000 });
  await run(['docker', 'network', 'rm', BED_NETWORK], { timeoutMs: 30_000 });
}

/**
 * The bed: `count` nodes (the first one the swarm's only manager), `images` loaded into every node.
 * Set-up time is in `timings` (seconds): build, certs, nodes, swarm, load.
 */
export async function makeTestBed(opts: { count: number; images: string[] }): Promise<TestBed> {
  const timings: Record<string, number> = {};
  const lap = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try { return await fn(); } finally { timings[name] = (Date.now() - t0) / 1000; }
  };
  await removeBed(opts.count);
  const certDir = mkdtempSync(path.join(os.tmpdir(), 'pglabswarm-certs-'));
  const nodes: BedNode[] = Array.from({ length: opts.count }, (_, i) => {
    const ip = `${PREFIX}.${11 + i}`;
    return { name: nodeName(i), ip, manager: i === 0, host: `tcp://${ip}:2376` };
  });
  await lap('build', () => buildNodeImage());
  await lap('certs', () => makeCerts(certDir, nodes));
  await lap('nodes', async () => {
    await must(['docker', 'network', 'create', '--label', 'pglabswarm=1', '--subnet', BED_SUBNET, BED_NETWORK]);
    await Promise.all(nodes.map((n) => must([
      'docker', 'run', '-d', '--name', n.name, '--hostname', n.name, '--label', 'pglabswarm=1',
      '--network', BED_NETWORK, '--ip', n.ip,
      '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
      '-v', `${n.name}-data:/var/lib/docker`, '-v', `${certDir}:/certs:ro`, '--tmpfs', '/run',
      NODE_IMAGE,
    ])));
    await Promise.all(nodes.map((n) => waitEngine(n.name)));
  });
  const docker = (node: string, args: string[], o: { timeoutMs?: number; input?: string } = {}) => run(['docker', 'exec', '-i', node, 'docker', ...args], o);
  await lap('swarm', async () => {
    const [mgr, ...workers] = nodes;
    const init = await docker(mgr.name, ['swarm', 'init', '--advertise-addr', mgr.ip]);
    if (init.code !== 0) throw new Error(`swarm init: ${init.stderr}`);
    const token = (await docker(mgr.name, ['swarm', 'join-token', '-q', 'worker'])).stdout.trim();
    for (const w of workers) {
      const j = await docker(w.name, ['swarm', 'join', '--token', token, '--advertise-addr', w.ip, `${mgr.ip}:2377`]);
      if (j.code !== 0) throw new Error(`swarm join ${w.name}: ${j.stderr}`);
    }
  });
  await lap('load', async () => {
    const file = path.join(certDir, 'images.tar');
    await must(['docker', 'save', '-o', file, ...opts.images], { timeoutMs: 300_000 });
    // One node at a time: a load is disk- and CPU-bound, and the machine is shared.
    for (const n of nodes) await loadInto(n.name, file);
    rmSync(file, { force: true });
  });
  return {
    nodes, certDir, timings, docker,
    managerEnv: { DOCKER_HOST: nodes[0].host, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir },
    async teardown() {
      await removeBed(opts.count);
      rmSync(certDir, { recursive: true, force: true });
    },
  };
}

function loadInto(node: string, file: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', ['exec', '-i', node, 'docker', 'load', '-q'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000 * SCALE);
    child.on('close', (code) => { clearTimeout(timer); if (code === 0) resolve(); else reject(new Error(`docker load into ${node}: ${code} ${err}`)); });
    createReadStream(file).pipe(child.stdin);
  });
}
