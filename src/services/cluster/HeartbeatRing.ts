/**
 * Who watches whom: the heartbeat subscriptions of one member (O(N) per interval).
 *
 * Live members sorted by name form a ring; each node subscribes to the
 * heartbeat subjects of its k predecessors (`watchTargets` in view.ts), so a
 * node's heartbeat (`<prefix>.hb.<node>`, one publish) reaches its k
 * successors. Each node also receives its own heartbeat: the echo proves its
 * own link to the server (SelfLink.ts). Per interval: N publishes and
 * (k+1)·N deliveries.
 *
 * The ring holds only the subscriptions; what a heartbeat means, and when a
 * watched node is silent, is Membership's.
 */
import type { Subscription, Transport } from '../../transport/Transport.js';
import type { ClusterSubjects } from './subjects.js';
import { watchTargets } from './view.js';

export interface HeartbeatRingDeps {
  readonly node: string;
  /** k: how many predecessors this node watches. */
  readonly watchers: number;
  readonly transport: Transport;
  readonly subjects: ClusterSubjects;
  /** A heartbeat arrived on the subject of watched `node`. */
  readonly heartbeat: (node: string, data: Uint8Array) => void;
}

export interface RingChanges {
  /** `node` is no longer watched (its subscription is gone). */
  unwatched(node: string): void;
  /** `node` is about to be watched; return false to skip it (not known yet). */
  watch(node: string): boolean;
}

export class HeartbeatRing {
  readonly #deps: HeartbeatRingDeps;
  readonly #watched = new Map<string, Subscription>();

  constructor(deps: HeartbeatRingDeps) {
    this.#deps = deps;
  }

  has(node: string): boolean {
    return this.#watched.has(node);
  }

  /** The watched nodes, live: changes during the iteration are seen, as with a Map. */
  nodes(): IterableIterator<string> {
    return this.#watched.keys();
  }

  /** Subscribe to the heartbeats of this node's k ring predecessors among `live`, and to no others. */
  update(live: Iterable<string>, changes: RingChanges): void {
    const { node: self, watchers, transport, subjects, heartbeat } = this.#deps;
    const targets = new Set(watchTargets([...live, self], self, watchers));
    for (const [node, sub] of this.#watched) {
      if (targets.has(node)) continue;
      sub.unsubscribe();
      this.#watched.delete(node);
      changes.unwatched(node);
    }
    for (const node of targets) {
      if (this.#watched.has(node) || !changes.watch(node)) continue;
      this.#watched.set(
        node,
        transport.subscribe(subjects.heartbeat(node), (msg) => heartbeat(node, msg.data)),
      );
    }
  }

  /** Drop every subscription. */
  clear(): void {
    for (const sub of this.#watched.values()) sub.unsubscribe();
    this.#watched.clear();
  }
}
