/**
 * A Halyard node: an actor system joined to a transport.
 *
 * ```ts
 * const node = await createNode({ name: 'n1' });                 // embedded, in-process
 * const node = await createNode({ name: 'n1', transport: { kind: 'nats', servers: 'nats://127.0.0.1:4222' } });
 * ```
 *
 * ## Options
 * | option       | required | default                 | meaning |
 * |--------------|----------|-------------------------|---------|
 * | `name`       | yes      |                         | node name: one subject token, unique in the cluster |
 * | `transport`  | no       | `{ kind: 'local' }`     | `{ kind: 'local', bus? }`, `{ kind: 'nats', servers, token?, user?, pass?, authenticator?, tls?, ... }`, or a `Transport` |
 * | `prefix`     | no       | `'halyard'`             | subject prefix |
 * | `logger`     | no       | silent                  | a pino logger; each actor gets a child with `{node, actor}` |
 * | `clock`      | no       | monotonic               | injected time source: actors, ask deadlines, the transport's request deadlines, the cluster |
 * | `mailbox`    | no       | `{ capacity: 4096, overflow: 'reject' }` | default mailbox |
 * | `askTimeout` | no       | 5000                    | default ask deadline, ms |
 * | `limits`     | no       | `{ maxBytes: 1 MiB, maxDepth: 32 }` | inbound frame guard |
 * | `supervision`| no       | OTP default policy      | `{ rules, decisionLogSize, ruleTimeout }` for the Recovery Coordinator |
 * | `events`     | no       | `{ publish: false }`    | `{ publish }`: also publish `node.events` as JSON on `<prefix>.events.<node>` (src/events.ts) |
 * | `admin`      | no       | `{ write: false }`      | the admin wire API (services/admin/protocol.ts): `false` for none; `{ write: true }` allows restart and stop; `logSize` |
 * | `http`       | no       | off                     | `{ port, host = '127.0.0.1', services? }`: serve `/alive`, `/ready`, `/metrics` (services/health/) |
 * | `state`      | no       | file store under `.halyard/state/<node>`; JetStream KV on NATS | `{ dir }` or `{ store }`: where `persist` services keep their state (services/state/stateOptions.ts) |
 *
 * ## Routing
 * `ref(name)` resolves at every send: a live local actor of that name gets the
 * message straight into its mailbox (no encoding, no transport); otherwise it
 * goes to `<prefix>.svc.<name>`, where the instances of that name on any node
 * share it through a queue group (services/remote/Router.ts; the subject
 * table is services/remote/subjects.ts).
 */
import { ContextManager } from '../contexts/ContextManager.js';
import type { AnyActorLogic, AnyEventObject, EventFromLogic, InputFrom, SnapshotFrom } from 'xstate';
import { ActorSystem, type SpawnOptions } from '../../actors/ActorSystem.js';
import { DeadLetterReason, type DeadLetters } from '../../actors/DeadLetters.js';
import type { MailboxOptions } from '../../actors/Mailbox.js';
import { assertName } from '../../actors/names.js';
import {
  type CheckLevel,
  type CheckResult,
  isCheckLevel,
  makeCheckResult,
  OCF,
  type StatusReport,
} from '../../actors/ocf.js';
import type { ActorRef, ExitSignal, LocalActorRef, Shutdown } from '../../actors/types.js';
import { type Clock, monotonicClock } from '../../clock.js';
import { type Events, EventStream } from '../../events.js';
import { InvalidArgumentError, InvalidSpecError, NodeClosedError, PermissionDeniedError, describe, toLogError } from '../../errors.js';
import { type Logger, nullLogger } from '../../log.js';
import { assertShutdownArg } from '../../options.js';
import type { CodecLimits } from '../remote/frameGuard.js';
import { LocalBus, LocalTransport } from '../../transport/LocalTransport.js';
import { NatsTransport } from '../../transport/NatsTransport.js';
import type { Subscription, Transport } from '../../transport/Transport.js';
import { Supervision, type SupervisionOptions } from '../../supervision/index.js';
import type { RecoveryCoordinator } from '../../supervision/RecoveryCoordinator.js';
import type { SuperviseOptions } from '../../supervision/Supervisor.js';
import type { Down, MonitorHandle, Supervisor, SupervisorSpec } from '../../supervision/types.js';
import { Cluster, type ClusterOptions, type RegisterOptions } from '../cluster/Cluster.js';
import { ClusterServices } from '../cluster/clusterServices.js';
import type { Member } from '../cluster/Membership.js';
import { bucketName } from '../cluster/subjects.js';
import { Tasks } from '../tasks/Tasks.js';
import { Inbound, type InboundTarget } from '../remote/Inbound.js';
import { Requester } from '../remote/Requester.js';
import { type RemoteNodeHealth, Router } from '../remote/Router.js';
import type { AnyServiceDefinition } from '../catalog/definition.js';
import { ServiceManager } from '../instances/ServiceManager.js';
import { type NodeStateOption, resolveStateStore } from '../state/stateOptions.js';
import type { StateStore } from '../state/StateStore.js';
import { MicroResponder } from '../micro/MicroResponder.js';
import { isTransport, resolveNodeOptions, type TransportConfig } from './options.js';
import type { Subjects } from '../remote/subjects.js';
import { type AdminHost, type AdminOptions, AdminResponder } from '../admin/AdminResponder.js';
import type { HttpOptions } from '../health/httpOptions.js';
import type { NodeHealth } from '../health/nodeHealth.js';

export type { TransportConfig } from './options.js';

export interface NodeOptions {
  readonly name: string;
  readonly transport?: TransportConfig | Transport;
  readonly prefix?: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly mailbox?: MailboxOptions;
  readonly askTimeout?: number;
  readonly limits?: Partial<CodecLimits>;
  /** Rules for the Recovery Coordinator (ahead of the OTP default), decision log size. */
  readonly supervision?: SupervisionOptions;
  /** Join the cluster of nodes on the same NATS server (or the same LocalBus) and prefix (see cluster/Cluster.ts). */
  readonly cluster?: true | ClusterOptions;
  /** Service types this node can start (`defineService`); see instances/ServiceManager.ts. */
  readonly services?: readonly AnyServiceDefinition[];
  /** Node labels matched against a service's `requires`. */
  readonly labels?: readonly string[];
  /** The event stream's options (src/events.ts). */
  readonly events?: { readonly publish?: boolean };
  /** The admin wire API for tools (services/admin/protocol.ts); read verbs on by default, write verbs with `{ write: true }`. */
  readonly admin?: AdminOptions;
  /** Health and metrics endpoints over HTTP (services/health/nodeHealth.ts); off when absent. */
  readonly http?: HttpOptions;
  /** Where persisted services keep their state: `{ dir }` or `{ store }`; default in state/stateOptions.ts. */
  readonly state?: NodeStateOption;
}

/** The node's transport: built from its config (on the node's clock, so request deadlines follow it), or the user's own. */
async function openTransport(config: NodeOptions['transport'], nodeName: string, logger: Logger, clock: Clock): Promise<{ transport: Transport; owned: boolean }> {
  if (config === undefined) return { transport: new LocalTransport({ name: nodeName, clock }), owned: true };
  if (isTransport(config)) return { transport: config, owned: false };
  if (config.kind === 'local') return { transport: new LocalTransport({ name: nodeName, bus: config.bus ?? LocalBus.default, clock }), owned: true };
  const { kind: _kind, name, ...rest } = config;
  const transport = await NatsTransport.connect({ ...rest, name: name ?? `halyard-${nodeName}`, logger, clock });
  return { transport, owned: true };
}

/**
 * Open a node. Resolves once its transport is connected and its
 * subscriptions are in place. Every option is validated before a connection
 * opens (`InvalidSpecError` naming the field); a failure after it opened
 * closes it again, so a refused node leaves nothing behind on the server.
 */
export async function createNode(options: NodeOptions): Promise<Node> {
  const { subjects, limits, cluster: clusterOptions } = resolveNodeOptions(options);
  const logger = (options.logger ?? nullLogger()).child({ node: options.name });
  const { transport, owned } = await openTransport(options.transport, options.name, logger, options.clock ?? monotonicClock);
  let node: Node;
  try {
    node = new Node(options, transport, owned, subjects, limits, options.logger ?? nullLogger(), logger);
  } catch (err) {
    if (owned) await transport.close();
    throw err;
  }
  try {
    // The node's own subscriptions are at the server before anyone is told it exists.
    await transport.flush();
    if (clusterOptions !== undefined) {
      node._attachCluster(
        await Cluster.start({
          node: node.name,
          transport,
          prefix: subjects.prefix,
          system: node.system,
          supervision: node.supervision,
          logger,
          clock: options.clock,
          options: clusterOptions,
        }),
      );
    }
    // Imported here so that prom-client loads only in a node that serves metrics.
    if (options.http !== undefined) await node._attachHealth((await import('../health/nodeHealth.js')).startNodeHealth, options.http);
  } catch (err) {
    await node.shutdown();
    throw err;
  }
  return node;
}

export class Node implements InboundTarget {
  readonly name: string;
  /** @internal The node's actors; users go through `spawn`, `lookup` and `ref`. */
  readonly system: ActorSystem;
  /** @internal The node's transport; tools reach it through `halyard/internal`. */
  readonly transport: Transport;
  readonly subjects: Subjects;
  readonly logger: Logger;
  readonly clock: Clock;
  /** @internal Supervisors of this node and its Recovery Coordinator. */
  readonly supervision: Supervision;
  /** Service types and instances on this node. */
  readonly services: ServiceManager;
  /** Contexts: transactions owning services, driven by triggers (services/contexts/). */
  readonly contexts: ContextManager;
  private stateStore: StateStore | undefined;
  private readonly eventStream: EventStream;
  /** @internal The node's `$SRV` responder (its service instances register there). */
  private readonly micro: MicroResponder;
  private readonly owned: boolean;
  private readonly inbound: Inbound;
  private readonly requester: Requester;
  private readonly router: Router;
  private readonly subs: Subscription[] = [];
  private readonly nameSubs = new Map<string, Subscription>();
  private readonly startedAt: number;
  private closing: Promise<void> | undefined;
  private cluster_: Cluster | undefined;
  private tasks_: Tasks | undefined;
  private readonly admin: AdminResponder | undefined;
  private readonly labelList: readonly string[];
  private health_: NodeHealth | undefined;

  /** @internal Use {@link createNode}. */
  constructor(
    options: NodeOptions,
    transport: Transport,
    owned: boolean,
    subjects: Subjects,
    limits: CodecLimits,
    rootLogger: Logger,
    logger: Logger,
  ) {
    this.name = options.name;
    this.transport = transport;
    this.owned = owned;
    this.subjects = subjects;
    this.logger = logger;
    this.clock = options.clock ?? monotonicClock;
    this.startedAt = this.clock.now();
    this.eventStream = new EventStream(this.name, this.clock, logger);
    this.system = new ActorSystem({
      node: this.name,
      logger: rootLogger,
      clock: this.clock,
      mailbox: options.mailbox,
      askTimeout: options.askTimeout,
      addressOf: (ref) => subjects.actor(this.name, ref.id),
    });
    this.inbound = new Inbound(
      transport,
      this.system.deadLetters,
      limits,
      logger,
      (name) => this.cluster_?._hostedEpoch(name),
      (label) => this.cluster_?._fencedRefusal(label),
    );
    this.requester = new Requester(transport, this.clock, this.system.deadLetters, limits, (name) => this.cluster_?._knownEpoch(name));
    this.router = new Router(this.system, this.requester, subjects, this.name);

    const actorPrefix = subjects.actor(this.name, '');
    this.subs.push(
      transport.subscribe(subjects.actorWildcard(this.name), (msg) => {
        const id = msg.subject.slice(actorPrefix.length);
        this.cluster_?._guard();
        this.inbound.handle(msg, this.system.get(id), id);
      }),
      transport.subscribe(subjects.node(this.name), (msg) => this.inbound.handle(msg, this, this.name)),
    );
    this.system.onSpawn((cell) => {
      if (cell.name !== undefined) this.serveName(cell.name);
    });
    this.system.onExit((exit) => {
      // Keep the subscription if the name was taken again (a restart) meanwhile.
      if (exit.name !== undefined && !this.system.lookup(exit.name)) this.unserveName(exit.name);
    });
    transport.onStatus((s) => {
      this.logger.info({ transport: s.type }, 'transport status');
      if (s.type === 'permission-denied' && s.operation === 'publish' && s.subject !== undefined) {
        // The message is lost: count it, and fail asks to that subject now rather than at their deadline.
        this.system.deadLetters.record(s.subject, undefined, DeadLetterReason.PermissionDenied);
        this.requester.failSubject(s.subject, new PermissionDeniedError(s.subject, 'publish'));
      }
    });
    this.supervision = new Supervision(this.system, options.supervision, this.eventStream.emit);
    // One `$SRV` responder per node lists its running service instances (NATS micro discovery).
    this.micro = new MicroResponder({ transport, deadLetters: this.system.deadLetters, clock: this.clock, logger: logger.child({ component: 'micro' }) });
    this.services = new ServiceManager(
      {
        name: this.name,
        clock: this.clock,
        logger,
        supervise: (spec, o) => this.supervise(spec, o),
        nameTaken: (n) => this.system.lookup(n) !== undefined,
        micro: { responder: this.micro, subject: (n) => subjects.svc(n), flush: () => this.transport.flush() },
        monitor: {
          clock: this.clock,
          logger,
          lookup: (n) => this.system.lookup(n),
          subject: (service, instance) => subjects.monitor(service, instance),
          publish: (subject, data) => this.transport.publish(subject, data),
        },
        report: (r) => this.supervision.coordinator.report(r),
        beforeRestart: (s, hook) => this.supervision.coordinator._beforeRestart(s, hook),
        stateStore: () => {
          this.stateStore ??= resolveStateStore(options.state, this.name, transport);
          return this.stateStore;
        },
      },
      options.services,
      options.labels,
    );
    this.contexts = new ContextManager({ node: this.name, services: this.services, logger, transport, prefix: subjects.prefix });
    if (options.events?.publish === true) this.publishEvents();
    this.eventStream._source(() => this.deadLetterEvents());
    this.labelList = options.labels ?? [];
    this.admin = options.admin === false ? undefined : new AdminResponder(this._adminHost(), options.admin);
  }

  /** What the admin responder reads of this node. */
  private _adminHost(): AdminHost {
    const node = this;
    return {
      name: this.name,
      subjects: this.subjects,
      transport: this.transport,
      clock: this.clock,
      logger: this.logger,
      system: this.system,
      supervision: this.supervision,
      services: this.services,
      contexts: this.contexts,
      tasks: () => this.tasks,
      events: this.eventStream,
      labels: this.labelList,
      get inCluster() {
        return node.cluster_ !== undefined;
      },
      get uptimeMs() {
        return Math.round(node.clock.now() - node.startedAt);
      },
      check: (name, level) => this.check(name, level),
      status: (name) => this.status(name),
      ref: (name) => this.ref(name),
    };
  }

  /** Dead letters as events, watched only while the stream has listeners (each watched dead letter allocates). */
  private deadLetterEvents(): () => void {
    const deadLetters = this.system.deadLetters;
    return deadLetters.subscribe((letter) => {
      this.eventStream.emit({
        type: 'dead_letter',
        target: letter.target,
        reason: letter.reason,
        ...(letter.type !== undefined ? { eventType: letter.type } : {}),
        count: deadLetters.count(letter.reason),
      });
    });
  }

  private publishEvents(): void {
    const subject = this.subjects.events(this.name);
    const encoder = new TextEncoder();
    this.eventStream._outlet((event) => {
      if (this.transport.isClosed) return;
      try {
        this.transport.publish(subject, encoder.encode(JSON.stringify(event)));
      } catch (err) {
        // A lost event must not fail the actor step that caused it.
        this.logger.warn({ err: toLogError(err), eventType: event.type }, 'cannot publish event');
      }
    });
  }

  /** What happened on this node, as versioned events for tools (src/events.ts). */
  get events(): Events {
    return this.eventStream;
  }

  /** Name or id, for logs and health answers. */
  get label(): string {
    return this.name;
  }

  get deadLetters(): DeadLetters {
    return this.system.deadLetters;
  }

  get isClosed(): boolean {
    return this.closing !== undefined;
  }

  /** Tasks with subtasks, dispatched to the nodes that define them (services/tasks/Tasks.ts); records in `<prefix>-tasks`. */
  get tasks(): Tasks {
    this.tasks_ ??= new Tasks({ kv: this.transport.kv(), node: this.name, bucket: bucketName(this.subjects.prefix, 'tasks'), clock: this.clock, logger: this.logger });
    return this.tasks_;
  }

  /** The node's HTTP endpoints (`/alive`, `/ready`, `/metrics`), when created with `http`. */
  get health(): NodeHealth | undefined {
    return this.health_;
  }

  /** @internal */
  async _attachHealth(start: typeof import('../health/nodeHealth.js').startNodeHealth, options: HttpOptions): Promise<void> {
    this.health_ = await start(this, options, {
      mailboxDepth: (name) => this.system.lookup(name)?.statusReport().mailbox.depth ?? 0,
      onAsk: (listener) => {
        this.router.onAsk = listener;
        return () => {
          this.router.onAsk = undefined;
        };
      },
    });
  }

  // ── cluster ─────────────────────────────────────────────────────────────

  /** The node's cluster, when created with `cluster`. */
  get cluster(): Cluster | undefined {
    return this.cluster_;
  }

  /** @internal */
  _attachCluster(cluster: Cluster): void {
    this.cluster_ = cluster;
    // Defined services join the cluster's catalogue; `cluster` lifetimes are placed through it.
    this.services._attachCluster(
      new ClusterServices({
        cluster,
        clock: this.clock,
        ref: (n) => {
          const r = this.router.ref(n);
          return { tell: (e) => r.tell(e), ask: (e, o) => r.ask(e, o) };
        },
        check: (n, level) => this.router.check(n, level),
        status: (n) => this.router.status(n),
      }),
    );
    const emit = this.eventStream.emit;
    cluster.membership.on('change', (c) =>
      emit({ type: 'cluster.member', change: c.type, member: c.member.node, incarnation: c.member.incarnation, by: c.by }),
    );
    cluster.on('gave-up', (e) =>
      emit({
        type: 'cluster.gave_up',
        name: e.name,
        reason: e.reason,
        ...(e.endedWith !== undefined ? { endedWith: e.endedWith } : {}),
        ...(e.bannedUntil !== undefined ? { bannedUntil: e.bannedUntil } : {}),
      }),
    );
  }

  /** Cluster members as this node sees them (`[]` without a cluster). */
  nodes(): Member[] {
    return this.cluster_?.nodes() ?? [];
  }

  /** Register a service type by name, so that any node can start it here (needs `cluster`). */
  register(type: string, logic: AnyActorLogic, options?: RegisterOptions): void {
    if (this.cluster_ === undefined) throw new InvalidSpecError('cluster', 'register needs a node created with cluster');
    assertName(type);
    this.cluster_.register(type, logic, options);
  }

  // ── actors ──────────────────────────────────────────────────────────────

  /** Run XState logic as an actor on this node. */
  spawn<TLogic extends AnyActorLogic>(
    logic: TLogic,
    options?: SpawnOptions<InputFrom<TLogic>>,
  ): LocalActorRef<EventFromLogic<TLogic>, SnapshotFrom<TLogic>> {
    if (this.closing) throw new NodeClosedError(this.name);
    return this.system.spawn(logic, options);
  }

  // ── supervision ─────────────────────────────────────────────────────────

  /** Start a supervision tree (OTP semantics; see src/supervision/Supervisor.ts). */
  supervise(spec: SupervisorSpec, options?: SuperviseOptions): Supervisor {
    if (this.closing) throw new NodeClosedError(this.name);
    return this.supervision.supervise(spec, options);
  }

  /** The node's Recovery Coordinator: rules, and the decision log. */
  get coordinator(): RecoveryCoordinator {
    return this.supervision.coordinator;
  }

  /**
   * Watch a local actor (by reference, name or id): exactly one `down`
   * notification with its exit reason, `noproc` if it is not alive.
   */
  monitor(target: LocalActorRef | string, listener?: (down: Down) => void): MonitorHandle {
    return this.supervision.monitor(target, listener);
  }

  /** A reference to whatever serves `name`: this node first, then the cluster. */
  ref<TEvent extends AnyEventObject = AnyEventObject>(name: string): ActorRef<TEvent> {
    return this.router.ref(name) as unknown as ActorRef<TEvent>;
  }

  /** The live local actor named `name`, if any (Erlang's `whereis/1`). */
  whereis(name: string): LocalActorRef | undefined {
    return this.system.lookup(name);
  }

  /** Stop a local actor by name or reference. */
  async stop(target: string | LocalActorRef, shutdown?: Shutdown): Promise<ExitSignal | undefined> {
    if (shutdown !== undefined) assertShutdownArg(shutdown);
    const cell = typeof target === 'string' ? this.system.lookup(target) : this.system.get(target.id);
    if (!cell) return typeof target === 'string' ? undefined : target.exit;
    return cell.stop(shutdown);
  }

  /**
   * Resolves once every subscription and message this node has sent so far
   * has reached the server. A name spawned here is reachable from other
   * connections only after that: NATS orders nothing across connections.
   */
  flush(): Promise<void> {
    return this.transport.flush();
  }

  // ── health ──────────────────────────────────────────────────────────────

  /**
   * OCF Check. With a name: that actor's (local first, else over the
   * transport). Without: the node's own.
   */
  check(name?: string | number, level: CheckLevel = 0): Promise<CheckResult> {
    if (typeof name === 'number') return this.checkSelf(name as CheckLevel);
    if (name === undefined) return this.checkSelf(level);
    return this.router.check(name, level);
  }

  /** OCF Status: logs one line now and returns it. With a name: that actor's; without: the node's. */
  status(name?: string): Promise<StatusReport> {
    if (name === undefined) return this.statusSelf();
    return this.router.status(name);
  }

  /** Check or Status of another node, over the transport. */
  remoteNode(nodeName: string): RemoteNodeHealth {
    return this.router.remoteNode(nodeName);
  }

  private async checkSelf(level: CheckLevel): Promise<CheckResult> {
    if (!isCheckLevel(level)) throw new InvalidArgumentError('level', 'must be 0, 10 or 20');
    if (this.closing) return makeCheckResult(OCF.NOT_RUNNING, 'shut down', level, this.name, this.name);
    if (!this.transport.isConnected) {
      return makeCheckResult(OCF.DEGRADED, `transport ${this.transport.kind} disconnected`, level, this.name, this.name);
    }
    if (level >= 10) {
      const gaveUp = this.supervision.gaveUpSupervisors();
      if (gaveUp.length > 0) {
        const last = gaveUp[gaveUp.length - 1];
        const serving = this.supervision.supervisors().length > 0;
        const reason = `supervisor ${last.supervisor} gave up: ${describe(last.error)}${serving ? ' (other supervisors still running)' : ''}`;
        return makeCheckResult(serving ? OCF.DEGRADED : OCF.ERR_GENERIC, reason, level, this.name, this.name);
      }
      const failed = this.system.actors().filter((a) => a.lifecycle === 'failed').length;
      if (failed > 0) return makeCheckResult(OCF.DEGRADED, `${failed} actors failed`, level, this.name, this.name);
    }
    return makeCheckResult(OCF.SUCCESS, `running, ${this.system.size} actors`, level, this.name, this.name);
  }

  /** The node's status report, without logging it. */
  statusReport(): StatusReport {
    return {
      actor: this.name,
      id: this.name,
      node: this.name,
      lifecycle: this.closing ? 'stopped' : 'running',
      state: this.transport.isConnected ? 'connected' : 'disconnected',
      mailbox: { depth: 0, capacity: 0, overflow: 'none' },
      processed: 0,
      dropped: this.deadLetters.total,
      uptimeMs: Math.round(this.clock.now() - this.startedAt),
      lastError: null,
      transport: this.transport.kind,
      // Disconnects, slow-consumer cut-offs (inferred) and traffic, where the transport counts them (NATS).
      ...(this.transport.stats ? { transportStats: this.transport.stats() } : {}),
      actors: this.system.size,
      names: this.system.names(),
      deadLetters: this.deadLetters.byReason(),
      asksInFlight: this.requester.inFlight,
      inbound: this.inbound.stats(),
    };
  }

  private async statusSelf(): Promise<StatusReport> {
    const report = this.statusReport();
    const { node: _node, ...fields } = report; // the child logger binds `node`
    this.logger.info(fields, 'status');
    return report;
  }

  // ── lifecycle ───────────────────────────────────────────────────────────

  /** Stop every actor (newest first), drain the subscriptions, close the transport. Idempotent. */
  shutdown(shutdown: Shutdown = 5000): Promise<void> {
    if (this.closing === undefined) this.router.close();
    this.closing ??= (async () => {
      await this.contexts._shutdown();
      await this.tasks_?.close();
      this.admin?.close();
      await this.services._shutdown();
      this.micro.close();
      // Supervisors first: a supervised child stopped from outside would be
      // seen as a failure and restarted.
      await this.supervision.shutdown();
      await this.cluster_?.stop();
      await this.system.stopAll(shutdown);
      this.requester.close(this.name);
      for (const sub of this.subs) sub.unsubscribe();
      for (const sub of this.nameSubs.values()) sub.unsubscribe();
      this.nameSubs.clear();
      if (this.owned) await this.transport.close();
      // Last, so that probes see 503 (shutting down) rather than a refused connection meanwhile.
      await this.health_?.close();
    })();
    return this.closing;
  }

  private serveName(name: string): void {
    if (this.nameSubs.has(name) || this.transport.isClosed) return;
    // Looked up at receipt, not bound to the cell: a restarted actor takes
    // over the name without a gap in the subscription.
    const sub = this.transport.subscribe(
      this.subjects.svc(name),
      (msg) => {
        // A process that wakes past its lease fences itself before it delivers anything.
        this.cluster_?._guard();
        this.inbound.handle(msg, this.system.lookup(name), name);
      },
      { queue: name },
    );
    this.nameSubs.set(name, sub);
  }

  private unserveName(name: string): void {
    const sub = this.nameSubs.get(name);
    if (!sub) return;
    this.nameSubs.delete(name);
    // A name this node just fenced off: what NATS routed here while the process
    // was paused is still on its way, and is answered FencedError rather than lost.
    if (sub.drain !== undefined && this.cluster_?._fencedRefusal(name) !== undefined) sub.drain();
    else sub.unsubscribe();
  }
}
