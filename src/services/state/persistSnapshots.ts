/**
 * Keep an actor's persisted snapshot in a `StateStore` while it runs, and
 * bring an actor back from it.
 *
 * `persistSnapshots(actor, store, key, { everyMs })` watches the actor and
 * saves `getPersistedSnapshot()` after it changes, coalesced: the first
 * change is written at once, later ones at most once per `everyMs` on the
 * injected clock, always the latest snapshot (never a stale one). Each write
 * passes the revision of the previous one (`revision` starts it: what
 * `restoreActor` found, or 0 for "must be new"), so an owner that lost the
 * key to another stops writing: the `StateConflictError` goes to `onError`
 * and persisting ends.
 *
 * Known XState traps (see /work/shared/notes): a child spawned or invoked
 * from inline logic cannot be restored (#5057, #4873): such an actor is
 * refused with `InvalidArgumentError` (`actor`) before anything is written.
 * An invoke that was running when the snapshot was taken runs again on
 * restore; a pending `after` timer is not re-armed (#5331). A stopped or
 * errored actor's snapshot is never written: the last good one stays.
 */
import type { AnyActorLogic, AnyActorRef, Actor, ActorOptions } from 'xstate';
import { createActor } from 'xstate';
import { type Clock, type TimerHandle, monotonicClock } from '../../clock.js';
import { InvalidArgumentError, StateConflictError } from '../../errors.js';
import { type StateStore, assertStateKey } from './StateStore.js';

export interface PersistOptions {
  /** Least time between two writes, in ms. */
  readonly everyMs: number;
  readonly clock?: Clock;
  /** Revision of the stored state this actor continues (0: the key must be absent). Default: the first write wins. */
  readonly revision?: number;
  /** A write that failed. After a `StateConflictError` nothing more is written. */
  readonly onError?: (err: unknown) => void;
}

export interface PersistHandle {
  /** Revision of the last write, if any (or the starting one). */
  readonly revision: number | undefined;
  /** Writes done so far. */
  readonly writes: number;
  /** Write a pending change now; resolves once everything is written. */
  flush(): Promise<void>;
  /** Write what is pending, then stop watching. Call it before stopping the actor to keep its last change. */
  stop(): Promise<void>;
}

/** Refuse, before any write, children whose logic would not survive a restore. */
function assertRestorable(actor: AnyActorRef, path: string): void {
  const children = (actor.getSnapshot() as { children?: Record<string, AnyActorRef> }).children ?? {};
  for (const [id, child] of Object.entries(children)) {
    if (typeof (child as { src?: unknown }).src !== 'string') {
      throw new InvalidArgumentError(
        'actor',
        `child ${path}${id} runs inline logic, which XState cannot restore (#4873): name it in setup({ actors }) and use its name as src`,
      );
    }
    assertRestorable(child, `${path}${id}.`);
  }
}

export function persistSnapshots(actor: AnyActorRef, store: StateStore, key: string, options: PersistOptions): PersistHandle {
  assertStateKey(key);
  const { everyMs } = options;
  if (typeof everyMs !== 'number' || !Number.isFinite(everyMs) || everyMs < 0) {
    throw new InvalidArgumentError('everyMs', 'must be a non-negative number of milliseconds');
  }
  const clock = options.clock ?? monotonicClock;
  assertRestorable(actor, '');
  let revision = options.revision;
  let writes = 0;
  let lastWriteAt = Number.NEGATIVE_INFINITY;
  let dirty = false;
  let stopped = false;
  let timer: TimerHandle | undefined;
  let inFlight: Promise<void> | undefined;

  const write = (): Promise<void> => {
    dirty = false;
    lastWriteAt = clock.now();
    const run = (async () => {
      // A stopped actor's snapshot brings back nothing that runs; an errored one may hold the state
      // that made it fail. Both keep the last good state stored instead.
      const status = actor.getSnapshot().status;
      if (status === 'stopped' || status === 'error') return;
      assertRestorable(actor, '');
      const snapshot = actor.getPersistedSnapshot();
      revision = await store.save(key, snapshot, revision === undefined ? undefined : { expectedRevision: revision });
      writes++;
    })().catch((err: unknown) => {
      // Another owner has the key, or the actor cannot be restored: writing on would only repeat the failure.
      if (err instanceof StateConflictError || err instanceof InvalidArgumentError) stopped = true;
      options.onError?.(err);
    });
    inFlight = run.finally(() => {
      inFlight = undefined;
      if (dirty && !stopped) schedule();
    });
    return inFlight;
  };

  const schedule = (): void => {
    if (timer !== undefined || inFlight !== undefined) return;
    const wait = lastWriteAt + everyMs - clock.now();
    if (wait <= 0) {
      void write();
      return;
    }
    timer = clock.setTimer(() => {
      timer = undefined;
      if (dirty && !stopped) void write();
    }, wait);
  };

  const subscription = actor.subscribe({
    next: () => {
      if (stopped) return;
      dirty = true;
      schedule();
    },
    error: () => {},
  });

  const flush = async (): Promise<void> => {
    for (;;) {
      // A write ending while we wait may arm the timer again: what it would write, we write now.
      if (timer !== undefined) {
        clock.clearTimer(timer);
        timer = undefined;
      }
      if (inFlight === undefined) break;
      await inFlight;
    }
    if (dirty && !stopped) await write();
  };

  return {
    get revision() {
      return revision;
    },
    get writes() {
      return writes;
    },
    flush,
    async stop() {
      subscription.unsubscribe();
      await flush();
      stopped = true;
    },
  };
}

export interface Restored<TLogic extends AnyActorLogic> {
  /** Not started: subscribe or `persistSnapshots` first, then `start()`. */
  readonly actor: Actor<TLogic>;
  /** Revision of the state it came from; undefined when nothing was stored (a fresh actor). */
  readonly revision: number | undefined;
}

/** Create an actor of `logic` from the state stored under `key`, or a fresh one when there is none. */
export async function restoreActor<TLogic extends AnyActorLogic>(
  logic: TLogic,
  store: StateStore,
  key: string,
  options?: Omit<ActorOptions<TLogic>, 'snapshot'>,
): Promise<Restored<TLogic>> {
  const found = await store.load(key);
  if (found === undefined) return { actor: createActor(logic, options as ActorOptions<TLogic>), revision: undefined };
  const actor = createActor(logic, { ...options, snapshot: found.snapshot } as ActorOptions<TLogic>);
  return { actor, revision: found.revision };
}
