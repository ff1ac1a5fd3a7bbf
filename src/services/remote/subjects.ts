/**
 * Every subject Halyard uses, in one table. With the default prefix `halyard`:
 *
 * | subject                            | carries                                   | who listens                          | queue group | built by |
 * |------------------------------------|-------------------------------------------|--------------------------------------|-------------|----------|
 * | `halyard.svc.<name>`               | tell, ask, check, status for a name       | every instance of a named actor      | `<name>`    | {@link Subjects.svc} |
 * | `halyard.actor.<node>.<id>`        | tell, ask, check, status for one actor by id | the node hosting actor `<id>` (one wildcard subscription `halyard.actor.<node>.*` per node) | none | {@link Subjects.actor} |
 * | `halyard.node.<node>`              | check, status of the node itself          | the node                             | none        | {@link Subjects.node} |
 * | `halyard.events.<node>`            | the node's event stream as JSON (src/events.ts), only with `events: { publish: true }` | tools (`halyard.events.*`) | none | {@link Subjects.events} |
 * | `halyard.admin.node.<node>.<verb>` | admin API requests to one node (services/admin/protocol.ts) | `<node>` (`halyard.admin.node.<node>.*`) | none | {@link Subjects.adminNode} |
 * | `halyard.admin.all.<verb>`         | admin API fan-in: every node answers on the reply inbox | every node with admin on | none | {@link Subjects.adminAll} |
 * | `halyard.admin.any.<verb>`         | admin verbs about a name (check, status, call, send), routed by one node | one node | `halyard-admin` | {@link Subjects.adminAny} |
 * | `halyard.monitor.<service>.<instance>` | an instance's resource figures as JSON (`io.halyard.v1.monitor`), only while `node.services.monitor(...)` runs (instances/monitor.ts) | tools (`halyard.monitor.>`) | none | {@link Subjects.monitor} |
 * | `_INBOX.<unique>.r.<corr>`         | the reply or error to one ask, check or status | the asking node (one wildcard subscription `_INBOX.<unique>.>` per node) | none | Requester |
 * | `_INBOX.<unique>.t.<name>`         | nothing but the server's "no responders" status for a tell to `<name>` (a `no-such-actor` dead letter) | the telling node (same subscription) | none | Requester |
 * | `_INBOX.<unique>.<token>`          | replies to `Transport.request()` (cluster RPCs, probes) | the requesting connection (`_INBOX.<unique>.*`) | none | RequestMux |
 * | `halyard.hb.<node>`                | heartbeats                                | `<node>`'s ring successors, and `<node>` (its echo proves its link) | none | ClusterSubjects |
 * | `halyard.cluster.<event>`          | membership events: join, leave, suspect, alive, down | every member (`halyard.cluster.*`) | none | ClusterSubjects |
 * | `halyard.cluster.ping.<node>`      | SWIM ping (request), answered with a pong | `<node>`                             | none        | ClusterSubjects |
 * | `halyard.cluster.probe.<node>`     | SWIM indirect probe (request): ping a target for the asker | `<node>`            | none        | ClusterSubjects |
 * | `halyard.clrpc.<node>`             | cluster RPC (request): spawn, stop, list cluster instances | `<node>`            | none        | ClusterSubjects |
 * | `halyard.clexit.<node>`            | exit report of a cluster instance, with its epoch | `<node>`, whose supervisor started it | none | ClusterSubjects |
 * | `$SRV.PING\|INFO\|STATS[.<name>[.<id>]]` | NATS micro discovery (ADR-32)       | reserved: not served yet             | none        | |
 *
 * `cluster.*` matches one token only, so pings and probes (two tokens after
 * `cluster`) never reach the event subscribers. `clrpc` and `clexit` keep
 * their short names on purpose: nodes of two versions share a cluster during
 * a rolling upgrade, and a renamed subject would leave them deaf to each
 * other. Rename them together with the version field that issue 7 asks
 * every cluster frame to carry.
 * Cluster subjects are built in `cluster/subjects.ts`; the KV buckets are
 * `<prefix with "." as "_">-members | -registry | -leases | -coord`.
 *
 * Names may contain dots (`orders.eu` → `halyard.svc.orders.eu`); node names
 * and the prefix may not contain wildcards, and node names are one token.
 */
import { InvalidNameError } from '../../errors.js';

const TOKEN = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function assertNodeName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !TOKEN.test(name) || name.length > 64) {
    throw new InvalidNameError(name, 'a node name is 1 to 64 letters, digits, "_" or "-"');
  }
}

export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.length > 128) {
    throw new InvalidNameError(prefix, 'a prefix is dot-separated tokens of letters, digits, "_" or "-"');
  }
}

export class Subjects {
  readonly svcPrefix: string;
  readonly actorPrefix: string;
  readonly nodePrefix: string;

  constructor(readonly prefix: string) {
    assertPrefix(prefix);
    this.svcPrefix = `${prefix}.svc.`;
    this.actorPrefix = `${prefix}.actor.`;
    this.nodePrefix = `${prefix}.node.`;
  }

  svc(name: string): string {
    return this.svcPrefix + name;
  }

  actor(node: string, id: string): string {
    return `${this.actorPrefix}${node}.${id}`;
  }

  actorWildcard(node: string): string {
    return `${this.actorPrefix}${node}.*`;
  }

  node(node: string): string {
    return this.nodePrefix + node;
  }

  events(node: string): string {
    return `${this.prefix}.events.${node}`;
  }

  adminNode(node: string, verb: string): string {
    return `${this.prefix}.admin.node.${node}.${verb}`;
  }

  adminAll(verb: string): string {
    return `${this.prefix}.admin.all.${verb}`;
  }

  adminAny(verb: string): string {
    return `${this.prefix}.admin.any.${verb}`;
  }

  monitor(service: string, instance: string): string {
    return `${this.prefix}.monitor.${service}.${instance}`;
  }
}
