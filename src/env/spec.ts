/**
 * What an env's Docker objects look like: the server containers (limits, restart policy, mounts,
 * address and aliases), the private network, and the contract a prebuilt image (`lab up --image`)
 * must follow. Pure data: src/docker/objects.ts makes them.
 */
import type { ContainerSpec, ContainerUpdate, Labels, NetworkSpec } from '../docker/objects.js';
import { LabError } from '../errors.js';
import { t } from '../i18n/index.js';
import type { PgMajor } from '../pg/profile.js';
import { TIMEOUTS } from '../timeouts.js';
import { runVolume, SOCKET_DIR } from '../observer/observer.js';
import { PERSISTENT_MOUNTS, PRIMARY_ROLE, STANDBY_ROLE, SUBNET_LABEL, containerName, networkName, serverIp, volumeName, type MountName } from './naming.js';

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
 * IPv6 on the loopback only: ::1 exists, so `listen_addresses = '…, localhost'` binds it instead of
 * logging a bind error students read as "another postmaster is running"; the network interface
 * keeps IPv6 off (Docker's default when the network has none), so nothing goes out over IPv6.
 */
export const SERVER_SYSCTLS: Record<string, string> = { 'net.ipv6.conf.lo.disable_ipv6': '0' };

/**
 * Restart policy: after a daemon restart or a reboot the envs come back by themselves. `lab down`
 * removes the containers, so a stopped env stays stopped.
 */
export const RESTART_POLICY = 'unless-stopped';

/** Locale of new clusters (PGLAB_LOCALE): the tutorial's servers speak Spanish. */
const LOCALE = process.env.PGLAB_LOCALE ?? 'es_AR.UTF-8';

export interface ServerSpecInput {
  env: string;
  role: string;
  image: string;
  pg: PgMajor;
  labels: Labels;
  /** The env's network (by id: a duplicate name left by a concurrent run must not make it ambiguous). */
  networkId: string;
  subnet: string;
  /** The image asks for Docker's init as PID 1 (label pglab.docker-init=true). */
  dockerInit: boolean;
}

/** One lab server: its volumes mounted, its fixed address, its names (Spanish and English) on the env's network. */
export function serverSpec(s: ServerSpecInput): ContainerSpec {
  return {
    name: containerName(s.env, s.role),
    Image: s.image,
    Hostname: s.role,
    Labels: s.labels,
    Env: [`PGLAB_PG_MAJOR=${s.pg}`, `PGLAB_LOCALE=${LOCALE}`],
    StopTimeout: TIMEOUTS.stopGraceS,
    HostConfig: {
      NetworkMode: s.networkId,
      Binds: serverBinds(s.env, s.role),
      Init: s.dockerInit,
      Privileged: false,
      // No raw or packet sockets: with them a student (root in the container) crafted IPv6 frames to
      // the host's link-local fe80:: address, which the kernel keeps on every bridge whatever
      // inhibit_ipv4 says, and reached host services listening on [::] (issue 17). ping still
      // works: the images drop ping's file capability, so it uses ICMP datagram sockets.
      CapDrop: ['NET_RAW'],
      Sysctls: SERVER_SYSCTLS,
      RestartPolicy: { Name: RESTART_POLICY },
      Memory: SERVER_LIMITS.memoryBytes,
      PidsLimit: SERVER_LIMITS.pids,
      NanoCpus: SERVER_LIMITS.nanoCpus,
    },
    NetworkingConfig: {
      EndpointsConfig: {
        [s.networkId]: {
          IPAMConfig: { IPv4Address: serverIp(s.subnet, s.role) },
          // The tutorial's English names resolve too (canonicalRole reads them back).
          Aliases: s.role === PRIMARY_ROLE ? [PRIMARY_ROLE, 'master'] : [s.role, s.role.replace(STANDBY_ROLE, 'slave')],
        },
      },
    },
  };
}

/** The volumes that keep a server's work across `lab down` / `lab up` (home, etc, log, ssh, state). */
export function serverBinds(env: string, role: string): string[] {
  return [
    ...(Object.entries(PERSISTENT_MOUNTS) as [MountName, string][]).map(([mount, target]) => `${volumeName(env, role, mount)}:${target}`),
    // The socket directory, shared read-only with the env's observer (src/observer/observer.ts).
    `${runVolume(env, role)}:${SOCKET_DIR}`,
  ];
}

export const SERVER_MOUNTS = Object.keys(PERSISTENT_MOUNTS) as MountName[];

/**
 * Today's limits and policy for a stopped container made by an older pglab (restart policy "no",
 * no pids/CPU limit: it stayed down after a reboot).
 */
export const SERVER_UPDATE: ContainerUpdate = { RestartPolicy: { Name: RESTART_POLICY }, PidsLimit: SERVER_LIMITS.pids, NanoCpus: SERVER_LIMITS.nanoCpus };

/** The env's private network on its own /24 (on a Swarm, an overlay: see overlaySpec). */
export function networkSpec(env: string, labels: Labels, overlay = false): NetworkSpec {
  const subnet = labels[SUBNET_LABEL];
  if (overlay) return overlaySpec(env, labels);
  return {
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
  };
}

/** A prebuilt image must say it follows docker/README.md's contract; `labels` undefined: no such image. */
export function checkImageContract(image: string, labels: Labels | undefined, pg: PgMajor): void {
  if (!labels) throw new LabError('image.notFound', { image });
  const missing: string[] = [];
  if (labels['pglab.image.contract'] !== '1') missing.push('LABEL pglab.image.contract="1"');
  if (labels['pglab.pg'] !== pg) missing.push(t('image.contractHas', { label: `LABEL pglab.pg="${pg}"`, value: labels['pglab.pg'] ?? '—' }));
  if (missing.length) throw new LabError('image.contract', { image, missing: missing.join('\n  ') });
}

/** Images that need Docker's init as PID 1 say so in a label. */
export const needsDockerInit = (labels: Labels | undefined) => labels?.['pglab.docker-init'] === 'true';

/**
 * An env's network on a Docker Swarm: an attachable overlay (standalone containers on any node join
 * it, keeping their fixed addresses), internal (no route out: from a student container on a
 * non-internal overlay every node's engine port answered), on its own /24; Docker's own addresses
 * (a probe container, a re-attached endpoint) come from the upper half only, away from the servers'
 * fixed .10–.14.
 */
export function overlaySpec(env: string, labels: Labels): NetworkSpec {
  const subnet = labels[SUBNET_LABEL];
  return {
    Name: networkName(env),
    Driver: 'overlay',
    Attachable: true,
    Internal: true,
    CheckDuplicate: true,
    Labels: labels,
    IPAM: { Driver: 'default', Config: [{ Subnet: subnet, Gateway: subnet.replace(/\.0\/24$/, '.1'), IPRange: subnet.replace(/\.0\/24$/, '.128/25') }] },
  };
}
