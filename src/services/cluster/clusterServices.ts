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
 */
import type { AnyEventObject } from 'xstate';
import type { CheckLevel, CheckResult, StatusReport } from '../../actors/ocf.js';
import type { AskOptions } from '../../actors/types.js';
import type { Clock } from '../../clock.js';
import { ActorNotRunningError, DependantsAliveError, InvalidArgumentError, ServiceRunningError, TimeoutError } from '../../errors.js';
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

  constructor(deps: ClusterServicesDeps) {
    this.#d = deps;
    deps.cluster._onRecord((name, rec) => this.#handles.get(name)?._changed(rec));
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
  ): void {
    this.#types = new Set(types.map((t) => t.name));
    this.#local = local;
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
  forget(h: ClusterInstance): void;
}

/** A defined service's instance placed through the cluster, reached wherever it runs. */
export class ClusterInstance implements ServiceHandle {
  readonly config: unknown;
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
    this.config = input.config;
    this.tags = Object.freeze([...input.tags]);
    this.lifetime = input.lifetime;
    this.#lastNode = node;
  }

  get node(): string {
    return this.#record()?.owner ?? this.#lastNode;
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

  /** Live dependants this node runs (another node's are its own to stop first). */
  dependants(): readonly ServiceHandle[] {
    return this.#here()?.dependants() ?? [];
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
