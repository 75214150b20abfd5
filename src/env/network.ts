/**
 * An env's private network and its subnet: a fixed /24 from 10.213.x.0/24, chosen free on this host
 * (stopped envs keep theirs reserved through their volumes' labels), settled to one network when two
 * concurrent `lab up` made two.
 */
import {
  allNetworks, createNetwork as createDockerNetwork, isNameTaken, isSubnetTaken, listVolumes, networksNamed, removeNetwork, type Labels,
} from '../docker/objects.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { ProgressLine } from '../progress-line.js';
import { SUBNET_LABEL, candidateSubnets, networkName } from './naming.js';
import { networkSpec } from './spec.js';
import { listEverywhere } from '../swarm/cluster.js';
import { swarmMode } from '../swarm/nodes.js';

export interface EnvNetwork { id: string; subnet: string }

/**
 * On a Swarm, an overlapping overlay is accepted by the API and fails later in the manager's allocator
 * ("Pool overlaps with other one"), leaving containers that never attach: envs of one `class up`
 * choose their subnets one at a time, and a network that shares its subnet with an older one is dropped.
 */
let overlayTurn: Promise<unknown> = Promise.resolve();

/** A new env's network, on the preferred subnet when free, else the first free one. */
export async function createNetwork(env: string, labelsFor: (subnet: string) => Labels, progress: ProgressLine, preferred?: string): Promise<EnvNetwork> {
  if (!swarmMode()) return createNetworkNow(env, labelsFor, progress, preferred);
  const run = overlayTurn.then(() => createNetworkNow(env, labelsFor, progress, preferred));
  overlayTurn = run.catch(() => undefined);
  return run;
}

async function createNetworkNow(env: string, labelsFor: (subnet: string) => Labels, progress: ProgressLine, preferred?: string): Promise<EnvNetwork> {
  const found = await settleNetwork(env); // a concurrent `lab up` may have made it since findEnv
  if (found) return found;
  const used = await usedSubnets();
  for (const subnet of [...(preferred ? [preferred] : []), ...candidateSubnets()]) {
    if (used.has(subnet)) continue;
    try {
      await createDockerNetwork(networkSpec(env, labelsFor(subnet), swarmMode()));
      const mine = (await settleNetwork(env))!;
      if (swarmMode() && (await overlapsOlder(mine.id, subnet))) {
        await removeNetwork(mine.id);
        continue;
      }
      progress(t('up.network', { network: networkName(env), subnet }));
      return mine;
    } catch (err) {
      if (!isNameTaken(err) && !isSubnetTaken(err)) throw err;
      // A concurrent `lab up` of this env made it first: use that one (and its subnet).
      const theirs = await settleNetwork(env);
      if (theirs) return theirs;
      // Another host interface or a racing `class up` took this subnet: try the next one.
    }
  }
  throw new LabError('env.noSubnet');
}

/** The network of an env that exists (stopped, or with a container gone), on its own subnet. */
export async function ensureNetwork(env: string, labels: Labels): Promise<EnvNetwork> {
  const subnet = labels[SUBNET_LABEL];
  const found = await settleNetwork(env);
  if (found) return found;
  try {
    await createDockerNetwork(networkSpec(env, labels, swarmMode()));
  } catch (err) {
    if (!isNameTaken(err) && !isSubnetTaken(err)) throw err;
    // Taken by a concurrent `lab up` of this same env is fine; by anything else, the student must know.
    const theirs = await settleNetwork(env);
    if (theirs) return theirs;
    throw new LabError('env.subnetInUse', { subnet, env });
  }
  return (await settleNetwork(env))!;
}

/**
 * The env's network, if any. Docker 20.10 does not refuse a second network with the same name
 * when two `lab up` create it at the same moment, so every run settles on the oldest one (the
 * same answer for both) and removes the others before creating any container.
 */
async function settleNetwork(env: string): Promise<EnvNetwork | undefined> {
  const nets = await networksNamed(networkName(env));
  if (!nets.length) return undefined;
  const [oldest, ...others] = nets.sort((a, b) => createdKey(a.created).localeCompare(createdKey(b.created)) || a.id.localeCompare(b.id));
  await Promise.all(others.map((n) => removeNetwork(n.id)));
  const subnet = oldest.labels[SUBNET_LABEL] ?? oldest.subnets[0];
  if (!subnet) throw new LabError('env.corrupt', { env });
  return { id: oldest.id, subnet };
}

/** Docker's RFC 3339 times drop trailing zeros of the nanoseconds: pad them so strings sort as times. */
export function createdKey(created: string | undefined): string {
  return (created ?? '').replace(/\.(\d{1,9})/, (_, f: string) => `.${f.padEnd(9, '0')}`).replace(/(\d{2}:\d{2}:\d{2})(?=[Z+-])/, '$1.000000000');
}

/** Removes every network of the env's name (a concurrent `lab up` may have left two). */
export async function removeNetworks(env: string): Promise<void> {
  const nets = await networksNamed(networkName(env));
  await Promise.all(nets.map((n) => removeNetwork(n.id)));
}

async function usedSubnets(): Promise<Set<string>> {
  const used = new Set<string>();
  // On a Swarm, stopped envs' volumes are on the nodes (the manager lists every overlay network).
  const [nets, vols] = await Promise.all([allNetworks(), swarmMode() ? listEverywhere([SUBNET_LABEL]).then((l) => l.volumes) : listVolumes([SUBNET_LABEL])]);
  for (const n of nets) for (const s of n.subnets) used.add(s);
  // Subnets reserved by stopped envs (their volumes remember them).
  for (const v of vols) if (v.labels[SUBNET_LABEL]) used.add(v.labels[SUBNET_LABEL]);
  return used;
}

/** Another network, made before this one, has the same subnet (a concurrent `lab up` elsewhere). */
async function overlapsOlder(id: string, subnet: string): Promise<boolean> {
  const nets = await allNetworks();
  const mine = nets.find((n) => n.id === id);
  return nets.some((n) => n.id !== id && n.subnets.includes(subnet) && createdKey(n.created) <= createdKey(mine?.created));
}
