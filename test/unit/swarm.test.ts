/** Envs on a Docker Swarm: placement (pure), node addresses, the overlay network, routing of Docker calls. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeOf, routedEndpoint, routeObjects } from '../../src/docker/route.js';
import { engineEndpoint } from '../../src/docker/engine.js';
import { overlaySpec } from '../../src/env/spec.js';
import { isAttachFailure, recordedPlacement, routeEnv, serverLoad, type SwarmListing } from '../../src/swarm/cluster.js';
import { addNode, parseNodeHost, registeredNodes, swarmMode } from '../../src/swarm/nodes.js';
import { ineligible, placeServers, type SwarmNode } from '../../src/swarm/placement.js';
import { LabError } from '../../src/errors.js';
import { t } from '../../src/i18n/index.js';

/** The message a person reads when fn throws. */
function said(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return err instanceof LabError ? t(err.key, err.params) : String(err);
  }
  return '';
}

const node = (name: string, over: Partial<SwarmNode> = {}): SwarmNode => ({ name, role: 'worker', availability: 'active', state: 'ready', labels: {}, ...over });
const NODES = [node('mgr', { role: 'manager' }), node('w1'), node('w2'), node('w3', { availability: 'drain' })];
const ALL = new Set(['mgr', 'w1', 'w2', 'w3']);
const ROLES = ['maestro', 'esclavo'];

describe('placement', () => {
  it('puts a whole env on the least loaded worker: never a manager, a drained or an unregistered node', () => {
    expect(placeServers(ROLES, NODES, ALL, new Map([['w1', 4], ['w2', 2]]))).toEqual({ maestro: 'w2', esclavo: 'w2' });
    expect(placeServers(ROLES, NODES, new Set(['mgr', 'w1']), new Map([['w1', 40]]))).toEqual({ maestro: 'w1', esclavo: 'w1' });
    expect(() => placeServers(ROLES, [NODES[0], NODES[3]], ALL, new Map())).toThrow(LabError);
  });

  it('spreads a class evenly, counting what it placed', () => {
    const load = new Map<string, number>();
    const envs = Array.from({ length: 4 }, () => placeServers(ROLES, NODES, ALL, load).maestro);
    expect(envs.sort()).toEqual(['w1', 'w1', 'w2', 'w2']);
    expect(load).toEqual(new Map([['w1', 4], ['w2', 4]]));
  });

  it('--spread and --node put servers on different nodes; a named manager or drained node is refused with the reason', () => {
    expect(placeServers(ROLES, NODES, ALL, new Map(), { spread: true })).toEqual({ maestro: 'w1', esclavo: 'w2' });
    expect(placeServers(ROLES, NODES, ALL, new Map(), { wanted: ['w2', 'w1'] })).toEqual({ maestro: 'w2', esclavo: 'w1' });
    expect(placeServers([...ROLES, 'esclavo2'], NODES, ALL, new Map(), { wanted: ['w2'] })).toEqual({ maestro: 'w2', esclavo: 'w2', esclavo2: 'w2' });
    expect(said(() => placeServers(ROLES, NODES, ALL, new Map(), { wanted: ['mgr'] }))).toMatch(/mgr.*manager/);
    expect(said(() => placeServers(ROLES, NODES, ALL, new Map(), { wanted: ['w3'] }))).toMatch(/w3.*drain/);
  });

  it('reads node labels: pglab.envs=false skips, pglab.max-servers caps', () => {
    expect(ineligible(node('a', { labels: { 'pglab.envs': 'false' } }), true, 0)).toMatch(/pglab.envs/);
    expect(ineligible(node('a', { labels: { 'pglab.max-servers': '4' } }), true, 3, 2)).toMatch(/max-servers/);
    expect(ineligible(node('a', { labels: { 'pglab.max-servers': '4' } }), true, 2, 2)).toBeUndefined();
    expect(ineligible(node('a', { state: 'down' }), true, 0)).toBeDefined();
    expect(ineligible(undefined, true, 0)).toBeDefined();
  });
});

describe('nodes and routing', () => {
  let dir: string;
  const saved = process.env.PGLAB_STATE_DIR;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pglab-swarm-unit-'));
    process.env.PGLAB_STATE_DIR = dir;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.PGLAB_STATE_DIR; else process.env.PGLAB_STATE_DIR = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('accepts tcp:// with TLS and ssh://, never an unauthenticated port', () => {
    expect(parseNodeHost('tcp://10.0.0.2:2376')).toEqual({ kind: 'tcp', host: '10.0.0.2', port: 2376 });
    expect(parseNodeHost('ssh://docente@nodo1')).toEqual({ kind: 'ssh', host: 'nodo1', port: 22, username: 'docente' });
    for (const bad of ['unix:///var/run/docker.sock', 'http://x:2375', 'tcp://x', 'tcp://x:2376; rm -rf /']) expect(parseNodeHost(bad)).toBeUndefined();
    expect(said(() => addNode({ name: 'n1', host: 'tcp://10.0.0.2:2375' }))).toMatch(/--tls-dir/);
    expect(said(() => addNode({ name: 'n1', host: 'tcp://10.0.0.2:2376', tlsDir: dir }))).toMatch(/ca.pem/);
    expect(() => addNode({ name: '../x', host: 'ssh://a@b' })).toThrow(LabError);
    expect(swarmMode()).toBe(false);
    addNode({ name: 'n1', host: 'ssh://docente@nodo1' });
    expect(registeredNodes().map((n) => n.name)).toEqual(['n1']);
    expect(swarmMode()).toBe(true);
  });

  it('routes an env\'s objects to their node; everything else stays on the default engine', () => {
    routeEnv('ana', { maestro: 'n1', esclavo: 'n2' });
    expect(nodeOf('pglab-ana-maestro')).toBe('n1');
    expect(nodeOf('pglab-ana-maestro-home')).toBe('n1');
    expect(nodeOf('pglab-ana-observer')).toBe('n1');
    expect(nodeOf('pglab-ana-esclavo-run')).toBe('n2');
    expect(nodeOf('pglab-ana-lock')).toBeUndefined();
    // n1 is ssh: dockerode only (null); an unrouted object uses the default engine.
    expect(routedEndpoint('pglab-ana-maestro')).toBeNull();
    expect(routedEndpoint('pglab-bob-maestro')).toBeUndefined();
    expect(engineEndpoint('pglab-bob-maestro')).toEqual(engineEndpoint());
    routeObjects('n1', ['x']);
    expect(nodeOf('x')).toBe('n1');
  });
});

describe('Swarm facts', () => {
  it('reads placement back from containers, volumes and the network, and counts servers per node', () => {
    const listing: SwarmListing = {
      containers: [{ name: 'pglab-ana-maestro', labels: { 'pglab.env': 'ana', 'pglab.role': 'maestro' }, state: 'running', imageId: 'i', node: 'w1' }],
      volumes: [{ name: 'pglab-ana-esclavo-home', labels: { 'pglab.env': 'ana', 'pglab.role': 'esclavo' }, createdAt: '', node: 'w2' }],
      networks: [], down: new Set(),
    };
    const network = { id: 'n', name: 'pglab-ana', labels: { 'pglab.node.maestro': 'w9', 'pglab.node.esclavo2': 'w3' }, created: '', subnets: [] };
    expect(recordedPlacement('ana', listing, network)).toEqual({ maestro: 'w1', esclavo: 'w2', esclavo2: 'w3' });
    expect(serverLoad(listing)).toEqual(new Map([['w1', 1]]));
  });

  it('an env network is an attachable internal overlay, Docker\'s addresses away from the servers\'', () => {
    const spec = overlaySpec('ana', { 'pglab.subnet': '10.213.7.0/24' });
    expect(spec).toMatchObject({ Name: 'pglab-ana', Driver: 'overlay', Attachable: true, Internal: true });
    expect(spec.IPAM?.Config?.[0]).toEqual({ Subnet: '10.213.7.0/24', Gateway: '10.213.7.1', IPRange: '10.213.7.128/25' });
  });

  it('knows the engine\'s answers for a broken overlay attachment', () => {
    expect(isAttachFailure(new Error('Could not attach to network pglab-ana: context deadline exceeded'))).toBe(true);
    expect(isAttachFailure(new Error('No such container'))).toBe(false);
  });
});
