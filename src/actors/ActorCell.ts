/**
 * ActorCell: one XState actor behind a bounded mailbox.
 *
 * The cell owns the XState root actor. It subscribes an error observer before
 * starting it, so a throw in the logic never becomes an unhandled error that
 * would take the process down; the cell records it and exits with reason
 * `error`. Final states exit `normal`; stops exit `shutdown` or `killed`.
 * Whoever drives an actor from outside its logic (a supervisor ending with
 * `error`, a remote child's stand-in ending as its instance did) ends it with
 * {@link exitActor}: the reason is a value, not a throw to be decoded.
 *
 * Messages are enqueued by `tell`/`ask` and processed by the node's shared
 * {@link Scheduler}, one at a time, in FIFO order. Check and Status are
 * answered out of band from the current snapshot.
 *
 * When a cell exits, everything still queued is accounted for: asks are
 * rejected with `ActorNotRunningError` and tells become dead letters.
 */
import { type AnyActorLogic, type Actor, type AnyEventObject, createActor } from 'xstate';
import type { Clock } from '../clock.js';
import { assertAskOptions } from '../options.js';
import {
  ActorFailedError,
  ActorNotRunningError,
  InvalidArgumentError,
  MailboxFullError,
  MessageDroppedError,
  TimeoutError,
  describe,
  toLogError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log.js';
import { DeadLetterReason, type DeadLetters } from './DeadLetters.js';
import { assertEvent } from './events.js';
import { Mailbox, type OverflowPolicy } from './Mailbox.js';
import {
  type CheckFn,
  type CheckLevel,
  type CheckResult,
  type Lifecycle,
  OCF,
  type StatusReport,
  isCheckLevel,
  makeCheckResult,
} from './ocf.js';
import { REPLY, type ReplyHandle } from './reply.js';
import type { Runnable, Scheduler } from './Scheduler.js';
import {
  type AskOptions,
  type ExitListener,
  type ExitReason,
  type ExitSignal,
  type LocalActorRef,
  SHUTDOWN_EVENT,
  type Shutdown,
} from './types.js';

export const DEFAULT_ASK_TIMEOUT = 5000;

/**
 * What a cell needs from its system: the seam `ActorSystem` implements. Public
 * in the declarations because `ActorCell`'s constructor and `ActorSystem`'s
 * `implements` clause name it; only the system constructs cells.
 */
export interface CellHost {
  readonly node: string;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly deadLetters: DeadLetters;
  readonly logger: Logger;
  readonly askTimeout: number;
  /** Receives XState `log` actions. */
  readonly xstateLogger: (...args: unknown[]) => void;
  addressOf(cell: ActorCell): string;
  /** @internal */
  _exited(cell: ActorCell): void;
}

export interface CellOptions {
  readonly id: string;
  readonly name: string | undefined;
  readonly input: unknown;
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  readonly check: CheckFn | undefined;
  readonly statusExtra: (() => Record<string, unknown>) | undefined;
}

/** Ask reply handle: one object per ask, settles once. */
class AskHandle implements ReplyHandle {
  settled = false;
  timer: unknown = undefined;
  constructor(
    private readonly clock: Clock,
    private readonly res: (v: unknown) => void,
    private readonly rej: (e: unknown) => void,
  ) {}
  resolve(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer as object);
    this.res(value);
  }
  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer as object);
    this.rej(error);
  }
}

/** The cell's XState observer: one small object, methods on the prototype. */
class CellObserver {
  constructor(private readonly cell: ActorCell) {}
  error(err: unknown): void {
    this.cell._onError(err);
  }
  complete(): void {
    this.cell._onComplete();
  }
}

export { assertEvent };

export function assertTimeout(timeout: unknown): asserts timeout is number {
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidArgumentError('timeout', 'must be a positive finite number of milliseconds');
  }
}

/**
 * The deadline an ask runs with: `options.timeout`, else `fallback`. Refuses
 * what is not an options object (`ask(ev, 1000)`) and unknown keys
 * (`{ timout: 5 }`), naming them, rather than quietly using the default.
 */
export function askTimeoutOf(options: unknown, fallback: number): number {
  assertAskOptions(options);
  const timeout = (options as AskOptions | undefined)?.timeout ?? fallback;
  assertTimeout(timeout);
  return timeout;
}

function assertShutdown(shutdown: unknown): asserts shutdown is Shutdown {
  if (shutdown === 'brutal_kill' || shutdown === 'infinity') return;
  if (typeof shutdown === 'number' && Number.isFinite(shutdown) && shutdown >= 0) return;
  throw new InvalidArgumentError('shutdown', "must be 'brutal_kill', 'infinity' or a non-negative number of ms");
}

/**
 * Deliver one of Halyard's own control events (a reserved `halyard.*` type,
 * which `tell` refuses) to a local actor. Only Halyard calls this.
 * @internal
 */
export function tellControl(ref: LocalActorRef, event: AnyEventObject): void {
  cellOf(ref)._enqueue(event, undefined);
}

/** As {@link tellControl}, for an ask; `timeout` defaults to the node's ask timeout. @internal */
export function askControl<R>(ref: LocalActorRef, event: AnyEventObject, timeout?: number): Promise<R> {
  try {
    const cell = cellOf(ref);
    const ms = timeout ?? cell._askTimeout;
    assertTimeout(ms);
    return cell._ask(event, ms) as Promise<R>;
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * End a local actor now with `reason` (OTP's `exit(Reason)` called by the
 * process itself): no shutdown event, no throw, no final state needed.
 * `error` is what the exit signal carries for `error` and `nodedown`. A
 * `nodedown` exit is an `error` exit marked `nodeDown` (ExitSignal): the
 * actor stood in for one on a node that was lost. Safe inside the actor's own
 * transition: XState queues the stop behind the step under way. No-op if the
 * actor has exited already.
 * @internal
 */
export function exitActor(ref: LocalActorRef, reason: ExitReason | 'nodedown', error?: unknown): void {
  cellOf(ref)._exit(reason, error);
}

function cellOf(ref: LocalActorRef): ActorCell {
  if (!(ref instanceof ActorCell)) throw new InvalidArgumentError('ref', 'must be an actor of this process');
  return ref;
}

export class ActorCell implements LocalActorRef, Runnable {
  readonly id: string;
  readonly name: string | undefined;
  readonly isLocal = true as const;
  /** @internal */
  _scheduled = false;

  private readonly host: CellHost;
  private readonly actor: Actor<AnyActorLogic>;
  private readonly mailbox: Mailbox;
  private readonly checkFn: CheckFn | undefined;
  private readonly statusExtra: (() => Record<string, unknown>) | undefined;
  private state: Lifecycle = 'running';
  private stopReason: ExitReason = 'shutdown';
  private shutdownTimer: object | undefined;
  private current: ReplyHandle | undefined;
  private processed = 0;
  private dropped = 0;
  private readonly startedAt: number;
  private endedAt: number | undefined;
  private lastError: unknown = undefined;
  private exitSignal: ExitSignal | undefined;
  /**
   * Exit listeners: the first in a field, any further ones in a set. Nearly
   * every cell has exactly one (its supervisor's watch), and a Set per actor
   * is dear when a crash storm makes thousands of them a second.
   */
  private listener: ExitListener | undefined;
  private listeners: Set<ExitListener> | undefined;
  private log_: Logger | undefined;
  private address_: string | undefined;

  constructor(host: CellHost, logic: AnyActorLogic, opts: CellOptions) {
    this.host = host;
    this.id = opts.id;
    this.name = opts.name;
    this.checkFn = opts.check;
    this.statusExtra = opts.statusExtra;
    this.mailbox = new Mailbox(opts.capacity, opts.overflow);
    this.startedAt = host.clock.now();
    // Only the options we need: XState keeps every option key on each actor,
    // and an `id` or an undefined `input` costs about 250 B per actor. The
    // logger (for XState's `log` action) is one function per system.
    const logger = host.xstateLogger;
    this.actor = createActor(logic, opts.input === undefined ? { logger } : { logger, input: opts.input });
    // The error observer must be in place before start(): an initial state
    // whose entry action throws reports the error from inside start().
    this.actor.subscribe(new CellObserver(this));
  }

  /** @internal Start the XState actor. Called once by the system after registration. */
  _start(): void {
    try {
      this.actor.start();
    } catch (err) {
      // XState catches logic errors itself; this is a last line of defence.
      this._onError(err);
    }
  }

  get node(): string {
    return this.host.node;
  }

  /** @internal The default ask deadline of this cell's system. */
  get _askTimeout(): number {
    return this.host.askTimeout;
  }

  get address(): string {
    this.address_ ??= this.host.addressOf(this);
    return this.address_;
  }

  /** Name if it has one, else id: how logs and errors refer to this actor. */
  get label(): string {
    return this.name ?? this.id;
  }

  get lifecycle(): Lifecycle {
    return this.state;
  }

  get exit(): ExitSignal | undefined {
    return this.exitSignal;
  }

  get log(): Logger {
    this.log_ ??= this.host.logger.child({ node: this.host.node, actor: this.label });
    return this.log_;
  }

  getSnapshot(): any {
    return this.actor.getSnapshot();
  }

  // ── messages ────────────────────────────────────────────────────────────

  tell(event: AnyEventObject): void {
    assertEvent(event, this.host.deadLetters, this.label);
    this._enqueue(event, undefined);
  }

  ask<R = unknown>(event: AnyEventObject, options?: AskOptions): Promise<R> {
    let timeout: number;
    try {
      assertEvent(event, this.host.deadLetters, this.label);
      timeout = askTimeoutOf(options, this.host.askTimeout);
    } catch (err) {
      return Promise.reject(err);
    }
    return this._ask(event, timeout) as Promise<R>;
  }

  /**
   * Ask with an event that was validated by the caller (or is one of
   * Halyard's own control events, which `ask` refuses).
   * @internal
   */
  _ask(event: AnyEventObject, timeout: number): Promise<unknown> {
    return new Promise<unknown>((resolve, reject) => {
      const clock = this.host.clock;
      const handle = new AskHandle(clock, resolve, reject);
      // A pending ask keeps the process alive: whoever awaits it must see its TimeoutError.
      handle.timer = clock.setTimer(() => handle.reject(new TimeoutError(this.label, timeout)), timeout, true);
      this._enqueue({ ...event, [REPLY]: handle }, handle);
    });
  }

  /**
   * Enqueue an event that was validated by the caller. `reply` is the handle
   * of an ask (already attached to the event under REPLY), if any.
   * @internal
   */
  _enqueue(event: unknown, reply: ReplyHandle | undefined): void {
    if (this.state !== 'running' && this.state !== 'stopping') {
      this.refuse(event, reply);
      return;
    }
    const mb = this.mailbox;
    if (mb.isFull) {
      switch (mb.overflow) {
        case 'reject':
          this.dropped++;
          this.host.deadLetters.record(this.label, event, DeadLetterReason.MailboxFull);
          reply?.reject(new MailboxFullError(this.label, mb.capacity));
          return;
        case 'drop-newest':
          this.dropped++;
          this.host.deadLetters.record(this.label, event, DeadLetterReason.DroppedNewest);
          reply?.reject(new MessageDroppedError(this.label, mb.overflow));
          return;
        case 'drop-oldest': {
          mb.shift();
          const oldEvent = mb.outEvent;
          const oldReply = mb.outReply;
          mb.outEvent = undefined;
          mb.outReply = undefined;
          this.dropped++;
          this.host.deadLetters.record(this.label, oldEvent, DeadLetterReason.DroppedOldest);
          oldReply?.reject(new MessageDroppedError(this.label, mb.overflow));
          break;
        }
      }
    }
    mb.push(event, reply);
    this.host.scheduler.schedule(this);
  }

  /** @internal Called by the scheduler. */
  _drain(max: number): boolean {
    const mb = this.mailbox;
    const actor = this.actor;
    let n = 0;
    while (n < max && (this.state === 'running' || this.state === 'stopping') && mb.shift()) {
      const event = mb.outEvent as AnyEventObject;
      this.current = mb.outReply;
      mb.outEvent = undefined;
      mb.outReply = undefined;
      try {
        actor.send(event);
      } catch (err) {
        // XState reports logic errors through the observer; a throw here means
        // something outside the logic broke. Treat it the same way.
        this._onError(err);
      }
      this.current = undefined;
      this.processed++;
      n++;
    }
    return mb.depth > 0 && (this.state === 'running' || this.state === 'stopping');
  }

  private refuse(event: unknown, reply: ReplyHandle | undefined): void {
    if (reply) reply.reject(new ActorNotRunningError(this.label));
    else this.host.deadLetters.record(this.label, event, DeadLetterReason.ActorStopped);
  }

  // ── health ──────────────────────────────────────────────────────────────

  async check(level: CheckLevel = 0): Promise<CheckResult> {
    if (!isCheckLevel(level)) throw new InvalidArgumentError('level', 'must be 0, 10 or 20');
    const node = this.host.node;
    const label = this.label;
    switch (this.state) {
      case 'failed':
        return makeCheckResult(OCF.ERR_GENERIC, `failed: ${describe(this.lastError)}`, level, label, node);
      case 'stopped':
        return makeCheckResult(OCF.NOT_RUNNING, `stopped (${this.exitSignal?.reason ?? 'shutdown'})`, level, label, node);
      case 'done':
        return makeCheckResult(OCF.NOT_RUNNING, 'done: reached a final state', level, label, node);
      case 'stopping':
        return makeCheckResult(OCF.NOT_RUNNING, 'stopping', level, label, node);
    }
    const mailbox = { depth: this.mailbox.depth, capacity: this.mailbox.capacity };
    let code: number = OCF.SUCCESS;
    let reason = 'running';
    if (level >= 10 && mailbox.depth >= mailbox.capacity * 0.9) {
      code = OCF.DEGRADED;
      reason = `mailbox ${mailbox.depth}/${mailbox.capacity}`;
    }
    if (this.checkFn) {
      try {
        const answer = await this.checkFn({ snapshot: this.actor.getSnapshot(), level, mailbox });
        if (typeof answer === 'number') {
          if (answer !== OCF.SUCCESS) {
            code = answer;
            reason = 'user check';
          }
        } else if (answer && typeof answer.code === 'number') {
          if (answer.code !== OCF.SUCCESS || code === OCF.SUCCESS) {
            code = answer.code;
            reason = answer.reason ?? (answer.code === OCF.SUCCESS ? 'running' : 'user check');
          }
        } else {
          code = OCF.ERR_GENERIC;
          reason = 'user check returned no code';
        }
      } catch (err) {
        code = OCF.ERR_GENERIC;
        reason = `user check threw: ${describe(err)}`;
      }
    }
    return makeCheckResult(code, reason, level, label, node);
  }

  async status(): Promise<StatusReport> {
    const report = this.statusReport();
    // The child logger binds node and actor already; a second copy would print each key twice.
    const { node: _node, actor: _actor, ...fields } = report;
    this.log.info(fields, 'status');
    return report;
  }

  /** The status report without the log line. @internal */
  statusReport(): StatusReport {
    const snap = this.actor.getSnapshot() as { value?: unknown; status?: string };
    let extra: Record<string, unknown> | undefined;
    if (this.statusExtra) {
      try {
        extra = this.statusExtra();
      } catch (err) {
        extra = { statusError: describe(err) };
      }
    }
    return {
      ...extra,
      actor: this.label,
      id: this.id,
      node: this.host.node,
      lifecycle: this.state,
      state: snap.value !== undefined ? snap.value : snap.status,
      mailbox: { depth: this.mailbox.depth, capacity: this.mailbox.capacity, overflow: this.mailbox.overflow },
      processed: this.processed,
      dropped: this.dropped,
      uptimeMs: Math.round((this.endedAt ?? this.host.clock.now()) - this.startedAt),
      lastError: this.lastError === undefined ? null : toWireError(this.lastError),
    };
  }

  // ── stop and exit ───────────────────────────────────────────────────────

  stop(shutdown: Shutdown = 5000): Promise<ExitSignal> {
    try {
      assertShutdown(shutdown);
    } catch (err) {
      return Promise.reject(err);
    }
    const exited = new Promise<ExitSignal>((resolve) => this.onExit(resolve));
    // As OTP's exit(Pid, kill): a kill overrides a graceful stop under way.
    if (this.state === 'stopping' && shutdown === 'brutal_kill' && !this.exitSignal) {
      this.kill();
      return exited;
    }
    if (this.state !== 'running') return exited;
    if (shutdown === 'brutal_kill') {
      this.kill();
      return exited;
    }
    const snap = this.actor.getSnapshot() as { can?: (e: AnyEventObject) => boolean };
    let graceful = false;
    try {
      graceful = typeof snap.can === 'function' && snap.can({ type: SHUTDOWN_EVENT });
    } catch {
      graceful = false;
    }
    this.state = 'stopping';
    this.stopReason = 'shutdown';
    if (!graceful) {
      this.actor.stop();
      return exited;
    }
    // The shutdown event queues behind messages already sent, as OTP's exit
    // signal does for a process that traps exits; it may exceed capacity.
    this.mailbox.push({ type: SHUTDOWN_EVENT }, undefined);
    this.host.scheduler.schedule(this);
    if (shutdown !== 'infinity') {
      this.shutdownTimer = this.host.clock.setTimer(() => {
        this.shutdownTimer = undefined;
        if (this.exitSignal) return;
        this.kill();
      }, shutdown);
    }
    return exited;
  }

  private kill(): void {
    this.state = 'stopping';
    this.stopReason = 'killed';
    this.actor.stop();
  }

  onExit(listener: ExitListener): () => void {
    if (this.exitSignal) {
      const exit = this.exitSignal;
      let cancelled = false;
      this.host.scheduler.enqueueSystem(() => {
        if (!cancelled) listener(exit);
      });
      return () => {
        cancelled = true;
      };
    }
    if (this.listener === undefined && this.listeners === undefined) {
      this.listener = listener;
      // The field is read when the exit is delivered, not when it happens:
      // clearing it cancels a notification already queued, as for the set.
      return () => this.unlistenFirst(listener);
    }
    if (listener === this.listener) return () => this.unlistenFirst(listener);
    this.listeners ??= new Set();
    const set = this.listeners;
    set.add(listener);
    // Delete from the set the listener joined: after exit that set is being
    // notified, and a cancelled listener must not be called.
    return () => {
      set.delete(listener);
    };
  }

  private unlistenFirst(listener: ExitListener): void {
    if (this.listener === listener) this.listener = undefined;
  }

  /** @internal */
  _onError(err: unknown): void {
    if (this.exitSignal) return;
    this.fail(err, false);
  }

  /** @internal See {@link exitActor}. */
  _exit(reason: ExitReason | 'nodedown', error?: unknown): void {
    if (this.exitSignal) return;
    switch (reason) {
      case 'error':
      case 'nodedown':
        this.fail(error, reason === 'nodedown');
        break;
      case 'normal':
        this.terminate('done', 'normal', undefined, undefined);
        break;
      case 'shutdown':
      case 'killed':
        this.terminate('stopped', reason, undefined, undefined);
        break;
      default:
        throw new InvalidArgumentError('reason', "must be 'normal', 'error', 'shutdown', 'killed' or 'nodedown'");
    }
    // The exit is decided; the XState actor only has to stop running. Its
    // completion arrives after the signal is set and is ignored.
    this.actor.stop();
  }

  private fail(err: unknown, nodeDown: boolean): void {
    this.lastError = err;
    this.current?.reject(new ActorFailedError(this.label, err));
    this.current = undefined;
    // A child logger per failed actor is dear in a crash storm: only when it will write.
    if (this.host.logger.isLevelEnabled('warn')) this.log.warn({ err: toLogError(err) }, 'actor failed');
    this.terminate('failed', 'error', err, undefined, nodeDown);
  }

  /** @internal */
  _onComplete(): void {
    if (this.exitSignal) return;
    const snap = this.actor.getSnapshot() as { status: string; output?: unknown };
    if (snap.status === 'done') {
      const reason: ExitReason = this.state === 'stopping' ? this.stopReason : 'normal';
      this.terminate(this.state === 'stopping' ? 'stopped' : 'done', reason, undefined, snap.output);
    } else {
      this.terminate('stopped', this.stopReason, undefined, undefined);
    }
  }

  private terminate(state: Lifecycle, reason: ExitReason, error: unknown, output: unknown, nodeDown = false): void {
    this.state = state;
    this.endedAt = this.host.clock.now();
    if (this.shutdownTimer !== undefined) {
      this.host.clock.clearTimer(this.shutdownTimer);
      this.shutdownTimer = undefined;
    }
    const exit: ExitSignal =
      reason === 'error'
        ? nodeDown
          ? { id: this.id, name: this.name, node: this.host.node, reason, error, nodeDown }
          : { id: this.id, name: this.name, node: this.host.node, reason, error }
        : reason === 'normal'
          ? { id: this.id, name: this.name, node: this.host.node, reason, output }
          : { id: this.id, name: this.name, node: this.host.node, reason };
    this.exitSignal = exit;
    this.mailbox.clear((event, reply) => this.refuse(event, reply));
    this.host._exited(this);
    const listeners = this.listeners;
    this.listeners = undefined;
    if (this.listener !== undefined || (listeners && listeners.size > 0)) {
      // Exit notifications are system messages: they run before further user
      // messages, and outside this actor's own processing.
      this.host.scheduler.enqueueSystem(() => this.notifyExit(exit, listeners));
    }
  }

  private notifyExit(exit: ExitSignal, listeners: Set<ExitListener> | undefined): void {
    const first = this.listener;
    this.listener = undefined;
    if (first !== undefined) this.callListener(first, exit);
    if (listeners === undefined) return;
    for (const l of listeners) {
      if (listeners.has(l)) this.callListener(l, exit);
    }
  }

  private callListener(l: ExitListener, exit: ExitSignal): void {
    try {
      l(exit);
    } catch (err) {
      this.log.error({ err: toLogError(err) }, 'exit listener threw');
    }
  }
}
