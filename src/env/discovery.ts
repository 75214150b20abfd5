/**
 * Finding environments again: everything about an env is read back from its Docker objects'
 * labels (no local state file that could drift from what is really running).
 */
import { listLabelled, requireDocker } from '../docker/objects.js';
import { NODE_DOWN, listEverywhere, recordedPlacement, routeEnv } from '../swarm/cluster.js';
import { swarmMode } from '../swarm/nodes.js';
import { imagePlatform } from '../images/recipe.js';
import { LabError } from '../errors.js';
import { isPgMajor, type PgMajor } from '../pg/profile.js';
import {
  CLASS_LABEL, CONTINUED_LABEL, CREATED_LABEL, DEFAULT_LAB, ENV_LABEL, IMAGE_LABEL, LAB_LABEL, PG_LABEL, ROLE_LABEL, SUBNET_LABEL,
  STUDENT_EMAIL_LABEL, STUDENT_LABEL, STUDENT_NAME_LABEL, containerName, networkName, serverIp, serverRoles,
  PRIMARY_ROLE, STANDBY_ROLE,
} from './naming.js';


export interface ServerInfo {
  role: string;
  container: string;
  ip: string;
  /** Docker state: running, exited, … or 'missing' (removed by hand), or NODE_DOWN (its Swarm node does not answer). */
  state: string;
  /** The Swarm node it lives on (src/swarm/); undefined on one engine. */
  node?: string;
  /** Its image's architecture (amd64, arm64); undefined without a container. */
  arch?: string;
  /** That architecture is not the engine's: the server runs emulated (and lab's time limits are stretched). */
  emulated?: boolean;
}

export interface LabEnv {
  name: string;
  /** The lab the env works on now: the one it was made for, or the last one it continued into. */
  lab: string;
  pg: PgMajor;
  subnet: string;
  created: string;
  image: string;
  imageId?: string;
  /** Set for envs created by `lab class up`. */
  className?: string;
  /** The student the env was made for, when known (labels set at creation). */
  student?: StudentInfo;
  servers: ServerInfo[];
  /**
   * Only the network exists (an interrupted `lab up` / `class up`): no containers, no data.
   * `lab up` completes it, `lab down --purge` removes it; servers are listed as missing.
   */
  incomplete?: boolean;
  /**
   * Left half-done by an interrupted command (Ctrl+C, SIGKILL): its network exists while a server's
   * container is missing or was created and never started. The same command run again completes it.
   */
  leftover?: boolean;
}

export interface StudentInfo { legajo?: string; name?: string; email?: string }

export { NODE_DOWN } from '../swarm/cluster.js';

/** Reads an environment from Docker (on a Swarm, from every node); undefined when nothing of it exists. */
export async function findEnv(name: string): Promise<LabEnv | undefined> {
  await requireDocker();
  const swarm = swarmMode();
  const listed = swarm ? await listEverywhere([`${ENV_LABEL}=${name}`]) : await listLabelled([`${ENV_LABEL}=${name}`]);
  const { volumes: all, networks } = listed;
  // The env's observer (src/observer/) carries the env's labels but is not one of its servers.
  const containers = listed.containers.filter((c) => c.labels[ROLE_LABEL]);
  const vols = all.filter((v) => v.labels[ROLE_LABEL]);
  const continued = all.filter((v) => v.labels[CONTINUED_LABEL] === 'true').sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const network = networks.find((n) => n.name === networkName(name));
  if (!containers.length && !vols.length && !network) return undefined;
  const labels = containers[0]?.labels ?? vols[0]?.labels ?? network?.labels ?? {};
  const pg = labels[PG_LABEL];
  if (!pg || !isPgMajor(pg)) throw new LabError('env.corrupt', { env: name });
  const placement = swarm ? recordedPlacement(name, listed as Awaited<ReturnType<typeof listEverywhere>>, network) : {};
  const down = swarm ? (listed as Awaited<ReturnType<typeof listEverywhere>>).down : new Set<string>();
  if (swarm) routeEnv(name, placement);
  const onDownNode = Object.values(placement).some((n) => down.has(n));
  const incomplete = !containers.length && !vols.length && !onDownNode;
  const roles = new Set<string>(incomplete ? serverRoles(1) : []);
  for (const role of Object.keys(placement)) if (down.has(placement[role])) roles.add(role);
  for (const c of containers) roles.add(c.labels[ROLE_LABEL]);
  for (const v of vols) if (v.labels[ROLE_LABEL]) roles.add(v.labels[ROLE_LABEL]);
  const subnet = labels[SUBNET_LABEL];
  // One image inspect per image and process; an emulated one stretches every time limit from here on.
  const imageIds = [...new Set(containers.map((c) => c.imageId).filter(Boolean))];
  const platforms = new Map(await Promise.all(imageIds.map(async (id) => [id, await imagePlatform(id)] as const)));
  const servers = [...roles].sort(roleOrder).map((role) => {
    const c = containers.find((x) => x.labels[ROLE_LABEL] === role);
    const p = c ? platforms.get(c.imageId) : undefined;
    const node = placement[role];
    return {
      role, container: containerName(name, role), ip: serverIp(subnet, role), state: c?.state ?? (node && down.has(node) ? NODE_DOWN : 'missing'),
      ...(node ? { node } : {}),
      ...(p?.arch ? { arch: p.arch, emulated: p.emulated } : {}),
    };
  });
  return {
    name,
    lab: continued.at(-1)?.labels[LAB_LABEL] ?? labels[LAB_LABEL] ?? DEFAULT_LAB,
    pg,
    subnet,
    created: labels[CREATED_LABEL] ?? '',
    image: labels[IMAGE_LABEL] ?? '',
    imageId: containers[0]?.imageId,
    className: labels[CLASS_LABEL],
    ...(labels[STUDENT_LABEL] || labels[STUDENT_NAME_LABEL] || labels[STUDENT_EMAIL_LABEL]
      ? {
        student: { legajo: labels[STUDENT_LABEL] || undefined, name: labels[STUDENT_NAME_LABEL] || undefined, email: labels[STUDENT_EMAIL_LABEL] || undefined },
      }
      : {}),
    servers,
    ...(incomplete ? { incomplete } : {}),
    ...(network && servers.some((s) => s.state === 'missing' || s.state === 'created') ? { leftover: true } : {}),
  };
}

function roleOrder(a: string, b: string): number {
  const rank = (r: string) => (r === PRIMARY_ROLE ? 0 : r === STANDBY_ROLE ? 1 : Number(r.replace(STANDBY_ROLE, '')) || 99);
  return rank(a) - rank(b);
}

/** Every env on this Docker host, or those of one class (for instructors). */
export async function listEnvNames(className?: string): Promise<string[]> {
  await requireDocker();
  // An env reduced to its network still counts (and gets purged).
  const label = [className ? `${CLASS_LABEL}=${className}` : LAB_LABEL];
  const { containers, volumes, networks } = swarmMode() ? await listEverywhere(label) : await listLabelled(label);
  const names = new Set<string>();
  for (const c of containers) names.add(c.labels[ENV_LABEL]);
  for (const v of volumes) if (v.labels[ENV_LABEL]) names.add(v.labels[ENV_LABEL]);
  for (const n of networks) if (n.labels[ENV_LABEL]) names.add(n.labels[ENV_LABEL]);
  return [...names].sort();
}

/** Loads an env that must exist. */
export async function loadEnv(name: string): Promise<LabEnv> {
  const env = await findEnv(name);
  if (!env) throw new LabError('env.notFound', { env: name });
  return env;
}

/** A server of the env that must be running (commands that work inside it). */
export function requireServer(env: LabEnv, role: string): ServerInfo {
  if (env.incomplete) throw incompleteError(env);
  const server = env.servers.find((s) => s.role === role);
  if (!server) throw new LabError('env.noServer', { role, env: env.name, roles: env.servers.map((s) => s.role).join(', ') });
  // After `lab down` every container is gone on purpose; one missing alone was removed by hand.
  if (env.servers.every((s) => s.state === 'missing')) throw new LabError('env.stopped', { env: env.name });
  if (server.state === NODE_DOWN) throw new LabError('swarm.nodeDown', { role, env: env.name, node: server.node ?? '?' });
  if (server.state === 'missing') throw new LabError('env.containerMissing', { role, env: env.name });
  if (server.state !== 'running') throw new LabError('env.containerStopped', { role, env: env.name });
  return server;
}

export function incompleteError(env: LabEnv): LabError {
  return new LabError('env.incomplete', { env: env.name, network: networkName(env.name), subnet: env.subnet });
}
