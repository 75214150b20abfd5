/**
 * Environments: a private network plus maestro/esclavo containers, all found again through
 * Docker labels (no local state file that could drift from what is really running).
 */
import type Docker from 'dockerode';
import { dockerClient, ensureDocker, execInContainer } from '../docker/client.js';
import { ensureImage, type Progress } from '../docker/images.js';
import { LabError } from '../errors.js';
import { parseReadiness, readinessArgv } from '../pg/readiness.js';
import { TIMEOUTS } from '../timeouts.js';
import { DEFAULT_PG, isPgMajor, profileFor, type PgMajor } from '../pg/profile.js';
import {
  CLASS_LABEL, CREATED_LABEL, ENV_LABEL, IMAGE_LABEL, LAB_LABEL, PERSISTENT_MOUNTS, PG_LABEL, ROLE_LABEL, SUBNET_LABEL,
  candidateSubnets, containerName, networkName, serverIp, serverRoles, volumeName, type MountName,
} from './naming.js';

export const LAB_ID = 'wal-streaming';

export interface ServerInfo {
  role: string;
  container: string;
  ip: string;
  /** Docker state: running, exited, … or 'missing' (removed by hand). */
  state: string;
}

export interface LabEnv {
  name: string;
  pg: PgMajor;
  subnet: string;
  created: string;
  image: string;
  imageId?: string;
  /** Set for envs created by `lab class up`. */
  className?: string;
  servers: ServerInfo[];
}

export interface UpOptions {
  env: string;
  pg?: PgMajor;
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
  const [containers, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters }),
    docker.listVolumes({ filters }),
  ]);
  const vols = volumes.Volumes ?? [];
  if (!containers.length && !vols.length) return undefined;
  const labels = containers[0]?.Labels ?? vols[0].Labels ?? {};
  const pg = labels[PG_LABEL];
  if (!pg || !isPgMajor(pg)) throw new LabError('env.corrupt', { env: name });
  const roles = new Set<string>();
  for (const c of containers) roles.add(c.Labels[ROLE_LABEL]);
  for (const v of vols) if (v.Labels?.[ROLE_LABEL]) roles.add(v.Labels[ROLE_LABEL]);
  const subnet = labels[SUBNET_LABEL];
  const servers = [...roles].sort(roleOrder).map((role) => {
    const c = containers.find((x) => x.Labels[ROLE_LABEL] === role);
    return { role, container: containerName(name, role), ip: serverIp(subnet, role), state: c?.State ?? 'missing' };
  });
  return {
    name,
    pg,
    subnet,
    created: labels[CREATED_LABEL] ?? '',
    image: labels[IMAGE_LABEL] ?? '',
    imageId: containers[0]?.ImageID,
    className: labels[CLASS_LABEL],
    servers,
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
  const [containers, volumes] = await Promise.all([
    docker.listContainers({ all: true, filters: { label } }),
    docker.listVolumes({ filters: { label } }),
  ]);
  const names = new Set<string>();
  for (const c of containers) names.add(c.Labels[ENV_LABEL]);
  for (const v of volumes.Volumes ?? []) if (v.Labels?.[ENV_LABEL]) names.add(v.Labels[ENV_LABEL]);
  return [...names].sort();
}

export function requireServer(env: LabEnv, role: string): ServerInfo {
  const server = env.servers.find((s) => s.role === role);
  if (!server) throw new LabError('env.noServer', { role, env: env.name, roles: env.servers.map((s) => s.role).join(', ') });
  // After `lab down` every container is gone on purpose; one missing alone was removed by hand.
  if (env.servers.every((s) => s.state === 'missing')) throw new LabError('env.stopped', { env: env.name });
  if (server.state === 'missing') throw new LabError('env.containerMissing', { role, env: env.name });
  if (server.state !== 'running') throw new LabError('env.containerStopped', { role, env: env.name });
  return server;
}

/** Loads an env that must exist. */
export async function loadEnv(name: string): Promise<LabEnv> {
  const env = await findEnv(name);
  if (!env) throw new LabError('env.notFound', { env: name });
  return env;
}

/**
 * Creates what is missing and starts what is stopped; an env that is already running is left
 * exactly as it is. Volumes (the student's work) are reused.
 */
export async function up(opts: UpOptions): Promise<{ env: LabEnv; changed: boolean }> {
  const progress = opts.progress ?? (() => {});
  const docker = await ensureDocker();
  const existing = await findEnv(opts.env);
  if (existing && opts.pg && existing.pg !== opts.pg) {
    throw new LabError('env.otherPg', { env: opts.env, pg: existing.pg, wanted: opts.pg });
  }
  const pg = existing?.pg ?? opts.pg ?? DEFAULT_PG;
  const standbys = Math.max(opts.standbys ?? 1, (existing?.servers.length ?? 1) - 1);
  const roles = serverRoles(standbys);
  if (existing && roles.every((r) => existing.servers.find((s) => s.role === r)?.state === 'running')) {
    return { env: existing, changed: false };
  }

  const image = opts.image ?? existing?.image ?? (await ensureImage(pg, progress));
  if (opts.image) await checkImageContract(docker, opts.image, pg);
  const className = opts.className ?? existing?.className;
  // What the network, volumes and containers of this env all carry; servers add their own below.
  const envLabels = (subnet: string): Record<string, string> => ({
    [LAB_LABEL]: LAB_ID, [ENV_LABEL]: opts.env, [PG_LABEL]: pg, [SUBNET_LABEL]: subnet,
    ...(className ? { [CLASS_LABEL]: className } : {}),
  });
  const subnet = existing?.subnet ?? (await createNetwork(docker, opts.env, envLabels, progress, opts.subnet));
  if (existing) await ensureNetwork(docker, opts.env, envLabels(subnet));
  const created = existing?.created || new Date().toISOString();
  const labels = (role: string) => ({ ...envLabels(subnet), [ROLE_LABEL]: role, [CREATED_LABEL]: created, [IMAGE_LABEL]: image });
  const needsDockerInit = (await docker.getImage(image).inspect()).Config?.Labels?.['pglab.docker-init'] === 'true';

  await Promise.all(roles.map(async (role) => {
    const name = containerName(opts.env, role);
    const state = existing?.servers.find((s) => s.role === role)?.state;
    if (state === 'running') return;
    if (state && state !== 'missing') {
      progress(`iniciando ${role}`);
      await docker.getContainer(name).start();
      return;
    }
    progress(`creando ${role} (${serverIp(subnet, role)})`);
    for (const mount of Object.keys(PERSISTENT_MOUNTS) as MountName[]) {
      await docker.createVolume({ Name: volumeName(opts.env, role, mount), Labels: labels(role) });
    }
    const container = await docker.createContainer({
      name,
      Image: image,
      Hostname: role,
      Labels: labels(role),
      Env: [`PGLAB_PG_MAJOR=${pg}`, `PGLAB_LOCALE=${process.env.PGLAB_LOCALE ?? 'es_AR.UTF-8'}`],
      StopTimeout: 30,
      HostConfig: {
        NetworkMode: networkName(opts.env),
        Binds: (Object.entries(PERSISTENT_MOUNTS) as [MountName, string][]).map(
          ([mount, target]) => `${volumeName(opts.env, role, mount)}:${target}`,
        ),
        Init: needsDockerInit,
        Privileged: false,
        RestartPolicy: { Name: 'no' },
        Memory: 512 * 1024 * 1024,
      },
      NetworkingConfig: {
        EndpointsConfig: {
          [networkName(opts.env)]: {
            IPAMConfig: { IPv4Address: serverIp(subnet, role) },
            Aliases: role === 'maestro' ? ['maestro', 'master'] : [role, role.replace('esclavo', 'slave')],
          },
        },
      },
    });
    await container.start();
  }));

  progress('esperando que PostgreSQL acepte conexiones…');
  await Promise.all(roles.map((role) => waitReady(containerName(opts.env, role), pg)));
  const env = await loadEnv(opts.env);
  return { env, changed: true };
}

type Labels = Record<string, string>;

async function createNetwork(docker: Docker, env: string, labelsFor: (subnet: string) => Labels, progress: Progress, preferred?: string): Promise<string> {
  const used = await usedSubnets(docker);
  for (const subnet of [...(preferred ? [preferred] : []), ...candidateSubnets()]) {
    if (used.has(subnet)) continue;
    try {
      await createNetworkWith(docker, env, labelsFor(subnet));
      progress(`red ${networkName(env)} ${subnet}`);
      return subnet;
    } catch (err) {
      // Another host interface or a racing `class up` took it: try the next one.
      if (/overlap|in use|already exists/i.test(String((err as Error).message))) continue;
      throw err;
    }
  }
  throw new LabError('env.noSubnet');
}

async function ensureNetwork(docker: Docker, env: string, labels: Labels): Promise<void> {
  const subnet = labels[SUBNET_LABEL];
  const nets = await docker.listNetworks({ filters: { name: [networkName(env)] } });
  if (nets.some((n) => n.Name === networkName(env))) return;
  try {
    await createNetworkWith(docker, env, labels);
  } catch (err) {
    if (/overlap|in use/i.test(String((err as Error).message))) throw new LabError('env.subnetInUse', { subnet, env });
    throw err;
  }
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

/** Waits for the init to finish and the server to accept connections (bounded). */
export async function waitReady(container: string, pg: PgMajor, timeoutMs: number = TIMEOUTS.upReadyMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const argv = readinessArgv(profileFor(pg), '/var/lib/pglab/ready');
  while (Date.now() < deadline) {
    const r = await execInContainer(container, argv, { user: 'postgres', timeoutMs: TIMEOUTS.readinessMs }).catch(() => undefined);
    if (r && parseReadiness(r.stdout.toString()) === 'accepting') return;
    await sleep(300);
  }
  throw new LabError('env.notReady', { container });
}

export interface DownOptions { env: string; purge?: boolean; progress?: Progress }

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
    await c.remove({ force: true });
  }));
  const net = docker.getNetwork(networkName(opts.env));
  await net.remove().catch(() => {});
  if (opts.purge) {
    progress('borrando volúmenes');
    const vols = await docker.listVolumes({ filters: { label: [`${ENV_LABEL}=${opts.env}`] } });
    await Promise.all((vols.Volumes ?? []).map((v) => docker.getVolume(v.Name).remove()));
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
