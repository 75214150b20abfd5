/** Names of everything an environment owns in Docker; derived, never stored locally. */
import { LabError } from '../errors.js';

/** Every object of every env carries it; its value is the lab the env was made for. */
export const LAB_LABEL = 'pglab.lab';
/**
 * The lab of envs whose objects carry no lab label (made before labs were plugins), and of progress
 * records written then: the only lab the engine names, as a fact about old data, not a lab it knows.
 */
export const DEFAULT_LAB = 'wal-streaming';
/** On a data-less marker volume: the env went on into this lab (labels cannot change on a container). */
export const CONTINUED_LABEL = 'pglab.lab.continued';
export const ENV_LABEL = 'pglab.env';
export const ROLE_LABEL = 'pglab.role';
export const PG_LABEL = 'pglab.pg';
export const SUBNET_LABEL = 'pglab.subnet';
export const CREATED_LABEL = 'pglab.created';
export const IMAGE_LABEL = 'pglab.image';
export const CLASS_LABEL = 'pglab.class';
/** The student an env was made for (`lab up --student`, or the roster of `lab class up`). */
export const STUDENT_LABEL = 'pglab.student';
export const STUDENT_NAME_LABEL = 'pglab.student.name';
export const STUDENT_EMAIL_LABEL = 'pglab.student.email';

export const DEFAULT_ENV = 'default';
/** Mount points that survive `lab down` / `lab up` (named volumes). */
export const PERSISTENT_MOUNTS = {
  home: '/var/lib/postgresql', // data directory, the student's ssh keys and tarballs
  etc: '/etc/postgresql', // postgresql.conf, pg_hba.conf
  log: '/var/log/postgresql',
  ssh: '/etc/ssh', // host keys, so known_hosts stays valid after a down/up
  state: '/var/lib/pglab', // installed packages, progress of checks
} as const;
export type MountName = keyof typeof PERSISTENT_MOUNTS;

/** Longest env name: keeps `pglab-<env>-esclavo4-state` (volumes) and hostnames well under Docker's limits. */
export const MAX_ENV_NAME = 31;
/** Standbys one env may have: esclavo … esclavo4 (addresses .11–.14). */
export const MAX_STANDBYS = 4;
const ENV_NAME = new RegExp(`^[a-z0-9][a-z0-9_-]{0,${MAX_ENV_NAME - 1}}$`);

export function envName(raw: string | undefined): string {
  const name = raw ?? process.env.LAB_ENV ?? DEFAULT_ENV;
  if (!ENV_NAME.test(name)) throw new LabError('env.badName', { name });
  return name;
}

/** The marker volume that records that an env continued into `lab`. */
export function continuationVolumeName(env: string, lab: string): string {
  return `pglab-${env}-lab-${lab}`;
}

/** The server a new env starts as its primary; it also keeps the env's own state (env/state.ts). */
export const PRIMARY_ROLE = 'maestro';
/** Its first standby; the next ones are esclavo2, esclavo3… */
export const STANDBY_ROLE = 'esclavo';

/** maestro, esclavo, esclavo2, … */
export function serverRoles(standbys: number): string[] {
  return [PRIMARY_ROLE, ...Array.from({ length: standbys }, (_, i) => (i === 0 ? STANDBY_ROLE : `${STANDBY_ROLE}${i + 1}`))];
}

/** Accepts the tutorial's English names too (master/slave). */
export function canonicalRole(raw: string): string {
  const lower = raw.toLowerCase();
  if (lower === 'master') return PRIMARY_ROLE;
  const slave = /^slave(\d*)$/.exec(lower);
  if (slave) return `${STANDBY_ROLE}${slave[1]}`;
  return lower;
}

export const networkName = (env: string) => `pglab-${env}`;
export const containerName = (env: string, role: string) => `pglab-${env}-${role}`;
export const volumeName = (env: string, role: string, mount: MountName) => `pglab-${env}-${role}-${mount}`;

/** Fixed addresses inside the env's /24: maestro .10, esclavo .11, esclavo2 .12 … */
export function serverIp(subnet: string, role: string): string {
  const prefix = subnet.split('.').slice(0, 3).join('.');
  const index = role === PRIMARY_ROLE ? 0 : role === STANDBY_ROLE ? 1 : Number(role.replace(STANDBY_ROLE, ''));
  return `${prefix}.${10 + index}`;
}

/** Candidate subnets, tried in order; an env keeps the one it got (stored on its volumes). */
export function candidateSubnets(): string[] {
  const base = process.env.PGLAB_SUBNET_BASE ?? '10.213';
  return Array.from({ length: 250 }, (_, i) => `${base}.${i + 1}.0/24`);
}
