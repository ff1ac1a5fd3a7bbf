/**
 * The actor references every layer talks to.
 *
 * An `ActorRef` is location-transparent: `tell`, `ask`, `check` and `status`
 * work the same for an actor on this node and one reached over the transport.
 * A `LocalActorRef` adds what only the hosting node knows: lifecycle,
 * snapshot, stop and exit notification.
 *
 * ## Exit reasons (OTP's, for the supervisor that consumes them)
 * - `normal`: the logic reached a final state (XState status `done`).
 * - `error`: the logic threw, or its actor errored. `error` holds what was thrown.
 * - `shutdown`: it was stopped on request and ended within its shutdown time.
 * - `killed`: it was stopped with `brutal_kill`, or did not end within its shutdown time.
 *
 * ## Lifecycle
 * ```
 *  spawn ──► running ──stop()──► stopping ──► stopped (shutdown | killed)
 *               │  └──final state──────────► done    (normal)
 *               └────throw / error─────────► failed  (error)
 * ```
 */
import type { AnyEventObject, EventObject } from 'xstate';
import type { CheckLevel, CheckResult, Lifecycle, StatusReport } from './ocf.js';
import type { AskReply, DeclaredReply } from './reply.js';

export const ExitReason = {
  Normal: 'normal',
  Error: 'error',
  Shutdown: 'shutdown',
  Killed: 'killed',
} as const;
export type ExitReason = (typeof ExitReason)[keyof typeof ExitReason];

export interface ExitSignal {
  /** Actor id (unique on its node). */
  readonly id: string;
  readonly name: string | undefined;
  readonly node: string;
  readonly reason: ExitReason;
  /** What the logic threw, for reason `error`. */
  readonly error?: unknown;
  /** The logic's output, for reason `normal`. */
  readonly output?: unknown;
  /**
   * True when the actor stood in for one on another node and ended because
   * that node was lost (OTP's `noconnection`); `reason` is then `error` and
   * `error` the node's `NodeDownError`. Supervisors report it as `nodedown`.
   */
  readonly nodeDown?: true;
}

export interface AskOptions {
  /** Deadline in milliseconds. Default 5000 (OTP's gen_server:call default). */
  readonly timeout?: number;
}

/**
 * How to stop an actor (OTP's child-spec `shutdown`):
 * - `brutal_kill`: stop at once; exit reason `killed`.
 * - a number of ms: a machine that handles the `halyard.shutdown` event gets it
 *   (after the messages already queued) and has that long to reach a final
 *   state, else it is killed; logic that does not handle it is stopped at once.
 * - `infinity`: as a number, with no deadline.
 */
export type Shutdown = 'brutal_kill' | 'infinity' | number;

/** The event a machine may handle to stop gracefully (OTP: trapping the exit signal). */
export const SHUTDOWN_EVENT = 'halyard.shutdown' as const;

export interface ActorRef<TEvent extends EventObject = AnyEventObject> {
  readonly id: string;
  readonly name: string | undefined;
  readonly node: string;
  /** Subject this actor is reached on over the transport (empty when the node has none). */
  readonly address: string;
  readonly isLocal: boolean;
  /** Fire and forget. At-most-once, FIFO per sender and receiver. */
  tell(event: TEvent): void;
  /**
   * Request/reply with a deadline; the logic answers with `reply(...)`.
   * Resolves to the answer type the logic declares for this event (see
   * `AskEvent`), else `unknown`. A type the caller names, `ask<number>(e)` or
   * `const n: number = await ask(e)`, is taken where it fits what is declared:
   * for the event asked when inferred, for any of `TEvent` when given.
   */
  ask<R extends DeclaredReply<TEvent, TAsked> = never, const TAsked extends TEvent = TEvent>(
    event: TAsked,
    options?: AskOptions,
  ): Promise<AskReply<R, TEvent, TAsked>>;
  check(level?: CheckLevel): Promise<CheckResult>;
  status(): Promise<StatusReport>;
}

export type ExitListener = (exit: ExitSignal) => void;

export interface LocalActorRef<TEvent extends EventObject = AnyEventObject, TSnapshot = unknown> extends ActorRef<TEvent> {
  readonly isLocal: true;
  readonly lifecycle: Lifecycle;
  /** Set once the actor has exited. */
  readonly exit: ExitSignal | undefined;
  getSnapshot(): TSnapshot;
  /** Stop the actor; resolves with its exit signal. */
  stop(shutdown?: Shutdown): Promise<ExitSignal>;
  /**
   * Call `listener` once when the actor exits (at once, asynchronously, if it
   * already has). Returns a function that cancels the notification.
   */
  onExit(listener: ExitListener): () => void;
}
