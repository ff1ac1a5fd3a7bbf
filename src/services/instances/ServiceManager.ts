/**
 * `node.services`: the service types a node knows and the instances it runs.
 *
 * ## start(name, { config, tags, lifetime, id, timeout, configs })
 * In order, each step refusing before anything runs:
 * 1. the type must be in the node's catalogue (`UnknownServiceTypeError`);
 * 2. the node must carry the labels it `requires` (`ServiceNotInstalledError`, OCF 5);
 * 3. the config must pass its schema (`InvalidConfigError`, OCF 6);
 * 4. cardinality: a `per-node` or `singleton` type runs once on a node (a
 *    start with an equal config and tags returns the live instance, another
 *    is a `ServiceLockedError`); locally a singleton is per-node, the
 *    cluster lease comes with cluster placement;
 * 5. dependencies start first, in topological order, each one waited for
 *    until ready; a live instance of a dependency is reused, a missing one is
 *    started with `configs[<dependency>]`;
 * 6. setup, the supervised logic, `ready` (ServiceInstance.ts).
 * A start with the `id` of a live instance returns that instance (idempotent).
 *
 * ## Names
 * A `per-node` or `singleton` instance holds the actor name `<service>`
 * (`<prefix>.svc.<service>`); if anything else holds it, the start is a
 * `ServiceLockedError` with lock `name`. A `many` instance takes `<service>`
 * when free, else its instance id, so `node.ref('<service>')` reaches one.
 *
 * ## `$SRV`
 * With a `micro` host, every instance is listed by the node's responder while
 * it runs (from ready until it has stopped): see microRegistration.ts.
 *
 * ## Lifetimes
 * - `node`: ends with its node (at its shutdown, dependants first).
 * - `detached`: ends when the process's Halyard runtime shuts down; its
 *   actors live in the node's system, so it cannot outlive the node either.
 * - `cluster`: on a clustered node, placed through the cluster (below); it
 *   survives node loss by failover (a node that shuts down leaves the
 *   cluster and its peers restart it, `nodedown`) and ends when stopped or
 *   when the cluster is stopped. On a node without a cluster it is `node`.
 * - `scope`: ends with `await using`; `{ owner }`: ends when the owner ends.
 *
 * ## In a cluster (`_attachCluster`, services/cluster/clusterServices.ts)
 * The node's types join the cluster catalogue (no second registration).
 * A start with lifetime `cluster`, or of a `singleton` type (cluster-wide:
 * the cluster's singleton claim, pinned here unless lifetime `cluster`),
 * checks the options and the config first, then is placed by the cluster:
 * a node lacking the type's `requires` labels answers OCF 5 and placement
 * moves on. The host starts it through its own node's services (steps 1–6).
 * A `cluster` start resolves with a handle (`ServiceHandle`) of the same
 * interface as a local instance, wherever it runs; its default id is
 * `<service>-<node>-<n>` (a singleton's is `<service>`) and its actor name
 * is its id. `find()` and `graph()` cover the cluster's instances too.
 */
import { InvalidArgumentError, ServiceLockedError, ServiceNotInstalledError, toWireError } from '../../errors.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { assertKnownKeys, assertOptionsObject, assertPositiveMs, isPlainObject, kindOf } from '../../options.js';
import type { SuperviseOptions } from '../../supervision/Supervisor.js';
import type { Supervisor, SupervisorSpec } from '../../supervision/types.js';
import { validateConfig } from '../catalog/config.js';
import type { AnyServiceDefinition } from '../catalog/definition.js';
import { SERVICE_NAME } from '../catalog/defineService.js';
import { missingLabels } from '../catalog/labels.js';
import { ServiceCatalog } from '../catalog/ServiceCatalog.js';
import type { MicroHost } from './microRegistration.js';
import type { HostedRef } from '../cluster/catalog.js';
import type { ClusterServiceInput, ClusterServices } from '../cluster/clusterServices.js';
import { type MonitorHost, type MonitorOptions, type ServiceMonitor, startMonitor } from './monitor.js';
import { type InstanceHost, ServiceInstance } from './ServiceInstance.js';
import { type ServiceHandle, ServiceQuery, type ServiceSource } from './ServiceQuery.js';
import type { StateStore } from '../state/StateStore.js';
import { type ServiceEvent, ServiceEventType, type StartOptions } from './types.js';
import type { ServiceReportInput } from '../../supervision/reports.js';
import { coordinatorReport } from './coordinatorReport.js';

/** What the manager needs from its node. */
export interface ServicesHost {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  supervise(spec: SupervisorSpec, options?: SuperviseOptions): Supervisor;
  /** Whether a live local actor holds `name`. */
  nameTaken(name: string): boolean;
  /** The node's `$SRV` responder, and the subject an actor name is reached on; without it instances are not listed. */
  readonly micro?: MicroHost;
  /** Where `monitor` publishes; without it `monitor` is refused. */
  readonly monitor?: MonitorHost;
  /** Where persisted instances keep their state (state/stateOptions.ts). */
  stateStore?(): StateStore;
  /** The node's Recovery Coordinator, told every instance event (coordinatorReport.ts). */
  report?(report: ServiceReportInput): void;
  /** Run `hook` before each restart the coordinator decides for `supervisor`; returns its removal. */
  beforeRestart?(supervisor: string, hook: () => Promise<boolean>): () => void;
}

/** The graph of services, instances, nodes, configs and owners (`graph()`); versioned by `v`. */
export interface ServiceGraph {
  readonly v: 1;
  readonly services: ReadonlyArray<{ readonly name: string; readonly version: string; readonly dependsOn: readonly string[]; readonly cardinality: string }>;
  readonly instances: ReadonlyArray<{
    readonly service: string;
    readonly instance: string;
    readonly node: string;
    readonly state: string;
    readonly tags: readonly string[];
    readonly config: unknown;
    readonly lifetime: string;
    /** The owner instance (lifetime `{ owner }`), if any. */
    readonly owner: string | undefined;
    readonly dependsOn: readonly string[];
  }>;
  /** This node, and every cluster member as this node sees it. */
  readonly nodes: ReadonlyArray<{ readonly node: string; readonly status: string }>;
}

const START_KEYS = ['config', 'tags', 'lifetime', 'id', 'timeout', 'configs'];
const LIFETIMES = ['detached', 'node', 'cluster', 'scope'];
/** Bounded: the event log is for looking back, not an archive. */
const EVENT_LOG_SIZE = 1000;

export class ServiceManager implements ServiceSource {
  readonly catalog: ServiceCatalog;
  private readonly host: ServicesHost;
  private readonly labels: ReadonlySet<string>;
  private readonly list: ServiceInstance[] = [];
  private readonly eventLog: ServiceEvent[] = [];
  private readonly listeners = new Set<(e: ServiceEvent) => void>();
  private readonly instanceHost: InstanceHost;
  private seq = 0;
  private cluster: ClusterServices | undefined;
  /** Shutting down in a cluster: hosted instances end without reporting, so peers fail them over as lost with the node. */
  private leaving = false;
  private closing: Promise<void> | undefined;
  /** Starts in flight by type, for per-node types: a second start waits on the first. */
  private readonly pending = new Map<string, Promise<ServiceInstance>>();
  /** Dependencies being started on behalf of a dependant, by type. */
  private readonly dependencyStarts = new Map<string, Promise<ServiceInstance>>();

  constructor(host: ServicesHost, defs: readonly unknown[] | undefined, labels: readonly string[] | undefined) {
    this.host = host;
    this.catalog = new ServiceCatalog(defs, host.name);
    this.labels = new Set(labels ?? []);
    this.instanceHost = {
      node: host.name,
      clock: host.clock,
      logger: host.logger,
      supervise: (spec, options) => host.supervise(spec, options),
      emit: (e) => this.emit(e),
      liveDependants: (i) => this.liveDependants(i),
      ...(host.micro === undefined ? {} : { micro: host.micro }),
      ...(host.beforeRestart === undefined ? {} : { beforeRestart: host.beforeRestart }),
      ...(host.stateStore === undefined ? {} : { stateStore: () => (host.stateStore as () => StateStore)() }),
      forget: (i) => {
        const at = this.list.indexOf(i);
        if (at >= 0) this.list.splice(at, 1);
      },
    };
  }

  /** Start an instance of `name` once ready (see the module comment for the order of checks). */
  start(name: string, options: StartOptions & { readonly lifetime: 'cluster' }): Promise<ServiceHandle>;
  start(name: string, options?: StartOptions): Promise<ServiceInstance>;
  async start(name: string, options: StartOptions = {}): Promise<ServiceHandle> {
    if (this.closing !== undefined) throw new InvalidArgumentError('name', `node ${this.host.name} is shutting down`);
    this.assertStartOptions(options);
    const def = this.catalog.get(name);
    const lifetime = options.lifetime ?? def.lifetime;
    if (this.cluster !== undefined && (lifetime === 'cluster' || def.cardinality === 'singleton') && typeof lifetime !== 'object' && lifetime !== 'scope') {
      return this.placeInCluster(this.cluster, def, options, lifetime);
    }
    return this.startHere(def, options);
  }

  /** Checked here (options, config), then placed by the cluster; the host runs it with {@link hostForCluster}. */
  private async placeInCluster(
    cluster: ClusterServices,
    def: AnyServiceDefinition,
    options: StartOptions,
    lifetime: 'cluster' | 'node' | 'detached',
  ): Promise<ServiceHandle> {
    let config: unknown;
    try {
      config = await validateConfig(def, options.config);
    } catch (err) {
      this.couldNotStart(def, options.id ?? def.name, err as Error & { ocf?: number });
      throw err;
    }
    const tags = [...new Set([...def.tags, ...(options.tags ?? [])])];
    const id = options.id ?? (def.cardinality === 'singleton' ? def.name : this.nextId(def.name));
    const input: ClusterServiceInput = { v: 1, config, tags, lifetime };
    if (lifetime === 'cluster') return cluster.place({ service: def.name, id, input, restart: 'transient' });
    // A singleton bound to this node: the cluster-wide claim, but it runs and ends here.
    const placed = await cluster.place({ service: def.name, id, input, restart: 'temporary', placement: 'pinned', node: this.host.name });
    // The name already runs elsewhere: the cluster's singleton is held.
    if (placed.node !== this.host.name) throw new ServiceLockedError(def.name, 'singleton', placed.node);
    const here = this.list.find((i) => i.id === id && i.isAlive());
    if (here === undefined) throw new InvalidArgumentError('id', `instance ${id} was placed but does not run on node ${this.host.name}`);
    return here;
  }

  /**
   * @internal The cluster placed `id` here under the owner claim `epoch`: start it through this node's services, as the
   * host's hosted instance. A persisted one restores from its stored state, fenced by `epoch` (instancePersistence.ts).
   */
  private async hostForCluster(service: string, id: string, input: ClusterServiceInput, epoch: number): Promise<HostedRef> {
    const inst = await this.startHere(this.catalog.get(service), { id, config: input.config, tags: input.tags, lifetime: input.lifetime }, id, epoch);
    return {
      id: inst.id,
      stop: (shutdown) => (shutdown === 'brutal_kill' ? inst.kill() : inst.stop()),
      onExit: (listener) =>
        void inst.stopped.then(() => {
          if (this.leaving) return;
          if (inst.state === 'failed') listener({ reason: 'error', error: new Error(`service instance ${id} failed`) });
          else listener({ reason: 'normal' });
        }),
    };
  }

  /** @internal Join the cluster: this node's types go into its catalogue, and cluster lifetimes are placed through it. */
  _attachCluster(cluster: ClusterServices): void {
    this.cluster = cluster;
    cluster.register(
      this.catalog.names().map((n) => ({ name: n, cardinality: this.catalog.get(n).cardinality })),
      (service, id, input, epoch) => this.hostForCluster(service, id, input, epoch),
      (id) => this.list.find((i) => i.id === id),
      {
        validate: (service, config) => (this.catalog.has(service) ? validateConfig(this.catalog.get(service), config) : undefined),
        dependantsOf: (service) => (this.catalog.has(service) ? this.catalog.dependantsOf(service) : []),
        instances: () => this.list,
      },
    );
  }

  private async startHere(def: AnyServiceDefinition, options: StartOptions, actorName?: string, ownerEpoch?: number): Promise<ServiceInstance> {
    const name = def.name;
    if (options.id !== undefined) {
      const same = this.list.find((i) => i.id === options.id && i.isAlive());
      if (same !== undefined) {
        if (same.service !== name) throw new InvalidArgumentError('id', `instance ${options.id} is of service ${same.service}, not ${name}`);
        await same._start();
        return same;
      }
    }
    const missing = missingLabels(def.requires, this.labels);
    if (missing.length > 0) {
      const err = new ServiceNotInstalledError(name, this.host.name, missing);
      this.couldNotStart(def, options.id ?? name, err);
      throw err;
    }
    let config: unknown;
    try {
      config = await validateConfig(def, options.config);
    } catch (err) {
      this.couldNotStart(def, options.id ?? name, err as Error & { ocf?: number });
      throw err;
    }
    const tags = Object.freeze([...new Set([...def.tags, ...(options.tags ?? [])])]);
    if (def.cardinality !== 'many') {
      const pending = this.pending.get(name);
      if (pending !== undefined) await pending.catch(() => undefined);
      const live = this.list.find((i) => i.service === name && i.isAlive());
      if (live !== undefined) {
        if (sameValue(live.config, config) && sameValue([...live.tags].sort(), [...tags].sort())) {
          await live._start();
          return live;
        }
        throw new ServiceLockedError(name, 'per-node', live.id);
      }
    }
    const starting = this.startNew(def, config, tags, options, actorName, ownerEpoch);
    if (def.cardinality !== 'many') {
      this.pending.set(name, starting);
      void starting.then(
        () => this.pending.delete(name),
        () => this.pending.delete(name),
      );
    }
    return starting;
  }

  private async startNew(
    def: AnyServiceDefinition,
    config: unknown,
    tags: readonly string[],
    options: StartOptions,
    name?: string,
    ownerEpoch?: number,
  ): Promise<ServiceInstance> {
    // Dependencies first, in topological order; each ready before the next (and before us).
    for (const dep of this.catalog.closure(def.name).slice(0, -1)) {
      const live = this.list.find((i) => i.service === dep && i.isAlive());
      if (live !== undefined) {
        await live._start();
        continue;
      }
      // Two dependants starting at once share one start of their dependency, whatever its cardinality.
      let shared = this.dependencyStarts.get(dep);
      if (shared === undefined) {
        shared = this.start(dep, { config: options.configs?.[dep], configs: options.configs });
        this.dependencyStarts.set(dep, shared);
        const forget = (): void => {
          this.dependencyStarts.delete(dep);
        };
        shared.then(forget, forget);
      }
      await shared;
    }
    const id = options.id ?? this.nextId(def.name);
    const actorName = name === undefined ? this.actorNameFor(def, id) : this.clusterActorName(def, name);
    const lifetime = options.lifetime ?? def.lifetime;
    const instance = new ServiceInstance(this.instanceHost, {
      def,
      id,
      actorName,
      config,
      tags,
      lifetime,
      startTimeoutMs: options.timeout ?? def.startTimeoutMs,
      ...(ownerEpoch === undefined ? {} : { ownerEpoch }),
    });
    if (typeof lifetime === 'object') {
      const owner = this.list.find((i) => i.id === lifetime.owner.id && i.isAlive());
      if (owner === undefined) throw new InvalidArgumentError('lifetime.owner', `no live instance ${lifetime.owner.id} on node ${this.host.name}`);
      // Like a link: the owner's end is ours too.
      void owner.stopped.then(() => instance.stop());
    }
    // A start with the id of an ended instance (a restart keeps its id) takes its place: one entry per id.
    const ended = this.list.findIndex((i) => i.id === instance.id);
    if (ended >= 0) this.list[ended] = instance;
    else this.list.push(instance);
    await instance._start();
    return instance;
  }

  private actorNameFor(def: AnyServiceDefinition, id: string): string {
    if (!this.host.nameTaken(def.name)) return def.name;
    if (def.cardinality !== 'many') throw new ServiceLockedError(def.name, 'name', def.name);
    return id;
  }

  /** A cluster instance is reached by its id, unique in the cluster. */
  private clusterActorName(def: AnyServiceDefinition, name: string): string {
    if (this.host.nameTaken(name)) throw new ServiceLockedError(def.name, 'name', name);
    return name;
  }

  /** Node-qualified, so an id is unique across the cluster (node names are one token, `[A-Za-z0-9_-]`), as `$SRV` and cluster ids must be. */
  private nextId(service: string): string {
    let id: string;
    do id = `${service}-${this.host.name}-${++this.seq}`;
    while (this.list.some((i) => i.id === id));
    return id;
  }

  private assertStartOptions(options: unknown): void {
    assertOptionsObject(options, 'options', '{ config?, tags?, lifetime?, id?, timeout?, configs? }', { error: InvalidArgumentError });
    assertKnownKeys(options, 'options', START_KEYS, { error: InvalidArgumentError });
    const o = options as StartOptions;
    if (o.tags !== undefined && (!Array.isArray(o.tags) || o.tags.some((t) => typeof t !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(t)))) {
      throw new InvalidArgumentError('options.tags', 'must be an array of tags (1 to 64 letters, digits, "_", ".", ":" or "-")');
    }
    const l = o.lifetime as unknown;
    if (l !== undefined && !LIFETIMES.includes(l as string) && !(isPlainObject(l) && isPlainObject(l.owner) && typeof l.owner.id === 'string')) {
      throw new InvalidArgumentError('options.lifetime', `must be 'detached', 'node', 'cluster', 'scope' or { owner: instance }, got ${kindOf(l)}`);
    }
    if (o.id !== undefined && (typeof o.id !== 'string' || !SERVICE_NAME.test(o.id))) {
      throw new InvalidArgumentError('options.id', `must match [A-Za-z0-9_-]+, got ${kindOf(o.id)}`);
    }
    if (o.timeout !== undefined) assertPositiveMs(o.timeout, 'options.timeout', InvalidArgumentError);
    if (o.configs !== undefined && !isPlainObject(o.configs)) throw new InvalidArgumentError('options.configs', `must be an object of configs by service name, got ${kindOf(o.configs)}`);
  }

  private couldNotStart(def: AnyServiceDefinition, instance: string, err: Error & { ocf?: number }): void {
    this.emit({
      type: ServiceEventType.CouldNotStart,
      service: def.name,
      instance,
      node: this.host.name,
      at: this.host.clock.now(),
      reason: err.message,
      ocf: err.ocf ?? 1,
      error: toWireError(err),
    });
  }

  private liveDependants(of: ServiceInstance): ServiceInstance[] {
    const types = this.catalog.dependantsOf(of.service);
    return this.list.filter((i) => i !== of && i.isAlive() && types.includes(i.service));
  }

  // ── queries ─────────────────────────────────────────────────────────────

  /** A chainable query over every instance this node knows. */
  find(): ServiceQuery {
    return new ServiceQuery(this);
  }

  /**
   * Every instance this node knows, alive or not (what `find()` filters):
   * its own, then the cluster's (one handle each; the ones this node hosts
   * for the cluster appear as cluster handles).
   */
  instances(): readonly ServiceHandle[] {
    if (this.cluster === undefined) return this.list;
    // One entry per instance: a `cluster` one through its handle, a singleton bound to this node as itself.
    const mine = new Map(this.list.filter((i) => i.isAlive()).map((i) => [i.id, i]));
    const remote = this.cluster.instances().filter((r) => mine.get(r.id)?.lifetime === 'cluster' || !mine.has(r.id));
    const ids = new Set(remote.map((r) => r.id));
    return [...this.list.filter((i) => !(ids.has(i.id) && i.lifetime === 'cluster')), ...remote];
  }

  /** The instances this node runs itself (what the admin API reports per node), alive or not. */
  localInstances(): readonly ServiceInstance[] {
    return this.list;
  }

  /** Stop `instance`, then start it again with the same config, tags and lifetime. */
  async restart(instance: ServiceHandle): Promise<ServiceHandle> {
    await instance.stop();
    // The same id: a persisted instance continues from the state it stopped with.
    return this.start(instance.service, { config: instance.config, tags: instance.tags, lifetime: instance.lifetime, id: instance.id });
  }

  /** Publish an instance's resource figures every `everyMs` (monitor.ts) until stopped. */
  monitor(name: string, options: MonitorOptions): ServiceMonitor {
    if (this.host.monitor === undefined) throw new InvalidArgumentError('monitor', 'this node has no transport to publish on');
    return startMonitor(this.host.monitor, this.list, name, options);
  }

  /** The instance with this id, if this node knows it. */
  get(id: string): ServiceInstance | undefined {
    return this.list.find((i) => i.id === id);
  }

  /** Types, instances, owners and dependencies, as this node sees them. */
  graph(): ServiceGraph {
    const members = this.cluster?.nodes() ?? [];
    return {
      v: 1,
      services: this.catalog.names().map((n) => {
        const d = this.catalog.get(n);
        return { name: n, version: d.version, dependsOn: d.dependsOn, cardinality: d.cardinality };
      }),
      instances: this.instances().map((i) => ({
        service: i.service,
        instance: i.id,
        node: i.node,
        state: i.state,
        tags: i.tags,
        config: i.config,
        lifetime: typeof i.lifetime === 'object' ? 'owner' : i.lifetime,
        owner: typeof i.lifetime === 'object' ? i.lifetime.owner.id : undefined,
        dependsOn: this.catalog.has(i.service) ? this.catalog.get(i.service).dependsOn : [],
      })),
      nodes: members.some((m) => m.node === this.host.name)
        ? members.map((m) => ({ node: m.node, status: m.status }))
        : [{ node: this.host.name, status: 'up' }, ...members.map((m) => ({ node: m.node, status: m.status }))],
    };
  }

  // ── events ──────────────────────────────────────────────────────────────

  /** The latest events (started, could-not-start, failed, exited), oldest first. */
  events(): readonly ServiceEvent[] {
    return [...this.eventLog];
  }

  /** Call `listener` on every event from now on; returns a function that stops it. */
  onEvent(listener: (e: ServiceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: ServiceEvent): void {
    this.eventLog.push(e);
    if (this.eventLog.length > EVENT_LOG_SIZE) this.eventLog.shift();
    this.host.report?.(coordinatorReport(e));
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        // One bad listener must not stop the others, nor the instance that reported.
        this.host.logger.error({ err: toWireError(err) }, 'service event listener threw');
      }
    }
  }

  // ── lifecycle ───────────────────────────────────────────────────────────

  /** @internal Stop every instance, dependants first. Called by the node before its supervisors stop. Idempotent. */
  _shutdown(): Promise<void> {
    this.closing ??= (async () => {
      this.leaving = this.cluster !== undefined;
      for (const type of [...this.catalog.startOrder()].reverse()) {
        await Promise.all(this.list.filter((i) => i.service === type && i.isAlive()).map((i) => i.stop()));
      }
    })();
    return this.closing;
  }
}

/** Structural equality for configs and tag lists (plain data after schema validation). */
function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
