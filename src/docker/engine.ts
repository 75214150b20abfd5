/**
 * A small client of the Docker Engine API for the calls every `lab check` makes: ping, listing by
 * label, inspecting a container, and exec. dockerode costs ~0.2 s of start-up (more on a loaded
 * class server) and `lab check` must stay under half a second, so these go straight over the
 * engine's socket with node:http; dockerode is loaded only for builds, creation and removal.
 * TLS-protected tcp:// engines (a Swarm node: DOCKER_TLS_VERIFY + DOCKER_CERT_PATH, or a node of
 * `lab class nodes`) go over https with the client certificate; endpoints it cannot serve (ssh://)
 * make `engineEndpoint()` return undefined, and callers use dockerode for everything.
 */
import http from 'node:http';
import type { PeerCertificate } from 'node:tls';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import { routedEndpoint, type EngineEndpoint, type EngineTls } from './route.js';

/** API version every supported engine speaks (Docker 20.10+); the newest endpoints are not needed here. */
const API = '/v1.41';

export type { EngineEndpoint, EngineTls } from './route.js';

let endpoint: EngineEndpoint | null | undefined;

/**
 * Where the engine listens, as dockerode would find it (DOCKER_HOST, else the platform's default
 * socket). With `object` (a container or volume name), the engine of the Swarm node that object
 * lives on, when an env placed on nodes registered it (route.ts); else the default engine.
 */
export function engineEndpoint(object?: string): EngineEndpoint | undefined {
  if (object !== undefined) {
    const routed = routedEndpoint(object);
    if (routed !== undefined) return routed ?? undefined;
  }
  if (endpoint !== undefined) return endpoint ?? undefined;
  endpoint = parseDockerHost(process.env.DOCKER_HOST, process.platform, process.env.DOCKER_TLS_VERIFY, process.env.DOCKER_CERT_PATH) ?? null;
  return endpoint ?? undefined;
}

export function parseDockerHost(raw: string | undefined, platform: string, tlsVerify?: string, certPath?: string): EngineEndpoint | undefined {
  if (!raw) return { socketPath: platform === 'win32' ? '//./pipe/docker_engine' : '/var/run/docker.sock' };
  if (raw.startsWith('unix://')) return { socketPath: raw.slice('unix://'.length) };
  if (raw.startsWith('npipe://')) return { socketPath: raw.slice('npipe://'.length).replace(/\//g, '\\') };
  const tcp = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(raw);
  if (tcp && !tlsVerify) return { host: tcp[1], port: Number(tcp[2]) };
  if (tcp) {
    const tls = readTlsDir(certPath || path.join(homedir(), '.docker'));
    return tls ? { host: tcp[1], port: Number(tcp[2]), tls } : undefined;
  }
  return undefined; // ssh://…: dockerode (or its helpers) handle those
}

/** ca.pem, cert.pem and key.pem of a directory (DOCKER_CERT_PATH's layout); undefined when one is missing. */
export function readTlsDir(dir: string): EngineTls | undefined {
  try {
    return { ca: readFileSync(path.join(dir, 'ca.pem')), cert: readFileSync(path.join(dir, 'cert.pem')), key: readFileSync(path.join(dir, 'key.pem')) };
  } catch {
    return undefined;
  }
}

/** node:http for sockets and plain tcp, node:https with the client certificate for TLS. */
function open(ep: EngineEndpoint, options: http.RequestOptions, onResponse?: (res: http.IncomingMessage) => void): http.ClientRequest {
  const { tls, ...where } = ep;
  if (!tls) return http.request({ ...where, ...options }, onResponse);
  // Loaded only for TLS engines (a Swarm node): a local `lab check` does not pay for node:https.
  const require = createRequire(import.meta.url);
  const https = require('node:https') as typeof import('node:https');
  const tlsModule = require('node:tls') as typeof import('node:tls');
  // The certificate is checked against the engine's address, not the `Host: docker` header.
  const checkServerIdentity = (_name: string, cert: PeerCertificate) => tlsModule.checkServerIdentity(where.host ?? 'localhost', cert);
  return https.request({ ...where, ...options, ca: tls.ca, cert: tls.cert, key: tls.key, checkServerIdentity }, onResponse);
}

/** An answer of the engine that is not 2xx, shaped like dockerode's errors (statusCode, message). */
export class EngineError extends Error {
  constructor(readonly statusCode: number, message: string) {
    super(message);
  }
}

function request(ep: EngineEndpoint, method: string, path: string, body?: unknown, timeoutMs = 30_000): Promise<{ status: number; data: Buffer }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = open(ep, {
      method, path: API + path, timeout: timeoutMs,
      headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, data: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: docker ${method} ${path}`)));
    req.on('error', reject);
    req.end(payload);
  });
}

async function json<T>(ep: EngineEndpoint, method: string, path: string, body?: unknown, timeoutMs?: number): Promise<T> {
  const { status, data } = await request(ep, method, path, body, timeoutMs);
  if (status < 200 || status >= 300) {
    let message = data.toString();
    try { message = (JSON.parse(message) as { message?: string }).message ?? message; } catch { /* plain text */ }
    throw new EngineError(status, `(HTTP code ${status}) ${message}`);
  }
  return (data.length ? JSON.parse(data.toString()) : undefined) as T;
}

export const ping = (ep: EngineEndpoint, timeoutMs: number) => request(ep, 'GET', '/_ping', undefined, timeoutMs).then((r) => {
  if (r.status !== 200) throw new EngineError(r.status, `(HTTP code ${r.status}) ${r.data.toString()}`);
});

const filterQuery = (filters: Record<string, string[]>) => `filters=${encodeURIComponent(JSON.stringify(filters))}`;

export interface EngineContainer { Names?: string[]; Labels?: Record<string, string>; State: string; ImageID: string }
export interface EngineVolume { Name: string; Labels?: Record<string, string> | null; CreatedAt?: string }
export interface EngineNetwork { Id: string; Name: string; Labels?: Record<string, string>; Created: string; IPAM?: { Config?: { Subnet?: string }[] } }

export const listContainers = (ep: EngineEndpoint, filters: Record<string, string[]>, timeoutMs?: number) =>
  json<EngineContainer[]>(ep, 'GET', `/containers/json?all=1&${filterQuery(filters)}`, undefined, timeoutMs);
export const listVolumes = (ep: EngineEndpoint, filters: Record<string, string[]>, timeoutMs?: number) =>
  json<{ Volumes?: EngineVolume[] | null }>(ep, 'GET', `/volumes?${filterQuery(filters)}`, undefined, timeoutMs).then((v) => v.Volumes ?? []);
export const listNetworks = (ep: EngineEndpoint, filters?: Record<string, string[]>, timeoutMs?: number) =>
  json<EngineNetwork[]>(ep, 'GET', `/networks${filters ? `?${filterQuery(filters)}` : ''}`, undefined, timeoutMs);

export interface EngineContainerInfo {
  Created: string; Config?: { Labels?: Record<string, string>; Env?: string[] }; State?: { Status?: string; Pid?: number };
  GraphDriver?: { Name?: string; Data?: Record<string, string> | null };
}
export const inspectContainer = (ep: EngineEndpoint, name: string) =>
  json<EngineContainerInfo>(ep, 'GET', `/containers/${encodeURIComponent(name)}/json`);

export interface EngineImageInfo {
  Id: string; Config?: { Labels?: Record<string, string> | null }; Size: number; Architecture?: string; Variant?: string; Created: string;
}
export const inspectImage = (ep: EngineEndpoint, ref: string) =>
  json<EngineImageInfo>(ep, 'GET', `/images/${encodeURIComponent(ref)}/json`);

export const version = (ep: EngineEndpoint) => json<{ Os?: string; Arch?: string }>(ep, 'GET', '/version');

/** One sample of a container's stats without streaming nor waiting for a second CPU sample. */
export interface EngineStats { pids_stats?: { current?: number; limit?: number } }
export const containerStats = (ep: EngineEndpoint, name: string, timeoutMs: number) =>
  json<EngineStats>(ep, 'GET', `/containers/${encodeURIComponent(name)}/stats?stream=false&one-shot=true`, undefined, timeoutMs);

export interface EngineExecSpec {
  Cmd: string[]; User: string; WorkingDir: string; Env: string[];
  AttachStdin: boolean; AttachStdout: true; AttachStderr: true;
}

/**
 * Runs an exec and collects its demultiplexed output. The start request is upgraded to a raw
 * stream (as the docker CLI does) so stdin can be written and half-closed.
 */
export async function runExec(
  ep: EngineEndpoint, container: string, spec: EngineExecSpec, stdin: string | Buffer | undefined, deadlineMs: number, maxOutput = 64 * 1024 * 1024,
):
  Promise<{ exitCode: number; stdout: Buffer; stderr: Buffer; cutOff: boolean; truncated?: boolean }> {
  const { Id } = await json<{ Id: string }>(ep, 'POST', `/containers/${encodeURIComponent(container)}/exec`, spec);
  // `head`: what came in the same read as the 101 answer is given beside the socket, never emitted on
  // it again (a short command's whole output, often: `uname -m` lost its answer under load).
  const { socket, head } = await new Promise<{ socket: Socket; head: Buffer }>((resolve, reject) => {
    const payload = Buffer.from(JSON.stringify({ Detach: false, Tty: false }));
    const req = open(ep, {
      method: 'POST', path: `${API}/exec/${Id}/start`,
      headers: { Host: 'docker', 'Content-Type': 'application/json', 'Content-Length': payload.length, Connection: 'Upgrade', Upgrade: 'tcp' },
    });
    req.on('upgrade', (_res, sock: Socket, first: Buffer) => resolve({ socket: sock, head: first ?? Buffer.alloc(0) }));
    req.on('response', (res) => {
      // An engine that answers without upgrading sends an error, or the stream as the body.
      if ((res.statusCode ?? 0) >= 300) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => reject(new EngineError(res.statusCode ?? 0, `(HTTP code ${res.statusCode}) ${Buffer.concat(chunks).toString()}`)));
      } else {
        resolve({ socket: res.socket as Socket, head: Buffer.alloc(0) });
      }
    });
    req.on('error', reject);
    req.end(payload);
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let kept = 0;
  let truncated = false;
  // Multiplexed stream: 8-byte header (stream 1 = stdout, 2 = stderr; big-endian length), then the payload.
  const onData = (chunk: Buffer) => {
    if (truncated) return;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const into = pending[0] === 2 ? err : out;
      const payload = pending.subarray(8, 8 + size);
      pending = pending.subarray(8 + size);
      // Bounded: past maxOutput the stream is closed (the command's own timeout ends it).
      if (kept + payload.length > maxOutput) {
        into.push(Buffer.from(payload.subarray(0, maxOutput - kept)));
        truncated = true;
        socket.destroy();
        return;
      }
      kept += payload.length;
      into.push(payload);
    }
  };
  if (head.length) onData(head);
  socket.on('data', onData);
  if (stdin !== undefined) socket.end(stdin); // half-close: the command sees EOF on stdin
  let cutOff = false;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => { cutOff = true; socket.destroy(); resolve(); }, deadlineMs);
    const done = () => { clearTimeout(timer); resolve(); };
    socket.on('end', done);
    socket.on('close', done);
    socket.on('error', done);
  });
  socket.destroy();
  const info = await json<{ ExitCode: number | null; Running: boolean }>(ep, 'GET', `/exec/${Id}/json`);
  return { exitCode: info.ExitCode ?? -1, stdout: Buffer.concat(out), stderr: Buffer.concat(err), cutOff: cutOff || truncated, truncated };
}

/** `ps` run by the engine on the host for one container's processes: what the student cannot replace. */
export async function top(ep: EngineEndpoint, container: string, psArgs: string, timeoutMs: number): Promise<{ Titles: string[]; Processes: string[][] }> {
  return json(ep, 'GET', `/containers/${encodeURIComponent(container)}/top?ps_args=${encodeURIComponent(psArgs)}`, undefined, timeoutMs);
}

/**
 * GET /containers/{id}/archive: a tar of `path` read by the engine from the container's filesystem
 * (never its binaries). Chunks go to `onData` as they arrive; it returns false to stop reading
 * (the connection is closed, so the engine stops sending). Resolves with the HTTP status; a
 * non-2xx answer's body is not passed on.
 */
export function archive(ep: EngineEndpoint, container: string, path: string, onData: (chunk: Buffer) => boolean, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (status: number) => { if (!settled) { settled = true; resolve(status); } };
    const req = open(ep, {
      method: 'GET', path: `${API}/containers/${encodeURIComponent(container)}/archive?path=${encodeURIComponent(path)}`, timeout: timeoutMs,
      headers: { Host: 'docker' },
    }, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        res.resume();
        res.on('end', () => finish(status));
        return;
      }
      res.on('data', (c: Buffer) => {
        if (settled) return;
        if (!onData(c)) {
          finish(status);
          req.destroy();
        }
      });
      res.on('end', () => finish(status));
      res.on('error', (err) => (settled ? undefined : reject(err)));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms: docker archive ${path}`)));
    req.on('error', (err) => { if (!settled) { settled = true; reject(err); } });
    req.end();
  });
}
