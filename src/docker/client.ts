/**
 * The only module that talks to the Docker engine (through dockerode).
 * Every command inside a container is an argv array (never a shell string built from
 * student-controlled text) and has a timeout.
 */
import Docker from 'dockerode';
import { PassThrough } from 'node:stream';
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { LabError } from '../errors.js';
import { TIMEOUTS } from '../timeouts.js';

let docker: Docker | undefined;

export function dockerClient(): Docker {
  docker ??= new Docker();
  return docker;
}

/** Fails with a clear LabError when Docker is missing, stopped or forbidden. */
export async function ensureDocker(): Promise<Docker> {
  const client = dockerClient();
  try {
    await withTimeout(client.ping(), TIMEOUTS.dockerPingMs, 'docker ping');
    return client;
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
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  timedOut: boolean;
}

export const DEFAULT_EXEC_TIMEOUT_MS = TIMEOUTS.execDefaultMs;

/** Runs argv inside a container and collects its output (demultiplexed). */
export async function execInContainer(container: string, argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const client = dockerClient();
  const timeoutMs = opts.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const user = opts.user ?? 'root';
  const env = {
    LC_ALL: 'C.UTF-8', // graders never read localized text
    ...(user === 'postgres' ? { HOME: '/var/lib/postgresql', USER: 'postgres' } : { HOME: '/root' }),
    ...opts.env,
  };
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000));
  const exec = await client.getContainer(container).exec({
    Cmd: ['timeout', '-k', '2', String(seconds), ...argv],
    AttachStdout: true,
    AttachStderr: true,
    AttachStdin: opts.stdin !== undefined,
    User: user,
    WorkingDir: opts.workdir ?? (user === 'postgres' ? '/var/lib/postgresql' : '/root'),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
  });
  const stream = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
  const out: Buffer[] = [];
  const errOut: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (b: Buffer) => out.push(b));
  stderr.on('data', (b: Buffer) => errOut.push(b));
  client.modem.demuxStream(stream, stdout, stderr);
  if (opts.stdin !== undefined) {
    stream.write(opts.stdin);
    // Half-close so the process sees EOF on stdin.
    (stream as unknown as { end: () => void }).end();
  }
  let timedOut = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      timedOut = true;
      stream.destroy();
      resolve();
    }, timeoutMs + TIMEOUTS.execGraceMs);
    stream.on('end', () => { clearTimeout(timer); resolve(); });
    stream.on('close', () => { clearTimeout(timer); resolve(); });
    stream.on('error', () => { clearTimeout(timer); resolve(); });
  });
  const info = await exec.inspect();
  const exitCode = info.ExitCode ?? -1;
  // coreutils timeout exits 124 (or 137 after -k) when it had to stop the command.
  if (exitCode === 124 || exitCode === 137) timedOut = true;
  return { exitCode, stdout: Buffer.concat(out), stderr: Buffer.concat(errOut), timedOut };
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
