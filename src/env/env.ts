/**
 * Environments: a private network plus maestro/esclavo containers, all found again through
 * Docker labels (no local state file that could drift from what is really running).
 */
import type Docker from 'dockerode';
import { hostname } from 'node:os';
import { dockerClient, ensureDocker, execInContainer } from '../docker/client.js';
import { ensureImage, type Progress } from '../docker/images.js';
import { LabError } from '../errors.js';
import { parseReadiness, readinessArgv, type Readiness } from '../pg/readiness.js';
import { TIMEOUTS } from '../timeouts.js';
import { DEFAULT_PG, isPgMajor, profileFor, type PgMajor } from '../pg/profile.js';
import {
  CLASS_LABEL, CONTINUED_LABEL, CREATED_LABEL, ENV_LABEL, IMAGE_LABEL, LAB_LABEL, PERSISTENT_MOUNTS, PG_LABEL, ROLE_LABEL, SUBNET_LABEL,
  MAX_STANDBYS, candidateSubnets, containerName, continuationVolumeName, networkName, serverIp, serverRoles, volumeName, type MountName,
} from './naming.js';

/** Envs made before labs were recorded carry this label value. */
const FIRST_LAB = 'wal-streaming';

export interface ServerInfo {
  role: string;
  container: string;
  ip: string;
  /** Docker state: running, exited, … or 'missing' (removed by hand). */
  state: string;
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

export interface UpOptions {
  env: string;
  pg?: PgMajor;
  /** Lab of a new env (label pglab.lab); for an existing env, a lab it may continue into (`continuable`). */
  lab?: string;
  /** Labs an env of lab X may go on into: `lab up --lab Y` on such an env records Y instead of refusing. */
  continuable?: (from: string, to: string) => boolean;
  standbys?: number;
  image?: string;
  progress?: Progress;
  /** Instructors: the class this env belongs to (label pglab.class). */
  className?: string;
  /** Preferred subnet (reset keeps the IPs the student knows), used when free. */
  subnet?: string;
}

/** Reads an environment from Docker; undefined when nothing of it exists. */
export async function findEnv(name: string): Promise<LabEnv | undefined> {
  const docker = await ensureDocker();
  const filters = { label: [`${ENV_LABEL}=${name}`] };
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
    docker.listNetworks({ filters }),
  ]);
  const all = volumes.Volumes ?? [];
  const vols = all.filter((v) => v.Labels?.[ROLE_LABEL]);
  const continued = all.filter((v) => v.Labels?.[CONTINUED_LABEL] === 'true')
    .sort((a, b) => String((a as { CreatedAt?: string }).CreatedAt).localeCompare(String((b as { CreatedAt?: string }).CreatedAt)));
  const network = networks.find((n) => n.Name === networkName(name));
  if (!containers.length && !vols.length && !network) return undefined;
  const labels = containers[0]?.Labels ?? vols[0]?.Labels ?? network?.Labels ?? {};
  const pg = labels[PG_LABEL];
  if (!pg || !isPgMajor(pg)) throw new LabError('env.corrupt', { env: name });
  const incomplete = !containers.length && !vols.length;
  const roles = new Set<string>(incomplete ? serverRoles(1) : []);
  for (const c of containers) roles.add(c.Labels[ROLE_LABEL]);
  for (const v of vols) if (v.Labels?.[ROLE_LABEL]) roles.add(v.Labels[ROLE_LABEL]);
  const subnet = labels[SUBNET_LABEL];
  const servers = [...roles].sort(roleOrder).map((role) => {
    const c = containers.find((x) => x.Labels[ROLE_LABEL] === role);
    return { role, container: containerName(name, role), ip: serverIp(subnet, role), state: c?.State ?? 'missing' };
  });
  return {
    name,
    lab: continued.at(-1)?.Labels[LAB_LABEL] ?? labels[LAB_LABEL] ?? FIRST_LAB,
    pg,
    subnet,
    created: labels[CREATED_LABEL] ?? '',
    image: labels[IMAGE_LABEL] ?? '',
    imageId: containers[0]?.ImageID,
    className: labels[CLASS_LABEL],
    servers,
    ...(incomplete ? { incomplete } : {}),
    ...(network && servers.some((s) => s.state === 'missing' || s.state === 'created') ? { leftover: true } : {}),
  };
}

function roleOrder(a: string, b: string): number {
  const rank = (r: string) => (r === 'maestro' ? 0 : r === 'esclavo' ? 1 : Number(r.replace('esclavo', '')) || 99);
  return rank(a) - rank(b);
}

/** Every env on this Docker host, or those of one class (for instructors). */
export async function listEnvNames(className?: string): Promise<string[]> {
  const docker = await ensureDocker();
  const label = [className ? `${CLASS_LABEL}=${className}` : LAB_LABEL];
  const [containers, volumes, networks] = await Promise.all([
    docker.listContainers({ all: true, filters: { label } }),
    docker.listVolumes({ filters: { label } }),
    docker.listNetworks({ filters: { label } }), // an env reduced to its network still counts (and gets purged)
  ]);
  const names = new Set<string>();
  for (const c of containers) names.add(c.Labels[ENV_LABEL]);
  for (const v of volumes.Volumes ?? []) if (v.Labels?.[ENV_LABEL]) names.add(v.Labels[ENV_LABEL]);
  for (const n of networks) if (n.Labels?.[ENV_LABEL]) names.add(n.Labels[ENV_LABEL]);
  return [...names].sort();
}

export function requireServer(env: LabEnv, role: string): ServerInfo {
  if (env.incomplete) throw incompleteError(env);
  const server = env.servers.find((s) => s.role === role);
  if (!server) throw new LabError('env.noServer', { role, env: env.name, roles: env.servers.map((s) => s.role).join(', ') });
  // After `lab down` every container is gone on purpose; one missing alone was removed by hand.
  if (env.servers.every((s) => s.state === 'missing')) throw new LabError('env.stopped', { env: env.name });
  if (server.state === 'missing') throw new LabError('env.containerMissing', { role, env: env.name });
  if (server.state !== 'running') throw new LabError('env.containerStopped', { role, env: env.name });
  return server;
}

export function incompleteError(env: LabEnv): LabError {
  return new LabError('env.incomplete', { env: env.name, network: networkName(env.name), subnet: env.subnet });
}

/** Loads an env that must exist. */
export async function loadEnv(name: string): Promise<LabEnv> {
  const env = await findEnv(name);
  if (!env) throw new LabError('env.notFound', { env: name });
  return env;
}

/**
 * Limits of every lab server, so one student cannot hurt the others on a class server:
 * - memory 512 MiB: PostgreSQL with the tutorial's settings uses ~60 MiB; base backups and apt fit.
 * - pids 512: an idle server runs ~12 processes (PostgreSQL ~8, init, sshd); max_connections = 100
 *   backends plus walsenders, shells and apt stay far below. A fork bomb stops at 512 instead of
 *   taking the host's whole pid space (32768 on many hosts), so 30 envs × 2 servers still fit.
 * - 1 CPU: pg_basebackup, initdb and the checks need less; on a 2-core host one runaway server
 *   leaves a whole core to everybody else. CPU shares stay equal (Docker's default, 1024).
 */
export const SERVER_LIMITS = { memoryBytes: 512 * 1024 * 1024, pids: 512, nanoCpus: 1_000_000_000 } as const;

/**
 * Restart policy: after a daemon restart or a reboot the envs come back by themselves. `lab down`
 * removes the containers, so a stopped env stays stopped.
 */
export const RESTART_POLICY = 'unless-stopped';

export interface UpResult {
  env: LabEnv;
  changed: boolean;
  /** Servers whose container runs but whose PostgreSQL does not accept connections (stopped by the student, broken config, standby without hot_standby). */
  notAccepting: { role: string; state: Readiness }[];
  /** It completed what an interrupted command had left half-done (a lock, a network without servers, a container never started). */
  resumed: boolean;
  /** No server of this env existed before: a lab that starts from another still has to be prepared. */
  created?: boolean;
  /** The existing env went on into this lab (`lab up --lab` on an env of the lab it starts from). */
  continued?: string;
}

/**
 * Creates what is missing and starts what is stopped; an env that is already running is left
 * exactly as it is. Volumes (the student's work) are reused. Safe to run twice at once on the
 * same env: the second waits for the first (withEnvLock) and then finds its work done; Docker's
 * 304/409 answers for something already started or created are taken as success.
 */
export async function up(opts: UpOptions): Promise<UpResult> {
  const progress = opts.progress ?? (() => {});
  if (opts.standbys !== undefined && !(Number.isInteger(opts.standbys) && opts.standbys >= 1 && opts.standbys <= MAX_STANDBYS)) {
    throw new LabError('cli.badInteger', { option: '--standbys', value: String(opts.standbys), min: 1, max: MAX_STANDBYS });
  }
  const docker = await ensureDocker();
  // A lock whose `lab up` was killed (its pid is gone): also left when the run died after starting everything.
  const staleLock = await clearStaleLock(docker, opts.env);
  await awaitDockerRestarts(opts.env);
  const continued = await continueIntoLab(docker, opts);
  const first = await planUp(opts);
  if (first.running) {
    const resumed = staleLock;
    // Running containers are not enough to say "ya está en marcha": PostgreSQL must accept connections.
    const env = continued ? { ...first.existing!, lab: continued } : first.existing!;
    return { env, changed: false, notAccepting: await awaitServers(opts.env, first.roles, first.pg), resumed, continued };
  }
  // `||`: an env reduced to its network has no image label ('').
  const image = opts.image || first.existing?.image || (await ensureImage(first.pg, progress));
  if (opts.image) await checkImageContract(docker, opts.image, first.pg);
  // A second `lab up` of the same env waits here for the first, then finds its work done.
  return withEnvLock(docker, opts.env, image, progress, async () => {
    const plan = await planUp(opts); // read again: a concurrent run may have changed everything
    // Read under the lock, so a concurrent `lab up` half-way through is never taken for a leftover.
    const resumed = staleLock || Boolean(plan.existing?.leftover);
    if (plan.running) return { env: plan.existing!, changed: false, notAccepting: await awaitServers(opts.env, plan.roles, plan.pg), resumed, continued };
    const created = !plan.existing || plan.existing.servers.every((s) => s.state === 'missing');
    return { ...(await createOrStart(docker, opts, plan, image, progress)), resumed, continued, created };
  });
}

/**
 * A container that crashed is restarted by Docker itself (policy unless-stopped); for a few
 * seconds its state is "restarting". Starting it ourselves then would race Docker, and the env is
 * in fact already on its way back: wait until Docker has settled it (running, or given up).
 */
async function awaitDockerRestarts(env: string): Promise<void> {
  const deadline = Date.now() + TIMEOUTS.dockerRestartMs;
  while (Date.now() < deadline) {
    const found = await findEnv(env);
    if (!found?.servers.some((s) => s.state === 'restarting')) return;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * `lab up --lab Y` on an env of lab X: allowed when Y continues X (the student goes on from their
 * own finished work). Recorded on a data-less marker volume, since a container's labels are fixed.
 */
async function continueIntoLab(docker: Docker, opts: UpOptions): Promise<string | undefined> {
  if (!opts.lab) return undefined;
  const existing = await findEnv(opts.env);
  if (!existing || existing.incomplete || existing.lab === opts.lab) return undefined;
  if (!opts.continuable?.(existing.lab, opts.lab)) throw new LabError('env.otherLab', { env: opts.env, lab: existing.lab, wanted: opts.lab }, 2);
  await docker.createVolume({
    Name: continuationVolumeName(opts.env, opts.lab),
    Labels: {
      [LAB_LABEL]: opts.lab, [CONTINUED_LABEL]: 'true', [ENV_LABEL]: opts.env, [PG_LABEL]: existing.pg,
      ...(existing.className ? { [CLASS_LABEL]: existing.className } : {}),
    },
  });
  return opts.lab;
}

interface UpPlan {
  existing?: LabEnv;
  pg: PgMajor;
  roles: string[];
  /** Every server's container is running already. */
  running: boolean;
  /** Only a network of another PostgreSQL version is left: it holds no data, drop it and start over. */
  dropNetwork: boolean;
}

async function planUp(opts: UpOptions): Promise<UpPlan> {
  let existing = await findEnv(opts.env);
  const dropNetwork = Boolean(existing?.incomplete && opts.pg && existing.pg !== opts.pg);
  if (dropNetwork) existing = undefined;
  if (existing && opts.pg && existing.pg !== opts.pg) {
    throw new LabError('env.otherPg', { env: opts.env, pg: existing.pg, wanted: opts.pg });
  }
  const pg = existing?.pg ?? opts.pg ?? DEFAULT_PG;
  const standbys = Math.max(opts.standbys ?? 1, (existing?.servers.length ?? 1) - 1);
  const roles = serverRoles(standbys);
  const running = Boolean(existing && !existing.incomplete && roles.every((r) => existing!.servers.find((s) => s.role === r)?.state === 'running'));
  return { existing, pg, roles, running, dropNetwork };
}

async function createOrStart(docker: Docker, opts: UpOptions, plan: UpPlan, image: string, progress: Progress): Promise<Omit<UpResult, 'resumed'>> {
  const { existing, pg, roles } = plan;
  if (plan.dropNetwork) await removeNetworks(docker, opts.env);
  const className = opts.className ?? existing?.className;
  // What the network, volumes and containers of this env all carry; servers add their own below.
  const envLabels = (subnet: string): Record<string, string> => ({
    [LAB_LABEL]: opts.lab ?? existing?.lab ?? FIRST_LAB, [ENV_LABEL]: opts.env, [PG_LABEL]: pg, [SUBNET_LABEL]: subnet,
    ...(className ? { [CLASS_LABEL]: className } : {}),
  });
  const network = existing
    ? await ensureNetwork(docker, opts.env, envLabels(existing.subnet))
    : await createNetwork(docker, opts.env, envLabels, progress, opts.subnet);
  const subnet = network.subnet;
  const created = existing?.created || new Date().toISOString();
  const labels = (role: string) => ({ ...envLabels(subnet), [ROLE_LABEL]: role, [CREATED_LABEL]: created, [IMAGE_LABEL]: image });
  const needsDockerInit = (await docker.getImage(image).inspect()).Config?.Labels?.['pglab.docker-init'] === 'true';

  await Promise.all(roles.map(async (role) => {
    const name = containerName(opts.env, role);
    const state = existing?.servers.find((s) => s.role === role)?.state;
    if (state === 'running') return;
    if (state && state !== 'missing') {
      progress(`iniciando ${role}`);
      await startContainer(docker, name, state);
      return;
    }
    progress(`creando ${role} (${serverIp(subnet, role)})`);
    for (const mount of Object.keys(PERSISTENT_MOUNTS) as MountName[]) {
      await docker.createVolume({ Name: volumeName(opts.env, role, mount), Labels: labels(role) }); // idempotent
    }
    await docker.createContainer({
      name,
      Image: image,
      Hostname: role,
      Labels: labels(role),
      Env: [`PGLAB_PG_MAJOR=${pg}`, `PGLAB_LOCALE=${process.env.PGLAB_LOCALE ?? 'es_AR.UTF-8'}`],
      StopTimeout: 30,
      HostConfig: {
        NetworkMode: network.id, // by id: a duplicate name left by a concurrent run must not make it ambiguous
        Binds: (Object.entries(PERSISTENT_MOUNTS) as [MountName, string][]).map(
          ([mount, target]) => `${volumeName(opts.env, role, mount)}:${target}`,
        ),
        Init: needsDockerInit,
        Privileged: false,
        RestartPolicy: { Name: RESTART_POLICY },
        Memory: SERVER_LIMITS.memoryBytes,
        PidsLimit: SERVER_LIMITS.pids,
        NanoCpus: SERVER_LIMITS.nanoCpus,
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [network.id]: {
            IPAMConfig: { IPv4Address: serverIp(subnet, role) },
            Aliases: role === 'maestro' ? ['maestro', 'master'] : [role, role.replace('esclavo', 'slave')],
          },
        },
      },
    }).catch(ignoreStatus(409)); // a concurrent `lab up` created it first: start that one
    await startContainer(docker, name, 'created');
  }));

  progress('esperando que PostgreSQL acepte conexiones…');
  const notAccepting = await awaitServers(opts.env, roles, pg);
  const env = await loadEnv(opts.env);
  return { env, changed: true, notAccepting };
}

/**
 * Starts a container; "already started" (304, a concurrent `lab up`) is fine, a paused one is resumed.
 * A stopped container made by an older pglab (restart policy "no", no pids/CPU limit: it stayed
 * down after a reboot) gets today's limits and policy first; an engine that refuses is not fatal.
 */
async function startContainer(docker: Docker, name: string, state: string): Promise<void> {
  const container = docker.getContainer(name);
  if (state === 'paused') {
    await container.unpause().catch(ignoreStatus(304, 409));
    return;
  }
  if (state !== 'created') {
    await container.update({ RestartPolicy: { Name: RESTART_POLICY }, PidsLimit: SERVER_LIMITS.pids, NanoCpus: SERVER_LIMITS.nanoCpus }).catch(() => {});
  }
  await container.start().catch(ignoreStatus(304));
}

/** A catch handler that swallows the given Docker HTTP answers and rethrows anything else. */
function ignoreStatus(...codes: number[]) {
  return (err: unknown): void => {
    if (codes.includes((err as { statusCode?: number })?.statusCode ?? 0)) return;
    throw err;
  };
}

/** Waits for every server; returns those that settled without accepting connections. */
async function awaitServers(env: string, roles: string[], pg: PgMajor): Promise<UpResult['notAccepting']> {
  const states = await Promise.all(roles.map(async (role) => ({ role, state: await waitReady(containerName(env, role), pg) })));
  return states.filter((s) => s.state !== 'accepting');
}

type Labels = Record<string, string>;

const LOCK_LABEL = 'pglab.lock';
/** Longest a `lab up` waits for another one of the same env: its readiness wait plus creating everything. */
const LOCK_WAIT_MS = TIMEOUTS.upReadyMs + 90_000;
/** A lock older than this is left over (its `lab up` cannot take that long), whoever holds it. */
const LOCK_STALE_MS = 15 * 60_000;

/**
 * One `lab up` at a time per env. Docker 20.10 lets two concurrent runs create two networks of the
 * same name, but refuses a second container of the same name: an unstarted container
 * `pglab-<env>-lock` is the lock (no env label, so nothing else ever counts it as part of the env).
 * A lock whose holder died (Ctrl+C, SIGKILL) is recognised by its pid on this host, or by its age.
 */
async function withEnvLock<T>(docker: Docker, env: string, image: string, progress: Progress, fn: () => Promise<T>): Promise<T> {
  const name = lockName(env);
  const deadline = Date.now() + LOCK_WAIT_MS;
  let told = false;
  for (;;) {
    try {
      await docker.createContainer({
        name, Image: image, Cmd: ['true'], Entrypoint: [],
        Labels: { [LOCK_LABEL]: env, 'pglab.lock.pid': String(process.pid), 'pglab.lock.host': hostname() },
        HostConfig: { NetworkMode: 'none' },
      });
      break;
    } catch (err) {
      if ((err as { statusCode?: number })?.statusCode !== 409) throw err;
      if (await lockIsStale(docker, name)) {
        await docker.getContainer(name).remove({ force: true }).catch(ignoreStatus(404, 409));
        continue;
      }
      if (Date.now() > deadline) throw new LabError('env.busy', { env, seconds: Math.round(LOCK_WAIT_MS / 1000), lock: name });
      if (!told) progress(`otro \`lab up\` de "${env}" está trabajando; esperando que termine…`);
      told = true;
      await sleep(500);
    }
  }
  try {
    return await fn();
  } finally {
    await docker.getContainer(name).remove({ force: true }).catch(() => {});
  }
}

const lockName = (env: string) => `${networkName(env)}-lock`;

/** Removes the env's lock when its holder is gone; true when there was one to remove. */
async function clearStaleLock(docker: Docker, env: string): Promise<boolean> {
  if (!(await lockIsStale(docker, lockName(env)))) return false;
  await docker.getContainer(lockName(env)).remove({ force: true }).catch(() => {});
  return true;
}

async function lockIsStale(docker: Docker, name: string): Promise<boolean> {
  const info = await docker.getContainer(name).inspect().catch(() => undefined);
  if (!info) return false; // released meanwhile: just try again
  const labels = info.Config?.Labels ?? {};
  if (Date.now() - Date.parse(info.Created) > LOCK_STALE_MS) return true;
  if (labels['pglab.lock.host'] !== hostname()) return false;
  const pid = Number(labels['pglab.lock.pid']);
  try {
    process.kill(pid, 0); // signal 0: only asks whether the process exists
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

interface EnvNetwork { id: string; subnet: string }

/** A new env's network, on the preferred subnet when free, else the first free one. */
async function createNetwork(docker: Docker, env: string, labelsFor: (subnet: string) => Labels, progress: Progress, preferred?: string): Promise<EnvNetwork> {
  const found = await settleNetwork(docker, env); // a concurrent `lab up` may have made it since findEnv
  if (found) return found;
  const used = await usedSubnets(docker);
  for (const subnet of [...(preferred ? [preferred] : []), ...candidateSubnets()]) {
    if (used.has(subnet)) continue;
    try {
      await createNetworkWith(docker, env, labelsFor(subnet));
      progress(`red ${networkName(env)} ${subnet}`);
      return (await settleNetwork(docker, env))!;
    } catch (err) {
      if (!isNameTaken(err) && !isSubnetTaken(err)) throw err;
      // A concurrent `lab up` of this env made it first: use that one (and its subnet).
      const theirs = await settleNetwork(docker, env);
      if (theirs) return theirs;
      // Another host interface or a racing `class up` took this subnet: try the next one.
    }
  }
  throw new LabError('env.noSubnet');
}

/** The network of an env that exists (stopped, or with a container gone), on its own subnet. */
async function ensureNetwork(docker: Docker, env: string, labels: Labels): Promise<EnvNetwork> {
  const subnet = labels[SUBNET_LABEL];
  const found = await settleNetwork(docker, env);
  if (found) return found;
  try {
    await createNetworkWith(docker, env, labels);
  } catch (err) {
    if (!isNameTaken(err) && !isSubnetTaken(err)) throw err;
    // Taken by a concurrent `lab up` of this same env is fine; by anything else, the student must know.
    const theirs = await settleNetwork(docker, env);
    if (theirs) return theirs;
    throw new LabError('env.subnetInUse', { subnet, env });
  }
  return (await settleNetwork(docker, env))!;
}

const errorText = (err: unknown) => String((err as Error)?.message ?? err);
const isNameTaken = (err: unknown) => (err as { statusCode?: number })?.statusCode === 409 && /already exists/i.test(errorText(err));
const isSubnetTaken = (err: unknown) => /overlap|in use/i.test(errorText(err));

/** Networks named exactly like the env's (Docker's name filter also matches longer names). */
async function envNetworks(docker: Docker, env: string) {
  return (await docker.listNetworks({ filters: { name: [networkName(env)] } })).filter((n) => n.Name === networkName(env));
}

/**
 * The env's network, if any. Docker 20.10 does not refuse a second network with the same name
 * when two `lab up` create it at the same moment, so every run settles on the oldest one (the
 * same answer for both) and removes the others before creating any container.
 */
async function settleNetwork(docker: Docker, env: string): Promise<EnvNetwork | undefined> {
  const nets = await envNetworks(docker, env);
  if (!nets.length) return undefined;
  const [oldest, ...others] = nets.sort((a, b) => createdKey(a.Created).localeCompare(createdKey(b.Created)) || a.Id.localeCompare(b.Id));
  await Promise.all(others.map((n) => docker.getNetwork(n.Id).remove().catch(() => {})));
  const subnet = oldest.Labels?.[SUBNET_LABEL] ?? oldest.IPAM?.Config?.[0]?.Subnet;
  if (!subnet) throw new LabError('env.corrupt', { env });
  return { id: oldest.Id, subnet };
}

/** Docker's RFC 3339 times drop trailing zeros of the nanoseconds: pad them so strings sort as times. */
export function createdKey(created: string | undefined): string {
  return (created ?? '').replace(/\.(\d{1,9})/, (_, f: string) => `.${f.padEnd(9, '0')}`).replace(/(\d{2}:\d{2}:\d{2})(?=[Z+-])/, '$1.000000000');
}

async function removeNetworks(docker: Docker, env: string): Promise<void> {
  const nets = await envNetworks(docker, env);
  await Promise.all(nets.map((n) => docker.getNetwork(n.Id).remove().catch(() => {})));
}

function createNetworkWith(docker: Docker, env: string, labels: Labels) {
  const subnet = labels[SUBNET_LABEL];
  return docker.createNetwork({
    Name: networkName(env),
    // No route out: the servers only see each other (and apt works from the image's cache).
    Internal: true,
    CheckDuplicate: true,
    Labels: labels,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: subnet.replace(/\.0\/24$/, '.1') }] },
    // The host keeps no address on the env's bridge, so its own services (ssh, databases, the
    // Docker API on tcp…) cannot be reached from a lab container: without this, every address of
    // the host answered through the gateway .1 even on an Internal network.
    Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' },
  });
}

async function usedSubnets(docker: Docker): Promise<Set<string>> {
  const used = new Set<string>();
  const [nets, vols] = await Promise.all([
    docker.listNetworks(),
    docker.listVolumes({ filters: { label: [SUBNET_LABEL] } }),
  ]);
  for (const n of nets) for (const c of n.IPAM?.Config ?? []) if (c.Subnet) used.add(c.Subnet);
  // Subnets reserved by stopped envs (their volumes remember them).
  for (const v of vols.Volumes ?? []) if (v.Labels?.[SUBNET_LABEL]) used.add(v.Labels[SUBNET_LABEL]);
  return used;
}

/** A prebuilt image must say it follows docker/README.md's contract. */
async function checkImageContract(docker: Docker, image: string, pg: PgMajor): Promise<void> {
  let labels: Record<string, string>;
  try {
    labels = (await docker.getImage(image).inspect()).Config?.Labels ?? {};
  } catch {
    throw new LabError('image.notFound', { image });
  }
  const missing: string[] = [];
  if (labels['pglab.image.contract'] !== '1') missing.push('LABEL pglab.image.contract="1"');
  if (labels['pglab.pg'] !== pg) missing.push(`LABEL pglab.pg="${pg}" (tiene: ${labels['pglab.pg'] ?? '—'})`);
  if (missing.length) throw new LabError('image.contract', { image, missing: missing.join('\n  ') });
}

/** How long a server may stay down / refusing after its init finished before `lab up` stops waiting for it. */
const SETTLE_MS = { down: 10_000, rejecting: 30_000, frozen: 10_000 } as const;
const READY_FILE = '/var/lib/pglab/ready';

/**
 * Waits until the server accepts connections (bounded). Returns early, with what it saw, when the
 * init has finished and PostgreSQL stays down (stopped, or a config that does not start) or keeps
 * refusing connections (a standby without hot_standby): nobody will change that by waiting.
 * Throws when the init itself does not finish in time.
 */
export async function waitReady(container: string, pg: PgMajor, timeoutMs: number = TIMEOUTS.upReadyMs): Promise<Readiness> {
  const deadline = Date.now() + timeoutMs;
  const argv = readinessArgv(profileFor(pg), READY_FILE);
  let settled: { state: Readiness; since: number } | undefined;
  while (Date.now() < deadline) {
    const r = await execInContainer(container, argv, { user: 'postgres', timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
    let state: Readiness | 'starting' = r ? parseReadiness(r.stdout.toString()) : 'starting';
    if (state === 'accepting') return state;
    // "down" also means "the init has not finished yet" (no ready file): tell them apart.
    if (state === 'down' && !(await initFinished(container))) state = 'starting';
    if (state === 'starting') settled = undefined;
    else {
      if (settled?.state !== state) settled = { state, since: Date.now() };
      if (Date.now() - settled.since >= SETTLE_MS[state]) return state;
    }
    await sleep(300);
  }
  if (settled) return settled.state;
  throw new LabError('env.notReady', { container });
}

async function initFinished(container: string): Promise<boolean> {
  const r = await execInContainer(container, ['test', '-f', READY_FILE], { timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
  return r?.exitCode === 0;
}

export interface DownOptions {
  env: string;
  purge?: boolean;
  progress?: Progress;
  /**
   * `lab reset` only: the network stays (it carries the env's version, subnet and class) until `up`
   * reuses it, so a reset killed after the volumes are gone still finds its env and finishes.
   */
  keepNetwork?: boolean;
}

export async function down(opts: DownOptions): Promise<boolean> {
  const progress = opts.progress ?? (() => {});
  const docker = await ensureDocker();
  const env = await findEnv(opts.env);
  if (!env) return false;
  await Promise.all(env.servers.map(async (server) => {
    if (server.state === 'missing') return;
    if (server.state === 'running') await rememberPackages(server.container);
    progress(`deteniendo ${server.role}`);
    const c = docker.getContainer(server.container);
    if (server.state === 'running') await c.stop({ t: 30 }).catch(() => {});
    await c.remove({ force: true }).catch(ignoreStatus(404, 409)); // gone already / being removed by a concurrent down
  }));
  // Containers first, then the network, then the volumes: a run interrupted anywhere leaves an env
  // that findEnv still sees (by its volumes or network), so the same command run again finishes it.
  if (!opts.keepNetwork) await removeNetworks(docker, opts.env); // every one of that name (a concurrent up may have left two)
  await clearStaleLock(docker, opts.env);
  if (opts.purge) {
    progress('borrando volúmenes');
    const vols = await docker.listVolumes({ filters: { label: [`${ENV_LABEL}=${opts.env}`] } });
    // 404: removed meanwhile by a concurrent or interrupted `down --purge`.
    await Promise.all((vols.Volumes ?? []).map((v) => docker.getVolume(v.Name).remove().catch(ignoreStatus(404))));
  }
  return true;
}

/** Packages the student installed (ssh, rsync) are re-installed offline by the init after `up`. */
const STUDENT_PACKAGES = ['openssh-server', 'openssh-client', 'openssh-sftp-server', 'ssh', 'rsync'];

async function rememberPackages(container: string): Promise<void> {
  const r = await execInContainer(container, ['dpkg-query', '-W', '-f=${Package} ${db:Status-Status}\n', ...STUDENT_PACKAGES], { timeoutMs: 10_000 })
    .catch(() => undefined);
  if (!r) return;
  const installed = r.stdout.toString().split('\n')
    .map((l) => l.split(' ')).filter(([, status]) => status === 'installed').map(([p]) => p);
  await execInContainer(container, ['sh', '-c', 'cat > /var/lib/pglab/packages'], { stdin: installed.join('\n') + '\n', timeoutMs: 5000 });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
