/**
 * A running context: a transaction that owns its services.
 *
 * ```
 *  start ──► starting ──initial services ready──► running ──stop()──► stopping ──► stopped
 *               └──a service could not start: the started ones stop──► (start rejects)
 * ```
 * - `transaction`: a new id at each start and `restart()`.
 * - Services start with `lifetime: 'scope'`, bound to the context: the
 *   context stops them when it stops, newest first, so a service started by
 *   another's trigger (or because it depends on it) stops before it.
 * - Crashes go to the service's supervisor and the Recovery Coordinator
 *   first. The context only looks once they have decided: a restart runs
 *   `on_fail` on the new incarnation (`recovered`), a give-up runs it as the
 *   service's end (`failed`). A trigger adds to the decision.
 * - Trigger actions run one at a time, in order, outside the machine's step;
 *   one that fails is published as `halyard.context.action-failed.v1`, never
 *   thrown into the machine.
 */
import { createActor, type Actor } from 'xstate';
import { describe } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ServiceInstance } from '../instances/ServiceInstance.js';
import type { ServiceManager } from '../instances/ServiceManager.js';
import { ServiceEventType } from '../instances/types.js';
import { buildContextMachine, ContextEvent, type ContextMachine, serviceEvent, type TriggeredAction, toMermaid } from './contextMachine.js';
import type { ContextDefinition } from './definition.js';
import { newTransactionId } from './transaction.js';

export const ContextState = {
  Starting: 'starting',
  Running: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
} as const;
export type ContextState = (typeof ContextState)[keyof typeof ContextState];

/** Events a context publishes on `<prefix>.context.<transaction>.events`. */
export const ContextEventType = {
  State: 'halyard.context.state.v1',
  Service: 'halyard.context.service.v1',
  ActionFailed: 'halyard.context.action-failed.v1',
} as const;

export type ContextEventMessage =
  | { readonly type: typeof ContextEventType.State; readonly context: string; readonly transaction: string; readonly state: ContextState; readonly machine: unknown }
  | { readonly type: typeof ContextEventType.Service; readonly context: string; readonly transaction: string; readonly id: string; readonly event: string; readonly instance: string }
  | { readonly type: typeof ContextEventType.ActionFailed; readonly context: string; readonly transaction: string; readonly action: string; readonly reason: string };

/** What a context needs from its manager. */
export interface ContextHost {
  readonly services: ServiceManager;
  readonly logger: Logger;
  publish(context: Context, event: ContextEventMessage): void;
  /** The context's transaction changed (a restart): index it anew. */
  retarget(context: Context, previous: string | undefined): void;
}

export class Context {
  readonly definition: ContextDefinition;
  readonly machine: ContextMachine;
  private readonly host: ContextHost;
  private transaction_ = '';
  private state_: ContextState = ContextState.Stopped;
  private actor: Actor<ContextMachine> | undefined;
  /** Live and past instances by service id, in the order they started. */
  private readonly instances = new Map<string, ServiceInstance>();
  private readonly order: ServiceInstance[] = [];
  private readonly unwatch: Array<() => void> = [];
  private readonly listeners = new Set<(event: ContextEventMessage) => void>();
  /** Instances the context itself is replacing or stopping: their end runs no trigger. */
  private readonly quiet = new WeakSet<ServiceInstance>();
  private readonly pendingFail = new WeakSet<ServiceInstance>();
  /** Trigger actions wait for the initial services: a trigger acts on a context that has started. */
  private actions: Promise<void> = Promise.resolve();
  private openGate: () => void = () => {};
  private readonly starting = new Map<string, Promise<ServiceInstance>>();
  /** Starts per service id in this transaction: instance ids stay unique when a service starts again. */
  private readonly starts = new Map<string, number>();
  private stopping: Promise<void> | undefined;

  constructor(host: ContextHost, definition: ContextDefinition) {
    this.host = host;
    this.definition = definition;
    this.machine = buildContextMachine(definition, (a) => this.enqueue(a));
  }

  get name(): string {
    return this.definition.name;
  }
  get transaction(): string {
    return this.transaction_;
  }
  get state(): ContextState {
    return this.state_;
  }
  /** The machine's state value: each service region's state while active. */
  get machineState(): unknown {
    return this.actor?.getSnapshot().value;
  }

  /**
   * Call `listener` with every event the context publishes on the wire (its
   * state, its services' starts and ends, actions that could not be done),
   * synchronously, after the change is visible on the context. Returns the
   * unsubscribe function. A throwing listener is logged, not propagated.
   */
  subscribe(listener: (event: ContextEventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  private emit(event: ContextEventMessage): void {
    this.host.publish(this, event);
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.host.logger.error({ err: describe(err) }, 'context listener failed');
      }
    }
  }

  /** The live instances of the context's services. */
  services(): ServiceInstance[] {
    return this.order.filter((i) => i.isAlive() && this.instances.get(this.idOf(i)) === i);
  }

  /** @internal */
  async _start(): Promise<void> {
    const previous = this.transaction_ || undefined;
    this.transaction_ = newTransactionId();
    this.stopping = undefined;
    this.starts.clear();
    this.host.retarget(this, previous);
    this.actions = new Promise<void>((resolve) => {
      this.openGate = resolve;
    });
    this.setState(ContextState.Starting);
    const actor = createActor(this.machine);
    this.actor = actor;
    actor.subscribe({ next: () => this.publishState(), error: (err) => this.host.logger.error({ err: describe(err) }, 'context machine failed') });
    actor.start();
    this.unwatch.push(this.host.services.onEvent((e) => this.serviceEvent(e)));
    try {
      for (const id of this.definition.initial) await this.startService(id);
    } catch (err) {
      this.openGate();
      await this.stop();
      throw err;
    }
    this.openGate();
    if (this.state_ === ContextState.Starting) this.setState(ContextState.Running);
  }

  /** Stop the context: its services newest first (dependants first), then the machine. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.setState(ContextState.Stopping);
      this.actor?.send({ type: ContextEvent.Stop });
      // A start under way (a trigger's) ends first, else its instance would outlive the context.
      await Promise.allSettled([...this.starting.values()]);
      for (const inst of [...this.order].reverse()) {
        this.quiet.add(inst);
        await inst.stop().catch((err: unknown) => this.host.logger.warn({ err: describe(err), instance: inst.id }, 'context service did not stop cleanly'));
      }
      for (const u of this.unwatch.splice(0)) u();
      this.actor?.send({ type: ContextEvent.Stopped });
      this.actor?.stop();
      this.order.length = 0;
      this.instances.clear();
      this.setState(ContextState.Stopped);
    })();
    return this.stopping;
  }

  /** Stop, then start again under a new transaction id. */
  async restart(): Promise<void> {
    await this.stop();
    await this._start();
  }

  /** The machine as XState JSON (its definition, with the trigger actions as `run` params). */
  toJSON(): unknown {
    return this.machine.toJSON();
  }

  toMermaid(): string {
    return toMermaid(this.machine);
  }

  private spec(id: string): ContextDefinition['services'][number] {
    const s = this.definition.services.find((x) => x.id === id);
    if (s === undefined) throw new Error(`no service ${id} in context ${this.name}`);
    return s;
  }

  private idOf(inst: ServiceInstance): string {
    for (const [id, i] of this.instances) if (i === inst) return id;
    return '';
  }

  private startService(id: string): Promise<ServiceInstance> {
    const live = this.instances.get(id);
    if (live?.isAlive()) return Promise.resolve(live);
    // One start per service at a time: a trigger and the initial starts may ask together.
    let start = this.starting.get(id);
    if (start === undefined) {
      start = this.startNew(id).finally(() => this.starting.delete(id));
      this.starting.set(id, start);
    }
    return start;
  }

  private async startNew(id: string): Promise<ServiceInstance> {
    const spec = this.spec(id);
    const n = this.starts.get(id) ?? 0;
    this.starts.set(id, n + 1);
    const inst = await this.host.services.start(spec.service, {
      id: `${id}-${this.transaction_}${n === 0 ? '' : `-${n}`}`,
      config: spec.config,
      lifetime: 'scope',
    });
    if (this.stopping !== undefined) {
      await inst.stop();
      return inst;
    }
    this.instances.set(id, inst);
    this.order.push(inst);
    let last: string | undefined;
    this.unwatch.push(
      inst.onSnapshot((snapshot) => {
        // Called inside the service's step: only look, and act after it.
        const value = JSON.stringify((snapshot as { value?: unknown }).value);
        if (last !== undefined && value !== last) queueMicrotask(() => this.send(inst, 'updated'));
        last = value;
      }),
    );
    void inst.stopped.then(() => {
      if (this.quiet.has(inst) || this.instances.get(id) !== inst) return;
      this.send(inst, inst.state === 'failed' ? 'failed' : 'exited');
    });
    // The manager's started event came before the instance was ours: publish it now.
    this.emit({ type: ContextEventType.Service, context: this.name, transaction: this.transaction_, id, event: ServiceEventType.Started, instance: inst.id });
    this.send(inst, 'started');
    return inst;
  }

  private serviceEvent(e: { type: string; instance: string }): void {
    const inst = this.order.find((i) => i.id === e.instance);
    if (inst === undefined) return;
    this.emit({ type: ContextEventType.Service, context: this.name, transaction: this.transaction_, id: this.idOf(inst), event: e.type, instance: e.instance });
    if (e.type === ServiceEventType.Failed) this.pendingFail.add(inst);
    else if (e.type === ServiceEventType.Started && this.pendingFail.has(inst)) {
      // The supervisor restarted it: the decision is made, now the trigger.
      this.pendingFail.delete(inst);
      this.send(inst, 'recovered');
    }
  }

  private send(inst: ServiceInstance, what: 'started' | 'updated' | 'recovered' | 'failed' | 'exited'): void {
    if (this.stopping !== undefined || this.actor === undefined) return;
    this.actor.send({ type: serviceEvent(this.idOf(inst), what) });
  }

  private enqueue(action: TriggeredAction): void {
    this.actions = this.actions.then(() => this.run(action)).catch((err: unknown) => this.actionFailed(action, err));
  }

  private actionFailed(action: TriggeredAction, err: unknown): void {
    const text = `${action.from}.${action.trigger}: ${action.verb} ${action.target}`;
    this.host.logger.warn({ err: describe(err), action: text }, 'context action failed');
    this.emit({ type: ContextEventType.ActionFailed, context: this.name, transaction: this.transaction_, action: text, reason: describe(err) });
  }

  private async run(action: TriggeredAction): Promise<void> {
    if (this.stopping !== undefined) return;
    if (action.target === 'context') {
      void this.stop();
      return;
    }
    const inst = this.instances.get(action.target);
    switch (action.verb) {
      case 'start':
        await this.startService(action.target);
        return;
      case 'stop':
        await inst?.stop();
        return;
      case 'restart':
        if (inst !== undefined) {
          this.quiet.add(inst);
          await inst.stop();
        }
        await this.startService(action.target);
        return;
      case 'notify':
        if (inst === undefined || !inst.isAlive()) throw new Error(`${action.target} is not running`);
        inst.tell({ type: action.event, from: action.from, transaction: this.transaction_ });
        return;
    }
  }

  private setState(state: ContextState): void {
    this.state_ = state;
    this.publishState();
  }

  private publishState(): void {
    if (this.transaction_ === '') return;
    this.emit({ type: ContextEventType.State, context: this.name, transaction: this.transaction_, state: this.state_, machine: this.machineState ?? null });
  }
}
