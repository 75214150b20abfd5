/**
 * The env's observer: a sidecar container `pglab-<env>-observer`, made from the env's own pg image
 * (so its psql and pg_controldata match the servers' version), with no network and no shell for the
 * student. It reaches each server's PostgreSQL through the server's unix socket (a small volume
 * `pglab-<env>-<role>-run` the server mounts at /run/postgresql and the observer mounts read-only)
 * with peer authentication as postgres, which works before the student sets listen_addresses and
 * needs no pg_hba.conf line of ours; it reads the servers' data volumes mounted read-only with its
 * own binaries. It keeps its records and its HMAC key on its own volume `pglab-<env>-observer`, which
 * maestro and esclavo never mount. See observer/pglab-observer.pl and records.ts.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { execInContainer } from '../docker/client.js';
import { createContainer, createVolume, inspectContainer, removeContainer, removeVolume, startContainer, stopContainer, type ContainerSpec, type Labels } from '../docker/objects.js';
import { PROJECT_ROOT } from '../paths.js';
import { profileFor, type PgMajor } from '../pg/profile.js';
import { identityScript } from '../pg/server-identity.js';
import { TIMEOUTS } from '../timeouts.js';
import { mergeObservations, signLine, verifyRecords, type Observation } from './records.js';

export const OBSERVER_LABEL = 'pglab.observer';
export const observerName = (env: string) => `pglab-${env}-observer`;

/** A server and the Swarm node it lives on (undefined on one engine). */
export interface PlacedServer { role: string; node?: string }

/** One observer of an env: its container (and volume, same name), the servers it watches, its node. */
export interface ObserverGroup { name: string; roles: string[]; node?: string }

/**
 * The observers of an env: one per node its servers live on, since a volume can be mounted only on
 * its own node. maestro's is `pglab-<env>-observer` (it also keeps lab's marks); on a Swarm where a
 * standby lives elsewhere, that node's is `pglab-<env>-observer-<its first server>`. One engine: one.
 */
export function observerGroups(env: string, servers: readonly PlacedServer[]): ObserverGroup[] {
  if (!servers.length) return [{ name: observerName(env), roles: [] }];
  const home = servers.find((s) => s.role === 'maestro')?.node;
  const byNode = new Map<string | undefined, string[]>([[home, []]]);
  for (const s of servers) byNode.set(s.node, [...(byNode.get(s.node) ?? []), s.role]);
  return [...byNode].filter(([, roles]) => roles.length)
    .map(([node, roles]) => ({ name: node === home ? observerName(env) : `${observerName(env)}-${roles[0]}`, roles, ...(node ? { node } : {}) }));
}

/** The observer watching `role` (maestro's when the env's placement is not known). */
export function observerOf(env: string, servers: readonly PlacedServer[] | undefined, role: string): string {
  return observerGroups(env, servers ?? []).find((g) => g.roles.includes(role))?.name ?? observerName(env);
}
/** The server's socket directory, shared read-only with the observer (emptied at every `lab down`). */
export const runVolume = (env: string, role: string) => `pglab-${env}-${role}-run`;
export const SOCKET_DIR = '/run/postgresql';
/** Where the observer sees a server's socket directory (its run volume, read-only). */
export const observerSocketDir = (role: string) => `/srv/${role}/run`;
/** Where the observer mounts a server's /var/lib/postgresql (read-only). */
export const observerHomeDir = (role: string) => `/srv/${role}/home`;

const HOME = '/var/lib/postgresql';
/** Where probes run from the observer keep their temporary files (its root is read-only, its home a volume). */
export const OBSERVER_TMP = HOME;
const LOG = `${HOME}/observer.log`;
const KEY = `${HOME}/observer.key`;
const LOOK_REQUESTS = `${HOME}/look-requests`;
/** Records read per grading: the observer stops writing at 4 MiB (PGLAB_OBSERVER_MAX_BYTES), so this is all of them. */
const READ_LIMIT = 8 * 1024 * 1024;

/** Small: it runs one psql per server every few seconds and pg_controldata when pg_control changes. */
// A cap, not a reservation: a whole CPU lets a look (and the graders' psql sessions, which run here too)
// finish in time on a loaded class server; idle it uses well under 1 % of one.
// Memory too: the graders' psql sessions run here, and under qemu-user (an arm64 env on amd64) each
// costs the emulator's tens of MiB besides; at 64 MiB the kernel killed them mid-grading.
export const OBSERVER_LIMITS = { memoryBytes: 256 * 1024 * 1024, pids: 128, nanoCpus: 1_000_000_000 } as const;

let script: string | undefined;
// LF whatever the checkout (Git for Windows may write CRLF): the same script, and Perl's heredocs stay whole.
const observerScript = () => (script ??= readFileSync(path.join(PROJECT_ROOT, 'observer', 'pglab-observer.pl'), 'utf8').replace(/\r\n/g, '\n'));

/** The env's image runs emulated (qemu-user): the identity probe then looks for the guest program. */
export interface ObserverInput { env: string; image: string; pg: PgMajor; roles: string[]; labels: Labels; emulated?: boolean; name?: string }

/**
 * What an observer is made as, in its label: one of an older kind is made again at `lab up` (its
 * records stay on its volume). 2: in the host's pid namespace, checking the servers' identity.
 */
const OBSERVER_KIND = '2';

export function observerSpec(o: ObserverInput): ContainerSpec {
  const magic = String(profileFor(o.pg).walPageMagic);
  // Its container and its volume share the name (maestro's observer, or another node's).
  const name = o.name ?? observerName(o.env);
  return {
    name,
    Image: o.image,
    Hostname: 'observer',
    User: 'postgres',
    Entrypoint: ['perl', '-e', observerScript(), o.pg, magic, ...o.roles],
    Cmd: [],
    Labels: { ...o.labels, [OBSERVER_LABEL]: 'true', 'pglab.observer.kind': OBSERVER_KIND },
    Env: ['PGLAB_OBSERVER=1', `PGLAB_IDENTITY_SCRIPT=${identityScript()}`, `PGLAB_EMULATED=${o.emulated ? 1 : 0}`],
    WorkingDir: HOME,
    HostConfig: {
      // Nothing to reach and nothing reachable: sockets and volumes are all it uses.
      NetworkMode: 'none',
      // To see what answers on the servers' sockets (server-identity.pl): as postgres with no
      // capabilities it reads only postgres's processes; the servers cannot see it (a child pid
      // namespace does not see its parent's).
      PidMode: 'host',
      Binds: [
        `${name}:${HOME}`,
        ...o.roles.flatMap((role) => [`pglab-${o.env}-${role}-home:/srv/${role}/home:ro`, `${runVolume(o.env, role)}:${observerSocketDir(role)}:ro`]),
      ],
      ReadonlyRootfs: true,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      RestartPolicy: { Name: 'unless-stopped' },
      Memory: OBSERVER_LIMITS.memoryBytes,
      PidsLimit: OBSERVER_LIMITS.pids,
      NanoCpus: OBSERVER_LIMITS.nanoCpus,
    },
  };
}

/** Creates the observer (and its volume) if missing, starts it if stopped. Idempotent. */
export async function ensureObserver(o: ObserverInput): Promise<void> {
  const name = o.name ?? observerName(o.env);
  const info = await inspectContainer(name);
  // A new standby (esclavo2…) needs the observer to mount its volumes: made again, records stay.
  const roles = info?.labels['pglab.observer.roles'];
  if (info && (roles !== o.roles.join(',') || info.labels['pglab.observer.kind'] !== OBSERVER_KIND)) {
    await removeContainer(name);
  } else if (info) {
    if (info.state !== 'running') await startContainer(name);
    return;
  }
  await createVolume(name, { ...o.labels, [OBSERVER_LABEL]: 'true' });
  const spec = observerSpec(o);
  spec.Labels = { ...spec.Labels, 'pglab.observer.roles': o.roles.join(',') };
  try {
    await createContainer(spec);
  } catch {
    // An engine that refuses the host's pid namespace (user namespace remapping): an observer in its
    // own, which records as before without checking the servers' identity (lab's inspector still does).
    await createContainer({ ...spec, HostConfig: { ...spec.HostConfig, PidMode: '' } });
  }
  await startContainer(name);
}

/** `lab down`: the observer goes with the servers; its records stay on its volume. */
export async function removeObserver(env: string, roles: string[]): Promise<void> {
  // maestro's, and any a Swarm placement made for standbys on other nodes (each gone already is fine).
  await Promise.all([observerName(env), ...roles.map((role) => `${observerName(env)}-${role}`)].map(async (name) => {
    await stopContainer(name, 5);
    await removeContainer(name);
  }));
  // Stale sockets and lock files must not outlive the servers (the socket directory was a tmpfs before).
  await Promise.all(roles.map((role) => removeVolume(runVolume(env, role)).catch(() => {})));
}

export class ObserverUnavailable extends Error {}

/**
 * Asks the observer for a look now and waits (bounded) until one that began after the request ended:
 * the student's last command is judged, not the observer's look of up to 4 s before it. An observer
 * made before looks on demand existed ignores the signal: the wait runs out and its records are read as they are.
 */
const LOOK_NOW = [
  // The observer's pid from its own file (in the host's pid namespace it is not 1), and only if that is the observer's perl.
  'req="$1/$2"; mkdir -p "$1" && : > "$req"; p=$(cat "${1%/*}/observer.pid" 2>/dev/null || echo 1); [ "$(cat /proc/$p/comm 2>/dev/null)" = perl ] && kill -USR1 "$p" 2>/dev/null',
  'i=0; while [ -e "$req" ] && [ "$i" -lt "$3" ]; do sleep 0.1; i=$((i+1)); done; rm -f "$req"',
].join('; ');
/** LOOK_NOW's arguments: the request directory, a token of this request, and the wait in tenths of a second. */
const lookArgs = () => [LOOK_REQUESTS, `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`, String(Math.ceil(TIMEOUTS.observerLookMs / 100))];

/** A fresh look, waited for (bounded): `lab solve` asks after each action, so states a script passes through quickly are seen. */
export async function lookNow(env: string, servers?: readonly PlacedServer[]): Promise<void> {
  await Promise.all(observerGroups(env, servers ?? []).map((g) => execInContainer(g.name, ['sh', '-c', LOOK_NOW, 'look', ...lookArgs()], {
    user: 'postgres', timeoutMs: TIMEOUTS.observerLookMs + TIMEOUTS.progressLogMs,
  }).catch(() => undefined)));
}

/** The observer's key and its signed lines as they are on its volume (after a fresh look); undefined when the env has no observer. */
export async function readObservationText(env: string, name = observerName(env)): Promise<{ key: string; log: string } | undefined> {
  const script = `{ ${LOOK_NOW}; } ; cat "$4" && head -c "$6" "$5" 2>/dev/null; true`;
  const r = await execInContainer(name, ['sh', '-c', script, 'read', ...lookArgs(), KEY, LOG, String(READ_LIMIT)], {
    user: 'postgres', timeoutMs: TIMEOUTS.observerLookMs + TIMEOUTS.progressLogMs,
  }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const text = r.stdout.toString();
  const nl = text.indexOf('\n');
  const key = text.slice(0, nl).trim();
  if (!/^[0-9a-f]{64}$/.test(key)) return undefined;
  return { key, log: text.slice(nl + 1) };
}

/** The observer's records, verified with its key; undefined when the observer is not there. */
export async function readObservation(env: string, servers?: readonly PlacedServer[]): Promise<Observation | undefined> {
  const groups = observerGroups(env, servers ?? []);
  const read = await Promise.all(groups.map(async (g) => {
    const raw = await readObservationText(env, g.name);
    return raw && verifyRecords(raw.log, raw.key);
  }));
  // maestro's observer is the env's: without it there is nothing to grade from.
  return read[0] && mergeObservations(read.filter((o): o is Observation => !!o));
}

/** Appends lab's own authenticated mark (e.g. `lab solve`); false when the observer is not there. */
export async function markObservation(env: string, mark: Record<string, string | number>): Promise<boolean> {
  const key = await execInContainer(observerName(env), ['cat', KEY], { user: 'postgres', timeoutMs: TIMEOUTS.progressLogMs }).catch(() => undefined);
  const k = key?.exitCode === 0 ? key.stdout.toString().trim() : '';
  if (!/^[0-9a-f]{64}$/.test(k)) return false;
  const line = signLine(k, { at: Math.floor(Date.now() / 1000), ...mark, src: 'lab' });
  const r = await execInContainer(observerName(env), ['sh', '-c', 'cat >> "$1"', 'mark', LOG], { user: 'postgres', stdin: line, timeoutMs: TIMEOUTS.progressLogMs }).catch(() => undefined);
  return r?.exitCode === 0;
}

/** pg_controldata of a server's data volume, read by the observer's own binary (a replaced one in the server cannot lie). */
export async function observedControl(
  env: string, pg: PgMajor, role: string, servers?: readonly PlacedServer[],
): Promise<{ sysid?: string; tli?: number; state?: string } | undefined> {
  const r = await execInContainer(observerOf(env, servers, role), [`/usr/lib/postgresql/${pg}/bin/pg_controldata`, `/srv/${role}/home/${pg}/main`], {
    user: 'postgres', env: { LC_ALL: 'C' }, timeoutMs: TIMEOUTS.progressLogMs,
  }).catch(() => undefined);
  if (!r || r.exitCode !== 0) return undefined;
  const text = r.stdout.toString().slice(0, 64 * 1024);
  const sysid = /^Database system identifier:\s+(\d+)/m.exec(text)?.[1];
  const tli = /^Latest checkpoint's TimeLineID:\s+(\d+)/m.exec(text)?.[1];
  const state = /^Database cluster state:\s+(.+?)\s*$/m.exec(text)?.[1];
  return { sysid, tli: tli ? Number(tli) : undefined, state };
}
