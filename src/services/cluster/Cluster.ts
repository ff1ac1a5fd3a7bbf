/**
 * The cluster of a node: membership, service types by name, instances on
 * any node, failover, fencing, and the cluster Recovery Coordinator.
 *
 * ```ts
 * const node = await createNode({ name: 'n1', transport: { kind: 'nats', servers }, cluster: true });
 * node.register('orders', ordersMachine, { cardinality: 'singleton' });
 * await node.cluster!.start({ name: 'orders', type: 'orders', restart: 'permanent' });   // cluster-supervised
 * await node.cluster!.start({ name: 'jobs', type: 'jobs', intensity: 3, period: 30_000 });  // its restart intensity (the defaults)
 * node.supervise({ children: [{ id: 'w', start: { type: 'worker', input: 1 }, node: 'n2' }] });  // a remote child
 * node.nodes();   // [{ node, status: 'up' | 'suspect' | 'down', lastHeardAt, incarnation }]
 * ```
 *
 * ## Options (`cluster: true | { ... }` on createNode; NATS transport only)
 * | option          | default                              | meaning |
 * |-----------------|--------------------------------------|---------|
 * | `heartbeatMs`   | 250                                  | membership heartbeat period |
 * | `suspectAfterMs`| 2 × heartbeatMs                      | silence before `suspect` |
 * | `downAfterMs`   | suspectAfterMs + 1.6 × heartbeatMs   | silence before `down` |
 * | `leaseMs`       | downAfterMs − safetyMs               | how long a node runs its instances without proof of its own link; also the coordinator lease |
 * | `failureTimeoutMs` | 60000                             | an instance given up for its restart intensity is banned this long, then tried again (restarts.ts) |
 *
 * `safetyMs` is max(50, heartbeatMs / 2). Instances of a `down` node are
 * taken over `max(0, leaseMs + safetyMs − downAfterMs)` after the verdict
 * (0 with the defaults): by then the lost node has fenced itself.
 *
 * ## Instances
 * An instance is a registered service type running under a name on one
 * node. Its record (`instance.<name>` in the Registry) holds type, input,
 * restart type, placement, supervisor (`cluster` or a node), owner node
 * and its incarnation, epoch and state; its owner claim (`owner.<name>`, or
 * `owner.singleton.<type>` for a singleton type) gives the epoch, the
 * fencing token. The host spawns it on a request on `<prefix>.clrpc.<node>`,
 * after checking the per-node lock and claiming ownership by
 * compare-and-set; a claim held by a node that is `down` (and fenced) or
 * gone is taken over, one held by a live node is a `ServiceLockedError`.
 *
 * ## `cluster.start(spec)`
 * | key         | mandatory | default                          | meaning |
 * |-------------|-----------|----------------------------------|---------|
 * | `name`      | yes       |                                  | the instance's name, unique in the cluster |
 * | `type`      | yes       |                                  | a service type registered on some node |
 * | `input`     | no        | none                             | the logic's input (JSON) |
 * | `restart`   | no        | `permanent`                      | OTP restart type, applied by the cluster coordinator |
 * | `node`      | no        | none                             | the node to start on (the only one with `placement: 'pinned'`) |
 * | `placement` | no        | `pinned` with `node`, else `any` | placement.ts |
 * | `intensity` | no        | 3                                | integer >= 0: restarts allowed within `period`, per instance (restarts.ts) |
 * | `period`    | no        | 30000                            | integer ms >= 1 |
 *
 * A start of a name that already runs as a cluster-supervised instance of
 * the same type returns that instance (the application's start code runs
 * again after a restart, and the coordinator may have brought it back
 * first); one held as another type is a `ServiceLockedError`. A record left
 * by an earlier incarnation of its owner (a restarted process of the same
 * name) holds no lock: the coordinator recovers it as lost (`nodedown`).
 *
 * ## Who decides what (local vs cluster-wide)
 * - **Local, the node's own Recovery Coordinator (the deputy)**: every
 *   child of a supervisor on this node, local or remote. A remote child is a
 *   stand-in actor here; its instance's exit comes back on
 *   `<prefix>.clexit.<node>` as `{ name, epoch, reason, error? }` (older
 *   epochs are rejected; one that comes before the spawn reply is kept for
 *   it), and the stand-in ends with that same reason: a final state for
 *   `normal`, its own actor stopped for `shutdown` and brutally killed for
 *   `killed`, a throw for `error`. Its node's `down` verdict ends it with
 *   `NodeDownError`, which the supervisor reports as `nodedown`. So restart
 *   types apply exactly as for a local child. The deputy decides at OTP speed
 *   (no remote wait); a restart places the child again (`placement: 'any'`:
 *   a surviving node). A supervisor's death takes its remote children with
 *   it (OTP links): their host stops them when the supervisor's node is down.
 *   Unless it was started with `cluster.supervise(spec, { name, lifetime:
 *   'cluster' })`: then its watched set lives in the registry, the hosts keep
 *   its instances for `graceMs`, and the cluster coordinator has a survivor
 *   adopt them at their epoch (Adoption.ts).
 * - **Cluster-wide, the cluster Recovery Coordinator** (ClusterCoordinator.ts):
 *   instances started with `cluster.start()` (supervisor `cluster`). It is a
 *   singleton elected by a KV lease (`coordinator`) whose epoch fences its
 *   requests. It decides through supervision's policy, the same path as a
 *   supervisor's child: the failure report goes to the Recovery Coordinator
 *   of the node holding the lease (its rules added with `addRule`, then
 *   OTP's default; intensity bounds every restart, whichever rule chose it),
 *   and the decision is that coordinator's decision record, kept in its log
 *   and in KV (`decision.<name>.<oldEpoch>`) with the cluster's fields.
 *   Rules are per node: add the same rules on every node that may become the
 *   cluster coordinator. The restart history (`restarts.<name>`, wall-clock
 *   ms) and pending decisions live in KV, so a new coordinator carries on.
 *
 * ## Fencing
 * A node runs instances only while it can prove its own link (SelfFence.ts):
 * past its lease without a confirmed heartbeat echo, or once declared down,
 * it stops them all brutally and writes nothing; back, it settles what is
 * still its own as ended `killed`.
 *
 * ## Where each part lives
 * | file                 | concept |
 * |----------------------|---------|
 * | Cluster.ts           | this facade: wiring and the public calls |
 * | options.ts, records.ts | the `cluster` option; instance, decision and request records |
 * | catalog.ts           | service types registered here and on every node |
 * | ClusterView.ts       | members, types and records as placement inputs (placement.ts rules) |
 * | Host.ts, hostClient.ts | the RPC server that runs instances here, and its client |
 * | SelfFence.ts         | `valid`, the guard, fencing |
 * | RemoteChildren.ts    | stand-ins of remote children |
 * | Adoption.ts          | watched sets of cluster-lifetime supervisors, adopted on node loss |
 * | ClusterCoordinator.ts| the cluster Recovery Coordinator |
 * | clusterServices.ts   | defined services (`defineService`) in the cluster: their types, placement and handles |
 *
 * ## Reconnects
 * Subscriptions come back with the client; on `reconnected` the node record
 * (its types) is written again, and membership does not judge others while
 * disconnected.
 */
import type { AnyActorLogic } from 'xstate';
import type { ActorSystem } from '../../actors/ActorSystem.js';
import { type Clock, monotonicClock } from '../../clock.js';
import { describe, InvalidSpecError, ServiceErrorCode, ServiceLockedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Supervision } from '../../supervision/index.js';
import type { RemoteStarter, Supervisor, SupervisorSpec } from '../../supervision/types.js';
import type { Subscription, Transport } from '../../transport/Transport.js';
import { answerReports, type ClusterReportQuery, type ClusterReports, clusterReports, reportQueryOf } from '../graph/clusterReports.js';
import { Adoption } from './Adoption.js';
import { type ClusterSuperviseOptions, Lifetime, resolveSuperviseOptions } from './superviseOptions.js';
import { type HostedStarter, ServiceCatalog } from './catalog.js';
import { ClusterCoordinator } from './ClusterCoordinator.js';
import { ClusterView } from './ClusterView.js';
import { COORDINATOR_LEASE, Host } from './Host.js';
import { HostClient } from './hostClient.js';
import { isRecord, type KV, openKv } from './kv.js';
import { Lease } from './Lease.js';
import { Listeners } from './listeners.js';
import { type Member, Membership, type MembershipChange } from './Membership.js';
import type { ClusterOptions } from './options.js';
import { type Cardinality, Placement } from './placement.js';
import {
  CLUSTER_SUPERVISOR,
  type ClusterDecision,
  type GaveUpEvent,
  type HostedInstance,
  type InstanceRecord,
  type InstanceSpec,
  parseRecord,
  type RegisterOptions,
  type SpawnRequest,
  type WatchedSetRecord,
} from './records.js';
import type { RestartType } from '../../supervision/types.js';
import { Registry } from './Registry.js';
import { RemoteChildren } from './RemoteChildren.js';
import { DEFAULT_FAILURE_TIMEOUT_MS, resolveIntensity } from './restarts.js';
import { SelfFence } from './SelfFence.js';
import { bucketName, ClusterSubjects } from './subjects.js';

export type { ClusterReportQuery, ClusterReports } from '../graph/clusterReports.js';
export type { ClusterSuperviseOptions, SupervisorLifetime } from './superviseOptions.js';
export type { ClusterOptions } from './options.js';
export type { ClusterDecision, GaveUpEvent, HostedInstance, InstanceRecord, InstanceSpec, RegisterOptions, WatchedChild, WatchedSetRecord } from './records.js';
export { resolveClusterOptions } from './options.js';

export interface ClusterDeps {
  readonly node: string;
  readonly transport: Transport;
  readonly prefix: string;
  readonly system: ActorSystem;
  readonly supervision: Supervision;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** Wall-clock ms for the restart history, which outlives this process (restarts.ts). Default `Date.now`. */
  readonly wallClock?: () => number;
  readonly options: ClusterOptions;
}

export class Cluster {
  readonly node: string;
  readonly leaseMs: number;
  readonly safetyMs: number;
  readonly takeoverDelayMs: number;
  /** @internal Users read members through `nodes()`. */
  readonly membership: Membership;
  /** @internal */
  readonly registry: Registry;
  /** @internal Stale exit reports and spawn requests rejected so far (fencing at work). */
  staleRejected = 0;

  readonly #deps: ClusterDeps;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #subjects: ClusterSubjects;
  readonly #lease: Lease;
  readonly #catalog: ServiceCatalog;
  readonly #view: ClusterView;
  readonly #fence: SelfFence;
  readonly #host: Host;
  readonly #hosts: HostClient;
  readonly #remote: RemoteChildren;
  readonly #adoption: Adoption;
  readonly #coordinator: ClusterCoordinator;
  readonly #subs: Subscription[] = [];
  readonly #unwatch: Array<() => void> = [];
  readonly #gaveUp: Listeners<[GaveUpEvent]>;
  readonly #recordChanges: Listeners<[string, InstanceRecord | undefined]>;
  #closed = false;

  static async start(deps: ClusterDeps): Promise<Cluster> {
    const t = deps.transport;
    const [members, registry, leases, coord] = await Promise.all(
      ['members', 'registry', 'leases', 'coord'].map((what) => openKv(t, bucketName(deps.prefix, what))),
    );
    const o = deps.options;
    const membership = await Membership.start({
      node: deps.node,
      transport: t,
      kv: members!,
      prefix: deps.prefix,
      clock: deps.clock,
      logger: deps.logger,
      heartbeatMs: o.heartbeatMs,
      suspectAfterMs: o.suspectAfterMs,
      downAfterMs: o.downAfterMs,
    });
    const cluster = new Cluster(deps, membership, new Registry({ kv: registry! }), leases!, coord!);
    try {
      await cluster.#start();
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  private constructor(deps: ClusterDeps, membership: Membership, registry: Registry, leases: KV, coord: KV) {
    this.#deps = deps;
    this.node = deps.node;
    this.membership = membership;
    this.registry = registry;
    this.#clock = deps.clock ?? monotonicClock;
    this.#log = deps.logger.child({ component: 'cluster' });
    this.#subjects = new ClusterSubjects(deps.prefix);
    this.safetyMs = Math.max(50, membership.heartbeatMs / 2);
    this.leaseMs = deps.options.leaseMs ?? Math.max(membership.heartbeatMs * 2, membership.downAfterMs - this.safetyMs);
    this.takeoverDelayMs = Math.max(0, this.leaseMs + this.safetyMs - membership.downAfterMs);
    this.#lease = new Lease({
      kv: leases,
      name: COORDINATOR_LEASE,
      holder: this.node,
      incarnation: membership.incarnation,
      leaseMs: Math.max(this.leaseMs, 200),
      clock: this.#clock,
      logger: deps.logger,
    });
    this.#gaveUp = new Listeners((err) => this.#log.error({ err }, 'gave-up listener threw'));
    this.#recordChanges = new Listeners((err) => this.#log.error({ err }, 'record listener threw'));
    const closed = (): boolean => this.#closed;
    const stale = (): void => {
      this.staleRejected++;
    };
    this.#catalog = new ServiceCatalog(this.node);
    this.#fence = new SelfFence({
      membership,
      clock: this.#clock,
      leaseMs: this.leaseMs,
      logger: this.#log,
      target: () => this.#host,
      node: this.node,
      ownerOf: (name) => {
        const r = this.#view.record(name);
        return r === undefined ? undefined : { node: r.owner, epoch: r.epoch };
      },
    });
    this.#view = new ClusterView({
      node: this.node,
      membership,
      catalog: this.#catalog,
      clock: this.#clock,
      takeoverDelayMs: this.takeoverDelayMs,
      valid: () => this.#fence.valid,
    });
    this.#hosts = new HostClient(deps.transport, this.#subjects);
    this.#host = new Host({
      node: this.node,
      transport: deps.transport,
      clock: this.#clock,
      adoptSupervisor: (req) => this.#adoption.adoptHere(req),
      subjects: this.#subjects,
      system: deps.system,
      registry,
      membership,
      catalog: this.#catalog,
      view: this.#view,
      fence: this.#fence,
      logger: this.#log,
      isCoordinator: () => this.isCoordinator,
      closed,
      stale,
    });
    this.#remote = new RemoteChildren({
      node: this.node,
      system: deps.system,
      membership,
      view: this.#view,
      hosts: this.#hosts,
      closed,
      stale,
      linked: (label) => this.#adoption.changed(label),
    });
    this.#adoption = new Adoption({
      node: this.node,
      membership,
      registry,
      supervision: deps.supervision,
      remote: this.#remote,
      view: this.#view,
      hosts: this.#hosts,
      clock: this.#clock,
      wallClock: deps.wallClock ?? Date.now,
      logger: this.#log,
      closed,
    });
    this.#coordinator = new ClusterCoordinator({
      node: this.node,
      lease: this.#lease,
      policy: deps.supervision.coordinator,
      kv: coord,
      registry,
      view: this.#view,
      hosts: this.#hosts,
      clock: this.#clock,
      wallClock: deps.wallClock ?? Date.now,
      logger: this.#log,
      heartbeatMs: membership.heartbeatMs,
      leaseMs: this.leaseMs,
      failureTimeoutMs: deps.options.failureTimeoutMs ?? DEFAULT_FAILURE_TIMEOUT_MS,
      closed,
      adopt: () => this.#adoption.sweep(),
    });
  }

  // ── public ──────────────────────────────────────────────────────────────

  /** Members as this node sees them. */
  nodes(): Member[] {
    return this.membership.members();
  }

  /** True while this node holds the cluster coordinator lease. */
  get isCoordinator(): boolean {
    return this.#lease.held;
  }

  /** True while this node may run instances (its link confirmed within its lease, not declared down). */
  get valid(): boolean {
    return this.#fence.valid;
  }

  /** @internal Times this node fenced itself. */
  get fences(): number {
    return this.#fence.fences;
  }

  /** @internal Recovery sweeps this node has run as cluster coordinator (tests wait on it instead of on time). */
  get sweeps(): number {
    return this.#coordinator.sweeps;
  }

  /** Register a service type by name (it can then be started here from any node). */
  register(type: string, logic: AnyActorLogic, options: RegisterOptions = {}): void {
    this.#catalog.register(type, logic, options);
    void this.#publishNode();
  }

  /** @internal Register a defined service's type (services/cluster/clusterServices.ts): the host runs its instances through `start`. */
  _registerService(type: string, cardinality: Cardinality, start: HostedStarter): void {
    this.#catalog.registerStarter(type, cardinality, start);
    void this.#publishNode();
  }

  /**
   * @internal Place a defined service's instance: like {@link start}, but a
   * node that answers OCF 5 (`ERR_NOT_INSTALLED`: it lacks the type's
   * labels) is passed over for the next candidate.
   */
  async _placeService(spec: InstanceSpec): Promise<HostedInstance & { node: string }> {
    const placement = spec.placement ?? (spec.node !== undefined ? Placement.Pinned : Placement.Any);
    const restart = spec.restart ?? 'permanent';
    const { intensity, period } = resolveIntensity(spec);
    const running = this.#view.runningAs(this.#view.record(spec.name), spec.type);
    if (running !== undefined) return running;
    const req = { name: spec.name, type: spec.type, placement, node: spec.node };
    let notInstalled: unknown;
    for (const node of this.#view.candidatesFor(req)) {
      try {
        const epoch = await this.#hosts.spawn(node, this.#spawnRequest(spec, restart, placement, intensity, period));
        return { name: spec.name, type: spec.type, epoch, supervisor: CLUSTER_SUPERVISOR, node };
      } catch (err) {
        if ((err as { code?: unknown }).code !== ServiceErrorCode.NotInstalled) throw err;
        notInstalled ??= err;
      }
    }
    throw notInstalled ?? this.#view.refusal(req);
  }

  /** The host RPC that starts `spec` on a node under the cluster coordinator (one shape for `start` and `_placeService`). */
  #spawnRequest(spec: InstanceSpec, restart: RestartType, placement: Placement, intensity: number, period: number): SpawnRequest {
    return {
      op: 'spawn',
      name: spec.name,
      stype: spec.type,
      input: spec.input,
      restart,
      placement,
      ...(spec.node !== undefined ? { pin: spec.node } : {}),
      origin: this.node,
      supervisor: CLUSTER_SUPERVISOR,
      intensity,
      period,
    };
  }

  /** @internal Serve `op` on this node's host RPC subject (clusterServices.ts: `reconfigure`). */
  _serve(op: string, fn: (req: Record<string, unknown>) => Promise<Record<string, unknown>>): void {
    this.#host.serve(op, fn);
  }

  /** @internal One host RPC to `node`; rejects with the host's error. */
  _request(node: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.#hosts.request(node, body);
  }

  /** @internal The instance `name` hosted here was reconfigured: its record carries `input` from now on. */
  _updateInput(name: string, input: unknown): Promise<void> {
    return this.#host.updateInput(name, input);
  }

  /** @internal Observe instance records as they change (`undefined`: removed). Returns the function that stops observing. */
  _onRecord(fn: (name: string, rec: InstanceRecord | undefined) => void): () => void {
    return this.#recordChanges.add(fn);
  }

  /** @internal The record of instance `name` as last seen. */
  _record(name: string): InstanceRecord | undefined {
    return this.#view.record(name);
  }

  /** Service types `node` has registered, as this node last saw them (its record reaches us through the KV watch). */
  typesOf(node: string): Readonly<Record<string, Cardinality>> | undefined {
    return this.#catalog.typesOf(node);
  }

  /** Instances running on this node. */
  instances(): HostedInstance[] {
    return this.#host.instances();
  }

  /** @internal Epoch of the instance `name` hosted here (stamped on its replies), if any. */
  _hostedEpoch(name: string): number | undefined {
    return this.#host.epochOf(name);
  }

  /** @internal Newest epoch this node has seen for instance `name`, if any. */
  _knownEpoch(name: string): number | undefined {
    return this.#view.record(name)?.epoch;
  }

  /** Every instance record (as last seen through the Registry watch). */
  records(): InstanceRecord[] {
    return this.#view.records();
  }

  /** Start a cluster-supervised instance; the cluster coordinator restarts it per `restart` wherever it can. */
  async start(spec: InstanceSpec): Promise<HostedInstance & { node: string }> {
    if (typeof spec !== 'object' || spec === null || typeof spec.name !== 'string' || typeof spec.type !== 'string') {
      throw new InvalidSpecError('spec', 'must be { name, type, input?, restart?, node?, placement?, intensity?, period? }');
    }
    const placement = spec.placement ?? (spec.node !== undefined ? Placement.Pinned : Placement.Any);
    const restart = spec.restart ?? 'permanent';
    const { intensity, period } = resolveIntensity(spec);
    // The application's start code runs again after a restart, and the coordinator may have brought the instance back first.
    const running = this.#view.runningAs(this.#view.record(spec.name), spec.type);
    if (running !== undefined) return running;
    const node = this.#view.placeFor({ name: spec.name, type: spec.type, placement, node: spec.node });
    if (node === undefined) throw this.#view.refusal({ name: spec.name, type: spec.type, placement, node: spec.node });
    const epoch = await this.#hosts
      .spawn(node, this.#spawnRequest(spec, restart, placement, intensity, period))
      .catch(async (err: unknown) => {
        // Lost a race with the coordinator restarting it: that instance is the one asked for.
        if (!(err instanceof ServiceLockedError) || err.lock !== 'name') throw err;
        const fresh = parseRecord((await this.registry.get<unknown>('instance', spec.name))?.value);
        const now = this.#view.runningAs(fresh, spec.type);
        if (now === undefined) throw err;
        return now;
      });
    if (typeof epoch !== 'number') return epoch;
    return { name: spec.name, type: spec.type, epoch, supervisor: CLUSTER_SUPERVISOR, node };
  }

  /**
   * Stop a cluster-supervised instance for good (its record is removed; it
   * is not restarted). True once it is stopped or, with no live host to ask
   * (it exited, or its owner's incarnation is gone), its record is removed;
   * false when there is none or its host did not stop it. `kill` skips the
   * instance's graceful shutdown.
   */
  async stopInstance(name: string, options: { readonly kill?: boolean } = {}): Promise<boolean> {
    const stored = await this.registry.get<unknown>('instance', name);
    const rec = parseRecord(stored?.value);
    if (stored === undefined || rec === undefined) return false;
    if (rec.state !== 'running' || this.#view.staleOwner(rec) || this.#view.fencedNode(rec.owner)) {
      // Compare-and-set: a restart that landed meanwhile keeps its record; then the lost tenure's claim, by its epoch.
      if (!(await this.registry.remove('instance', name, { expect: stored.revision }))) return false;
      await this.#coordinator.releaseLost(rec);
      return true;
    }
    return this.#hosts.stop(rec.owner, name, rec.epoch, options.kill === true);
  }

  /**
   * Start a supervision tree named `options.name`. With `lifetime: 'cluster'`
   * its watched set lives in the graph and a survivor adopts it when its node
   * is lost (Adoption.ts: options, limits, the protocol); with `lifetime:
   * 'node'` (the default) it is `node.supervise(spec, { name })`. Rejects with
   * `InvalidSpecError` naming the field, or `ServiceLockedError` when a
   * supervisor of that name holds a watched set already.
   */
  async supervise(spec: SupervisorSpec, options: ClusterSuperviseOptions): Promise<Supervisor> {
    const o = resolveSuperviseOptions(options);
    if (o.lifetime === Lifetime.Node) return this.#deps.supervision.supervise(spec, { name: o.name });
    return this.#adoption.supervise(spec, o.name, o.graceMs);
  }

  /** The supervisor `name` with `lifetime: 'cluster'`, if it runs on this node now (started or adopted here). */
  supervisor(name: string): Supervisor | undefined {
    return this.#adoption.local(name);
  }

  /**
   * Service reports (started, could-not-start, failed, exited,
   * config-changed) of every live member, asked of each one
   * (services/graph/clusterReports.ts: why not KV, bounds, `unreachable`).
   */
  reports(query: ClusterReportQuery = {}): Promise<ClusterReports> {
    const coordinator = this.#deps.supervision.coordinator;
    return clusterReports(
      {
        self: this.node,
        members: () => this.membership.members().filter((m) => m.status !== 'down').map((m) => m.node),
        local: (q) => coordinator.reports(q),
        request: (node, body) => this.#hosts.request(node, body),
      },
      query,
    );
  }

  /** Every watched set of a cluster-lifetime supervisor (as last seen through the Registry watch). */
  watchedSets(): WatchedSetRecord[] {
    return this.#adoption.sets();
  }

  /**
   * Observe the coordinator giving up on an instance (past its intensity: it
   * is banned until `bannedUntil`, then tried again; or a rule gave up).
   * Seen on every node, through the Registry watch. Returns the function
   * that stops observing.
   */
  on(event: 'gave-up', fn: (e: GaveUpEvent) => void): () => void {
    if (event !== 'gave-up') throw new InvalidSpecError('event', 'must be "gave-up"');
    return this.#gaveUp.add(fn);
  }

  /** The cluster coordinator's decisions, from KV (any node can read them). */
  decisions(): Promise<ClusterDecision[]> {
    return this.#coordinator.decisions();
  }

  /** Pending coordinator decisions (begun, not yet confirmed), from KV. */
  pending(): Promise<string[]> {
    return this.#coordinator.pending();
  }

  /**
   * @internal Fence now if this node's lease has passed. Cheap; Node.ts calls
   * it before delivering any inbound message.
   */
  _guard(): boolean {
    return this.#fence.guard();
  }

  /** @internal The `FencedError` to answer a message for `label` with, if it is an instance this node stopped by fencing. */
  _fencedRefusal(label: string): Error | undefined {
    return this.#fence.refusal(label);
  }

  /** @internal The starter of remote children, installed into supervision. */
  get _remote(): RemoteStarter {
    return this.#remote.starter;
  }

  /**
   * Leave the cluster: give up the coordinator lease and stop membership
   * (peers hear `leave`). Instances hosted here are not stopped by this call
   * but by the node's shutdown right after, and nothing is written for them
   * then: peers restart them as lost with their node (`nodedown`).
   */
  async stop(): Promise<void> {
    if (this.#closed) return;
    await this.#adoption.flush();
    this.#closed = true;
    this.#fence.stop();
    this.#coordinator.stop();
    await this.#lease.stop().catch(() => {});
    for (const f of this.#unwatch) f();
    for (const s of this.#subs) s.unsubscribe();
    await this.membership.stop().catch(() => {});
  }

  // ── wiring ──────────────────────────────────────────────────────────────

  async #start(): Promise<void> {
    const t = this.#deps.transport;
    this.#unwatch.push(this.#remote.watchSpawns());
    this.#subs.push(
      t.subscribe(this.#subjects.rpc(this.node), (msg) => void this.#host.onRpc(msg)),
      t.subscribe(this.#subjects.exits(this.node), (msg) => this.#remote.onExitReport(msg.data, msg.subject)),
    );
    this.membership.on('change', (c) => this.#onMemberChange(c));
    // Members already down when this node joined were reported before it listened.
    this.#view.seedDown();
    this.#unwatch.push(
      await this.registry.watch('node', (c) => {
        const types = c.operation !== 'delete' && isRecord(c.value) && isRecord(c.value.types) ? (c.value.types as Record<string, Cardinality>) : undefined;
        if (c.operation === 'delete' || types !== undefined) this.#catalog.seen(c.name, types);
        if (this.isCoordinator) this.#coordinator.scheduleSweep(0);
      }),
      await this.registry.watch('supervisor', (c) => this.#adoption.seen(c.name, c.operation === 'put' ? c.value : undefined)),
      await this.registry.watch('instance', (c) => {
        const rec = c.operation === 'put' ? parseRecord(c.value) : undefined;
        const before = this.#view.record(c.name);
        this.#view.setRecord(c.name, rec);
        this.#recordChanges.emit(c.name, rec);
        if (rec?.gaveUp === true && !(before?.gaveUp === true && before.epoch === rec.epoch && before.retry === rec.retry)) this.#emitGaveUp(rec);
        // Gone for good (stopped, dropped): a later instance of the same name starts with no restart history.
        if (rec === undefined) this.#coordinator.forgetHistory(c.name);
        if (rec !== undefined && rec.state === 'exited' && rec.supervisor === CLUSTER_SUPERVISOR && this.isCoordinator) {
          void this.#coordinator.reconcile(rec.name);
        }
      }),
    );
    t.onStatus((s) => {
      if (s.type === 'reconnected') void this.#publishNode();
    });
    await this.#publishNode();
    this.#lease.on('acquired', (epoch) => {
      this.#log.info({ epoch }, 'cluster coordinator');
      void this.#coordinator.takeOver();
    });
    this.#lease.on('lost', (reason) => this.#log.warn({ reason }, 'cluster coordinator lease lost'));
    const coordinator = this.#deps.supervision.coordinator;
    this.#host.serve('reports', async (req) => answerReports((q) => coordinator.reports(q), reportQueryOf(req.query)));
    this.#lease.start();
    this.#fence.start();
    this.#deps.supervision._setRemote(this._remote);
  }

  #emitGaveUp(rec: InstanceRecord): void {
    const e: GaveUpEvent = {
      type: 'halyard.cluster.v1.gave_up',
      name: rec.name,
      reason: rec.reason ?? 'gave_up',
      ...(rec.endedWith !== undefined ? { endedWith: rec.endedWith } : {}),
      ...(rec.bannedUntil !== undefined ? { bannedUntil: rec.bannedUntil } : {}),
    };
    this.#gaveUp.emit(e);
  }

  async #publishNode(): Promise<void> {
    try {
      await this.registry.put('node', this.node, { incarnation: this.membership.incarnation, types: this.#catalog.record() });
    } catch (err) {
      this.#log.warn({ reason: describe(err) }, 'cannot record node types');
    }
  }

  #onMemberChange(c: MembershipChange): void {
    const node = c.member.node;
    if (node === this.node) {
      if (c.type === 'down') this.#fence.declaredDown();
      else if (c.type === 'join') {
        this.#fence.joined();
        void this.#publishNode();
      }
      return;
    }
    if (c.type === 'down' || c.type === 'leave') {
      this.#view.nodeDown(node);
      this.#remote.nodeLost(node);
      // OTP links: a supervisor's death takes its children with it.
      this.#host.stopChildrenOf(node);
      if (this.isCoordinator) this.#coordinator.scheduleSweep(this.takeoverDelayMs);
    } else if (c.type === 'join') {
      this.#view.nodeJoined(node);
      if (this.isCoordinator) this.#coordinator.scheduleSweep(0);
    }
  }
}
