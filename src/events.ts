/**
 * The node's event stream: one versioned feed of what happened, for tools
 * (the CLI, the observer, metrics) to consume instead of internals.
 *
 * ```ts
 * const off = node.events.subscribe((e) => console.log(e.type, e), { types: ['supervisor.child.restarted'] });
 * off();
 * ```
 *
 * ## Every event
 * | field  | meaning |
 * |--------|---------|
 * | `v`    | `1`: the version of this contract. A field is only ever added under the same `v`; a change of meaning is a new `v`. |
 * | `type` | one of {@link EventType} |
 * | `seq`  | 1, 2, 3 ... per node, in the order the node emitted them |
 * | `at`   | the node's clock (`createNode({ clock })`), ms: monotonic, comparable only within one node |
 * | `node` | the emitting node's name |
 *
 * ## Types
 * | type                          | cause | fields |
 * |-------------------------------|-------|--------|
 * | `supervisor.child.started`    | a child's first start (also each `startChild` instance) | `supervisor`, `childId`, `actor` |
 * | `supervisor.child.exited`     | a child ended without its supervisor stopping it (only those: a stop the supervisor ordered is not a failure) | `supervisor`, `childId`, `actor`, `reason` (`normal`, `error`, `shutdown`, `killed`, `nodedown`; a failed recurring check or a failed restart is `error`), `error?` (message only) |
 * | `supervisor.child.restarted`  | a child started again (after an exit, or by `restartChild`) | `supervisor`, `childId`, `actor`, `restarts` (starts so far minus one) |
 * | `supervisor.gave_up`          | a supervisor reached its intensity or a rule escalated | `supervisor`, `reason` (`reached_max_restart_intensity` or `escalated`) |
 * | `recovery.decision`           | the Recovery Coordinator decided on a failure report (a node's supervisors and the cluster's instances alike) | `decision` (its seq in the decision log), `supervisor`, `childId`, `reason` (an exit's, or `degraded` for a check that answered 190), `directive` (its `type`), `rule` |
 * | `dead_letter`                 | a message reached no one | `target`, `reason`, `eventType?`, `count` (dead letters of that reason so far). Never the payload. |
 * | `cluster.member`              | a member's status changed as this node sees it | `change` (`join`, `suspect`, `alive`, `down`, `leave`), `member`, `incarnation`, `by` (whose report) |
 * | `cluster.gave_up`             | the cluster coordinator gave up on an instance | `name`, `reason`, `endedWith?`, `bannedUntil?` (wall-clock ms) |
 * | `service.started`             | a service instance became ready (also after each restart by its supervisor, or with a new config) | `report` (its seq in `coordinator.reports()`), `service`, `instance` |
 * | `service.could_not_start`     | a start failed before the instance was ready | `report`, `service`, `instance`, `reason`, `ocf` (OCF code: 5 not installed, 6 not configured, 1 otherwise) |
 * | `service.failed`              | the instance's logic crashed (its supervisor and the coordinator decide next) | `report`, `service`, `instance`, `reason` |
 * | `service.exited`              | the instance ended | `report`, `service`, `instance`, `reason` (`normal`, `shutdown`, `killed`) |
 * | `service.config_changed`      | `instance.reconfigure(config)` took effect | `report`, `service`, `instance` |
 *
 * Events are small plain objects: identifiers, reasons and counts, never
 * message payloads or error stacks (an error travels as its message, so a
 * secret in a stack trace stays out of the feed).
 *
 * ## Dispatch
 * Listeners are called synchronously, in `seq` order, on the call stack that
 * caused the event. That keeps the order causal (a child's `exited` comes
 * before the `decision` about it and that before its `restarted`) without a
 * buffer that could grow. An event emitted while listeners run (a listener
 * that sends a message to a stopped actor) is queued and delivered after the
 * current one, so every listener still sees one order.
 *
 * A listener must therefore be quick: it runs inside the actor's step that
 * caused the event. A listener that returns a promise is not awaited, so
 * asynchronous work (writing to a socket, a file) never holds an actor up;
 * a listener that throws (or whose promise rejects) is logged and the others
 * still get the event.
 *
 * With `createNode({ events: { publish: true } })` the node also publishes
 * each event as JSON on `<prefix>.events.<node>` (off by default).
 */
import { InvalidArgumentError } from './errors.js';
import type { Clock } from './clock.js';
import type { Logger } from './log.js';

export const EVENTS_VERSION = 1;

export const EventType = {
  ChildStarted: 'supervisor.child.started',
  ChildExited: 'supervisor.child.exited',
  ChildRestarted: 'supervisor.child.restarted',
  SupervisorGaveUp: 'supervisor.gave_up',
  Decision: 'recovery.decision',
  DeadLetter: 'dead_letter',
  Member: 'cluster.member',
  ClusterGaveUp: 'cluster.gave_up',
  ServiceStarted: 'service.started',
  ServiceCouldNotStart: 'service.could_not_start',
  ServiceFailed: 'service.failed',
  ServiceExited: 'service.exited',
  ServiceConfigChanged: 'service.config_changed',
} as const;
export type EventType = (typeof EventType)[keyof typeof EventType];

const EVENT_TYPES: ReadonlySet<string> = new Set(Object.values(EventType));

interface ChildFields {
  readonly supervisor: string;
  readonly childId: string;
  /** The incarnation's actor id. */
  readonly actor: string;
}

interface ServiceFields {
  /** The report's seq in the coordinator's `reports()` (the config is there, redacted, never in the event). */
  readonly report: number;
  readonly service: string;
  readonly instance: string;
}

/** What an emitter says; the stream adds `v`, `seq`, `at` and `node`. */
export type EventBody =
  | ({ readonly type: typeof EventType.ChildStarted } & ChildFields)
  | ({ readonly type: typeof EventType.ChildExited; readonly reason: string; readonly error?: string } & ChildFields)
  | ({ readonly type: typeof EventType.ChildRestarted; readonly restarts: number } & ChildFields)
  | { readonly type: typeof EventType.SupervisorGaveUp; readonly supervisor: string; readonly reason: string }
  | {
      readonly type: typeof EventType.Decision;
      readonly decision: number;
      readonly supervisor: string;
      readonly childId: string;
      readonly reason: string;
      readonly directive: string;
      readonly rule: string;
    }
  | { readonly type: typeof EventType.DeadLetter; readonly target: string; readonly reason: string; readonly eventType?: string; readonly count: number }
  | { readonly type: typeof EventType.Member; readonly change: string; readonly member: string; readonly incarnation: number; readonly by: string }
  | { readonly type: typeof EventType.ClusterGaveUp; readonly name: string; readonly reason: string; readonly endedWith?: string; readonly bannedUntil?: number }
  | ({ readonly type: typeof EventType.ServiceStarted } & ServiceFields)
  | ({ readonly type: typeof EventType.ServiceCouldNotStart; readonly reason: string; readonly ocf: number } & ServiceFields)
  | ({ readonly type: typeof EventType.ServiceFailed; readonly reason: string } & ServiceFields)
  | ({ readonly type: typeof EventType.ServiceExited; readonly reason: string } & ServiceFields)
  | ({ readonly type: typeof EventType.ServiceConfigChanged } & ServiceFields);

/** One event of the stream (version 1). */
export type HalyardEvent = EventBody & { readonly v: 1; readonly seq: number; readonly at: number; readonly node: string };

/** The event of one type. */
export type EventOf<T extends EventType> = Extract<HalyardEvent, { type: T }>;

/** Where emit points hand their events (supervision, the cluster hooks, dead letters). */
export type EventSink = (body: EventBody) => void;

export type EventListener<T extends EventType = EventType> = (event: EventOf<T>) => void | Promise<void>;

export interface SubscribeOptions<T extends EventType = EventType> {
  /** Only these types; all when absent. */
  readonly types?: readonly T[];
}

/** What a node exposes as `node.events`. */
export interface Events {
  subscribe<T extends EventType = EventType>(listener: EventListener<T>, options?: SubscribeOptions<T>): () => void;
}

interface Entry {
  readonly fn: (event: HalyardEvent) => void | Promise<void>;
  readonly types: ReadonlySet<string> | undefined;
}

/** @internal The node's stream: emit points call `emit`, tools call `subscribe`. */
export class EventStream implements Events {
  readonly #node: string;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #entries = new Set<Entry>();
  readonly #outlets = new Set<(event: HalyardEvent) => void>();
  readonly #pending: HalyardEvent[] = [];
  readonly #sources: Array<{ readonly start: () => () => void; stop: (() => void) | undefined }> = [];
  #seq = 0;
  #dispatching = false;

  constructor(node: string, clock: Clock, logger: Logger) {
    this.#node = node;
    this.#clock = clock;
    this.#log = logger;
  }

  /** True when nobody would see an event: emitters may skip building one. */
  get idle(): boolean {
    return this.#entries.size === 0 && this.#outlets.size === 0;
  }

  /**
   * @internal A source that costs something while watched (the dead-letter
   * listener makes every dead letter allocate): `start` runs while the stream
   * has any listener and returns its own stop.
   */
  _source(start: () => () => void): void {
    const source = { start, stop: this.idle ? undefined : start() };
    this.#sources.push(source);
  }

  #activity(): void {
    const idle = this.idle;
    for (const source of this.#sources) {
      if (idle && source.stop !== undefined) {
        source.stop();
        source.stop = undefined;
      } else if (!idle && source.stop === undefined) {
        source.stop = source.start();
      }
    }
  }

  subscribe<T extends EventType = EventType>(listener: EventListener<T>, options?: SubscribeOptions<T>): () => void {
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener', 'must be a function (event) => void');
    let types: ReadonlySet<string> | undefined;
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'must be { types? }');
      if (options.types !== undefined) {
        if (!Array.isArray(options.types)) throw new InvalidArgumentError('options.types', 'must be an array of event types');
        options.types.forEach((t, i) => {
          if (!EVENT_TYPES.has(t)) throw new InvalidArgumentError(`options.types[${i}]`, `must be one of ${[...EVENT_TYPES].join(', ')}`);
        });
        types = new Set(options.types);
      }
    }
    const entry: Entry = { fn: listener as Entry['fn'], types };
    this.#entries.add(entry);
    this.#activity();
    return () => {
      this.#entries.delete(entry);
      this.#activity();
    };
  }

  /** @internal Every event, after the listeners (the transport publisher). Its failures are its own to report. */
  _outlet(fn: (event: HalyardEvent) => void): () => void {
    this.#outlets.add(fn);
    this.#activity();
    return () => {
      this.#outlets.delete(fn);
      this.#activity();
    };
  }

  /** Stamp and deliver. Safe to call from a listener: the event waits for the current one to finish. */
  readonly emit: EventSink = (body) => {
    if (this.idle) return;
    const event = { v: EVENTS_VERSION, ...body, seq: ++this.#seq, at: this.#clock.now(), node: this.#node } as HalyardEvent;
    this.#pending.push(event);
    if (this.#dispatching) return;
    this.#dispatching = true;
    try {
      for (let e = this.#pending.shift(); e !== undefined; e = this.#pending.shift()) this.#deliver(e);
    } finally {
      this.#dispatching = false;
    }
  };

  #deliver(event: HalyardEvent): void {
    for (const entry of [...this.#entries]) {
      if (entry.types !== undefined && !entry.types.has(event.type)) continue;
      try {
        const r = entry.fn(event);
        if (r !== undefined && typeof (r as Promise<void>).then === 'function') {
          (r as Promise<void>).then(undefined, (err: unknown) => this.#failed(event, err));
        }
      } catch (err) {
        this.#failed(event, err);
      }
    }
    for (const out of this.#outlets) out(event);
  }

  #failed(event: HalyardEvent, err: unknown): void {
    // Only the message: a listener's error may quote anything it held.
    const message = err instanceof Error ? err.message : String(err);
    this.#log.error({ eventType: event.type, seq: event.seq, err: { message } }, 'event listener threw');
  }
}
