/**
 * Defined services (`defineService`) in the cluster: the node's types join
 * the cluster catalogue, an instance with lifetime `cluster` (or of a
 * `singleton` type) is placed through the cluster, and every such instance
 * is reached through a {@link ClusterInstance} handle: the same interface as
 * a local `ServiceInstance`, wherever it runs, and after failover too.
 *
 * ## The instance record
 * An instance of a defined service is an ordinary cluster instance
 * (`instance.<id>`, Cluster.ts) whose `input` is the versioned
 * {@link ClusterServiceInput}: its config (already checked against the
 * type's schema by the node that placed it), tags and lifetime. The host
 * starts it through its node's services (setup, dependencies, ready), so a
 * failed-over instance starts on the survivor from that record.
 *
 * ## State of a handle
 * From the record as last seen: `running`; `exited` and given up is
 * `failed`; `exited` normally (a final state) is `stopped`; `exited`
 * otherwise is `starting` (the coordinator is placing it again); no record
 * once it was stopped is `stopped`.
 *
 * ## Handles complete
 * - `reconfigure(config)`: checked against the type's schema on this node
 *   first (when this node defines the type; else by the host), then sent to
 *   the owning host (`reconfigure` on its RPC subject), which reconfigures
 *   the instance there (ServiceInstance.ts) and writes the new config into
 *   its record, so a failover starts it with that config.
 * - `dependants()`: from the graph: live instances, on this node or anywhere
 *   in the cluster's registry, of the types that depend on its type (the
 *   dependency graph of this node's catalogue, as for a local handle).
 */
import type { AnyEventObject } from 'xstate';
import type { CheckLevel, CheckResult, StatusReport } from '../../actors/ocf.js';
import type { AskOptions } from '../../actors/types.js';
import type { Clock } from '../../clock.js';
import { ActorNotRunningError, DependantsAliveError, InvalidArgumentError, InvalidSpecError, ServiceRunningError, TimeoutError } from '../../errors.js';
import { assertPositiveMs } from '../../options.js';
import type { RestartType } from '../../supervision/types.js';
import type { ServiceHandle } from '../instances/ServiceQuery.js';
import type { InstanceState, LifetimeOption, StopOptions } from '../instances/types.js';
import type { HostedRef } from './catalog.js';
import type { Cluster } from './Cluster.js';
import { isRecord } from './kv.js';
import type { Member } from './Membership.js';
import type { Cardinality, Placement } from './placement.js';
import type { InstanceRecord } from './records.js';

/** What the record of a defined service's instance carries as `input`. */
export interface ClusterServiceInput {
  readonly v: 1;
  readonly config: unknown;
  readonly tags: readonly string[];
  readonly lifetime: 'cluster' | 'node' | 'detached';
}

/** `input` of a record, when it is a defined service's. */
export function serviceInputOf(input: unknown): ClusterServiceInput | undefined {
  if (!isRecord(input) || input.v !== 1 || !Array.isArray(input.tags)) return undefined;
  const lifetime = input.lifetime === 'node' || input.lifetime === 'detached' ? input.lifetime : 'cluster';
  return { v: 1, config: input.config, tags: input.tags.filter((t): t is string => typeof t === 'string'), lifetime };
}

export interface ClusterServicesDeps {
  readonly cluster: Cluster;
  readonly clock: Clock;
  /** Reach an actor by name, here or on another node (the node's router). */
  ref(name: string): { tell(event: AnyEventObject): void; ask(event: AnyEventObject, options?: AskOptions): Promise<unknown> };
  check(name: string, level: CheckLevel): Promise<CheckResult>;
  status(name: string): Promise<StatusReport>;
}

/** What a handle learns from this node's catalogue of defined services. */
export interface LocalGraph {
  /** The config checked against `service`'s schema; `undefined` when this node does not define `service`. */
  validate(service: string, config: unknown): Promise<unknown> | undefined;
  /** The service types that depend on `service`. */
  dependantsOf(service: string): readonly string[];
  /** This node's instances. */
  instances(): readonly ServiceHandle[];
}

/** The `reconfigure` request on a host's RPC subject. */
interface ReconfigureRequest {
  readonly name: string;
  readonly config: unknown;
}

export interface PlaceRequest {
  readonly service: string;
  readonly id: string;
  readonly input: ClusterServiceInput;
  readonly restart: RestartType;
  readonly placement?: Placement;
  readonly node?: string;
}

export class ClusterServices {
  readonly #d: ClusterServicesDeps;
  readonly #handles = new Map<string, ClusterInstance>();
  #types: ReadonlySet<string> = new Set();
  #local: (id: string) => ServiceHandle | undefined = () => undefined;
  #graph: LocalGraph | undefined;

  constructor(deps: ClusterServicesDeps) {
    this.#d = deps;
    deps.cluster._onRecord((name, rec) => this.#handles.get(name)?._changed(rec));
    deps.cluster._serve('reconfigure', (req) => this.#reconfigureHere(req as unknown as ReconfigureRequest));
  }

  /** A handle's `reconfigure`, on the node that runs the instance. */
  async #reconfigureHere(req: ReconfigureRequest): Promise<Record<string, unknown>> {
    if (typeof req.name !== 'string') throw new InvalidSpecError('name', 'must be an instance id');
    const local = this.#local(req.name) as (ServiceHandle & { reconfigure?: (config: unknown) => Promise<void> }) | undefined;
    if (local === undefined || !local.isAlive() || typeof local.reconfigure !== 'function') throw new ActorNotRunningError(req.name);
    await local.reconfigure(req.config);
    const input = serviceInputOf(this.record(req.name)?.input);
    if (input !== undefined) await this.#d.cluster._updateInput(req.name, { ...input, config: local.config });
    return { config: local.config };
  }

  get node(): string {
    return this.#d.cluster.node;
  }

  /**
   * Register the node's defined types in the cluster catalogue. `host` runs an
   * instance here when placement picks this node; `local` finds the instance
   * this node runs, so a handle talks to it directly.
   */
  register(
    types: ReadonlyArray<{ readonly name: string; readonly cardinality: Cardinality }>,
    host: (service: string, id: string, input: ClusterServiceInput, epoch: number) => Promise<HostedRef>,
    local: (id: string) => ServiceHandle | undefined,
    graph?: LocalGraph,
  ): void {
    this.#types = new Set(types.map((t) => t.name));
    this.#local = local;
    this.#graph = graph;
    for (const t of types) {
      this.#d.cluster._registerService(t.name, t.cardinality, async (req) => {
        const input = serviceInputOf(req.input);
        if (input === undefined) throw new InvalidArgumentError('input', `instance ${req.name} of ${t.name} carries no service input (v 1)`);
        return host(t.name, req.name, input, req.epoch);
      });
    }
  }

  /** Place an instance through the cluster; resolves once it is ready wherever it landed. */
  async place(req: PlaceRequest): Promise<ClusterInstance> {
    const placed = await this.#d.cluster._placeService({
      name: req.id,
      type: req.service,
      input: req.input,
      restart: req.restart,
      ...(req.placement !== undefined ? { placement: req.placement } : {}),
      ...(req.node !== undefined ? { node: req.node } : {}),
    });
    const h = this.#handle(req.service, req.id, req.input, placed.node);
    h._placed(placed.node);
    return h;
  }

  /** Handles of every defined service's instance the registry holds (running, or exited and not yet removed). */
  instances(): ClusterInstance[] {
    const out: ClusterInstance[] = [];
    for (const rec of this.#d.cluster.records()) {
      const input = serviceInputOf(rec.input);
      if (input === undefined || !this.#types.has(rec.stype)) continue;
      out.push(this.#handle(rec.stype, rec.name, input, rec.owner));
    }
    return out;
  }

  nodes(): Member[] {
    return this.#d.cluster.nodes();
  }

  /** The record of `id` as last seen. */
  record(id: string): InstanceRecord | undefined {
    return this.#d.cluster._record(id);
  }

  #handle(service: string, id: string, input: ClusterServiceInput, node: string): ClusterInstance {
    let h = this.#handles.get(id);
    if (h === undefined || h.service !== service || (!h.isAlive() && this.record(id)?.state === 'running')) {
      h = new ClusterInstance(
        {
          ...this.#d,
          local: (i) => this.#local(i),
          graph: () => this.#graph,
          all: () => this.instances(),
          forget: (x) => {
            if (this.#handles.get(x.id) === x) this.#handles.delete(x.id);
          },
        },
        service,
        id,
        input,
        node,
      );
      this.#handles.set(id, h);
    }
    return h;
  }
}

interface HandleDeps extends ClusterServicesDeps {
  local(id: string): ServiceHandle | undefined;
  graph(): LocalGraph | undefined;
  /** Every cluster instance's handle. */
  all(): readonly ServiceHandle[];
  forget(h: ClusterInstance): void;
}

/** A defined service's instance placed through the cluster, reached wherever it runs. */
export class ClusterInstance implements ServiceHandle {
  readonly #config: unknown;
  readonly tags: readonly string[];
  readonly lifetime: LifetimeOption;
  readonly #d: HandleDeps;
  #lastNode: string;
  /** Stopped on request, or its record removed: the instance is gone for good. */
  #ended = false;
  readonly #waiters = new Set<() => void>();

  constructor(
    deps: HandleDeps,
    readonly service: string,
    readonly id: string,
    input: ClusterServiceInput,
    node: string,
  ) {
    this.#d = deps;
    this.#config = input.config;
    this.tags = Object.freeze([...input.tags]);
    this.lifetime = input.lifetime;
    this.#lastNode = node;
  }

  get node(): string {
    return this.#record()?.owner ?? this.#lastNode;
  }

  /** The config in force, as its record says (a reconfigure writes it there). */
  get config(): unknown {
    const input = serviceInputOf(this.#record()?.input);
    return input === undefined ? this.#config : input.config;
  }

  /**
   * Change its config wherever it runs (OTP's `config_change`, as
   * ServiceInstance.ts): checked against the schema here first, when this
   * node defines the type (an `InvalidConfigError` naming each failing path,
   * nothing sent), then applied by its host.
   */
  async reconfigure(config: unknown): Promise<void> {
    const checked = this.#d.graph()?.validate(this.service, config);
    const valid = checked === undefined ? config : await checked;
    if (!this.isAlive()) throw new ActorNotRunningError(this.id);
    await this.#d.cluster._request(this.node, { op: 'reconfigure', name: this.id, config: valid });
  }

  get state(): InstanceState {
    if (this.#ended) return 'stopped';
    const rec = this.#record();
    // Placed, its record not yet seen here through the watch.
    if (rec === undefined) return 'running';
    if (rec.state === 'running') return 'running';
    if (rec.gaveUp === true) return 'failed';
    // Ended by itself (a final state): not restarted. Any other end is the coordinator's to place again.
    return rec.reason === 'normal' || rec.reason === 'shutdown' ? 'stopped' : 'starting';
  }

  isAlive(): boolean {
    const s = this.state;
    return s === 'starting' || s === 'running';
  }

  /** Live instances of the types that depend on its type, on this node and anywhere in the cluster (see the module comment). */
  dependants(): readonly ServiceHandle[] {
    const graph = this.#d.graph();
    const types = graph?.dependantsOf(this.service) ?? [];
    if (types.length === 0) return [];
    const out = new Map<string, ServiceHandle>();
    for (const h of [...(graph?.instances() ?? []), ...this.#d.all()]) {
      if (h.id !== this.id && !out.has(h.id) && types.includes(h.service) && h.isAlive()) out.set(h.id, h);
    }
    return [...out.values()];
  }

  tell(event: AnyEventObject): void {
    const here = this.#here();
    if (here !== undefined) {
      here.tell(event);
      return;
    }
    if (!this.isAlive()) throw new ActorNotRunningError(this.id);
    this.#d.ref(this.id).tell(event);
  }

  ask<R = unknown>(event: AnyEventObject, options?: AskOptions): Promise<R> {
    const here = this.#here();
    if (here !== undefined) return here.ask<R>(event, options);
    if (!this.isAlive()) return Promise.reject(new ActorNotRunningError(this.id));
    return this.#d.ref(this.id).ask(event, options) as Promise<R>;
  }

  /** Stop it for good, wherever it runs: it is not restarted. Idempotent. */
  async stop(options: StopOptions = {}): Promise<void> {
    const dependants = this.dependants();
    if (options.dependants === 'refuse' && dependants.length > 0) throw new DependantsAliveError(this.service, dependants.map((d) => d.id));
    await this.#end(false);
  }

  /** Skip its graceful shutdown; it is not restarted. Idempotent. */
  kill(): Promise<void> {
    return this.#end(true);
  }

  async #end(kill: boolean): Promise<void> {
    if (this.#ended) return;
    await this.#d.cluster.stopInstance(this.id, { kill });
    this.#setEnded();
  }

  waitTillStopped(ms: number): Promise<void> {
    try {
      assertPositiveMs(ms, 'ms', InvalidArgumentError);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.isAlive()) return Promise.resolve();
    let timer: unknown;
    let waiter: (() => void) | undefined;
    return new Promise<void>((resolve, reject) => {
      waiter = () => {
        if (!this.isAlive()) resolve();
      };
      this.#waiters.add(waiter);
      timer = this.#d.clock.setTimer(() => reject(new TimeoutError(this.id, ms)), ms);
    }).finally(() => {
      this.#d.clock.clearTimer(timer as never);
      if (waiter !== undefined) this.#waiters.delete(waiter);
    });
  }

  async cleanup(): Promise<void> {
    if (this.isAlive()) throw new ServiceRunningError(this.id, this.state);
    this.#d.forget(this);
  }

  async check(level: CheckLevel = 0): Promise<CheckResult> {
    return this.#here()?.check(level) ?? this.#d.check(this.id, level);
  }

  async status(): Promise<StatusReport> {
    return this.#here()?.status() ?? this.#d.status(this.id);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** @internal Its record changed (`undefined`: removed). */
  _changed(rec: InstanceRecord | undefined): void {
    if (rec === undefined) this.#setEnded();
    else this.#lastNode = rec.owner;
    for (const w of [...this.#waiters]) w();
  }

  /** @internal Placed again by a start on `node`. */
  _placed(node: string): void {
    this.#lastNode = node;
  }

  #setEnded(): void {
    this.#ended = true;
    for (const w of [...this.#waiters]) w();
  }

  #record(): InstanceRecord | undefined {
    return this.#d.cluster._record(this.id);
  }

  /** The instance itself, when this node runs it. */
  #here(): ServiceHandle | undefined {
    if (this.node !== this.#d.cluster.node) return undefined;
    const local = this.#d.local(this.id);
    return local?.isAlive() === true ? local : undefined;
  }
}
