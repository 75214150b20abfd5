/**
 * Manifest lists through the registry's HTTP API (distribution spec v2): one tag that names the
 * amd64 and the arm64 image, so each engine pulls its own. The engine's API cannot write one
 * (that is `docker manifest`, a CLI feature), so `lab` reads the per-architecture manifests it has
 * just pushed and PUTs the list itself, with the same login the push used.
 */
import { createHash } from 'node:crypto';
import { DOCKER_HUB, registryHost, type ProbeResult, type RegistryAuth } from './registry.js';
import { TIMEOUTS } from '../timeouts.js';

export const MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json';
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export interface ListEntry {
  mediaType: string;
  digest: string;
  size: number;
  platform: { os: string; architecture: string };
}

/** `host/path` + `pglab/pg` → the repository name inside the registry (`path/pglab/pg`). */
function repoName(registry: string, repo: string): string {
  const prefix = registry.split('/').slice(1).join('/');
  return prefix ? `${prefix}/${repo}` : repo;
}

function baseUrl(registry: string, probe: ProbeResult): string {
  const host = registryHost(registry);
  return `${probe.scheme}://${host === DOCKER_HUB ? 'registry-1.docker.io' : host}`;
}

const basic = (a: RegistryAuth) => `Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`;

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function parseChallenge(header: string | null): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*(\w+)\s+(.*)$/.exec(header ?? '');
  if (!m) return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)="([^"]*)"/g)) params[p[1]!.toLowerCase()] = p[2]!;
  return { scheme: m[1]!.toLowerCase(), params };
}

/**
 * One API request; a 401 with a Bearer challenge gets a token from the realm (with the user's login,
 * if any) and is asked once more. Every request has a limit (TIMEOUTS.transferStallMs).
 */
async function registryFetch(
  registry: string, repo: string, probe: ProbeResult, init: { method: string; path: string; headers?: Record<string, string>; body?: string },
): Promise<Response> {
  const url = `${baseUrl(registry, probe)}/v2/${repoName(registry, repo)}${init.path}`;
  const send = (authorization?: string) => fetch(url, {
    method: init.method,
    headers: { ...init.headers, ...(authorization ? { Authorization: authorization } : {}) },
    body: init.body,
    redirect: 'follow',
    signal: AbortSignal.timeout(TIMEOUTS.transferStallMs),
  });
  let res = await send(probe.auth ? basic(probe.auth) : undefined);
  if (res.status !== 401) return res;
  const challenge = parseChallenge(res.headers.get('www-authenticate'));
  await res.arrayBuffer().catch(() => undefined);
  if (challenge?.scheme !== 'bearer' || !/^https?:\/\//.test(challenge.params.realm ?? '')) return res;
  const tokenUrl = new URL(challenge.params.realm!);
  if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service);
  tokenUrl.searchParams.set('scope', `repository:${repoName(registry, repo)}:pull,push`);
  const tokenRes = await fetch(tokenUrl, {
    headers: probe.auth ? { Authorization: basic(probe.auth) } : {},
    signal: AbortSignal.timeout(TIMEOUTS.transferStallMs),
  });
  if (!tokenRes.ok) return res;
  const body = (await tokenRes.json()) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) return res;
  res = await send(`Bearer ${token}`);
  return res;
}

/** The single-image manifest under `tag` (digest of its exact bytes, size, media type); undefined when there is none. */
export async function manifestOf(registry: string, repo: string, tag: string, probe: ProbeResult): Promise<Omit<ListEntry, 'platform'> | undefined> {
  const res = await registryFetch(registry, repo, probe, { method: 'GET', path: `/manifests/${tag}`, headers: { Accept: `${MANIFEST_V2}, ${OCI_MANIFEST}` } });
  if (res.status === 404) {
    await res.arrayBuffer().catch(() => undefined);
    return undefined;
  }
  const bytes = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`GET manifest ${tag}: HTTP ${res.status} ${bytes.toString('utf8').slice(0, 200)}`);
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0]!.trim();
  // A list under a per-architecture tag is not something `lab` wrote: leave it out.
  if (mediaType !== MANIFEST_V2 && mediaType !== OCI_MANIFEST) return undefined;
  return { mediaType, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}`, size: bytes.length };
}

/** The manifest list `lab` writes: the entries in a fixed order (amd64, arm64), so the same images give the same digest. */
export function manifestListBody(entries: ListEntry[]): string {
  const sorted = [...entries].sort((a, b) => a.platform.architecture.localeCompare(b.platform.architecture));
  return JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_LIST, manifests: sorted }, null, 3);
}

/** Writes (or replaces) `tag` as a manifest list of `entries`. */
export async function putManifestList(registry: string, repo: string, tag: string, entries: ListEntry[], probe: ProbeResult): Promise<string> {
  const body = manifestListBody(entries);
  const res = await registryFetch(registry, repo, probe, { method: 'PUT', path: `/manifests/${tag}`, headers: { 'Content-Type': MANIFEST_LIST }, body });
  const text = await res.text().catch(() => '');
  if (res.status !== 201 && res.status !== 200) throw new Error(`PUT manifest list ${tag}: HTTP ${res.status} ${text.slice(0, 200)}`);
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}
