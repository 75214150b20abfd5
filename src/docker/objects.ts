/**
 * The Docker objects of environments: networks, volumes, containers and the lock container. Every
 * Docker call src/env/ needs is here; src/env/ decides what to create (spec.ts), when and why, and
 * never imports dockerode. Docker's answers for "already so" are taken as success where an env
 * command is meant to be safe to repeat (304 already started, 404 already gone, 409 exists/busy).
 */
import type Docker from 'dockerode';
import { dockerClient, ensureDocker, nodeClient, withTimeout } from './client.js';
import * as engine from './engine.js';
import type { NodeEngine } from './route.js';

export type Labels = Record<string, string>;
/** What `createContainer` / `createNetwork` take (built by src/env/spec.ts). */
export type ContainerSpec = Docker.ContainerCreateOptions;
export type NetworkSpec = Docker.NetworkCreateOptions;
/** Resource settings a stopped container can be given again (`docker update`). */
export type ContainerUpdate = Pick<NonNullable<ContainerSpec['HostConfig']>, 'RestartPolicy' | 'PidsLimit' | 'NanoCpus'>;

export interface ContainerFacts {
  name: string;
  labels: Labels;
  /** running, exited, created, paused, restarting… */
  state: string;
  imageId: string;
  /** The Swarm node it was listed on (src/swarm/); undefined on one engine. */
  node?: string;
}

export interface VolumeFacts {
  name: string;
  labels: Labels;
  createdAt: string;
  /** The Swarm node it was listed on (src/swarm/); undefined on one engine. */
  node?: string;
}

export interface NetworkFacts {
  id: string;
  name: string;
  labels: Labels;
  created: string;
  subnets: string[];
}

/** Fails with a clear LabError when Docker is missing, stopped or forbidden. */
export async function requireDocker(): Promise<void> {
  await ensureDocker();
}

/** A catch handler that swallows the given Docker HTTP answers and rethrows anything else. */
export function ignoreStatus(...codes: number[]) {
  return (err: unknown): void => {
    if (codes.includes(statusOf(err))) return;
    throw err;
  };
}

const statusOf = (err: unknown) => (err as { statusCode?: number })?.statusCode ?? 0;
const errorText = (err: unknown) => String((err as Error)?.message ?? err);
/** Docker refused a second object of that name. */
export const isNameTaken = (err: unknown) => statusOf(err) === 409 && /already exists/i.test(errorText(err));
/** Docker refused a network whose subnet another network or host interface has. */
export const isSubnetTaken = (err: unknown) => /overlap|in use/i.test(errorText(err));

// ── Listing ────────────────────────────────────────────────────────────────────────────────

/**
 * Containers, volumes and networks carrying one of these labels (`key` or `key=value`), on the
 * default engine or on one Swarm node's (then bounded by `timeoutMs`: a node that does not answer is down).
 */
export async function listLabelled(
  label: string[], node?: NodeEngine, timeoutMs?: number,
): Promise<{ containers: ContainerFacts[]; volumes: VolumeFacts[]; networks: NetworkFacts[] }> {
  const filters = { label };
  const ep = node ? node.endpoint : engine.engineEndpoint(); // every command lists its env: no dockerode start-up for that
  const docker = ep ? undefined : node ? nodeClient(node) : dockerClient();
  const bounded = <T>(p: Promise<T>) => (timeoutMs ? withTimeout(p, timeoutMs, 'docker list') : p);
  const [containers, volumes, networks] = await Promise.all([
    bounded(ep ? engine.listContainers(ep, filters, timeoutMs) : docker!.listContainers({ all: true, filters })),
    bounded(ep ? engine.listVolumes(ep, filters, timeoutMs) : docker!.listVolumes({ filters }).then((v) => v.Volumes ?? [])),
    bounded(ep ? engine.listNetworks(ep, filters, timeoutMs) : docker!.listNetworks({ filters })),
  ]);
  return {
    containers: containers.map((c) => ({ name: (c.Names?.[0] ?? '').replace(/^\//, ''), labels: c.Labels ?? {}, state: c.State, imageId: c.ImageID })),
    volumes: volumes.map(volumeFacts),
    networks: networks.map(networkFacts),
  };
}

/** Volumes carrying one of these labels. */
export async function listVolumes(label: string[]): Promise<VolumeFacts[]> {
  return ((await dockerClient().listVolumes({ filters: { label } })).Volumes ?? []).map(volumeFacts);
}

/** Networks named exactly `name` (Docker's name filter also matches longer names). */
export async function networksNamed(name: string): Promise<NetworkFacts[]> {
  return (await dockerClient().listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name).map(networkFacts);
}

/** Every network on this engine. */
export async function allNetworks(): Promise<NetworkFacts[]> {
  return (await dockerClient().listNetworks()).map(networkFacts);
}

function volumeFacts(v: Pick<Docker.VolumeInspectInfo, 'Name'> & { Labels?: Record<string, string> | null }): VolumeFacts {
  return { name: v.Name, labels: v.Labels ?? {}, createdAt: String((v as { CreatedAt?: string }).CreatedAt ?? '') };
}

function networkFacts(n: engine.EngineNetwork): NetworkFacts {
  return {
    id: n.Id, name: n.Name, labels: n.Labels ?? {}, created: n.Created,
    subnets: (n.IPAM?.Config ?? []).map((c) => c.Subnet).filter((s): s is string => !!s),
  };
}

// ── Networks and volumes ───────────────────────────────────────────────────────────────────

export async function createNetwork(spec: NetworkSpec): Promise<void> {
  await dockerClient().createNetwork(spec);
}

/** Removes a network; quiet when it is gone or still in use (the next `lab down` retries). */
export async function removeNetwork(id: string): Promise<void> {
  await dockerClient().getNetwork(id).remove().catch(() => {});
}

/** Creates a volume; Docker answers an existing one of that name with itself (idempotent). */
export async function createVolume(name: string, labels: Labels): Promise<void> {
  await dockerClient(name).createVolume({ Name: name, Labels: labels });
}

/** Removes a volume; 404 (removed meanwhile by a concurrent or interrupted `down --purge`) is fine. */
export async function removeVolume(name: string): Promise<void> {
  await dockerClient(name).getVolume(name).remove().catch(ignoreStatus(404));
}

// ── Images ─────────────────────────────────────────────────────────────────────────────────

/** An image's labels; undefined when the image is not in this engine. */
export async function imageLabels(image: string): Promise<Labels | undefined> {
  try {
    return (await dockerClient().getImage(image).inspect()).Config?.Labels ?? {};
  } catch {
    return undefined;
  }
}

// ── Containers ─────────────────────────────────────────────────────────────────────────────

/** Creates a container; false when one of that name exists already (409). */
export async function createContainer(spec: ContainerSpec): Promise<boolean> {
  try {
    await dockerClient(spec.name).createContainer(spec);
    return true;
  } catch (err) {
    if (statusOf(err) === 409) return false;
    throw err;
  }
}

/** Starts a container; "already started" (304, a concurrent `lab up`) is fine. */
export async function startContainer(name: string): Promise<void> {
  await dockerClient(name).getContainer(name).start().catch(ignoreStatus(304));
}

/** Resumes a paused container; already running (304) or changing state (409) is fine. */
export async function unpauseContainer(name: string): Promise<void> {
  await dockerClient(name).getContainer(name).unpause().catch(ignoreStatus(304, 409));
}

/** Gives a stopped container new resource settings; false when the engine refuses (not fatal for callers). */
export async function updateContainer(name: string, update: ContainerUpdate): Promise<boolean> {
  return dockerClient(name).getContainer(name).update(update).then(() => true, () => false);
}

/** Stops a container, giving it `graceS` seconds before SIGKILL; quiet when it is stopped or gone. */
export async function stopContainer(name: string, graceS: number): Promise<void> {
  await dockerClient(name).getContainer(name).stop({ t: graceS }).catch(() => {});
}

/** Removes a container (stopping it); gone already (404) or being removed by a concurrent run (409) is fine. */
export async function removeContainer(name: string): Promise<void> {
  await dockerClient(name).getContainer(name).remove({ force: true }).catch(ignoreStatus(404, 409));
}

/**
 * When a container was created, its labels, state, environment (`KEY=value`), first process (its
 * pid on the host) and, with the overlay2 driver, the upper layer of its root filesystem (what the
 * inspector's file reader checks a process's root against).
 */
export interface ContainerInspect { created: string; labels: Labels; state: string; env: string[]; pid: number; upperDir?: string }

function upperDirOf(driver: { Name?: string; Data?: unknown } | undefined): string | undefined {
  const data = driver?.Name === 'overlay2' ? driver.Data as Record<string, unknown> | null | undefined : undefined;
  return typeof data?.UpperDir === 'string' && data.UpperDir ? data.UpperDir : undefined;
}

/** A container's facts (see ContainerInspect); undefined when it does not exist. */
export async function inspectContainer(name: string): Promise<ContainerInspect | undefined> {
  const ep = engine.engineEndpoint(name);
  const info = await (ep ? engine.inspectContainer(ep, name) : dockerClient(name).getContainer(name).inspect()).catch(() => undefined);
  if (!info) return undefined;
  return {
    created: info.Created, labels: info.Config?.Labels ?? {}, state: info.State?.Status ?? '', env: info.Config?.Env ?? [],
    pid: info.State?.Pid ?? 0,
    upperDir: upperDirOf(info.GraphDriver),
  };
}

/**
 * Processes in a running container and its pids limit, as the host's cgroup counts them (a fork
 * bomb inside cannot hide it, and nothing has to fork in there to ask). undefined when unknown.
 */
export async function containerPids(name: string, timeoutMs = 5000): Promise<{ current: number; limit: number } | undefined> {
  const ep = engine.engineEndpoint(name);
  const stats = await (ep
    ? engine.containerStats(ep, name, timeoutMs)
    : withTimeout(dockerClient(name).getContainer(name).stats({ stream: false, 'one-shot': true } as { stream: false }) as Promise<engine.EngineStats>, timeoutMs, 'stats')
  ).catch(() => undefined);
  const { current, limit } = stats?.pids_stats ?? {};
  return typeof current === 'number' && typeof limit === 'number' && limit > 0 ? { current, limit } : undefined;
}

// ── Swarm: a container's endpoint on an overlay network ────────────────────────────────────

/** The address and aliases a container was given on `network` (by id or name); undefined when it has no endpoint there. */
export async function containerEndpoint(
  name: string, network: string,
): Promise<{ attached: boolean; ip?: string; exitCode?: number; error?: string } | undefined> {
  const info = await withTimeout(dockerClient(name).getContainer(name).inspect(), 15_000, 'inspect').catch(() => undefined);
  if (!info) return undefined;
  const nets = info.NetworkSettings?.Networks ?? {};
  const ep = Object.entries(nets).find(([k, v]) => k === network || v.NetworkID === network)?.[1];
  return {
    attached: Boolean(ep), ip: ep?.IPAMConfig?.IPv4Address || ep?.IPAddress || undefined, exitCode: info.State?.ExitCode, error: info.State?.Error || undefined,
  };
}

/**
 * Detaches a container from a network whatever state the engine thinks the endpoint is in (`docker
 * network disconnect -f`), then attaches it again with its fixed address and aliases.
 */
export async function reattachContainer(name: string, network: string, ip: string, aliases: string[], timeoutMs: number): Promise<void> {
  const client = dockerClient(name);
  await withTimeout(client.getNetwork(network).disconnect({ Container: name, Force: true }), timeoutMs, 'network disconnect').catch(() => {});
  await withTimeout(client.getNetwork(network).connect({ Container: name, EndpointConfig: { IPAMConfig: { IPv4Address: ip }, Aliases: aliases } }), timeoutMs, 'network connect');
}

/** Whether an image is on the engine of the node `object` lives on (route.ts). */
export async function imageOnEngineOf(object: string, image: string, timeoutMs: number): Promise<boolean> {
  return withTimeout(dockerClient(object).getImage(image).inspect(), timeoutMs, 'image inspect').then(() => true, () => false);
}
