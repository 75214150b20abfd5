/**
 * How src/docker talks to the Docker engine: engine.ts (plain HTTP on the engine's socket) for
 * what every check does — ping, exec — and dockerode, loaded on first use only, for the rest.
 * Every command inside a container is an argv array (never a shell string built from
 * student-controlled text) and has a timeout.
 */
import type Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { LabError } from '../errors.js';
import { TIMEOUTS } from '../timeouts.js';
import { engineEndpoint, ping, runExec } from './engine.js';
import { routedNode, type NodeEngine } from './route.js';

let docker: Docker | undefined;
const nodeClients = new Map<string, Docker>();

/**
 * dockerode, required on first use: `lab check` never pays its start-up (~0.2 s). With `object` (a
 * container or volume name), the client of the Swarm node it lives on (route.ts), else the default engine's.
 */
export function dockerClient(object?: string): Docker {
  const node = routedNode(object);
  if (node) return nodeClient(node);
  if (!docker) {
    const Dockerode = createRequire(import.meta.url)('dockerode') as typeof Docker;
    docker = new Dockerode();
  }
  return docker;
}

/** dockerode for one Swarm node's engine (one client per node and process). */
export function nodeClient(node: NodeEngine): Docker {
  let client = nodeClients.get(node.name);
  if (!client) {
    const Dockerode = createRequire(import.meta.url)('dockerode') as typeof Docker;
    client = new Dockerode(node.dockerode as Docker.DockerOptions);
    nodeClients.set(node.name, client);
  }
  return client;
}

/** Fails with a clear LabError when Docker is missing, stopped or forbidden. */
export async function ensureDocker(): Promise<void> {
  const ep = engineEndpoint();
  try {
    await withTimeout(ep ? ping(ep, TIMEOUTS.dockerPingMs) : dockerClient().ping(), TIMEOUTS.dockerPingMs, 'docker ping');
  } catch (err) {
    throw classifyDockerError(err);
  }
}

export function classifyDockerError(err: unknown): LabError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'EACCES') return new LabError('docker.permission', {}, 2, { cause: err });
  if (code === 'ENOENT' || code === 'ECONNREFUSED') {
    return new LabError(dockerInstalled() ? 'docker.down' : 'docker.missing', {}, 2, { cause: err });
  }
  return new LabError('docker.unknown', { detail: String((err as Error)?.message ?? err) }, 2, { cause: err });
}

function dockerInstalled(): boolean {
  if (existsSync('/usr/bin/dockerd') || existsSync('/usr/sbin/dockerd')) return true;
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore', timeout: TIMEOUTS.dockerVersionMs });
    return true;
  } catch {
    return false;
  }
}

export interface ExecOptions {
  user?: 'root' | 'postgres';
  env?: Record<string, string>;
  workdir?: string;
  /** Hard limit; the command is also wrapped in coreutils `timeout` inside the container. */
  timeoutMs?: number;
  stdin?: string | Buffer;
  /** Output kept (stdout + stderr); past it the stream is closed and `truncated` set. Default 64 MiB. */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
  /** The output was cut at the limit (see ExecOptions.maxOutputBytes, PROBE_OUTPUT_MAX). */
  truncated?: boolean;
}

/** Runs argv inside a container and collects its output (demultiplexed). */
export async function execInContainer(container: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const timeoutMs = opts.timeoutMs ?? TIMEOUTS.execDefaultMs;
  const user = opts.user ?? 'root';
  const env = {
    LC_ALL: 'C.UTF-8', // graders never read localized text
    ...(user === 'postgres' ? { HOME: '/var/lib/postgresql', USER: 'postgres' } : { HOME: '/root' }),
    ...opts.env,
  };
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const maxOutput = opts.maxOutputBytes ?? 64 * 1024 * 1024;
  const spec = {
    Cmd: ['timeout', '-k', '2', String(seconds), ...argv],
    AttachStdout: true as const,
    AttachStderr: true as const,
    AttachStdin: opts.stdin !== undefined,
    User: user,
    WorkingDir: opts.workdir ?? (user === 'postgres' ? '/var/lib/postgresql' : '/root'),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
  };
  const ep = engineEndpoint(container);
  const r = ep
    ? await runExec(ep, container, spec, opts.stdin, timeoutMs + TIMEOUTS.execGraceMs, maxOutput)
    : await execWithDockerode(container, spec, opts.stdin, timeoutMs + TIMEOUTS.execGraceMs, maxOutput);
  // coreutils timeout exits 124 (or 137 after -k) when it had to stop the command.
  const timedOut = (r.cutOff && !r.truncated) || r.exitCode === 124 || r.exitCode === 137;
  return { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr, timedOut, ...(r.truncated ? { truncated: true } : {}) };
}

/** The same exec through dockerode, for engines engine.ts does not reach (TLS). */
async function execWithDockerode(container: string, spec: Docker.ExecCreateOptions, stdin: string | Buffer | undefined, deadlineMs: number, maxOutput: number) {
  const client = dockerClient(container);
  const exec = await client.getContainer(container).exec(spec);
  const stream = await exec.start({ hijack: true, stdin: stdin !== undefined });
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let kept = 0;
  let truncated = false;
  const keep = (into: Buffer[]) => (b: Buffer) => {
    if (truncated) return;
    if (kept + b.length > maxOutput) {
      into.push(b.subarray(0, maxOutput - kept));
      truncated = true;
      stream.destroy();
      return;
    }
    kept += b.length;
    into.push(b);
  };
  stdout.on('data', keep(out));
  stderr.on('data', keep(errOut));
  client.modem.demuxStream(stream, stdout, stderr);
  if (stdin !== undefined) {
    stream.write(stdin);
    // Half-close so the process sees EOF on stdin.
    (stream as unknown as { end: () => void }).end();
  }
  let cutOff = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      cutOff = true;
      stream.destroy();
      resolve();
    }, deadlineMs);
    stream.on('end', () => { clearTimeout(timer); resolve(); });
    stream.on('close', () => { clearTimeout(timer); resolve(); });
    stream.on('error', () => { clearTimeout(timer); resolve(); });
  });
  const info = await exec.inspect();
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), cutOff: cutOff || truncated, truncated };
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<T>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms: ${what}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
