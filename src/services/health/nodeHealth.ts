/**
 * `createNode({ http })`: the node's `/alive`, `/ready` and `/metrics`.
 * Loaded by Node.ts only when `http` is given, so a node without it never
 * loads prom-client nor opens a port.
 *
 * `/ready` is 200 only when all of these hold, else 503 naming the first that does not:
 * 1. the node is not shutting down;
 * 2. its transport is connected;
 * 3. with `cluster`, the node has joined (its link confirmed within its lease, not fenced);
 * 4. every service type in `http.services` has a running instance on this node;
 * 5. no instance on this node is still starting.
 */
import type { Node } from '../node/Node.js';
import type { HttpOptions } from './httpOptions.js';
import { createNodeMetrics, type NodeMetrics } from './nodeMetrics.js';
import { type HealthServer, type Readiness, serveHealth } from './serveHealth.js';

export interface NodeHealth extends HealthServer {
  readonly metrics: NodeMetrics;
}

/** @internal What Node.ts hands over besides its public surface. */
export interface NodeHealthHooks {
  /** Messages waiting in the mailbox of the live actor of that name (0 when none). */
  mailboxDepth(actorName: string): number;
  onAsk(listener: (seconds: number, ok: boolean) => void): () => void;
}

export function nodeReadiness(node: Node, required: readonly string[]): Readiness {
  if (node.isClosed) return { ready: false, reason: 'node shutting down' };
  if (!node.transport.isConnected) return { ready: false, reason: `transport ${node.transport.kind} disconnected` };
  const cluster = node.cluster;
  if (cluster !== undefined && !cluster.valid) return { ready: false, reason: 'cluster not joined' };
  const instances = node.services.instances();
  for (const service of required) {
    if (!instances.some((i) => i.service === service && i.state === 'running')) {
      const states = instances.filter((i) => i.service === service).map((i) => i.state);
      return { ready: false, reason: `service ${service} not running${states.length > 0 ? ` (${states.join(', ')})` : ' (no instance)'}` };
    }
  }
  const starting = instances.find((i) => i.state === 'starting');
  if (starting !== undefined) return { ready: false, reason: `service ${starting.service} instance ${starting.id} starting` };
  return { ready: true };
}

/** @internal Called by createNode. */
export async function startNodeHealth(node: Node, options: HttpOptions, hooks: NodeHealthHooks): Promise<NodeHealth> {
  const metrics = createNodeMetrics({
    name: node.name,
    events: node.events,
    transport: node.transport,
    instances: () =>
      node.services.localInstances().map((i) => ({ service: i.service, state: i.state, depth: i.isAlive() ? hooks.mailboxDepth(i.actorName) : 0 })),
    members: () => node.nodes(),
    onAsk: hooks.onAsk,
  });
  const required = options.services ?? [];
  let server: HealthServer;
  try {
    server = await serveHealth({ port: options.port, host: options.host, ready: () => nodeReadiness(node, required), metrics: () => metrics.render() });
  } catch (err) {
    metrics.close();
    throw err;
  }
  return {
    metrics,
    host: server.host,
    port: server.port,
    url: server.url,
    async close() {
      metrics.close();
      await server.close();
    },
  };
}
