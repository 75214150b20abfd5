/**
 * Container registries: where prebuilt lab images (and Debian's base images) come from when one
 * answers. Before Docker is asked to pull or push, `lab` asks the registry itself (GET /v2/, at most
 * TIMEOUTS.registryProbeMs): an unreachable registry or one that wants a login is said at once, instead of
 * the engine retrying for minutes.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dockerClient } from '../docker/client.js';
import { LabError } from '../errors.js';
import { TIMEOUTS } from '../timeouts.js';

/** The bound: an unreachable registry is given up within 10 s (TIMEOUTS.registryProbeMs). */
export const registryProbeMs = () => TIMEOUTS.registryProbeMs;
/** A pull or push that reports nothing for this long has stalled (TIMEOUTS.transferStallMs). */
const transferStallMs = () => TIMEOUTS.transferStallMs;

/** Docker Hub, where Debian's official images live when no mirror is configured. */
export const DOCKER_HUB = 'docker.io';

export interface RegistryAuth { username: string; password: string; serveraddress: string }

/**
 * `host[:port][/path]` as the user wrote it (a trailing slash, a scheme or upper case are forgiven);
 * throws for anything that cannot be an image reference prefix.
 */
export function normalizeRegistry(raw: string): string {
  const value = raw.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
  const [host, ...rest] = value.split('/');
  const hostOk = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/.test(host ?? '') || /^\[[0-9a-fA-F:]+\](:[0-9]{1,5})?$/.test(host ?? '');
  const pathOk = rest.every((p) => /^[a-z0-9]+([._-][a-z0-9]+)*$/.test(p));
  if (!value || !hostOk || !pathOk) throw new LabError('registry.badName', { registry: raw });
  return [host!.toLowerCase(), ...rest].join('/');
}

/** The host part (`127.0.0.1:5000` of `127.0.0.1:5000/curso`), which is what Docker keys logins by. */
export function registryHost(registry: string): string {
  return registry.split('/')[0]!;
}

function apiHost(host: string): string {
  return host === DOCKER_HUB ? 'registry-1.docker.io' : host;
}

export interface ProbeResult {
  /** https or http: what answered. */
  scheme: 'https' | 'http';
  /** Credentials from the user's Docker login, when the registry asked for them. */
  auth?: RegistryAuth;
}

/**
 * Asks the registry's API root. Any HTTP answer means it is reachable; 401 means it wants a login,
 * which must then be found in the user's Docker configuration (`docker login`). Docker Hub always
 * answers 401 (anonymous tokens), so it is only asked whether it answers.
 */
export async function probeRegistry(registry: string, timeoutMs = registryProbeMs()): Promise<ProbeResult> {
  const host = registryHost(registry);
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  // Docker Hub speaks https only.
  for (const scheme of host === DOCKER_HUB ? (['https'] as const) : (['https', 'http'] as const)) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    try {
      const res = await fetch(`${scheme}://${apiHost(host)}/v2/`, { signal: AbortSignal.timeout(left), redirect: 'manual' });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 401 && host !== DOCKER_HUB) {
        const auth = dockerLogin(host);
        if (!auth) throw new LabError('registry.needsLogin', { registry: host });
        return { scheme, auth };
      }
      return { scheme };
    } catch (err) {
      if (err instanceof LabError) throw err;
      lastError = describeFetchError(err);
      // A certificate Node does not trust may still be trusted by the engine (certs.d): let Docker decide.
      // Not for Docker Hub: there a certificate nobody knows means a proxy in the way.
      if (host !== DOCKER_HUB && /certificate|CERT_|SELF_SIGNED/i.test(lastError)) return { scheme };
      if ((err as Error)?.name === 'TimeoutError') break;
    }
  }
  throw new LabError('registry.unreachable', { registry: host, seconds: Math.round(timeoutMs / 1000), detail: lastError || 'timeout' });
}

function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(err);
}

/**
 * The credentials `docker login HOST` left for this user: a plain `auths` entry, or the credential
 * helper Docker Desktop configures (`credsStore`/`credHelpers`, e.g. docker-credential-desktop).
 */
export function dockerLogin(host: string): RegistryAuth | undefined {
  const dir = process.env.DOCKER_CONFIG || path.join(os.homedir(), '.docker');
  let config: { auths?: Record<string, { auth?: string }>; credsStore?: string; credHelpers?: Record<string, string> };
  try {
    config = JSON.parse(readFileSync(path.join(dir, 'config.json'), 'utf8'));
  } catch {
    return undefined;
  }
  const keys = [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`];
  for (const key of keys) {
    const encoded = config.auths?.[key]?.auth;
    if (encoded) {
      const [username, ...rest] = Buffer.from(encoded, 'base64').toString('utf8').split(':');
      return { username: username ?? '', password: rest.join(':'), serveraddress: host };
    }
  }
  const helper = config.credHelpers?.[host] ?? config.credsStore;
  if (!helper || !/^[A-Za-z0-9_.-]+$/.test(helper)) return undefined;
  const r = spawnSync(`docker-credential-${helper}`, ['get'], { input: host, timeout: TIMEOUTS.credentialHelperMs, encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  try {
    const c = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    return c.Username && c.Secret ? { username: c.Username, password: c.Secret, serveraddress: host } : undefined;
  } catch {
    return undefined;
  }
}

/** Why the engine refused, in the few classes `lab` can say something useful about. */
export type TransferFailure = 'not-found' | 'login' | 'platform' | 'unreachable' | 'tls' | 'other';

export function classifyTransferError(message: string): TransferFailure {
  if (/no matching manifest|does not match the specified platform/i.test(message)) return 'platform';
  if (/x509|certificate/i.test(message)) return 'tls';
  if (/manifest unknown|not found|does not exist|no such image/i.test(message)) return 'not-found';
  if (/unauthorized|authentication required|denied|no basic auth/i.test(message)) return 'login';
  if (/connection refused|no such host|i\/o timeout|dial tcp|server gave HTTP response|TLS handshake|EOF/i.test(message)) return 'unreachable';
  return 'other';
}

export class TransferError extends Error {
  constructor(readonly kind: TransferFailure, message: string) {
    super(message);
    this.name = 'TransferError';
  }
}

/**
 * Follows a pull/push progress stream to its end: rejects with a TransferError on an error event or
 * when nothing arrives for TIMEOUTS.transferStallMs; calls `onEvent` for each progress event.
 */
export function followTransfer(stream: NodeJS.ReadableStream, onEvent: (e: TransferEvent) => void = () => {}): Promise<TransferEvent[]> {
  const client = dockerClient();
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        (stream as unknown as { destroy?: () => void }).destroy?.();
        reject(new TransferError('unreachable', `no progress for ${transferStallMs() / 1000} s`));
      }, transferStallMs());
    };
    arm();
    client.modem.followProgress(
      stream,
      (err: Error | null, output: TransferEvent[]) => {
        clearTimeout(timer);
        const failure = err?.message ?? output?.find((o) => o.error)?.error;
        if (failure) reject(new TransferError(classifyTransferError(failure), failure));
        else resolve(output ?? []);
      },
      (event: TransferEvent) => {
        arm();
        onEvent(event);
      },
    );
  });
}

export interface TransferEvent {
  status?: string;
  id?: string;
  error?: string;
  progressDetail?: { current?: number; total?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

/** Pulls `ref` (`host/name:tag`); the reference must already be probed. */
export async function pullRef(ref: string, opts: { auth?: RegistryAuth; platform?: string; onEvent?: (e: TransferEvent) => void } = {}): Promise<void> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await dockerClient().pull(ref, {
      ...(opts.platform ? { platform: opts.platform } : {}),
      ...(opts.auth ? { authconfig: opts.auth } : {}),
    });
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    throw new TransferError(classifyTransferError(message), message);
  }
  await followTransfer(stream, opts.onEvent);
}

/** Pushes a local `repo:tag` that is already named for the registry. */
export async function pushRef(ref: string, opts: { auth?: RegistryAuth; onEvent?: (e: TransferEvent) => void } = {}): Promise<void> {
  const { repo, tag } = splitRef(ref);
  let stream: NodeJS.ReadableStream;
  try {
    stream = await dockerClient().getImage(repo).push({ tag, ...(opts.auth ? { authconfig: opts.auth } : {}) });
  } catch (err) {
    const message = String((err as Error)?.message ?? err);
    throw new TransferError(classifyTransferError(message), message);
  }
  await followTransfer(stream, opts.onEvent);
}

/** `host:5000/pglab/pg:15` → repo `host:5000/pglab/pg`, tag `15` (a port is not a tag). */
export function splitRef(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}
