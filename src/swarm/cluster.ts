/**
 * Envs on the nodes of a Docker Swarm: what the manager knows (nodes), what each node holds
 * (listed in parallel, a node that does not answer in TIMEOUTS.nodeListMs is down), where each
 * env's objects live (labels, registered in src/docker/route.ts so every later call goes to that
 * node), and the repair of a container whose overlay attachment a manager restart broke.
 *
 * An env's servers are standalone containers created through their node's engine on the env's
 * attachable, internal overlay network (its own /24, fixed addresses .10–.14 outside the
 * `--ip-range` Docker hands out): Swarm services cannot keep a fixed address.
 */
import { dockerClient, withTimeout } from '../docker/client.js';
import {
  containerEndpoint, listLabelled, reattachContainer, startContainer, type ContainerFacts, type NetworkFacts, type VolumeFacts,
} from '../docker/objects.js';
import { nodeEngine, routeObjects } from '../docker/route.js';
import { LabError } from '../errors.js';
import { TIMEOUTS } from '../timeouts.js';
import { observerGroups } from '../observer/observer.js';
import { ENV_LABEL, PRIMARY_ROLE, ROLE_LABEL, STANDBY_ROLE, containerName, volumeName, type MountName, PERSISTENT_MOUNTS } from '../env/naming.js';
import { registeredNodes } from './nodes.js';
import type { SwarmNode } from './placement.js';

/** A server whose Swarm node does not answer: never graded, never recreated elsewhere (its IPs stay reserved there). */
export const NODE_DOWN = 'node-down';

/** On every container and volume of an env on a Swarm: the node it was made on. */
export const NODE_LABEL = 'pglab.node';
/** On the env's overlay network: where each server was placed (`pglab.node.maestro=worker1`). */
export const placementLabel = (role: string) => `${NODE_LABEL}.${role}`;

interface NodeInfo {
  ID?: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string; Labels?: Record<string, string> };
  Status?: { State?: string };
}

/** The nodes as the manager (the default engine) sees them. */
export async function swarmNodes(): Promise<SwarmNode[]> {
  const list = await withTimeout(dockerClient().listNodes(), TIMEOUTS.swarmMs, 'docker node ls').catch((err: unknown) => {
    if ((err as { statusCode?: number }).statusCode === 503) throw new LabError('swarm.notManager', {}, 2);
    throw err;
  }) as NodeInfo[];
  return list.map((n) => ({
    name: n.Description?.Hostname ?? n.ID ?? '',
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    availability: n.Spec?.Availability ?? 'active',
    state: n.Status?.State ?? 'unknown',
    labels: (n.Spec?.Labels ?? {}) as Record<string, string>,
  }));
}

/** The default engine must be a Swarm manager (it makes the overlay networks). */
export async function requireManager(): Promise<void> {
  const info = await withTimeout(dockerClient().info(), TIMEOUTS.swarmMs, 'docker info') as { Swarm?: { ControlAvailable?: boolean } };
  if (!info.Swarm?.ControlAvailable) throw new LabError('swarm.notManager', {}, 2);
}

export interface SwarmListing {
  containers: ContainerFacts[];
  volumes: VolumeFacts[];
  /** Networks, from the manager (overlay networks are the swarm's). */
  networks: NetworkFacts[];
  /** Registered nodes that did not answer. */
  down: Set<string>;
}

/**
 * Objects with these labels on the manager and on every registered node, in parallel; each node's
 * containers and volumes are tagged with it and routed to it (route.ts).
 */
export async function listEverywhere(label: string[]): Promise<SwarmListing> {
  const nodes = registeredNodes();
  const down = new Set<string>();
  const [manager, ...perNode] = await Promise.all([
    listLabelled(label),
    ...nodes.map((n) => listLabelled(label, nodeEngine(n.name), TIMEOUTS.nodeListMs).catch(() => {
      down.add(n.name);
      return undefined;
    })),
  ]);
  const containers = new Map<string, ContainerFacts>();
  const volumes = new Map<string, VolumeFacts>();
  perNode.forEach((listed, i) => {
    if (!listed) return;
    const node = nodes[i].name;
    for (const c of listed.containers) containers.set(c.name, { ...c, node });
    for (const v of listed.volumes) volumes.set(v.name, { ...v, node });
    routeObjects(node, [...listed.containers.map((c) => c.name), ...listed.volumes.map((v) => v.name)]);
  });
  // The manager's own (the lock container; envs made there before it became a manager).
  for (const c of manager.containers) if (!containers.has(c.name)) containers.set(c.name, c);
  for (const v of manager.volumes) if (!volumes.has(v.name)) volumes.set(v.name, v);
  return { containers: [...containers.values()], volumes: [...volumes.values()], networks: manager.networks, down };
}

/** Every object name of one server (container, volumes, socket volume). */
export function serverObjects(env: string, role: string): string[] {
  return [containerName(env, role), ...(Object.keys(PERSISTENT_MOUNTS) as MountName[]).map((m) => volumeName(env, role, m)), `pglab-${env}-${role}-run`];
}

/** From now on every Docker call about this env's objects goes to their node; each observer (and its volume) beside its servers. */
export function routeEnv(env: string, placement: Record<string, string>): void {
  for (const [role, node] of Object.entries(placement)) routeObjects(node, serverObjects(env, role));
  for (const g of observerGroups(env, Object.entries(placement).map(([role, node]) => ({ role, node })))) if (g.node) routeObjects(g.node, [g.name]);
}

/** Servers per node (what lab counts for placement). */
export function serverLoad(listing: SwarmListing): Map<string, number> {
  const load = new Map<string, number>();
  for (const c of listing.containers) if (c.node && c.labels[ROLE_LABEL]) load.set(c.node, (load.get(c.node) ?? 0) + 1);
  return load;
}

/** The placement recorded on an env: containers' and volumes' nodes first, then the network's labels. */
export function recordedPlacement(env: string, listing: SwarmListing, network?: NetworkFacts): Record<string, string> {
  const placed: Record<string, string> = {};
  for (const [k, v] of Object.entries(network?.labels ?? {})) if (k.startsWith(`${NODE_LABEL}.`)) placed[k.slice(NODE_LABEL.length + 1)] = v;
  for (const v of listing.volumes) if (v.node && v.labels[ENV_LABEL] === env && v.labels[ROLE_LABEL]) placed[v.labels[ROLE_LABEL]] = v.node;
  for (const c of listing.containers) if (c.node && c.labels[ENV_LABEL] === env && c.labels[ROLE_LABEL]) placed[c.labels[ROLE_LABEL]] = c.node;
  return placed;
}

/** The aliases a server has on its network (spec.ts gives the same). */
export const serverAliases = (role: string) => (role === PRIMARY_ROLE ? [PRIMARY_ROLE, 'master'] : [role, role.replace(STANDBY_ROLE, 'slave')]);

/** The engine's answer when a container cannot join its overlay (a manager restart, moby/moby#32607). */
export const isAttachFailure = (err: unknown) =>
  /attach to network|context deadline exceeded|network [0-9a-z]+ not found|No such network/i.test(String((err as Error)?.message ?? err));

/**
 * Starts a server on a Swarm node. A manager restart can leave a container `Exited (128)` that no
 * start brings back ("Could not attach to network …: context deadline exceeded"), or attached
 * without its fixed address: then `network disconnect -f`, `network connect --ip … --alias …` and
 * `start` repair it. Returns true when it had to repair.
 */
export function startOnNode(o: { env: string; role: string; network: string; networkName: string; ip: string; node: string }): Promise<boolean> {
  return onNodeQueue(o.node, () => startOnNodeNow(o));
}

/**
 * One overlay attachment at a time per node and process: with a class coming up in parallel, two
 * starts attaching to two new overlays on one worker both failed after 40 s ("context deadline
 * exceeded"); one after the other each takes ~1 s.
 */
const nodeQueues = new Map<string, Promise<unknown>>();
function onNodeQueue<T>(node: string, fn: () => Promise<T>): Promise<T> {
  const run = (nodeQueues.get(node) ?? Promise.resolve()).then(fn, fn);
  nodeQueues.set(node, run.catch(() => undefined));
  return run;
}

async function startOnNodeNow(o: { env: string; role: string; network: string; networkName: string; ip: string; node: string }): Promise<boolean> {
  const name = containerName(o.env, o.role);
  const before = await containerEndpoint(name, o.network);
  const broken = before
    && (!before.attached || before.exitCode === 128 || (before.error && isAttachFailure(before.error)) || (before.ip !== undefined && before.ip !== o.ip));
  if (!broken) {
    try {
      await withTimeout(startContainer(name), TIMEOUTS.overlayAttachMs, 'docker start');
      return false;
    } catch (err) {
      if (!isAttachFailure(err)) throw err;
    }
  }
  try {
    await reattachContainer(name, o.network, o.ip, serverAliases(o.role), TIMEOUTS.overlayAttachMs);
    await withTimeout(startContainer(name), TIMEOUTS.overlayAttachMs, 'docker start');
  } catch (err) {
    throw new LabError('swarm.repairFailed', { role: o.role, env: o.env, node: o.node, network: o.networkName, container: name, ip: o.ip }, 1, { cause: err });
  }
  return true;
}
