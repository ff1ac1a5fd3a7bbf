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
 * - **Cluster-wide, the cluster Recovery Coordinator**: instances started with
 *   `cluster.start()` (supervisor `cluster`). It is a singleton elected by a
 *   KV lease (`coordinator`) whose epoch fences its requests (hosts reject a
 *   spawn carrying an older coordinator epoch). On a `down` verdict or an
 *   instance's exit it decides with OTP's rule (`permanent` always,
 *   `transient` unless normal/shutdown, `temporary` never; `nodedown` is
 *   abnormal) and places with placement.ts. Each restart counts toward the
 *   instance's intensity (OTP's `add_restart/3`, restarts.ts), its history
 *   in `restarts.<name>` in the `coord` bucket; past it the coordinator
 *   gives up: decision `stop` (detail `reached_max_restart_intensity`), and
 *   the record stays `exited` with that reason and `gaveUp`, restarted by no
 *   coordinator. Before a restart it writes `pending.<name>`; when the new
 *   instance answers it writes `decision.<name>.<oldEpoch>` and deletes the
 *   pending entry. A new coordinator starts by finishing every pending entry
 *   and reconciling every record, and carries the restart histories on, so
 *   no decision and no restart count is lost with a coordinator. An
 *   instance lost with its node and not restarted (dropped, given up) has
 *   its owner claim released, so that node, back, does not revive it.
 *
 * ## Fencing
 * A node may run instances only while `membership.linkConfirmedAt + leaseMs`
 * is ahead of its clock (its own heartbeat came back from the server that
 * recently). The check runs on a tick, before every cluster request it
 * serves and before every inbound message the node delivers (Node.ts calls
 * `_guard()`), so a process that wakes from SIGSTOP stops its instances
 * (brutally, without writing anything) before it does anything else. It
 * accepts work again once its link is confirmed anew and, if it was declared
 * down, after rejoining with a new incarnation. Then each instance it fenced
 * whose claim is still its own (no one took it over: it was never declared
 * down, or no one restarted it) is recorded as ended `killed`, so its
 * supervisor or the cluster coordinator restarts it per its restart type; one
 * taken over is left to its successor.
 *
 * ## Reconnects
 * Subscriptions come back with the client; on `reconnected` the node record
 * (its types) is written again, and membership does not judge others while
 * disconnected.
 */
import { type AnyActorLogic, type AnyEventObject, fromCallback, setup } from 'xstate';
import type { ActorSystem } from '../../actors/ActorSystem.js';
import type { LocalActorRef } from '../../actors/types.js';
import { type Clock, monotonicClock, type TimerHandle } from '../../clock.js';
import {
  describe,
  FencedError,
  fromWireError,
  InvalidSpecError,
  isWireError,
  NodeDownError,
  NoNodeAvailableError,
  ServiceLockedError,
  StaleEpochError,
  toWireError,
  UnknownServiceTypeError,
} from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Supervision } from '../../supervision/index.js';
import type { RemoteStart, RemoteStarter, RestartType } from '../../supervision/types.js';
import type { Msg, Subscription, Transport } from '../../transport/Transport.js';
import { decodeJson, encodeJson, isRecord, type KV, openKv } from './kv.js';
import { Lease } from './Lease.js';
import { type Member, Membership, type MembershipChange } from './Membership.js';
import {
  Cardinality,
  type InstanceState,
  type NodeView,
  Placement,
  type PlacedInstance,
  place,
  lockConflict,
  recover,
} from './placement.js';
import { Registry } from './Registry.js';
import { intensityStep, MAX_INTENSITY_REASON, parseRestarts, type RestartHistory, resolveIntensity } from './restarts.js';
import { bucketName, ClusterSubjects } from './subjects.js';

export interface ClusterOptions {
  readonly heartbeatMs?: number;
  readonly suspectAfterMs?: number;
  readonly downAfterMs?: number;
  readonly leaseMs?: number;
}

export interface RegisterOptions {
  readonly cardinality?: Cardinality;
}

/** A cluster-supervised instance (`cluster.start`). */
export interface InstanceSpec {
  readonly name: string;
  readonly type: string;
  readonly input?: unknown;
  readonly restart?: RestartType;
  /** The node to start on (with `placement: 'pinned'`, the only one). */
  readonly node?: string;
  /** Default `pinned` with `node`, else `any`. */
  readonly placement?: Placement;
  /** Restarts allowed within `period` before the coordinator gives up on it (restarts.ts). Default 3. */
  readonly intensity?: number;
  /** Default 30000 ms. */
  readonly period?: number;
}

export interface HostedInstance {
  readonly name: string;
  readonly type: string;
  readonly epoch: number;
  readonly supervisor: string;
}

/** An instance record as stored (`instance.<name>`). */
export interface InstanceRecord {
  readonly type: 'halyard.cluster.v1.instance';
  readonly name: string;
  readonly stype: string;
  readonly input?: unknown;
  readonly restart: RestartType;
  readonly cardinality: Cardinality;
  readonly placement: Placement;
  readonly pin?: string;
  /** `cluster`, or the node whose supervisor started it. */
  readonly supervisor: string;
  readonly owner: string;
  /** The owner's membership incarnation when it started the instance: a record of an older incarnation of `owner` is not live. */
  readonly incarnation?: number;
  readonly epoch: number;
  readonly state: 'running' | 'exited';
  readonly reason?: string;
  /** Restart intensity of a cluster-supervised instance (absent: the defaults of restarts.ts). */
  readonly intensity?: number;
  readonly period?: number;
  /** Set when the coordinator gave up on it (`reason` is then `reached_max_restart_intensity`). */
  readonly gaveUp?: boolean;
}

/** A cluster coordinator decision as stored (`decision.<name>.<oldEpoch>` in the coord bucket). */
export interface ClusterDecision {
  readonly name: string;
  readonly from: string;
  readonly fromEpoch: number;
  /** How the tenure `fromEpoch` ended: an exit reason, or `nodedown`. */
  readonly reason: string;
  /** `restart`; `drop` (its restart type says no: the record is removed); `stop` (given up: the record stays, exited). */
  readonly action: 'restart' | 'drop' | 'stop';
  /** For `stop`: why (`reached_max_restart_intensity`). */
  readonly detail?: string;
  /** For `restart` and `stop`: wall-clock ms of the restarts inside the intensity window, this one included. */
  readonly history?: readonly number[];
  readonly to?: string;
  readonly epoch?: number;
  readonly coordinator: string;
  readonly coordinatorEpoch: number;
  readonly at: number;
}

interface SpawnRequest {
  readonly op: 'spawn';
  readonly name: string;
  readonly stype: string;
  readonly input?: unknown;
  readonly restart: RestartType;
  readonly placement: Placement;
  readonly pin?: string;
  readonly origin: string;
  readonly supervisor: string;
  readonly intensity?: number;
  readonly period?: number;
  /** The coordinator's lease epoch, for requests from the cluster coordinator. */
  readonly e?: number;
}

interface Hosted extends HostedInstance {
  readonly ref: LocalActorRef;
  readonly record: InstanceRecord;
  /** Stopped on request: its end is not reported, its record is removed. */
  stopping: boolean;
  /** Killed by self-fencing: nothing is written or reported for it. */
  fenced: boolean;
  /** The write of its `running` record: its end is written after it, never before. */
  recorded: Promise<unknown> | undefined;
}

interface Link {
  readonly name: string;
  node: string | undefined;
  epoch: number | undefined;
  ended: boolean;
  readonly sendBack: (e: AnyEventObject) => void;
  /** The stand-in's own actor: ending it by `stop` gives the supervisor `shutdown` or `killed`. */
  readonly cell: StandInCell;
  /** Exit reports that came before the spawn reply (an instance that ended at once): matched once the epoch is known. */
  readonly early: ExitReport[];
}

/** An instance's end, as its host reports it on `<prefix>.clexit.<supervisor node>`. */
interface ExitReport {
  readonly name: string;
  readonly epoch: number;
  readonly reason: string;
  readonly error?: unknown;
}

/** Filled in when the stand-in's actor is spawned (before it starts). */
interface StandInCell {
  ref: LocalActorRef | undefined;
}

const STAND_IN_EXIT = 'halyard.cluster.v1.exited';
const STAND_IN_FAIL = 'halyard.cluster.v1.failed';
const RPC_TIMEOUT_MS = 2000;
const COORDINATOR_LEASE = 'coordinator';

interface StandInInput {
  readonly start: RemoteStart;
  readonly name: string;
  readonly restart: RestartType;
  readonly supervisor: string;
  readonly cell: StandInCell;
}

/** At most this many early exit reports are kept per link (normally one). */
const EARLY_REPORTS_MAX = 4;

export { resolveClusterOptions } from './options.js';

/** A record's restart intensity; the defaults when it has none (or a bad one: a record is data from the wire). */
function intensityOf(rec: InstanceRecord): { intensity: number; period: number } {
  try {
    return resolveIntensity(rec);
  } catch {
    return resolveIntensity({});
  }
}

function parseRecord(v: unknown): InstanceRecord | undefined {
  if (!isRecord(v) || v.type !== 'halyard.cluster.v1.instance' || typeof v.name !== 'string' || typeof v.owner !== 'string') return undefined;
  return v as unknown as InstanceRecord;
}

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
  readonly membership: Membership;
  readonly registry: Registry;
  /** Stale exit reports and spawn requests rejected so far (fencing at work). */
  staleRejected = 0;
  /** Times this node fenced itself. */
  fences = 0;
  /** Recovery sweeps this node has run as cluster coordinator (tests wait on it instead of on time). */
  sweeps = 0;

  readonly #deps: ClusterDeps;
  readonly #clock: Clock;
  readonly #wallClock: () => number;
  readonly #log: Logger;
  readonly #subjects: ClusterSubjects;
  readonly #coordKv: KV;
  readonly #lease: Lease;
  readonly #types = new Map<string, { logic: AnyActorLogic; cardinality: Cardinality }>();
  readonly #hosted = new Map<string, Hosted>();
  readonly #links = new Map<string, Link>();
  readonly #nodeTypes = new Map<string, Record<string, Cardinality>>();
  readonly #records = new Map<string, InstanceRecord>();
  readonly #downSeenAt = new Map<string, number>();
  /**
   * Tenures known to have ended (name → epoch) from exit reports, ahead of the
   * Registry watch: a supervisor restarting a remote child at once must not
   * find its old, ended tenure still holding the name in its placement view.
   */
  readonly #ended = new Map<string, number>();
  readonly #inflight = new Set<string>();
  /** Names asked to be reconciled while a step for them was in flight: stepped again right after it. */
  readonly #again = new Set<string>();
  /** Instances stopped by fencing whose end is not yet recorded (done once valid again, if still ours). */
  readonly #fencedEnds: Array<{ h: Hosted; claimKey: string }> = [];
  #settling = false;
  readonly #subs: Subscription[] = [];
  readonly #unwatch: Array<() => void> = [];
  readonly #standIn: AnyActorLogic;
  #coordEpochSeen = 0;
  #selfDown = false;
  #tick: TimerHandle | undefined;
  #sweep: TimerHandle | undefined;
  #seq = 0;
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
    this.#coordKv = coord;
    this.#clock = deps.clock ?? monotonicClock;
    this.#wallClock = deps.wallClock ?? Date.now;
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
    this.#standIn = setup({
      types: { input: {} as StandInInput, context: {} as StandInInput },
      actors: {
        link: fromCallback<AnyEventObject, StandInInput>(({ input, sendBack }) => this.#link(input, sendBack)),
      },
      actions: {
        fail: ({ event }) => {
          throw (event as { error?: unknown }).error;
        },
      },
    }).createMachine({
      id: 'halyard.cluster.stand-in',
      context: ({ input }) => input,
      initial: 'running',
      states: {
        running: {
          invoke: { src: 'link', input: ({ context }) => context },
          on: { [STAND_IN_EXIT]: 'done', [STAND_IN_FAIL]: { actions: 'fail' } },
        },
        done: { type: 'final' },
      },
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
    return !this.#selfDown && this.#clock.now() < this.membership.linkConfirmedAt + this.leaseMs;
  }

  /** Register a service type by name (it can then be started here from any node). */
  register(type: string, logic: AnyActorLogic, options: RegisterOptions = {}): void {
    const cardinality = options.cardinality ?? Cardinality.Many;
    if (!Object.values(Cardinality).includes(cardinality)) throw new InvalidSpecError('cardinality', "must be 'many', 'per-node' or 'singleton'");
    if (this.#types.has(type)) throw new InvalidSpecError('type', `service type ${type} is already registered`);
    this.#types.set(type, { logic, cardinality });
    this.#nodeTypes.set(this.node, this.#typeRecord());
    void this.#publishNode();
  }

  /** Service types `node` has registered, as this node last saw them (its record reaches us through the KV watch). */
  typesOf(node: string): Readonly<Record<string, Cardinality>> | undefined {
    return this.#nodeTypes.get(node);
  }

  /** Instances running on this node. */
  instances(): HostedInstance[] {
    return [...this.#hosted.values()].filter((h) => !h.fenced).map(({ name, type, epoch, supervisor }) => ({ name, type, epoch, supervisor }));
  }

  /** @internal Epoch of the instance `name` hosted here (stamped on its replies), if any. */
  _hostedEpoch(name: string): number | undefined {
    const h = this.#hosted.get(name);
    return h === undefined || h.fenced ? undefined : h.epoch;
  }

  /** @internal Newest epoch this node has seen for instance `name`, if any. */
  _knownEpoch(name: string): number | undefined {
    return this.#records.get(name)?.epoch;
  }

  /** Every instance record (as last seen through the Registry watch). */
  records(): InstanceRecord[] {
    return [...this.#records.values()];
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
    const running = this.#runningAs(this.#records.get(spec.name), spec.type);
    if (running !== undefined) return running;
    const node = this.#placeFor({ name: spec.name, type: spec.type, placement, node: spec.node });
    if (node === undefined) throw new NoNodeAvailableError(spec.type);
    const epoch = await this.#spawnOn(node, {
      op: 'spawn',
      name: spec.name,
      stype: spec.type,
      input: spec.input,
      restart,
      placement,
      ...(spec.node !== undefined ? { pin: spec.node } : {}),
      origin: this.node,
      supervisor: 'cluster',
      intensity,
      period,
    }).catch(async (err: unknown) => {
      // Lost a race with the coordinator restarting it: that instance is the one asked for.
      if (!(err instanceof ServiceLockedError) || err.lock !== 'name') throw err;
      const fresh = parseRecord((await this.registry.get<unknown>('instance', spec.name))?.value);
      const now = this.#runningAs(fresh, spec.type);
      if (now === undefined) throw err;
      return now;
    });
    if (typeof epoch !== 'number') return epoch;
    return { name: spec.name, type: spec.type, epoch, supervisor: 'cluster', node };
  }

  /**
   * `rec` as the answer to a start of its name: the instance, when it runs
   * on a live incarnation as a cluster-supervised `type`; a
   * `ServiceLockedError` when it runs as another type or under another
   * supervisor; `undefined` when it does not run.
   */
  #runningAs(rec: InstanceRecord | undefined, type: string): (HostedInstance & { node: string }) | undefined {
    if (rec === undefined || rec.state !== 'running' || rec.epoch <= (this.#ended.get(rec.name) ?? 0) || this.#staleOwner(rec)) return undefined;
    const m = this.membership.member(rec.owner);
    if (m === undefined || m.status === 'down') return undefined;
    if (rec.stype !== type || rec.supervisor !== 'cluster') throw new ServiceLockedError(type, 'name', rec.owner);
    return { name: rec.name, type: rec.stype, epoch: rec.epoch, supervisor: rec.supervisor, node: rec.owner };
  }

  /**
   * Stop a cluster-supervised instance for good (its record is removed; it
   * is not restarted). True once it is stopped or, with no live host to ask
   * (it exited, or its owner's incarnation is gone), its record is removed;
   * false when there is none or its host did not stop it.
   */
  async stopInstance(name: string): Promise<boolean> {
    const stored = await this.registry.get<unknown>('instance', name);
    const rec = parseRecord(stored?.value);
    if (stored === undefined || rec === undefined) return false;
    if (rec.state !== 'running' || this.#staleOwner(rec) || this.#fencedNode(rec.owner, this.membership.member(rec.owner))) {
      // Compare-and-set: a restart that landed meanwhile keeps its record; then the lost tenure's claim, by its epoch.
      if (!(await this.registry.remove('instance', name, { expect: stored.revision }))) return false;
      await this.#releaseLost(rec);
      return true;
    }
    const r = await this.#request(rec.owner, { op: 'stop', name, epoch: rec.epoch });
    return r.stopped === true;
  }

  /** The cluster coordinator's decisions, from KV (any node can read them). */
  async decisions(): Promise<ClusterDecision[]> {
    const out: ClusterDecision[] = [];
    const keys = await this.#coordKv.keys('decision.>');
    const names: string[] = [];
    for await (const k of keys) names.push(k);
    for (const k of names) {
      const v = decodeJson((await this.#coordKv.get(k))?.value ?? new Uint8Array());
      if (isRecord(v)) out.push(v as unknown as ClusterDecision);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Pending coordinator decisions (begun, not yet confirmed), from KV. */
  async pending(): Promise<string[]> {
    const names: string[] = [];
    for await (const k of await this.#coordKv.keys('pending.>')) names.push(k.slice('pending.'.length));
    return names;
  }

  /**
   * @internal Fence now if this node's lease has passed. Cheap; Node.ts calls
   * it before delivering any inbound message.
   */
  _guard(): boolean {
    if (this.#hosted.size === 0) return true;
    if (this.valid) return true;
    this.#fence('lease passed without a confirmed link');
    return false;
  }

  /** @internal The starter of remote children, installed into supervision. */
  get _remote(): RemoteStarter {
    return (start, child) => ({
      logic: this.#standIn,
      input: {
        start,
        name: child.name ?? `r-${this.node}-${++this.#seq}-${Math.random().toString(36).slice(2, 8)}`,
        restart: child.restart,
        supervisor: this.node,
        cell: { ref: undefined },
      } satisfies StandInInput,
    });
  }

  /**
   * Leave the cluster: give up the coordinator lease and stop membership
   * (peers hear `leave`). Instances hosted here are not stopped by this call
   * but by the node's shutdown right after, and nothing is written for them
   * then: peers restart them as lost with their node (`nodedown`).
   */
  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#tick !== undefined) this.#clock.clearTimer(this.#tick);
    if (this.#sweep !== undefined) this.#clock.clearTimer(this.#sweep);
    await this.#lease.stop().catch(() => {});
    for (const f of this.#unwatch) f();
    for (const s of this.#subs) s.unsubscribe();
    await this.membership.stop().catch(() => {});
  }

  // ── start ───────────────────────────────────────────────────────────────

  async #start(): Promise<void> {
    const t = this.#deps.transport;
    // A stand-in learns its own actor here, before it starts: XState gives its
    // logic no handle on the actor that runs it, and only that actor's stop
    // can end it `shutdown` or `killed` as its instance ended.
    this.#unwatch.push(
      this.#deps.system.onSpawn((cell) => {
        const snap = cell.getSnapshot() as { machine?: unknown; context?: Partial<StandInInput> } | undefined;
        if (snap?.machine === this.#standIn && snap.context?.cell !== undefined) snap.context.cell.ref = cell;
      }),
    );
    this.#subs.push(
      t.subscribe(this.#subjects.rpc(this.node), (msg) => void this.#onRpc(msg)),
      t.subscribe(this.#subjects.exits(this.node), (msg) => this.#onExitReport(msg.data)),
    );
    this.membership.on('change', (c) => this.#onMemberChange(c));
    // Members already down when this node joined were reported before it listened: their takeover delay runs from now.
    for (const m of this.membership.members()) {
      if (m.node !== this.node && m.status === 'down' && !this.#downSeenAt.has(m.node)) this.#downSeenAt.set(m.node, this.#clock.now());
    }
    this.#unwatch.push(
      await this.registry.watch('node', (c) => {
        if (c.operation === 'delete') this.#nodeTypes.delete(c.name);
        else if (isRecord(c.value) && isRecord(c.value.types)) this.#nodeTypes.set(c.name, c.value.types as Record<string, Cardinality>);
        if (this.isCoordinator) this.#scheduleSweep(0);
      }),
      await this.registry.watch('instance', (c) => {
        const rec = c.operation === 'put' ? parseRecord(c.value) : undefined;
        const ended = this.#ended.get(c.name);
        if (ended !== undefined && (rec === undefined || rec.epoch > ended)) this.#ended.delete(c.name);
        if (rec === undefined) {
          this.#records.delete(c.name);
          // Gone for good (stopped, dropped): a later instance of the same name starts with no restart history.
          if (this.isCoordinator) void this.#coordKv.delete(`restarts.${c.name}`).catch(() => {});
        } else this.#records.set(c.name, rec);
        if (rec !== undefined && rec.state === 'exited' && rec.supervisor === 'cluster' && this.isCoordinator) void this.#reconcile(rec.name);
      }),
    );
    t.onStatus((s) => {
      if (s.type === 'reconnected') void this.#publishNode();
    });
    await this.#publishNode();
    this.#lease.on('acquired', (epoch) => {
      this.#log.info({ epoch }, 'cluster coordinator');
      void this.#takeOver();
    });
    this.#lease.on('lost', (reason) => this.#log.warn({ reason }, 'cluster coordinator lease lost'));
    this.#lease.start();
    const tickMs = Math.max(10, Math.round(this.membership.heartbeatMs / 5));
    const tick = (): void => {
      if (this.#closed) return;
      this._guard();
      if (this.#fencedEnds.length > 0 && this.valid && !this.#settling) void this.#settleFenced();
      this.#tick = this.#clock.setTimer(tick, tickMs);
    };
    this.#tick = this.#clock.setTimer(tick, tickMs);
    this.#deps.supervision._setRemote(this._remote);
  }

  #typeRecord(): Record<string, Cardinality> {
    return Object.fromEntries([...this.#types].map(([k, v]) => [k, v.cardinality]));
  }

  async #publishNode(): Promise<void> {
    try {
      await this.registry.put('node', this.node, { incarnation: this.membership.incarnation, types: this.#typeRecord() });
    } catch (err) {
      this.#log.warn({ reason: describe(err) }, 'cannot record node types');
    }
  }

  // ── views for placement ─────────────────────────────────────────────────

  #fencedNode(node: string, m: Member | undefined): boolean {
    if (m === undefined) return true;
    if (m.status !== 'down') return false;
    const seen = this.#downSeenAt.get(node);
    return seen !== undefined && this.#clock.now() - seen >= this.takeoverDelayMs;
  }

  #nodeView(): Map<string, NodeView> {
    const view = new Map<string, NodeView>();
    for (const m of this.membership.members()) {
      const types = Object.keys(this.#nodeTypes.get(m.node) ?? {});
      view.set(m.node, { node: m.node, status: m.status, types, fenced: this.#fencedNode(m.node, m) });
    }
    // The local node is eligible only while it may run instances.
    const self = view.get(this.node);
    if (self !== undefined && !this.valid) view.set(this.node, { ...self, status: 'suspect' });
    return view;
  }

  /**
   * True when `r` was started by an earlier incarnation of its owner, or its
   * owner is no member: that process is gone (a new incarnation is only
   * registered after the old one was declared down or left), so the record
   * holds no lock and is recovered as lost with its node.
   */
  #staleOwner(r: InstanceRecord): boolean {
    const m = this.membership.member(r.owner);
    if (m === undefined) return true;
    return r.incarnation !== undefined && m.incarnation > r.incarnation;
  }

  #placed(): PlacedInstance[] {
    const out: PlacedInstance[] = [];
    for (const r of this.#records.values()) {
      if (r.state !== 'running' || r.epoch <= (this.#ended.get(r.name) ?? 0)) continue;
      if (this.#staleOwner(r)) continue;
      out.push({ name: r.name, type: r.stype, cardinality: r.cardinality, node: r.owner });
    }
    return out;
  }

  #cardinalityOf(type: string): Cardinality {
    const local = this.#types.get(type);
    if (local !== undefined) return local.cardinality;
    for (const t of this.#nodeTypes.values()) if (t[type] !== undefined) return t[type]!;
    return Cardinality.Many;
  }

  #placeFor(req: { name: string; type: string; placement: Placement; node?: string | undefined }): string | undefined {
    return place({ ...req, cardinality: this.#cardinalityOf(req.type) }, this.#nodeView(), this.#placed());
  }

  // ── requests ────────────────────────────────────────────────────────────

  async #request(node: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const msg = await this.#deps.transport.request(this.#subjects.rpc(node), encodeJson(body), { timeout: RPC_TIMEOUT_MS });
    const v = decodeJson(msg.data);
    if (!isRecord(v)) throw new InvalidSpecError('reply', 'malformed cluster reply');
    if (v.ok !== true) throw isWireError(v.error) ? fromWireError(v.error) : new Error('cluster request failed');
    return v;
  }

  async #spawnOn(node: string, req: SpawnRequest): Promise<number> {
    const r = await this.#request(node, req as unknown as Record<string, unknown>);
    if (typeof r.epoch !== 'number') throw new InvalidSpecError('reply.epoch', 'missing');
    return r.epoch;
  }

  async #onRpc(msg: Msg): Promise<void> {
    const reply = (v: Record<string, unknown>): void => {
      if (msg.reply !== undefined && !this.#deps.transport.isClosed) this.#deps.transport.publish(msg.reply, encodeJson(v));
    };
    const v = decodeJson(msg.data);
    // Fence before serving anything: a woken process must not answer as an owner.
    this._guard();
    try {
      if (!isRecord(v)) throw new InvalidSpecError('request', 'must be a JSON object');
      switch (v.op) {
        case 'spawn':
          reply({ ok: true, epoch: await this.#spawnLocal(v as unknown as SpawnRequest) });
          return;
        case 'stop':
          reply({ ok: true, stopped: await this.#stopLocal(String(v.name), Number(v.epoch)) });
          return;
        case 'list':
          reply({ ok: true, node: this.node, valid: this.valid, coordinator: this.isCoordinator, instances: this.instances() });
          return;
        default:
          throw new InvalidSpecError('op', 'must be spawn, stop or list');
      }
    } catch (err) {
      reply({ ok: false, error: toWireError(err) });
    }
  }

  async #spawnLocal(req: SpawnRequest): Promise<number> {
    if (!this.valid) throw new FencedError(this.node);
    const limits = req.supervisor === 'cluster' ? resolveIntensity(req) : undefined;
    if (typeof req.e === 'number') {
      if (req.e < this.#coordEpochSeen) {
        this.staleRejected++;
        throw new StaleEpochError(COORDINATOR_LEASE, req.e, this.#coordEpochSeen);
      }
      this.#coordEpochSeen = req.e;
    }
    const t = this.#types.get(req.stype);
    if (t === undefined) throw new UnknownServiceTypeError(req.stype, this.node);
    const existing = this.#hosted.get(req.name);
    // Idempotent: a coordinator finishing a predecessor's pending decision may ask again.
    if (existing !== undefined && !existing.fenced && !existing.stopping) return existing.epoch;
    const lock = lockConflict(
      { name: req.name, type: req.stype, cardinality: t.cardinality },
      this.node,
      this.instances().map((h) => ({ name: h.name, type: h.type, cardinality: this.#types.get(h.type)?.cardinality ?? Cardinality.Many, node: this.node })),
      new Map([[this.node, { node: this.node, status: 'up', types: [] }]]),
    );
    if (lock !== undefined) throw new ServiceLockedError(req.stype, lock, this.node);
    const claimKey = t.cardinality === Cardinality.Singleton ? `singleton.${req.stype}` : req.name;
    const epoch = await this.#claim(claimKey, req.stype, t.cardinality);
    if (!this.valid) {
      await this.registry.release(claimKey, epoch).catch(() => {});
      throw new FencedError(this.node);
    }
    const ref = this.#deps.system.spawn(t.logic, { name: req.name, input: req.input });
    const record: InstanceRecord = {
      type: 'halyard.cluster.v1.instance',
      name: req.name,
      stype: req.stype,
      ...(req.input !== undefined ? { input: req.input } : {}),
      restart: req.restart,
      cardinality: t.cardinality,
      placement: req.placement,
      ...(req.pin !== undefined ? { pin: req.pin } : {}),
      supervisor: req.supervisor,
      owner: this.node,
      incarnation: this.membership.incarnation,
      epoch,
      state: 'running',
      ...limits,
    };
    const h: Hosted = { name: req.name, type: req.stype, epoch, supervisor: req.supervisor, ref, record, stopping: false, fenced: false, recorded: undefined };
    this.#hosted.set(req.name, h);
    ref.onExit((exit) => {
      if (h.fenced) this.#fencedEnds.push({ h, claimKey });
      else void this.#hostedExited(h, claimKey, exit.reason, exit.error);
    });
    this.#records.set(req.name, record);
    h.recorded = this.registry.put('instance', req.name, record).catch((err) => this.#log.warn({ reason: describe(err) }, 'cannot record instance'));
    await h.recorded;
    return epoch;
  }

  async #claim(key: string, type: string, cardinality: Cardinality): Promise<number> {
    const data = { type };
    const first = await this.registry.claim(key, { node: this.node, incarnation: this.membership.incarnation, data });
    if (first.ok) return first.epoch;
    const owner = first.owner;
    if (owner === undefined) {
      // Released between our create and our read: try once more.
      const again = await this.registry.claim(key, { node: this.node, incarnation: this.membership.incarnation, data });
      if (again.ok) return again.epoch;
      throw new ServiceLockedError(type, cardinality === Cardinality.Singleton ? 'singleton' : 'name', again.owner?.node);
    }
    const m = this.membership.member(owner.node);
    const gone =
      (owner.node === this.node && owner.incarnation !== this.membership.incarnation) ||
      (owner.node === this.node && ![...this.#hosted.values()].some((h) => h.epoch === owner.epoch && !h.fenced)) ||
      (owner.node !== this.node && (this.#fencedNode(owner.node, m) || (m !== undefined && m.incarnation > owner.incarnation)));
    if (!gone) throw new ServiceLockedError(type, cardinality === Cardinality.Singleton ? 'singleton' : 'name', owner.node);
    const take = await this.registry.claim(key, { node: this.node, incarnation: this.membership.incarnation, replaces: owner.epoch, data });
    if (take.ok) return take.epoch;
    throw new ServiceLockedError(type, cardinality === Cardinality.Singleton ? 'singleton' : 'name', take.owner?.node);
  }

  async #stopLocal(name: string, epoch: number): Promise<boolean> {
    const h = this.#hosted.get(name);
    if (h === undefined || (Number.isFinite(epoch) && h.epoch !== epoch)) return false;
    h.stopping = true;
    await h.ref.stop();
    return true;
  }

  async #hostedExited(h: Hosted, claimKey: string, reason: string, error: unknown): Promise<void> {
    if (this.#hosted.get(h.name) === h) this.#hosted.delete(h.name);
    // A fenced instance's successor may already own the name: write nothing.
    if (h.fenced || !this.valid || this.#closed) return;
    if (h.supervisor !== 'cluster') {
      this.#deps.transport.publish(
        this.#subjects.exits(h.supervisor),
        encodeJson({ name: h.name, epoch: h.epoch, reason, ...(error !== undefined ? { error: toWireError(error) } : {}) }),
      );
    }
    try {
      // An instance that ended as it started: its `running` record must not land after its end.
      if (h.recorded !== undefined) {
        await h.recorded;
        // Fenced meanwhile: settled (as `killed`) once valid again, if the claim is still ours.
        if (!this.valid || this.#closed) {
          if (!this.#closed) this.#fencedEnds.push({ h, claimKey });
          return;
        }
      }
      if (h.stopping || h.supervisor !== 'cluster') await this.registry.remove('instance', h.name);
      else await this.registry.put('instance', h.name, { ...h.record, state: 'exited', reason });
      await this.registry.release(claimKey, h.epoch);
    } catch (err) {
      this.#log.warn({ reason: describe(err), name: h.name }, 'cannot record instance end');
    }
  }

  /**
   * Back in contact after a fence: an instance whose claim is still ours (no
   * one took it over: this node was never declared down) is recorded as
   * ended `killed`, so its supervisor or the coordinator restarts it. One
   * taken over is left alone: its successor owns the record.
   */
  async #settleFenced(): Promise<void> {
    this.#settling = true;
    try {
      while (this.#fencedEnds.length > 0 && this.valid) {
        const { h, claimKey } = this.#fencedEnds[0]!;
        const owner = await this.registry.owner(claimKey);
        if (owner?.epoch === h.epoch && this.valid) {
          await this.#hostedExited({ ...h, fenced: false }, claimKey, 'killed', undefined);
        }
        this.#fencedEnds.shift();
      }
    } catch (err) {
      this.#log.warn({ reason: describe(err) }, 'cannot settle fenced instances yet');
    } finally {
      this.#settling = false;
    }
  }

  /** Stop every hosted instance at once, writing and reporting nothing: another node may own them now. */
  #fence(why: string): void {
    if (this.#hosted.size === 0) return;
    this.fences++;
    this.#log.warn({ why, instances: this.#hosted.size }, 'fencing: stopping every instance hosted here');
    for (const h of [...this.#hosted.values()]) {
      h.fenced = true;
      this.#hosted.delete(h.name);
      void h.ref.stop('brutal_kill');
    }
  }

  // ── remote children (the stand-in's side) ───────────────────────────────

  #link(input: StandInInput, sendBack: (e: AnyEventObject) => void): () => void {
    const link: Link = { name: input.name, node: undefined, epoch: undefined, ended: false, sendBack, cell: input.cell, early: [] };
    const fail = (error: unknown): void => {
      if (link.ended) return;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      sendBack({ type: STAND_IN_FAIL, error });
    };
    const { start } = input;
    void (async () => {
      const node = this.#placeFor({ name: input.name, type: start.type, placement: start.placement, node: start.node });
      if (node === undefined) return fail(new NoNodeAvailableError(start.type));
      link.node = node;
      this.#links.set(link.name, link);
      let epoch: number;
      try {
        epoch = await this.#spawnOn(node, {
          op: 'spawn',
          name: input.name,
          stype: start.type,
          input: start.input,
          restart: input.restart,
          placement: start.placement,
          ...(start.node !== undefined ? { pin: start.node } : {}),
          origin: this.node,
          supervisor: input.supervisor,
        });
      } catch (err) {
        return fail(err);
      }
      link.epoch = epoch;
      if (link.ended) {
        void this.#request(node, { op: 'stop', name: link.name, epoch }).catch(() => {});
        return;
      }
      const early = link.early.find((r) => r.epoch === epoch);
      link.early.length = 0;
      if (early !== undefined) return this.#endLink(link, early);
      if (this.membership.member(node)?.status === 'down') fail(new NodeDownError(node));
    })();
    return () => {
      const wasRunning = !link.ended;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      if (wasRunning && link.node !== undefined && link.epoch !== undefined && !this.#closed) {
        void this.#request(link.node, { op: 'stop', name: link.name, epoch: link.epoch }).catch(() => {});
      }
    };
  }

  #noteEnded(name: string, epoch: number): void {
    if (epoch > (this.#ended.get(name) ?? 0)) this.#ended.set(name, epoch);
  }

  #onExitReport(data: Uint8Array): void {
    const v = decodeJson(data);
    if (!isRecord(v) || typeof v.name !== 'string' || typeof v.epoch !== 'number') return;
    const report: ExitReport = { name: v.name, epoch: v.epoch, reason: typeof v.reason === 'string' ? v.reason : 'error', error: v.error };
    const link = this.#links.get(report.name);
    if (link === undefined || link.ended) return;
    if (link.epoch === undefined) {
      // The host reports an instance that ended at once before it answers the spawn: keep it for the epoch.
      if (link.early.length < EARLY_REPORTS_MAX) link.early.push(report);
      return;
    }
    if (report.epoch !== link.epoch) {
      // An older tenure's report (a fenced or superseded owner): not this child's end.
      if (report.epoch < link.epoch) this.staleRejected++;
      return;
    }
    this.#endLink(link, report);
  }

  /**
   * End a stand-in as its instance ended, so its supervisor sees the same
   * exit reason as for a local child and applies the restart type the same
   * way: a final state for `normal`, its own actor's stop for `shutdown`
   * (in time) and `killed` (brutally), a throw for `error`.
   */
  #endLink(link: Link, report: ExitReport): void {
    if (link.ended) return;
    link.ended = true;
    if (this.#links.get(link.name) === link) this.#links.delete(link.name);
    this.#noteEnded(report.name, report.epoch);
    const ref = link.cell.ref;
    switch (report.reason) {
      case 'normal':
        link.sendBack({ type: STAND_IN_EXIT });
        return;
      case 'shutdown':
      case 'killed':
        if (ref !== undefined && ref.exit === undefined) {
          void ref.stop(report.reason === 'killed' ? 'brutal_kill' : undefined);
          return;
        }
        break;
      default:
        break;
    }
    link.sendBack({
      type: STAND_IN_FAIL,
      error: isWireError(report.error) ? fromWireError(report.error) : new Error(`remote instance ended: ${report.reason}`),
    });
  }

  // ── membership ──────────────────────────────────────────────────────────

  #onMemberChange(c: MembershipChange): void {
    const node = c.member.node;
    if (node === this.node) {
      if (c.type === 'down') {
        this.#selfDown = true;
        this.#fence('declared down');
      } else if (c.type === 'join') {
        this.#selfDown = false;
        void this.#publishNode();
      }
      return;
    }
    if (c.type === 'down' || c.type === 'leave') {
      this.#downSeenAt.set(node, this.#clock.now());
      for (const link of [...this.#links.values()]) {
        if (link.node === node && !link.ended) {
          link.ended = true;
          this.#links.delete(link.name);
          link.sendBack({ type: STAND_IN_FAIL, error: new NodeDownError(node) });
        }
      }
      // OTP links: a supervisor's death takes its children with it.
      for (const h of [...this.#hosted.values()]) {
        if (h.supervisor === node) void this.#stopLocal(h.name, h.epoch);
      }
      if (this.isCoordinator) this.#scheduleSweep(this.takeoverDelayMs);
    } else if (c.type === 'join') {
      this.#downSeenAt.delete(node);
      if (this.isCoordinator) this.#scheduleSweep(0);
    }
  }

  // ── the cluster coordinator ─────────────────────────────────────────────

  async #takeOver(): Promise<void> {
    // Sweep at once: every known record is reconciled, pending entry or not.
    this.#scheduleSweep(0);
    // A predecessor's pending decisions too, including any whose record we
    // have not seen. The KV key listing can stall for the consumer's 30 s
    // heartbeat when it races a delete, so it gets a deadline and never holds
    // up the sweep above.
    let timer: TimerHandle | undefined;
    const deadline = new Promise<string[]>((resolve) => {
      timer = this.#clock.setTimer(() => resolve([]), Math.max(1000, this.leaseMs * 2));
    });
    const listed = await Promise.race([this.pending().catch(() => [] as string[]), deadline]);
    if (timer !== undefined) this.#clock.clearTimer(timer);
    for (const name of listed) await this.#reconcile(name);
  }

  #scheduleSweep(ms: number): void {
    if (this.#closed) return;
    if (this.#sweep !== undefined) this.#clock.clearTimer(this.#sweep);
    this.#sweep = this.#clock.setTimer(() => {
      this.#sweep = undefined;
      if (!this.isCoordinator) return;
      this.sweeps++;
      for (const name of [...this.#records.keys()]) void this.#reconcile(name, false);
      // Keep sweeping while leader: waits (lease not yet passed) and unplaced instances resolve over time.
      this.#scheduleSweep(Math.max(100, this.membership.heartbeatMs * 2));
    }, ms);
  }

  /** One recovery step for `name`; `again`: if one is in flight, step once more after it (the sweep does not need that). */
  async #reconcile(name: string, again = true): Promise<void> {
    if (this.#inflight.has(name)) {
      if (again) this.#again.add(name);
      return;
    }
    this.#inflight.add(name);
    try {
      await this.#reconcileOne(name);
    } catch (err) {
      this.#log.warn({ name, reason: describe(err) }, 'recovery step failed; retried on the next sweep');
    } finally {
      this.#inflight.delete(name);
      // An instance that ended while its restart was in flight (it crashed as it started) is seen at once.
      if (this.#again.delete(name) && this.isCoordinator) void this.#reconcile(name);
    }
  }

  async #reconcileOne(name: string): Promise<void> {
    const coordEpoch = this.#lease.epoch;
    if (coordEpoch === undefined) return;
    const pendingKey = `pending.${name}`;
    const rec = this.#records.get(name);
    if (rec === undefined) {
      await this.#coordKv.delete(pendingKey).catch(() => {});
      return;
    }
    if (rec.supervisor !== 'cluster') return;
    const nodes = this.#nodeView();
    const inst: InstanceState = {
      name: rec.name,
      type: rec.stype,
      cardinality: rec.cardinality,
      placement: rec.placement,
      ...(rec.pin !== undefined ? { node: rec.pin } : {}),
      restart: rec.restart,
      owner: rec.owner,
      ...(this.#staleOwner(rec) ? { ownerGone: true } : {}),
      state: rec.state,
      ...(rec.reason !== undefined ? { reason: rec.reason } : {}),
      ...(rec.gaveUp === true ? { gaveUp: true } : {}),
    };
    const r = recover(inst, nodes, this.#placed());
    if (r.kind === 'none') {
      if (rec.state !== 'running') return;
      // Running on a live node: a pending entry for an older epoch has completed.
      const p = await this.#coordKv.get(pendingKey).catch(() => null);
      const pv = p?.operation === 'PUT' ? decodeJson(p.value) : undefined;
      if (isRecord(pv) && pv.fromEpoch !== rec.epoch) {
        this.#lease.assertHeld();
        await this.#decided({ ...(pv as unknown as ClusterDecision), to: rec.owner, epoch: rec.epoch });
        await this.#coordKv.delete(pendingKey);
      }
      return;
    }
    if (r.kind === 'wait' || r.kind === 'unplaced') return;
    const base = { name, from: rec.owner, fromEpoch: rec.epoch, reason: r.reason, coordinator: this.node, coordinatorEpoch: coordEpoch };
    this.#lease.assertHeld();
    if (r.kind === 'drop') {
      await this.#decided({ ...base, action: 'drop', at: Date.now() });
      await this.#releaseLost(rec);
      await this.registry.remove('instance', name);
      this.#records.delete(name);
      await this.#forget(name);
      return;
    }
    // OTP's add_restart/3 per instance, on a history kept in KV for the next coordinator.
    const restartsKey = `restarts.${name}`;
    const stored = parseRestarts(decodeJson((await this.#coordKv.get(restartsKey))?.value ?? new Uint8Array()));
    const { intensity, period } = intensityOf(rec);
    const step = intensityStep(stored, rec.epoch, this.#wallClock(), intensity, period);
    if (step.kind === 'stop') {
      await this.#giveUp(rec, base, step.history);
      return;
    }
    if (step.counted) {
      this.#lease.assertHeld();
      const h: RestartHistory = { type: 'halyard.cluster.v1.restarts', name, history: step.history, from: rec.epoch };
      await this.#coordKv.put(restartsKey, encodeJson(h));
    }
    const pending: ClusterDecision = { ...base, action: 'restart', history: step.history, to: r.node, at: Date.now() };
    await this.#coordKv.put(pendingKey, encodeJson(pending));
    this.#log.info({ name, from: rec.owner, to: r.node, reason: r.reason }, 'cluster recovery pending');
    this.#lease.assertHeld();
    const epoch = await this.#spawnOn(r.node, {
      op: 'spawn',
      name,
      stype: rec.stype,
      input: rec.input,
      restart: rec.restart,
      placement: rec.placement,
      ...(rec.pin !== undefined ? { pin: rec.pin } : {}),
      origin: this.node,
      supervisor: 'cluster',
      ...(rec.intensity !== undefined ? { intensity: rec.intensity } : {}),
      ...(rec.period !== undefined ? { period: rec.period } : {}),
      e: coordEpoch,
    });
    // Unless the watch has shown something newer already (this tenure may have ended by now).
    if ((this.#records.get(name)?.epoch ?? 0) < epoch) this.#records.set(name, { ...rec, owner: r.node, epoch, state: 'running' });
    await this.#decided({ ...pending, epoch });
    await this.#coordKv.delete(pendingKey);
  }

  /**
   * Past its restart intensity: the decision (`stop`) first; then the owner
   * claim of an instance lost with its node; then the record (exited, given
   * up: no coordinator restarts it); last the history and any pending entry.
   */
  async #giveUp(rec: InstanceRecord, base: Omit<ClusterDecision, 'action' | 'at'>, history: readonly number[]): Promise<void> {
    this.#lease.assertHeld();
    this.#log.warn({ name: rec.name, reason: base.reason, restarts: history.length }, 'cluster recovery gives up: restart intensity reached');
    await this.#decided({ ...base, action: 'stop', detail: MAX_INTENSITY_REASON, history, at: Date.now() });
    await this.#releaseLost(rec);
    const given: InstanceRecord = { ...rec, state: 'exited', reason: MAX_INTENSITY_REASON, gaveUp: true };
    await this.registry.put('instance', rec.name, given);
    this.#records.set(rec.name, given);
    await this.#forget(rec.name);
  }

  /**
   * An instance lost with its node and not restarted (dropped, given up):
   * free its owner claim. Otherwise that node, back in contact, would find
   * the claim still its own and record the end as a fresh `killed`,
   * bringing a forgotten instance back to be decided again.
   */
  async #releaseLost(rec: InstanceRecord): Promise<void> {
    if (rec.state !== 'running') return;
    const claimKey = rec.cardinality === Cardinality.Singleton ? `singleton.${rec.stype}` : rec.name;
    await this.registry.release(claimKey, rec.epoch).catch(() => false);
  }

  /** No more restarts for `name`: its history, and a pending entry left by an earlier tenure's restart. */
  async #forget(name: string): Promise<void> {
    await Promise.all([this.#coordKv.delete(`restarts.${name}`), this.#coordKv.delete(`pending.${name}`)]).catch(() => {});
  }

  async #decided(d: ClusterDecision): Promise<void> {
    await this.#coordKv.put(`decision.${d.name}.${d.fromEpoch}`, encodeJson(d));
  }
}
