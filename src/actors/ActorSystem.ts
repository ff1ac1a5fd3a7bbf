/**
 * ActorSystem: the actors of one node, their names and their dispatcher.
 *
 * - `spawn(logic, options)` runs any XState v5 logic (machines, `fromTransition`,
 *   `fromCallback`, `fromPromise`, ...) as a root actor in an {@link ActorCell}.
 *   Large populations never become XState children of one parent: XState's
 *   `spawnChild` copies the parent's children list on every spawn.
 * - The name registry is ours, not XState's `system.get` (which does not cross
 *   root actors). Names are unique per node; a duplicate is `DuplicateNameError`.
 *   A name is released when its actor exits, so a restart can take it again.
 * - Every exit is reported to `onExit` listeners (supervision consumes these).
 *
 * This module knows nothing of transports: the node (src/services) routes
 * remote messages to `lookup()`/`get()` and gives the system `addressOf`.
 */
import type { AnyActorLogic, EventFromLogic, InputFrom, SnapshotFrom } from 'xstate';
import { type Clock, monotonicClock } from '../clock.js';
import { DuplicateNameError, InvalidSpecError } from '../errors.js';
import { type Logger, nullLogger } from '../log.js';
import { assertFunction, assertKnownKeys, assertOptionsObject, kindOf } from '../options.js';
import { ActorCell, type CellHost, DEFAULT_ASK_TIMEOUT, assertTimeout } from './ActorCell.js';
import { DeadLetters } from './DeadLetters.js';
import { DEFAULT_MAILBOX_CAPACITY, type MailboxOptions, OverflowPolicy } from './Mailbox.js';
import { assertName } from './names.js';
import type { CheckFn } from './ocf.js';
import { Scheduler, type SchedulerOptions } from './Scheduler.js';
import type { ExitListener, ExitSignal, LocalActorRef, Shutdown } from './types.js';

export interface ActorSystemOptions {
  /** Node name, used in logs, exits and health answers. */
  readonly node: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Default mailbox for actors that do not set their own. */
  readonly mailbox?: MailboxOptions;
  readonly scheduler?: SchedulerOptions;
  /** Default ask deadline in ms. Default 5000. */
  readonly askTimeout?: number;
  /** Transport address of an actor; the node supplies it. */
  readonly addressOf?: (ref: { id: string; name: string | undefined }) => string;
  /** Exits remembered by name for {@link ActorSystem.lastExit}. Default {@link DEFAULT_REMEMBERED_EXITS}. */
  readonly rememberExits?: number;
}

/** How many exits of named actors a system remembers (the newest; memory stays bounded). */
export const DEFAULT_REMEMBERED_EXITS = 1024;

export interface SpawnOptions<TInput = unknown> {
  /** Unique name on this node; reachable by name locally and over the transport. */
  readonly name?: string;
  readonly input?: TInput;
  readonly mailbox?: MailboxOptions;
  /** Deepens Check for this actor. */
  readonly check?: CheckFn;
  /** Extra fields for this actor's Status report. @internal */
  readonly statusExtra?: () => Record<string, unknown>;
}

const POLICIES = new Set<string>(Object.values(OverflowPolicy));
const MAILBOX_KEYS = ['capacity', 'overflow'];
const SPAWN_KEYS = ['name', 'input', 'mailbox', 'check'];
const SPAWN_INTERNAL_KEYS = ['statusExtra'];
// Built once: every spawn (and so every restart in a crash storm) runs these checks.
const SPAWN_OBJECT_HINT = {
  instead: (v: unknown) => (typeof v === 'string' ? `to name the actor, pass { name: ${JSON.stringify(v)} }` : undefined),
};
const SPAWN_KEY_OPTIONS = { internal: SPAWN_INTERNAL_KEYS };
const MAILBOX_OBJECT_HINT = {
  instead: (v: unknown) => (typeof v === 'number' ? `for a capacity, pass { capacity: ${v} }` : undefined),
};

/**
 * Validate spawn options (before anything is created). A bare string is the
 * usual slip for a name and is refused with the object to pass.
 */
export function assertSpawnOptions(options: unknown): void {
  if (options === undefined) return;
  assertOptionsObject(options, 'options', '{ name?, input?, mailbox?, check? }', SPAWN_OBJECT_HINT);
  assertKnownKeys(options, '', SPAWN_KEYS, SPAWN_KEY_OPTIONS);
  if (options.check !== undefined) assertFunction(options.check, 'check', 'a function ({ snapshot, level, mailbox }) => code | { code, reason } (or a promise of one)');
  if (options.statusExtra !== undefined) assertFunction(options.statusExtra, 'statusExtra', 'a function');
}

/** Validate mailbox options; errors name the field under `prefix`. */
export function resolveMailbox(
  options: MailboxOptions | undefined,
  defaults: { capacity: number; overflow: OverflowPolicy },
  prefix = 'mailbox',
): { capacity: number; overflow: OverflowPolicy } {
  const raw: unknown = options;
  // The defaults were checked when they were resolved.
  if (raw === undefined) return defaults;
  assertOptionsObject(raw, prefix, '{ capacity?, overflow? }', MAILBOX_OBJECT_HINT);
  assertKnownKeys(raw, prefix, MAILBOX_KEYS);
  const capacity = options?.capacity ?? defaults.capacity;
  const overflow = options?.overflow ?? defaults.overflow;
  if (!Number.isInteger(capacity) || capacity < 1) {
    throw new InvalidSpecError(`${prefix}.capacity`, `must be a positive integer, got ${kindOf(capacity)}`);
  }
  if (!POLICIES.has(overflow)) {
    throw new InvalidSpecError(`${prefix}.overflow`, `must be one of ${[...POLICIES].join(', ')}`);
  }
  return { capacity, overflow };
}

export class ActorSystem implements CellHost {
  readonly node: string;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly deadLetters = new DeadLetters();
  readonly askTimeout: number;
  readonly xstateLogger = (...args: unknown[]): void => this.logger.info({ node: this.node, xstate: args }, 'log');
  private readonly mailboxDefaults: { capacity: number; overflow: OverflowPolicy };
  private readonly addressFn: (ref: { id: string; name: string | undefined }) => string;
  private readonly byName = new Map<string, ActorCell>();
  private readonly byId = new Map<string, ActorCell>();
  private readonly exitListeners = new Set<ExitListener>();
  private readonly spawnListeners = new Set<(cell: ActorCell) => void>();
  /** Newest last; re-set on every exit, so the oldest is first to go. */
  private readonly exitsByName = new Map<string, ExitSignal>();
  private readonly rememberExits: number;
  private seq = 0;

  constructor(options: ActorSystemOptions) {
    this.node = options.node;
    this.logger = options.logger ?? nullLogger();
    this.clock = options.clock ?? monotonicClock;
    this.askTimeout = options.askTimeout ?? DEFAULT_ASK_TIMEOUT;
    assertTimeout(this.askTimeout);
    this.mailboxDefaults = resolveMailbox(options.mailbox, {
      capacity: DEFAULT_MAILBOX_CAPACITY,
      overflow: OverflowPolicy.Reject,
    });
    this.addressFn = options.addressOf ?? (() => '');
    this.rememberExits = options.rememberExits ?? DEFAULT_REMEMBERED_EXITS;
    this.scheduler = new Scheduler({
      ...options.scheduler,
      onError: (err) => this.logger.error({ err }, 'system task threw'),
    });
  }

  spawn<TLogic extends AnyActorLogic>(
    logic: TLogic,
    options: SpawnOptions<InputFrom<TLogic>> = {},
  ): LocalActorRef<EventFromLogic<TLogic>, SnapshotFrom<TLogic>> {
    assertSpawnOptions(options);
    if (typeof logic !== 'object' || logic === null || typeof (logic as { transition?: unknown }).transition !== 'function') {
      throw new InvalidSpecError('logic', 'must be XState v5 actor logic (a machine or fromTransition/fromCallback/fromPromise/...)');
    }
    const name = options.name;
    if (name !== undefined) {
      assertName(name);
      if (this.byName.has(name)) throw new DuplicateNameError(name);
    }
    const { capacity, overflow } = resolveMailbox(options.mailbox, this.mailboxDefaults);
    const id = (++this.seq).toString(36);
    const cell = new ActorCell(this, logic, {
      id,
      name,
      input: options.input,
      capacity,
      overflow,
      check: options.check,
      statusExtra: options.statusExtra,
    });
    this.byId.set(id, cell);
    if (name !== undefined) this.byName.set(name, cell);
    // Spawn listeners run before start: an actor that fails while starting
    // still reports its exit after them, so nothing they set up can leak.
    for (const l of this.spawnListeners) {
      try {
        l(cell);
      } catch (err) {
        this.logger.error({ err }, 'spawn listener threw');
      }
    }
    cell._start();
    return cell as unknown as LocalActorRef<EventFromLogic<TLogic>, SnapshotFrom<TLogic>>;
  }

  /** The live actor registered under `name` on this node. */
  lookup(name: string): ActorCell | undefined {
    return this.byName.get(name);
  }

  /** The live actor with this id on this node. */
  get(id: string): ActorCell | undefined {
    return this.byId.get(id);
  }

  /** Number of live actors. */
  get size(): number {
    return this.byId.size;
  }

  /**
   * How the last actor registered under `name` ended, while no live actor
   * holds the name; remembered for the newest {@link DEFAULT_REMEMBERED_EXITS}
   * names only. Lets health checks answer OCF_NOT_RUNNING for an actor that
   * is gone rather than "no such actor".
   */
  lastExit(name: string): ExitSignal | undefined {
    return this.byName.has(name) ? undefined : this.exitsByName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  actors(): ActorCell[] {
    return [...this.byId.values()];
  }

  /** Listen to every exit on this node. Returns an unsubscribe function. */
  onExit(listener: ExitListener): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  /** Listen to every spawn on this node (called before the actor starts). */
  onSpawn(listener: (cell: ActorCell) => void): () => void {
    this.spawnListeners.add(listener);
    return () => this.spawnListeners.delete(listener);
  }

  addressOf(cell: { id: string; name: string | undefined }): string {
    return this.addressFn(cell);
  }

  /** @internal Called by a cell when it exits. */
  _exited(cell: ActorCell): void {
    if (this.byId.get(cell.id) === cell) this.byId.delete(cell.id);
    if (cell.name !== undefined && this.byName.get(cell.name) === cell) this.byName.delete(cell.name);
    const exit = cell.exit!;
    if (cell.name !== undefined && this.rememberExits > 0) {
      // Recorded here, synchronously, not in an exit listener: a Check right
      // after the actor ends must already see it.
      this.exitsByName.delete(cell.name);
      this.exitsByName.set(cell.name, exit);
      if (this.exitsByName.size > this.rememberExits) this.exitsByName.delete(this.exitsByName.keys().next().value!);
    }
    if (this.exitListeners.size === 0) return;
    this.scheduler.enqueueSystem(() => {
      for (const l of this.exitListeners) {
        try {
          l(exit);
        } catch (err) {
          this.logger.error({ err }, 'exit listener threw');
        }
      }
    });
  }

  /** Stop every live actor, newest first, each with `shutdown`. */
  async stopAll(shutdown: Shutdown = 5000): Promise<void> {
    const cells = [...this.byId.values()].reverse();
    for (const cell of cells) await cell.stop(shutdown);
  }
}
