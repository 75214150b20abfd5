/**
 * The Swarm nodes lab may place envs on, and how it reaches each one's engine. The list is the
 * instructor's (`lab class nodes add NAME --host tcp://HOST:2376 --tls-dir DIR`, or `ssh://user@host`),
 * kept in `nodes.json` in lab's state directory (PGLAB_STATE_DIR, else ~/.local/state/pglab); NAME is
 * the node's hostname as `docker node ls` shows it, so what Swarm knows (role, availability, labels,
 * down/ready) and what lab counts (servers per node) are about the same machine. Never an
 * unauthenticated engine: tcp:// needs a client certificate (TLS verified against the node's CA).
 *
 * With no such file, nothing here runs and every command works on the one engine as always.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { LabError } from '../errors.js';
import { readTlsDir, type EngineEndpoint } from '../docker/engine.js';
import { nodeOf, registerNodeEngine, type NodeEngine } from '../docker/route.js';

/** One registered node. */
export interface NodeEntry {
  /** The Swarm node's hostname. */
  name: string;
  /** `tcp://HOST:2376` (TLS) or `ssh://USER@HOST[:PORT]`. */
  host: string;
  /** ca.pem, cert.pem and key.pem for tcp:// (DOCKER_CERT_PATH's layout). */
  tlsDir?: string;
}

interface NodesFile { format_version: 1; nodes: NodeEntry[] }

export const stateDir = () => process.env.PGLAB_STATE_DIR ?? path.join(process.env.XDG_STATE_HOME || path.join(homedir(), '.local', 'state'), 'pglab');
export const nodesFile = () => path.join(stateDir(), 'nodes.json');

let cached: NodeEntry[] | undefined;

/** The registered nodes; [] when none (the one-engine path: a file stat, no Docker call). */
export function registeredNodes(): NodeEntry[] {
  if (cached) return cached;
  const file = nodesFile();
  if (!existsSync(file)) return (cached = []);
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as NodesFile;
    cached = Array.isArray(parsed.nodes) ? parsed.nodes.filter((n) => n && typeof n.name === 'string' && typeof n.host === 'string') : [];
  } catch {
    throw new LabError('swarm.nodesFileBad', { file });
  }
  for (const n of cached) registerNodeEngine(nodeEngineOf(n));
  return cached;
}

/** Envs live on Swarm nodes when the instructor registered any. */
export const swarmMode = () => registeredNodes().length > 0;

const NODE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Adds or replaces a node (checked: a name Swarm could give, a TLS or ssh address, the certificates readable). */
export function addNode(entry: NodeEntry): NodeEntry {
  if (!NODE_NAME.test(entry.name)) throw new LabError('swarm.badNodeName', { name: entry.name }, 2);
  const parsed = parseNodeHost(entry.host);
  if (!parsed) throw new LabError('swarm.badNodeHost', { host: entry.host }, 2);
  let tlsDir: string | undefined;
  if (parsed.kind === 'tcp') {
    if (!entry.tlsDir) throw new LabError('swarm.needsTls', { host: entry.host }, 2);
    tlsDir = path.resolve(entry.tlsDir);
    if (!readTlsDir(tlsDir)) throw new LabError('swarm.tlsDirBad', { dir: tlsDir }, 2);
  }
  const nodes = registeredNodes().filter((n) => n.name !== entry.name);
  const added = { name: entry.name, host: entry.host, ...(tlsDir ? { tlsDir } : {}) };
  save([...nodes, added]);
  return added;
}

export function removeNode(name: string): boolean {
  const nodes = registeredNodes();
  if (!nodes.some((n) => n.name === name)) return false;
  save(nodes.filter((n) => n.name !== name));
  return true;
}

function save(nodes: NodeEntry[]): void {
  mkdirSync(stateDir(), { recursive: true, mode: 0o700 });
  const body: NodesFile = { format_version: 1, nodes: nodes.sort((a, b) => a.name.localeCompare(b.name)) };
  writeFileSync(nodesFile(), `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  cached = undefined;
}

type ParsedHost = { kind: 'tcp'; host: string; port: number } | { kind: 'ssh'; host: string; port: number; username?: string };

/** tcp://HOST:PORT or ssh://[USER@]HOST[:PORT]; anything else (unix sockets, http://) is refused. */
export function parseNodeHost(raw: string): ParsedHost | undefined {
  const tcp = /^tcp:\/\/([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\/?$/.exec(raw);
  if (tcp) return { kind: 'tcp', host: tcp[1], port: Number(tcp[2]) };
  const ssh = /^ssh:\/\/(?:([a-z_][a-z0-9_-]*)@)?([A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/.exec(raw);
  if (ssh) return { kind: 'ssh', host: ssh[2], port: Number(ssh[3] ?? 22), ...(ssh[1] ? { username: ssh[1] } : {}) };
  return undefined;
}

/** How engine.ts and dockerode reach a registered node. */
export function nodeEngineOf(n: NodeEntry): NodeEngine {
  const parsed = parseNodeHost(n.host);
  if (!parsed) throw new LabError('swarm.badNodeHost', { host: n.host }, 2);
  if (parsed.kind === 'ssh') {
    // ssh: dockerode's ssh transport (docker system dial-stdio on the node); engine.ts cannot.
    return { name: n.name, dockerode: { protocol: 'ssh', host: parsed.host, port: parsed.port, ...(parsed.username ? { username: parsed.username } : {}) } };
  }
  const tls = n.tlsDir ? readTlsDir(n.tlsDir) : undefined;
  if (!tls) throw new LabError('swarm.tlsDirBad', { dir: n.tlsDir ?? '—' }, 2);
  const endpoint: EngineEndpoint = { host: parsed.host, port: parsed.port, tls };
  return { name: n.name, endpoint, dockerode: { protocol: 'https', host: parsed.host, port: parsed.port, ca: tls.ca, cert: tls.cert, key: tls.key } };
}

/** The docker CLI's global flags that reach the node `container` lives on (`lab shell`); [] on one engine. */
export function dockerCliFlags(container: string): string[] {
  const node = nodeOf(container);
  const entry = node ? registeredNodes().find((n) => n.name === node) : undefined;
  if (!entry) return [];
  if (!entry.tlsDir) return ['-H', entry.host];
  const f = (name: string) => path.join(entry.tlsDir!, name);
  return ['-H', entry.host, '--tlsverify', '--tlscacert', f('ca.pem'), '--tlscert', f('cert.pem'), '--tlskey', f('key.pem')];
}
