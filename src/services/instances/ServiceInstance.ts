/**
 * One instance of a service type on this node, in any container (inline,
 * worker, process: containedLogic.ts): its lifecycle (types.ts has the
 * diagram), its supervisor and its handle.
 *
 * Each instance runs under a supervisor of its own (`_svc.<id>`, one child,
 * `transient`), so a crash is reported to the Recovery Coordinator like any
 * child's, the coordinator decides the restart as it does today, and one
 * crashing service that exhausts its intensity fails alone rather than taking
 * its neighbours' supervisor down with it.
 *
 * - `setup` runs before the logic, with an `AbortSignal` aborted when the
 *   start is abandoned; `teardown` runs after the logic has ended (stop,
 *   kill, a final state, a supervisor that gave up), once per setup.
 * - `kill` skips the logic's graceful shutdown (`halyard.shutdown`) but still
 *   runs `teardown`: inline resources (pools, sockets) belong to this process,
 *   and an instance that ended must not leave them open.
 * - Setup runs once per incarnation: when the coordinator decides a restart,
 *   the old resource is torn down and setup runs again (with the config in
 *   force) before the supervisor starts the logic again. A setup that fails
 *   then turns the restart into `stop`: the instance ends `failed`.
 * - `reconfigure(config)`, OTP's `config_change`: the config is validated
 *   by the schema first (`InvalidConfigError` naming each path, nothing
 *   changed). A logic that accepts `halyard.config.changed` in its current
 *   state (`snapshot.can`) is told `{ type, config }` and keeps running, as
 *   an application that exports `config_change/3` is called. Any other logic
 *   only reads its config from its input, so it is restarted with the new
 *   one: the logic stops (graceful shutdown), teardown, setup with the new
 *   config, the logic starts again (incarnation + 1, not a failure, nothing
 *   asked of the coordinator). Either way `config` is the new one, a later
 *   supervisor restart starts from it, and a `config-changed` report goes
 *   to the coordinator. Worker and process containers are always restarted.
 * - `worker` and `process` containers: the logic runs there, so `resource`
 *   (which cannot travel) is not in its input; a module that does not export
 *   the service is a could-not-start with OCF 5 before setup runs.
 * - `$SRV`: listed on the node's responder from ready until it has stopped
 *   (microRegistration.ts).
 * - `persist`: saved to the node's `StateStore` and restored on the next
 *   start of the same id (instancePersistence.ts has the rules).
 */
import type { AnyActorLogic, AnyEventObject } from 'xstate';
import { tellControl } from '../../actors/ActorCell.js';
import { validateConfig } from '../catalog/config.js';
import { ActorNotRunningError, DependantsAliveError, InvalidArgumentError, ServiceRunningError, ServiceStartError, TimeoutError, describe, toWireError } from '../../errors.js';
import { type CheckLevel, type CheckResult, makeCheckResult, OCF, type StatusReport } from '../../actors/ocf.js';
import type { AskOptions, ExitSignal, LocalActorRef } from '../../actors/types.js';
import type { Clock } from '../../clock.js';
import type { Logger } from '../../log.js';
import { assertKnownKeys, assertOptionsObject, assertPositiveMs } from '../../options.js';
import type { Supervisor, SupervisorSpec } from '../../supervision/types.js';
import type { SuperviseOptions } from '../../supervision/Supervisor.js';
import type { AnyServiceDefinition, InstanceIdentity } from '../catalog/definition.js';
import { containedLogic } from './containedLogic.js';
import { type MicroHost, registerInstance } from './microRegistration.js';
import type { MicroRegistration } from '../micro/MicroResponder.js';
import type { StateStore } from '../state/StateStore.js';
import { InstancePersistence, stateKey } from './instancePersistence.js';
import { isReady, observedLogic } from './observedLogic.js';
import { CONFIG_CHANGED_EVENT, type InstanceState, type LifetimeOption, type ServiceEvent, ServiceEventType, type StopOptions } from './types.js';

/** What an instance needs from its node (kept narrow: the node module imports this one, not the reverse). */
export interface InstanceHost {
  readonly node: string;
  readonly clock: Clock;
  readonly logger: Logger;
  supervise(spec: SupervisorSpec, options?: SuperviseOptions): Supervisor;
  emit(event: ServiceEvent): void;
  /** Live instances on this node whose type depends on `instance`'s type. */
  liveDependants(instance: ServiceInstance): ServiceInstance[];
  forget(instance: ServiceInstance): void;
  /** Where the instance is listed for `$SRV` while it runs; none, not listed. */
  readonly micro?: MicroHost;
  /** Run `hook` before each restart of `supervisor`'s child (teardown and setup per incarnation); returns its removal. */
  beforeRestart?(supervisor: string, hook: () => Promise<boolean>): () => void;
  /** The node's store for persisted instances (made on first use). */
  stateStore?(): StateStore;
}

export interface CleanupOptions {
  /** Delete its persisted state too. Default false: a later start of the same id restores it. */
  readonly state?: boolean;
}

export interface InstanceInit {
  readonly def: AnyServiceDefinition;
  readonly id: string;
  readonly actorName: string;
  readonly config: unknown;
  readonly tags: readonly string[];
  readonly lifetime: LifetimeOption;
  readonly startTimeoutMs: number;
  /** The cluster owner claim's epoch it runs under: fences its persisted state (instancePersistence.ts). */
  readonly ownerEpoch?: number;
}

type Ending = 'shutdown' | 'killed' | 'normal' | 'failed';

export class ServiceInstance implements AsyncDisposable {
  readonly service: string;
  readonly id: string;
  /** The actor name it is reached by: `<prefix>.svc.<actorName>`. */
  readonly actorName: string;
  private config_: unknown;
  readonly tags: readonly string[];
  readonly lifetime: LifetimeOption;
  readonly definition: AnyServiceDefinition;
  private readonly host: InstanceHost;
  /** The node's logger with `{ service, instance, incarnation }`, made on first use in each incarnation (a pino child serializes its bindings: a cost on every start otherwise). */
  private log_: Logger | undefined;
  private logIncarnation = -1;
  private readonly startTimeoutMs: number;
  private state_: InstanceState = 'starting';
  private incarnation_ = 0;
  private sup: Supervisor | undefined;
  private ref: LocalActorRef | undefined;
  private resource: unknown;
  private setupDone = false;
  private tornDown = false;
  private latest: unknown;
  private readyWaiter: (() => void) | undefined;
  /** Made only when setup asks for its signal: most services have no setup, and a controller per start is measurable. */
  private abort: AbortController | undefined;
  /** Set once the start is abandoned (stop while starting, deadline). */
  private abandoned = false;
  /** Rejects the start in progress; set while it runs. */
  private failStart: ((err: unknown) => void) | undefined;
  private started: Promise<void> | undefined;
  private ending: Promise<void> | undefined;
  private resolveStopped!: () => void;
  /** Resolves once the instance is `stopped` or `failed`. Never rejects. */
  readonly stopped: Promise<void>;
  private lastError: unknown;
  private listing: MicroRegistration | undefined;
  /** Declared endpoint name by the event type it answers, for `$SRV STATS`. */
  private readonly endpointByEvent: ReadonlyMap<string, string>;
  private persistence: InstancePersistence | undefined;
  private readonly ownerEpoch: number | undefined;
  /** The logic's input, kept: the supervisor restarts from this object, so a new config reaches later incarnations. */
  private input: { config: unknown; instance: InstanceIdentity; resource: unknown } | undefined;
  /** A reconfigure restart under way: the logic's exit is ours, not a failure. */
  private reconfiguring = false;
  private reconfigureChain: Promise<unknown> = Promise.resolve();

  constructor(host: InstanceHost, init: InstanceInit) {
    this.host = host;
    this.definition = init.def;
    this.service = init.def.name;
    this.id = init.id;
    this.actorName = init.actorName;
    this.config_ = init.config;
    this.tags = init.tags;
    this.lifetime = init.lifetime;
    this.startTimeoutMs = init.startTimeoutMs;
    this.ownerEpoch = init.ownerEpoch;
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.endpointByEvent = endpointsByEvent(init.def);
  }

  private get log(): Logger {
    if (this.log_ === undefined || this.logIncarnation !== this.incarnation_) {
      this.log_ = this.host.logger.child({ service: this.service, instance: this.id, incarnation: this.incarnation_ });
      this.logIncarnation = this.incarnation_;
    }
    return this.log_;
  }

  /** The config in force: the start's, or the last `reconfigure`'s. */
  get config(): unknown {
    return this.config_;
  }

  get state(): InstanceState {
    return this.state_;
  }

  get node(): string {
    return this.host.node;
  }

  /** How many times its logic has been started (1 after start; +1 per supervisor restart). */
  get incarnation(): number {
    return this.incarnation_;
  }

  get identity(): InstanceIdentity {
    return { service: this.service, id: this.id, node: this.host.node, tags: this.tags };
  }

  isAlive(): boolean {
    return this.state_ !== 'stopped' && this.state_ !== 'failed';
  }

  /** Live instances on this node that depend on this one's service type. */
  dependants(): ServiceInstance[] {
    return this.host.liveDependants(this);
  }

  // ── start ───────────────────────────────────────────────────────────────

  /** @internal Run setup, start the supervised logic, wait for ready; once. */
  _start(): Promise<void> {
    this.started ??= this.startOnce();
    return this.started;
  }

  private async startOnce(): Promise<void> {
    const ms = this.startTimeoutMs;
    let timer: unknown;
    // One promise for both ways a start is cut short (the deadline, a stop while starting): fewer allocations on every start.
    const cutShort = new Promise<never>((_, reject) => {
      this.failStart = reject;
      timer = this.host.clock.setTimer(() => reject(new ServiceStartError(this.service, `not ready within ${ms} ms`, OCF.ERR_GENERIC, new TimeoutError(this.id, ms))), ms);
    });
    try {
      await Promise.race([this.run(), cutShort]);
    } catch (err) {
      this.abandonStart();
      const e = err instanceof ServiceStartError ? err : new ServiceStartError(this.service, describe(err), OCF.ERR_GENERIC, err);
      await this.abandon();
      this.host.emit({ ...this.eventBase(), type: ServiceEventType.CouldNotStart, reason: describe(e), ocf: e.ocf, error: toWireError(e) });
      this.log.warn({ err: describe(e) }, 'service could not start');
      throw e;
    } finally {
      this.failStart = undefined;
      this.host.clock.clearTimer(timer as never);
    }
    this.state_ = 'running';
    this.listOnSrv();
    this.host.emit({ ...this.eventBase(), type: ServiceEventType.Started, config: this.config });
    if (this.host.logger.isLevelEnabled('info')) this.log.info('service started');
  }

  private async run(): Promise<void> {
    const def = this.definition;
    let contained: AnyActorLogic;
    if (def.container === 'inline' || def.module === undefined) contained = def.logic;
    else {
      try {
        contained = await containedLogic(def);
      } catch (err) {
        throw new ServiceStartError(this.service, describe(err), OCF.ERR_INSTALLED, err);
      }
    }
    if (def.setup) {
      this.abort = new AbortController();
      if (this.abandoned) this.abort.abort();
      try {
        this.resource = await def.setup({ config: this.config, instance: this.identity, signal: this.abort.signal });
      } catch (err) {
        throw new ServiceStartError(this.service, `setup failed: ${describe(err)}`, OCF.ERR_GENERIC, err);
      }
      this.setupDone = true;
      // The deadline passed while setup ran: abandon() has been and gone, so the resource is released here.
      if (this.abandoned) {
        await this.teardown();
        return;
      }
    }
    // A resource cannot travel to a worker or process: only the config and identity do.
    const input = { config: this.config, instance: this.identity, resource: def.container === 'inline' ? this.resource : undefined };
    this.input = input;
    // No await without persist: a start spawns its logic in the same turn as setup ends.
    const persistence = def.persist === false ? undefined : await this.openPersistence();
    const logic = observedLogic(
      persistence === undefined ? contained : persistence.wrap(contained),
      (snapshot) => this.observe(snapshot),
      // A delayed restart (restart-after) comes back here: pick up the new incarnation once the supervisor has registered it.
      () => queueMicrotask(() => this.sup !== undefined && this.afterDecision(this.sup)),
    );
    this.sup = this.host.supervise({ strategy: 'one_for_one', children: [] }, { name: `_svc.${this.id}` });
    const unhook = this.host.beforeRestart?.(`_svc.${this.id}`, () => this.renewResource());
    void this.sup.stopped.then((exit) => {
      unhook?.();
      this.supervisorEnded(exit.reason);
    });
    // Ready is usually reached in the first snapshot: then no promise is made for it.
    let readyNow = false;
    let resolveReady: (() => void) | undefined;
    this.readyWaiter = () => {
      readyNow = true;
      resolveReady?.();
    };
    try {
      this.attach(
        await this.sup.startChild({
          id: this.id,
          start: { logic, input },
          restart: 'transient',
          shutdown: def.stopTimeoutMs,
          name: this.actorName,
        }),
      );
    } catch (err) {
      throw new ServiceStartError(this.service, `logic did not start: ${describe(err)}`, OCF.ERR_GENERIC, err);
    }
    persistence?.begin();
    this.checkReady();
    if (readyNow) return;
    await new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      this.ref?.onExit((exit) => {
        if (this.state_ === 'starting') reject(new ServiceStartError(this.service, `logic ended (${exit.reason}) before it was ready${exit.error === undefined ? '' : `: ${describe(exit.error)}`}`, OCF.ERR_GENERIC, exit.error));
      });
    });
  }

  /** Cut a start short: setup's signal aborts, and the start in progress (if any) rejects. */
  private abandonStart(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.abort?.abort();
    this.failStart?.(new ServiceStartError(this.service, 'stopped before it was ready', OCF.ERR_GENERIC));
  }

  /** The persisted state, loaded; none without `persist`. */
  private async openPersistence(): Promise<InstancePersistence | undefined> {
    const persist = this.definition.persist;
    if (persist === false) return undefined;
    const store = this.host.stateStore?.();
    if (store === undefined) throw new ServiceStartError(this.service, 'persist is set but the node has no state store', OCF.ERR_CONFIGURED);
    const persistence = new InstancePersistence(store, stateKey(this.service, this.id), persist, this.host.clock, () => this.log);
    try {
      await persistence.load(this.ownerEpoch);
    } catch (err) {
      throw new ServiceStartError(this.service, `persisted state could not be read: ${describe(err)}`, OCF.ERR_GENERIC, err);
    }
    this.persistence = persistence;
    return persistence;
  }

  private observe(snapshot: unknown): void {
    this.persistence?.observe(snapshot);
    this.latest = snapshot;
    for (const l of this.snapshotListeners) l(snapshot);
    if (this.readyWaiter !== undefined) queueMicrotask(() => this.checkReady());
  }

  private readonly snapshotListeners = new Set<(snapshot: unknown) => void>();
  /** The latest snapshot at once, then every snapshot of the running logic (a context's `on_update` watches them). Returns an unsubscribe function. */
  onSnapshot(listener: (snapshot: unknown) => void): () => void {
    if (this.latest !== undefined) listener(this.latest);
    this.snapshotListeners.add(listener);
    return () => this.snapshotListeners.delete(listener);
  }

  private checkReady(): void {
    if (this.readyWaiter === undefined || this.ref === undefined) return;
    let ok = false;
    try {
      const snapshot = this.latest ?? this.ref.getSnapshot();
      // A container is active while it spawns; it is ready only once its logic runs inside.
      const loaded = this.definition.container === 'inline' || (snapshot as { ready?: unknown }).ready === true;
      ok = loaded && isReady(snapshot, this.definition.ready as never);
    } catch (err) {
      this.lastError = err;
      this.log.warn({ err: describe(err) }, 'ready predicate threw');
    }
    if (!ok) return;
    const done = this.readyWaiter;
    this.readyWaiter = undefined;
    done();
  }

  private attach(ref: LocalActorRef): void {
    if (this.ref === ref) return;
    this.ref = ref;
    this.incarnation_++;
    ref.onExit((exit) => this.childExited(ref, exit));
  }

  private childExited(ref: LocalActorRef, exit: ExitSignal): void {
    if (this.state_ !== 'running' || this.ref !== ref || this.reconfiguring) return;
    if (exit.reason === 'normal') {
      void this.end('normal');
      return;
    }
    if (exit.reason === 'error') {
      this.lastError = exit.error;
      this.host.emit({ ...this.eventBase(), type: ServiceEventType.Failed, reason: describe(exit.error), error: toWireError(exit.error) });
    }
    // The supervisor and coordinator decide now; see what they did once the supervisor is idle.
    const sup = this.sup;
    if (sup === undefined) return;
    void sup.whenIdle().then(() => this.afterDecision(sup));
  }

  private afterDecision(sup: Supervisor): void {
    // A reconfigure restart attaches its own incarnation and reports config-changed, not started.
    if (this.state_ !== 'running' || sup.phase !== 'running' || this.reconfiguring) return;
    const child = sup.whichChildren()[0];
    if (child?.status === 'running' && child.ref !== undefined) {
      if (child.ref === this.ref) return;
      this.attach(child.ref);
      this.log.info('service restarted by its supervisor');
      this.host.emit({ ...this.eventBase(), type: ServiceEventType.Started, config: this.config });
    } else if (child?.status === 'restarting') {
      // A delayed restart (restart-after): the new incarnation's first snapshot brings us back here.
    } else {
      // The coordinator answered stop or ignore: the child stays down, and so does the instance.
      void this.end('failed');
    }
  }

  private supervisorEnded(reason: string): void {
    // A supervisor that gave up (intensity, escalate) ends the instance as failed; our own stop is handled by end().
    if (this.state_ === 'running' || this.state_ === 'starting') {
      this.lastError ??= new Error(`supervisor gave up (${reason})`);
      void this.end('failed');
    }
  }

  // ── reconfigure ─────────────────────────────────────────────────────────

  /** Change the config of a running instance (module comment: OTP's `config_change`). Calls are applied one after another. */
  reconfigure(config: unknown): Promise<void> {
    const next = this.reconfigureChain.then(() => this.applyConfig(config));
    this.reconfigureChain = next.catch(() => undefined);
    return next;
  }

  private async applyConfig(config: unknown): Promise<void> {
    const valid = await validateConfig(this.definition, config);
    const ref = this.live();
    const event = { type: CONFIG_CHANGED_EVENT, config: valid };
    if (this.definition.container === 'inline' && accepts(ref, event)) {
      this.setConfig(valid);
      tellControl(ref, event);
    } else {
      await this.restartWithConfig(valid);
    }
    this.host.emit({ ...this.eventBase(), type: ServiceEventType.ConfigChanged, config: valid });
    this.log.info('service config changed');
  }

  private setConfig(config: unknown): void {
    this.config_ = config;
    if (this.input !== undefined) this.input.config = config;
  }

  /** Logic down, teardown, setup with `config`, logic up: a new incarnation that is not a failure. */
  private async restartWithConfig(config: unknown): Promise<void> {
    const sup = this.sup;
    if (sup === undefined || this.input === undefined) throw new ActorNotRunningError(this.actorName);
    this.reconfiguring = true;
    try {
      await sup.terminateChild(this.id);
      this.setConfig(config);
      if (!(await this.renewResource())) {
        void this.end('failed');
        throw new ServiceStartError(this.service, `setup failed: ${describe(this.lastError)}`, OCF.ERR_GENERIC, this.lastError);
      }
      this.attach(await sup.restartChild(this.id));
    } finally {
      this.reconfiguring = false;
    }
  }

  /**
   * Teardown of this incarnation's resource, then setup for the next one,
   * with the config in force. False when setup failed (`lastError`) or the
   * instance began to end meanwhile (whatever was set up is released).
   */
  private async renewResource(): Promise<boolean> {
    const def = this.definition;
    await this.teardown();
    if (def.setup === undefined) return true;
    if (this.state_ !== 'running') return false;
    this.setupDone = false;
    this.tornDown = false;
    this.abort ??= new AbortController();
    try {
      this.resource = await def.setup({ config: this.config_, instance: this.identity, signal: this.abort.signal });
    } catch (err) {
      this.lastError = err;
      this.log.error({ err: describe(err) }, 'service setup failed on restart');
      return false;
    }
    this.setupDone = true;
    if (this.state_ !== 'running') {
      await this.teardown();
      return false;
    }
    if (def.container === 'inline' && this.input !== undefined) this.input.resource = this.resource;
    return true;
  }

  // ── stop ────────────────────────────────────────────────────────────────

  /** Stop dependants first (or refuse), then the logic's graceful shutdown, then teardown. Idempotent. */
  async stop(options: StopOptions = {}): Promise<void> {
    return this.finish('shutdown', options);
  }

  /** Skip the logic's shutdown: end it now, then teardown. Dependants are killed first. Idempotent. */
  async kill(): Promise<void> {
    return this.finish('killed', {});
  }

  private async finish(how: 'shutdown' | 'killed', options: StopOptions): Promise<void> {
    if (this.ending !== undefined) return this.ending;
    if (this.state_ === 'starting') {
      // Abandon a start in progress: its caller sees could-not-start.
      this.abandonStart();
      await this.started?.catch(() => undefined);
      if (this.ending !== undefined) return this.ending;
    }
    const dependants = this.dependants();
    if (dependants.length > 0) {
      if (options.dependants === 'refuse') {
        throw new DependantsAliveError(this.service, dependants.map((d) => d.id));
      }
      await Promise.all(dependants.map((d) => (how === 'killed' ? d.kill() : d.stop())));
    }
    return this.end(how);
  }

  private end(how: Ending): Promise<void> {
    this.ending ??= (async () => {
      const wasFailed = how === 'failed';
      this.state_ = 'stopping';
      this.readyWaiter = undefined;
      const sup = this.sup;
      // Before the logic's shutdown: a graceful restart continues from the state it had while running.
      await this.persistence?.end(how === 'shutdown' || how === 'killed' ? 'clean' : how === 'normal' ? 'finished' : 'failed');
      if (sup !== undefined && sup.phase === 'running') {
        const stopping = sup.stop();
        // After the supervisor's stop began, so it is not seen as a failure; a kill overrides the graceful stop under way (OTP exit(Pid, kill)).
        if (how === 'killed' && this.ref !== undefined && this.ref.exit === undefined) void this.ref.stop('brutal_kill');
        await stopping;
      }
      await this.teardown();
      this.state_ = wasFailed ? 'failed' : 'stopped';
      if (this.listing !== undefined) {
        this.listing.unregister();
        this.listing = undefined;
        // A stopped instance is gone for every client once stop resolves: the server has seen its unsubscribes.
        await this.host.micro?.flush?.().catch(() => undefined);
      }
      if (!wasFailed) this.host.emit({ ...this.eventBase(), type: ServiceEventType.Exited, reason: how as 'normal' | 'shutdown' | 'killed' });
      else this.log.warn({ err: describe(this.lastError) }, 'service ended failed');
      this.resolveStopped();
    })();
    return this.ending;
  }

  /** Where a failed start goes: release what was started, end as failed. */
  private async abandon(): Promise<void> {
    await this.end('failed');
  }

  private async teardown(): Promise<void> {
    if (!this.setupDone || this.tornDown || this.definition.teardown === undefined) return;
    this.tornDown = true;
    const ms = this.definition.stopTimeoutMs;
    let timer: unknown;
    try {
      await Promise.race([
        this.definition.teardown(this.resource, { config: this.config, instance: this.identity }),
        new Promise<void>((_, reject) => {
          timer = this.host.clock.setTimer(() => reject(new TimeoutError(`${this.id} teardown`, ms)), ms);
        }),
      ]);
    } catch (err) {
      // Teardown is the end of the line: nothing retries it, so it is logged, not thrown at whoever stopped us.
      this.log.error({ err: describe(err) }, 'service teardown failed');
    } finally {
      this.host.clock.clearTimer(timer as never);
    }
  }

  /** Resolves once stopped or failed; a `TimeoutError` after `ms`. */
  waitTillStopped(ms: number): Promise<void> {
    try {
      assertPositiveMs(ms, 'ms', InvalidArgumentError);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.isAlive()) return Promise.resolve();
    let timer: unknown;
    return Promise.race([
      this.stopped,
      new Promise<never>((_, reject) => {
        timer = this.host.clock.setTimer(() => reject(new TimeoutError(this.id, ms)), ms);
      }),
    ]).finally(() => this.host.clock.clearTimer(timer as never));
  }

  /** Forget a stopped instance (its record in the node's services; with `state`, its persisted state). A live one is a `ServiceRunningError`. */
  async cleanup(options: CleanupOptions = {}): Promise<void> {
    assertOptionsObject(options, 'options', '{ state? }', { error: InvalidArgumentError });
    assertKnownKeys(options, 'options', ['state'], { error: InvalidArgumentError });
    if (options.state !== undefined && typeof options.state !== 'boolean') throw new InvalidArgumentError('options.state', 'must be a boolean');
    if (this.isAlive()) {
      throw new ServiceRunningError(this.id, this.state_);
    }
    if (options.state === true && this.definition.persist !== false) {
      const store = this.host.stateStore?.();
      if (store !== undefined) await (this.persistence ?? new InstancePersistence(store, stateKey(this.service, this.id), this.definition.persist, this.host.clock, () => this.log)).forget();
    }
    this.host.forget(this);
  }

  /** `await using`: a scope that ends stops the instance. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  // ── messages and health ─────────────────────────────────────────────────

  private live(): LocalActorRef {
    const ref = this.ref;
    if (ref === undefined || ref.lifecycle !== 'running' || this.state_ !== 'running') throw new ActorNotRunningError(this.actorName);
    return ref;
  }

  tell(event: AnyEventObject): void {
    this.live().tell(event);
  }

  ask<R = unknown>(event: AnyEventObject, options?: AskOptions): Promise<R> {
    let answer: Promise<R>;
    try {
      answer = this.live().ask(event, options) as Promise<R>;
    } catch (err) {
      return Promise.reject(err);
    }
    const endpoint = this.listing === undefined ? undefined : this.endpointByEvent.get(event.type);
    if (endpoint === undefined || this.listing === undefined) return answer;
    const stats = this.listing.endpoint(endpoint);
    const mark = stats.begin();
    return answer.then(
      (value) => {
        stats.end(mark);
        return value;
      },
      (err: unknown) => {
        stats.end(mark, err);
        throw err;
      },
    );
  }

  /** List this running instance on the node's `$SRV` responder; a refusal is logged, never the instance's failure. */
  private listOnSrv(): void {
    const micro = this.host.micro;
    if (micro === undefined || this.listing !== undefined) return;
    try {
      this.listing = registerInstance(micro, this);
    } catch (err) {
      this.log.warn({ err: describe(err) }, 'service not listed on $SRV');
    }
  }

  /** OCF Check: the logic's answer while running; otherwise what the instance's state says. */
  async check(level: CheckLevel = 0): Promise<CheckResult> {
    const ref = this.ref;
    if (this.state_ === 'running' && ref !== undefined && ref.lifecycle === 'running') return ref.check(level);
    switch (this.state_) {
      case 'failed':
        return makeCheckResult(OCF.ERR_GENERIC, `failed: ${describe(this.lastError)}`, level, this.actorName, this.host.node);
      case 'starting':
        return makeCheckResult(OCF.NOT_RUNNING, 'starting', level, this.actorName, this.host.node);
      default:
        return makeCheckResult(OCF.NOT_RUNNING, this.state_, level, this.actorName, this.host.node);
    }
  }

  /** OCF Status: logs one line now (the actor's, or the instance's when it has none) and returns it with the service fields. */
  async status(): Promise<StatusReport> {
    const extra = { service: this.service, instance: this.id, instanceState: this.state_, tags: this.tags, incarnation: this.incarnation_ };
    const ref = this.ref;
    if (ref !== undefined && ref.lifecycle === 'running') {
      const report = await ref.status();
      return { ...report, ...extra };
    }
    const report: StatusReport = {
      actor: this.actorName,
      id: this.id,
      node: this.host.node,
      lifecycle: this.state_ === 'failed' ? 'failed' : 'stopped',
      state: this.state_,
      mailbox: { depth: 0, capacity: 0, overflow: 'none' },
      processed: 0,
      dropped: 0,
      uptimeMs: 0,
      lastError: this.lastError === undefined ? null : toWireError(this.lastError),
      ...extra,
    };
    this.log.info({ ...report, node: undefined }, 'status');
    return report;
  }

  private eventBase(): { service: string; instance: string; node: string; at: number } {
    return { service: this.service, instance: this.id, node: this.host.node, at: this.host.clock.now() };
  }
}

/** Declared endpoint name by event type, made once per definition: every instance of a type shares it. */
const endpointMaps = new WeakMap<AnyServiceDefinition, ReadonlyMap<string, string>>();
function endpointsByEvent(def: AnyServiceDefinition): ReadonlyMap<string, string> {
  let map = endpointMaps.get(def);
  if (map === undefined) {
    map = new Map(Object.entries(def.endpoints).map(([name, type]) => [type, name]));
    endpointMaps.set(def, map);
  }
  return map;
}

/** Whether the logic has a transition for `event` now (XState machines; other logic cannot say, so no). */
function accepts(ref: LocalActorRef, event: AnyEventObject): boolean {
  try {
    const snapshot = ref.getSnapshot() as { can?: (e: AnyEventObject) => boolean };
    return typeof snapshot.can === 'function' && snapshot.can(event) === true;
  } catch {
    return false;
  }
}
