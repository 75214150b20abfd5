/**
 * Which engine a Docker object lives on. On one machine every object is on the default engine and
 * nothing here is used (no lookup costs a round trip: it is a Map). An env placed on the nodes of a
 * Docker Swarm (src/swarm/) registers its containers' and volumes' names here with their node, so
 * every Docker call about them (exec, top, archive, inspect, start, probes, terminals) goes to that
 * node's engine without each caller knowing where the env lives.
 */
/** A client certificate and the CA that signed the engine's: what `tcp://…:2376` with TLS needs. */
export interface EngineTls { ca: Buffer; cert: Buffer; key: Buffer }

/** Where an engine listens (engine.ts speaks to it): a socket, plain tcp, or tcp with TLS. */
export interface EngineEndpoint { socketPath?: string; host?: string; port?: number; tls?: EngineTls }

/** How to reach one node's engine. */
export interface NodeEngine {
  /** The Swarm node's hostname (`docker node ls`). */
  name: string;
  /** What engine.ts speaks to (unix, tcp+TLS); undefined when only dockerode can (ssh://). */
  endpoint?: EngineEndpoint;
  /** dockerode's constructor options for this node. */
  dockerode: Record<string, unknown>;
}

const engines = new Map<string, NodeEngine>();
const routes = new Map<string, string>();

export function registerNodeEngine(node: NodeEngine): void {
  engines.set(node.name, node);
}

export function nodeEngine(name: string): NodeEngine | undefined {
  return engines.get(name);
}

/** From now on, these objects (container and volume names) are on `node`. */
export function routeObjects(node: string, objects: string[]): void {
  for (const o of objects) routes.set(o, node);
}

/** The node an object was registered on, if any. */
export function nodeOf(object: string | undefined): string | undefined {
  return object === undefined ? undefined : routes.get(object);
}

/** The node engine of a routed object; undefined when the object is not routed (default engine). */
export function routedNode(object: string | undefined): NodeEngine | undefined {
  const node = nodeOf(object);
  return node === undefined ? undefined : engines.get(node);
}

/** undefined: not routed (use the default engine); null: routed to a node engine.ts cannot reach (dockerode). */
export function routedEndpoint(object: string): EngineEndpoint | null | undefined {
  const node = routedNode(object);
  if (!node) return undefined;
  return node.endpoint ?? null;
}
