/**
 * Where a new env's servers go: pure, from what Swarm knows about each node (role, availability,
 * state, labels) and what lab counts on it (servers). Envs stay off managers; a drained or paused
 * node gets nothing new; a node labelled `pglab.envs=false` is skipped and `pglab.max-servers=N`
 * caps it. The least loaded eligible node wins (ties by name), so a class spreads evenly.
 */
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';

/** A node as `GET /nodes` on a manager describes it. */
export interface SwarmNode {
  name: string;
  role: 'manager' | 'worker';
  /** active, pause or drain. */
  availability: string;
  /** ready, down, unknown, disconnected. */
  state: string;
  labels: Record<string, string>;
}

/** Why a node cannot take new servers, or undefined when it can (as text a person reads). */
export function ineligible(node: SwarmNode | undefined, registered: boolean, load: number, adding = 1): string | undefined {
  if (!node) return t('swarm.reason.unknown');
  if (!registered) return t('swarm.reason.unregistered');
  if (node.role === 'manager') return t('swarm.reason.manager');
  if (node.availability !== 'active') return t('swarm.reason.drain', { availability: node.availability });
  if (node.state !== 'ready') return t('swarm.reason.down');
  if (node.labels['pglab.envs'] === 'false') return t('swarm.reason.excluded');
  const max = Number(node.labels['pglab.max-servers']);
  if (Number.isInteger(max) && max > 0 && load + adding > max) return t('swarm.reason.full', { count: load, max });
  return undefined;
}

/**
 * role → node for a new env. `wanted` (from `--node a,b`): the i-th role on the i-th name (the last
 * name for the rest). Else the whole env on the least loaded node, or with `spread` each server on
 * a different one (as far as there are nodes). `load` is servers per node, updated with this env's.
 */
export function placeServers(
  roles: string[], nodes: SwarmNode[], registered: Set<string>, load: Map<string, number>, opts: { wanted?: string[]; spread?: boolean } = {},
): Record<string, string> {
  const placed: Record<string, string> = {};
  const add = (role: string, node: string) => {
    placed[role] = node;
    load.set(node, (load.get(node) ?? 0) + 1);
  };
  if (opts.wanted?.length) {
    roles.forEach((role, i) => {
      const name = opts.wanted![Math.min(i, opts.wanted!.length - 1)];
      const why = ineligible(nodes.find((n) => n.name === name), registered.has(name), load.get(name) ?? 0);
      if (why) throw new LabError('swarm.nodeNotEligible', { node: name, reason: why }, 2);
      add(role, name);
    });
    return placed;
  }
  const pick = (adding: number, avoid: Set<string>): string | undefined => {
    const ok = nodes.filter((n) => !ineligible(n, registered.has(n.name), load.get(n.name) ?? 0, adding));
    if (!ok.length) return undefined;
    const fresh = ok.filter((n) => !avoid.has(n.name));
    const pool = fresh.length ? fresh : ok;
    return pool.sort((a, b) => (load.get(a.name) ?? 0) - (load.get(b.name) ?? 0) || a.name.localeCompare(b.name))[0].name;
  };
  if (!opts.spread) {
    const node = pick(roles.length, new Set());
    if (!node) throw new LabError('swarm.noEligible', {}, 1);
    for (const role of roles) add(role, node);
    return placed;
  }
  const used = new Set<string>();
  for (const role of roles) {
    const node = pick(1, used);
    if (!node) throw new LabError('swarm.noEligible', {}, 1);
    used.add(node);
    add(role, node);
  }
  return placed;
}
