/**
 * `halyard/internal`: the runtime's inner parts, for tools (benches, test
 * harnesses, debuggers), as nats.js ships `@nats-io/nats-core/internal`. Not
 * covered by semver: anything here may change in any release. Application
 * code uses `halyard` (src/index.ts), whose Node and Cluster types do not
 * show these members.
 */
import type { ActorSystem } from './actors/ActorSystem.js';
import type { Cluster } from './services/cluster/Cluster.js';
import type { Membership } from './services/cluster/Membership.js';
import type { Registry } from './services/cluster/Registry.js';
import type { Node } from './services/node/Node.js';
import type { Supervision } from './supervision/index.js';
import type { Transport } from './transport/Transport.js';

export { ActorSystem } from './actors/ActorSystem.js';
export { Membership } from './services/cluster/Membership.js';
export { Registry } from './services/cluster/Registry.js';
export { Supervision } from './supervision/index.js';
export { LocalTransport } from './transport/LocalTransport.js';
export { NatsTransport } from './transport/NatsTransport.js';

/** A node's actor system, transport and supervision. */
export interface NodeInternals {
  readonly system: ActorSystem;
  readonly transport: Transport;
  readonly supervision: Supervision;
}

export function nodeInternals(node: Node): NodeInternals {
  return { system: node.system, transport: node.transport, supervision: node.supervision };
}

/** A cluster's membership, registry and fencing counters, read when called. */
export interface ClusterInternals {
  readonly membership: Membership;
  readonly registry: Registry;
  /** Stale exit reports and spawn requests rejected so far. */
  readonly staleRejected: number;
  /** Times this node fenced itself. */
  readonly fences: number;
  /** Recovery sweeps run as cluster coordinator. */
  readonly sweeps: number;
}

export function clusterInternals(cluster: Cluster): ClusterInternals {
  return {
    membership: cluster.membership,
    registry: cluster.registry,
    staleRejected: cluster.staleRejected,
    fences: cluster.fences,
    sweeps: cluster.sweeps,
  };
}
