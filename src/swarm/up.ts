/**
 * `lab up` of an env on a Swarm: where each server goes (kept where it was; new ones placed by
 * placement.ts), refused while a server's node is down (its data and addresses are reserved there),
 * refused before creating anything when a server's fixed address is already taken or its node
 * lacks the image; the placement is routed (route.ts) and recorded in labels.
 */
import { imageOnEngineOf } from '../docker/objects.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { ProgressLine } from '../progress-line.js';
import { TIMEOUTS } from '../timeouts.js';
import { LAB_LABEL, PRIMARY_ROLE, containerName, serverIp } from '../env/naming.js';
import { NODE_DOWN, NODE_LABEL, listEverywhere, placementLabel, routeEnv, serverLoad, swarmNodes } from './cluster.js';
import { registeredNodes } from './nodes.js';
import { placeServers } from './placement.js';

/** Servers this process placed and may not see listed yet (a `class up` places several envs at once). */
const reserved = new Map<string, Record<string, string>>();

export interface PlaceInput {
  env: string;
  roles: string[];
  /** The env as found (env/discovery.ts's LabEnv): its servers' state and node. */
  existing?: { servers: { role: string; state: string; node?: string }[] };
  /** `--node a,b`: maestro on a, esclavo on b… */
  wanted?: string[];
  /** Each server of a new env on a different node. */
  spread?: boolean;
  image: string;
  pg: string;
  subnet?: string;
}

/** role → node for every role of the env (routed from now on); throws before anything is created. */
export async function placeEnv(o: PlaceInput, progress: ProgressLine): Promise<Record<string, string>> {
  for (const s of o.existing?.servers ?? []) {
    if (s.state === NODE_DOWN) throw new LabError('swarm.nodeDownUp', { node: s.node ?? '?', role: s.role, env: o.env }, 1);
  }
  const placement: Record<string, string> = {};
  for (const s of o.existing?.servers ?? []) if (s.node) placement[s.role] = s.node;
  const missing = o.roles.filter((r) => !placement[r]);
  if (missing.length) {
    const [nodes, listing] = await Promise.all([swarmNodes(), listEverywhere([LAB_LABEL])]);
    // A server's fixed address on its overlay is taken when its container exists anywhere (a duplicate fails only after 20 s, vaguely).
    for (const role of missing) {
      const other = listing.containers.find((c) => c.name === containerName(o.env, role));
      if (other) {
        throw new LabError('swarm.ipConflict', { ip: o.subnet ? serverIp(o.subnet, role) : role, role, env: o.env, other: other.name, node: other.node ?? '?' }, 1);
      }
    }
    const load = serverLoad(listing);
    const listed = new Set(listing.containers.map((c) => c.name));
    for (const [env, roles] of reserved) {
      for (const [role, node] of Object.entries(roles)) if (!listed.has(containerName(env, role))) load.set(node, (load.get(node) ?? 0) + 1);
    }
    const registered = new Set(registeredNodes().map((n) => n.name));
    // A standby added to an existing env joins maestro's node unless told otherwise.
    const home = placement[PRIMARY_ROLE];
    const placed = home && !o.wanted?.length
      ? Object.fromEntries(missing.map((r) => [r, home]))
      : placeServers(missing, nodes, registered, load, { wanted: o.wanted, spread: o.spread });
    Object.assign(placement, placed);
    reserved.set(o.env, { ...(reserved.get(o.env) ?? {}), ...placed });
  }
  routeEnv(o.env, placement);
  // The image must be on every node a server is created on (checked once per node).
  const creating = o.roles.filter((r) => !o.existing?.servers.some((s) => s.role === r && s.state !== 'missing'));
  const byNode = new Map<string, string>();
  for (const r of creating) if (!byNode.has(placement[r])) byNode.set(placement[r], r);
  await Promise.all([...byNode].map(async ([node, role]) => {
    if (!(await imageOnEngineOf(containerName(o.env, role), o.image, TIMEOUTS.swarmMs))) throw new LabError('swarm.imageMissing', { node, image: o.image, pg: o.pg }, 1);
  }));
  for (const r of creating) progress(t('swarm.placed', { role: r, node: placement[r] }));
  return placement;
}

/** The network's record of where each server is (it outlives the containers). */
export function placementLabels(placement: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(placement).map(([role, node]) => [placementLabel(role), node]));
}

/** A server's own record of its node. */
export const nodeLabel = (node: string) => ({ [NODE_LABEL]: node });
