/**
 * A node's Prometheus metrics, on a registry of its own (never prom-client's
 * global one, so two nodes in one process do not mix). This is the only
 * module that imports prom-client; Node.ts loads it lazily, only with `http`.
 *
 * Counters follow the event stream (src/events.ts); gauges are read when
 * scraped. Every series carries `node`. Actor names are never labels (a
 * `many` service or a restart loop would mint a series per incarnation):
 * the finest labels are service type, supervisor and reason.
 *
 * | metric | type | labels | from |
 * |--------|------|--------|------|
 * | `halyard_transport_messages_received_total`, `_sent_total` | counter | | the transport's counters (NATS; absent on the in-process transport) |
 * | `halyard_transport_received_bytes_total`, `_sent_bytes_total` | counter | | the same |
 * | `halyard_transport_connected` | gauge | | 1 while connected |
 * | `halyard_transport_disconnects_total`, `_reconnects_total`, `_slow_consumers_total` | counter | | transport status changes |
 * | `halyard_dead_letters_total` | counter | `reason` | `dead_letter` events |
 * | `halyard_supervisor_restarts_total` | counter | `supervisor` | `supervisor.child.restarted` |
 * | `halyard_supervisor_child_exits_total` | counter | `supervisor`, `reason` | `supervisor.child.exited` |
 * | `halyard_supervisor_gave_up_total` | counter | `supervisor` | `supervisor.gave_up` |
 * | `halyard_recovery_decisions_total` | counter | `directive` | `recovery.decision` |
 * | `halyard_cluster_member_changes_total` | counter | `change` | `cluster.member` |
 * | `halyard_cluster_members` | gauge | `status` | members as this node sees them |
 * | `halyard_service_instances` | gauge | `service`, `state` | instances this node knows |
 * | `halyard_mailbox_depth` | gauge | `service` | messages waiting, summed over a service's running instances |
 * | `halyard_ask_duration_seconds` | histogram | `outcome` (`ok`, `error`) | `node.ref(name).ask(...)` from ask to answer |
 * | `halyard_process_*`, `halyard_nodejs_*` | | | prom-client's default process metrics |
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EventType, type Events } from '../../events.js';
import type { TransportStatus, TransportStats } from '../../transport/Transport.js';

/** What the metrics read from a node: its public surface, plus the ask hook. */
export interface NodeMetricsSource {
  readonly name: string;
  readonly events: Events;
  readonly transport: {
    readonly isConnected: boolean;
    stats?(): TransportStats;
    onStatus(listener: (status: TransportStatus) => void): () => void;
  };
  /** Instances as `{ service, state, depth }` (depth: its mailbox, 0 when it has no live actor). */
  instances(): ReadonlyArray<{ readonly service: string; readonly state: string; readonly depth: number }>;
  members(): ReadonlyArray<{ readonly status: string }>;
  /** Call `listener` with each finished ask: seconds from ask to answer, and whether it answered. */
  onAsk(listener: (seconds: number, ok: boolean) => void): () => void;
}

export interface NodeMetrics {
  readonly registry: Registry;
  /** The Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
  /** Stop following the node. */
  close(): void;
}

/** Seconds: from a local ask (tens of microseconds) to one at its default 5 s deadline. */
const ASK_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A counter that mirrors a cumulative figure read at scrape time (only ever grows by the difference). */
function mirrored(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  let last = 0;
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v !== undefined && v > last) {
        this.inc(v - last);
        last = v;
      }
    },
  });
}

export function createNodeMetrics(source: NodeMetricsSource): NodeMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ node: source.name });
  collectDefaultMetrics({ register: registry, prefix: 'halyard_' });

  const stats = (): TransportStats | undefined => source.transport.stats?.();
  mirrored(registry, 'halyard_transport_messages_received_total', 'Messages the transport received', () => stats()?.inMsgs);
  mirrored(registry, 'halyard_transport_messages_sent_total', 'Messages the transport sent', () => stats()?.outMsgs);
  mirrored(registry, 'halyard_transport_received_bytes_total', 'Bytes the transport received', () => stats()?.inBytes);
  mirrored(registry, 'halyard_transport_sent_bytes_total', 'Bytes the transport sent', () => stats()?.outBytes);
  new Gauge({
    name: 'halyard_transport_connected',
    help: '1 while the transport is connected',
    registers: [registry],
    collect() {
      this.set(source.transport.isConnected ? 1 : 0);
    },
  });
  const disconnects = new Counter({ name: 'halyard_transport_disconnects_total', help: 'Transport disconnects', registers: [registry] });
  const reconnects = new Counter({ name: 'halyard_transport_reconnects_total', help: 'Transport reconnects', registers: [registry] });
  const slow = new Counter({ name: 'halyard_transport_slow_consumers_total', help: 'Disconnects inferred as slow-consumer cut-offs', registers: [registry] });

  const deadLetters = new Counter({ name: 'halyard_dead_letters_total', help: 'Messages that reached no one, by reason', labelNames: ['reason'], registers: [registry] });
  const restarts = new Counter({ name: 'halyard_supervisor_restarts_total', help: 'Child restarts, by supervisor', labelNames: ['supervisor'], registers: [registry] });
  const exits = new Counter({ name: 'halyard_supervisor_child_exits_total', help: 'Children that ended unasked, by supervisor and reason', labelNames: ['supervisor', 'reason'], registers: [registry] });
  const gaveUp = new Counter({ name: 'halyard_supervisor_gave_up_total', help: 'Supervisors that gave up', labelNames: ['supervisor'], registers: [registry] });
  const decisions = new Counter({ name: 'halyard_recovery_decisions_total', help: 'Recovery Coordinator decisions, by directive', labelNames: ['directive'], registers: [registry] });
  const memberChanges = new Counter({ name: 'halyard_cluster_member_changes_total', help: 'Cluster membership changes seen, by change', labelNames: ['change'], registers: [registry] });
  const asks = new Histogram({ name: 'halyard_ask_duration_seconds', help: 'Ask round trips, by outcome', labelNames: ['outcome'], buckets: ASK_BUCKETS, registers: [registry] });
  // Zero series up front, so a dashboard sees 0 rather than no data before the first event.
  asks.zero({ outcome: 'ok' });
  asks.zero({ outcome: 'error' });

  new Gauge({
    name: 'halyard_cluster_members',
    help: 'Cluster members as this node sees them, by status',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const m of source.members()) this.inc({ status: m.status });
    },
  });
  new Gauge({
    name: 'halyard_service_instances',
    help: 'Service instances this node knows, by service and state',
    labelNames: ['service', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of source.instances()) this.inc({ service: i.service, state: i.state });
    },
  });
  new Gauge({
    name: 'halyard_mailbox_depth',
    help: 'Messages waiting in mailboxes, summed per service',
    labelNames: ['service'],
    registers: [registry],
    collect() {
      this.reset();
      for (const i of source.instances()) if (i.state !== 'stopped' && i.state !== 'failed') this.inc({ service: i.service }, i.depth);
    },
  });

  // Dead letters carry their running count per reason: mirror it, so a count from before the first scrape is kept.
  const deadSeen = new Map<string, number>();
  const offs: Array<() => void> = [
    source.events.subscribe((e) => {
      switch (e.type) {
        case EventType.DeadLetter: {
          const before = deadSeen.get(e.reason) ?? 0;
          if (e.count > before) {
            deadLetters.inc({ reason: e.reason }, e.count - before);
            deadSeen.set(e.reason, e.count);
          }
          return;
        }
        case EventType.ChildRestarted:
          return restarts.inc({ supervisor: e.supervisor });
        case EventType.ChildExited:
          return exits.inc({ supervisor: e.supervisor, reason: e.reason });
        case EventType.SupervisorGaveUp:
          return gaveUp.inc({ supervisor: e.supervisor });
        case EventType.Decision:
          return decisions.inc({ directive: e.directive });
        case EventType.Member:
          return memberChanges.inc({ change: e.change });
      }
    }),
    source.transport.onStatus((s) => {
      if (s.type === 'disconnected') disconnects.inc();
      else if (s.type === 'reconnected') reconnects.inc();
      else if (s.type === 'slow-consumer') slow.inc();
    }),
    source.onAsk((seconds, ok) => asks.observe({ outcome: ok ? 'ok' : 'error' }, seconds)),
  ];

  return {
    registry,
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    close() {
      for (const off of offs.splice(0)) off();
    },
  };
}
