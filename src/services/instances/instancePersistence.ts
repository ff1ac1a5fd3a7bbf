/**
 * An instance's persisted state (`defineService({ persist })`): what is
 * saved, when, and when it is brought back.
 *
 * - Key `svc.<service>.<instance id>` in the node's `StateStore`
 *   (state/stateOptions.ts). The record is `{ clean, snapshot }`: the logic's
 *   `getPersistedSnapshot()` and whether the instance ended gracefully.
 * - Saved after each change, coalesced to at most one write per `everyMs`
 *   (persistSnapshots.ts), with compare-and-set on the revision it loaded,
 *   so an old owner of the id cannot overwrite a newer one's state.
 * - `stop()` / `kill()` write the latest snapshot, taken before the logic's
 *   shutdown, marked clean. A start of the same id (a graceful restart, or
 *   another node after failover) restores a clean record always, an unclean
 *   one (the node or the instance crashed) only with `restoreAfterCrash`:
 *   a crash may come from the state itself.
 * - A supervisor restart after a crash restores the last saved snapshot
 *   (at most `everyMs` old) with `restoreAfterCrash`, otherwise starts fresh.
 * - Logic that reaches a final state has finished: its record is deleted,
 *   so the next start begins fresh. `cleanup({ state: true })` deletes it too.
 * - A write that fails is logged; after a `StateConflictError` (another
 *   owner) nothing more is written by this incarnation.
 *
 * ## In a cluster: fencing by the owner's epoch
 * The cluster host starts an instance under its owner claim's epoch
 * (Registry.ts: strictly increasing across claims). The record carries the
 * epoch of the owner that wrote it. At load the new owner
 * - refuses a record written under a newer epoch (`StaleEpochError`: it is
 *   the old owner, started late);
 * - then claims the record: rewrites it unchanged but for its epoch, by
 *   compare-and-set on the revision it read (when absent: a placeholder
 *   with no snapshot). An old owner still running (partitioned, not yet
 *   self-fenced) holds the revision before the claim, so its next write, or
 *   its delete on reaching a final state, is refused and it writes no more.
 *   Without the claim the old owner's write would land first and fence the
 *   new owner instead.
 */
import type { AnyActorLogic, AnyActorRef, AnyActorScope } from 'xstate';
import type { Clock } from '../../clock.js';
import { describe, StaleEpochError, StateConflictError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PersistOptions } from '../catalog/definition.js';
import { asPendingTimers, type PendingTimer, pendingTimers, rearmTimers } from '../state/pendingTimers.js';
import { type PersistHandle, persistSnapshots } from '../state/persistSnapshots.js';
import type { StateStore } from '../state/StateStore.js';

interface StoredInstanceState {
  readonly clean: boolean;
  /** `null`: a claim placeholder, nothing to restore. */
  readonly snapshot: unknown;
  /** The owner claim's epoch it was written under (cluster instances only). */
  readonly epoch?: number;
  /** Delayed events the logic had pending for itself (state/pendingTimers.ts); absent when none. */
  readonly timers?: readonly PendingTimer[];
}

/** A new owner's claim of the record, retried when another write lands between its read and its claim. */
const CLAIM_ATTEMPTS = 5;

function isStored(value: unknown): value is StoredInstanceState {
  return typeof value === 'object' && value !== null && typeof (value as StoredInstanceState).clean === 'boolean' && 'snapshot' in value;
}

export function stateKey(service: string, id: string): string {
  return `svc.${service}.${id}`;
}

export class InstancePersistence {
  readonly key: string;
  private readonly store: StateStore;
  private readonly options: PersistOptions;
  private readonly clock: Clock;
  private readonly log: () => Logger;
  private logic: AnyActorLogic | undefined;
  private revision = 0;
  /** The owner claim's epoch, in a cluster: written into every record. */
  private epoch: number | undefined;
  /** Taken by the first incarnation's first snapshot. */
  private pending: unknown;
  private pendingTimers: readonly PendingTimer[] = [];
  /** The running incarnation's scope: where its pending delayed events are read. */
  private scope: AnyActorScope | undefined;
  /** Timers to arm again once the restored incarnation has started. */
  private rearmNext: readonly PendingTimer[] = [];
  private disarm: (() => void) | undefined;
  /** The delayed events pending when `lastPersisted` was taken. */
  private lastTimers: readonly PendingTimer[] = [];
  private incarnations = 0;
  private latest: unknown;
  private lastPersisted: unknown;
  /** The snapshot `lastPersisted` was taken from: a stop must not save an older one than the logic's last. */
  private lastPersistedFrom: unknown;
  private clean = false;
  private lastWriteClean = false;
  private handle: PersistHandle | undefined;
  private readonly listeners = new Set<() => void>();
  private noticeQueued = false;
  /** Whether the running incarnation came from a stored snapshot. */
  restored = false;

  constructor(store: StateStore, key: string, options: PersistOptions, clock: Clock, log: () => Logger) {
    this.store = store;
    this.key = key;
    this.options = options;
    this.clock = clock;
    this.log = log;
  }

  /**
   * Read the stored record and decide whether the first incarnation restores
   * it. With `epoch` (a cluster owner's), refuse a newer owner's record and
   * claim this one (module comment).
   */
  async load(epoch?: number): Promise<void> {
    if (epoch !== undefined) this.epoch = epoch;
    for (let attempt = 1; ; attempt++) {
      const found = await this.store.load(this.key);
      const stored = found !== undefined && isStored(found.snapshot) ? found.snapshot : undefined;
      if (epoch !== undefined) {
        if (typeof stored?.epoch === 'number' && stored.epoch > epoch) throw new StaleEpochError(this.key, epoch, stored.epoch);
        const claim: StoredInstanceState = stored === undefined ? { clean: false, snapshot: null, epoch } : { ...stored, epoch };
        try {
          this.revision = await this.store.save(this.key, claim, { expectedRevision: found?.revision ?? 0 });
        } catch (err) {
          // The old owner wrote between our read and our claim: read its latest and claim that.
          if (err instanceof StateConflictError && attempt < CLAIM_ATTEMPTS) continue;
          throw err;
        }
      } else if (found !== undefined) {
        this.revision = found.revision;
      }
      if (found === undefined) return;
      this.decide(stored);
      return;
    }
  }

  private decide(stored: StoredInstanceState | undefined): void {
    if (stored === undefined) {
      this.log().warn({ key: this.key }, 'persisted state is not an instance record; starting fresh');
      return;
    }
    if (stored.snapshot === null) return;
    if (stored.clean || this.options.restoreAfterCrash) {
      this.pending = stored.snapshot;
      this.pendingTimers = asPendingTimers(stored.timers);
    } else this.log().info({ key: this.key }, 'persisted state is from a crash and restoreAfterCrash is off; starting fresh');
  }

  /** `logic` whose first snapshot is the pending stored one, when there is one. */
  wrap<L extends AnyActorLogic>(logic: L): L {
    this.logic = logic;
    const wrapped = Object.create(logic) as L;
    Object.defineProperty(wrapped, 'getInitialSnapshot', {
      value: (scope: unknown, input: unknown) => {
        // Only a crash makes the supervisor start another incarnation (the child is transient);
        // its first snapshot is decided here, as the supervisor may restart before anyone else hears of the exit.
        const first = this.incarnations++ === 0;
        const saved = first ? this.pending : this.options.restoreAfterCrash ? this.lastPersisted : undefined;
        const timers = first ? this.pendingTimers : this.lastTimers;
        this.pending = undefined;
        this.pendingTimers = [];
        this.restored = saved !== undefined;
        this.scope = scope as AnyActorScope;
        this.disarm?.();
        this.disarm = undefined;
        if (saved === undefined || typeof logic.restoreSnapshot !== 'function') {
          this.rearmNext = [];
          return (logic.getInitialSnapshot as (...a: unknown[]) => unknown).call(logic, scope, input);
        }
        this.rearmNext = timers;
        return (logic.restoreSnapshot as (...a: unknown[]) => unknown).call(logic, saved, scope);
      },
    });
    // XState arms no timer of a restored snapshot (#5331): once the restored actor has started, its own are armed again.
    Object.defineProperty(wrapped, 'start', {
      value: (snapshot: unknown, scope: AnyActorScope) => {
        if (typeof logic.start === 'function') (logic.start as (...a: unknown[]) => unknown).call(logic, snapshot, scope);
        const timers = this.rearmNext;
        this.rearmNext = [];
        if (timers.length > 0) this.disarm = rearmTimers(scope, timers, this.clock);
      },
    });
    return wrapped;
  }

  /** Every snapshot the logic makes (from observedLogic). */
  observe(snapshot: unknown): void {
    this.latest = snapshot;
    if (this.listeners.size === 0 || this.noticeQueued) return;
    // Inside XState's step: the write is looked at once the step is over. One notice for a burst of steps:
    // the saver reads `latest` when it writes, so a notice per snapshot would only cost a microtask each.
    this.noticeQueued = true;
    queueMicrotask(this.notice);
  }

  private readonly notice = (): void => {
    this.noticeQueued = false;
    for (const l of this.listeners) l();
  };

  /** Start saving (the first incarnation is running). */
  begin(): void {
    if (this.handle !== undefined) return;
    const source = {
      getSnapshot: () => this.latest,
      getPersistedSnapshot: (): StoredInstanceState => {
        this.take();
        this.lastWriteClean = this.clean;
        return this.record(this.clean, this.lastPersisted);
      },
      subscribe: (observer: { next: () => void }) => {
        const next = (): void => observer.next();
        this.listeners.add(next);
        return { unsubscribe: () => this.listeners.delete(next) };
      },
    } as unknown as AnyActorRef;
    this.handle = persistSnapshots(source, this.store, this.key, {
      everyMs: this.options.everyMs,
      clock: this.clock,
      revision: this.revision,
      onError: (err) => this.log().warn({ err: describe(err), key: this.key }, 'persisted state not saved'),
    });
  }

  /**
   * The instance ends. `clean` (stop, kill): save the latest snapshot marked
   * clean. `finished` (a final state): delete the record. `failed`: keep the
   * last good one as it is (unclean).
   */
  async end(how: 'clean' | 'finished' | 'failed'): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    this.listeners.clear();
    if (handle === undefined) return;
    try {
      if (how === 'clean') {
        this.clean = true;
        await handle.stop();
        // A change whose notice had not reached the saver yet (a stop in the same turn as the last event) is saved here.
        if (this.latest !== undefined && this.lastPersistedFrom !== this.latest) {
          this.take();
          this.lastWriteClean = false;
        }
        if (!this.lastWriteClean && this.lastPersisted !== undefined) {
          await this.store.save(this.key, this.record(true, this.lastPersisted), { expectedRevision: handle.revision ?? 0 });
        }
      } else if (how === 'finished') {
        await handle.stop();
        // Conditional: an old owner reaching its final state must not delete its successor's record.
        await this.store.delete(this.key, { expectedRevision: handle.revision ?? 0 });
      } else {
        await handle.stop();
      }
    } catch (err) {
      this.log().warn({ err: describe(err), key: this.key }, 'persisted state not saved at the end');
    } finally {
      this.disarm?.();
      this.disarm = undefined;
    }
  }

  /** Take the latest snapshot, and the delayed events pending with it, as what is saved next. */
  private take(): void {
    const logic = this.logic as AnyActorLogic;
    this.lastPersisted = typeof logic.getPersistedSnapshot === 'function' ? logic.getPersistedSnapshot(this.latest as never, undefined as never) : this.latest;
    this.lastPersistedFrom = this.latest;
    this.lastTimers = this.scope === undefined ? [] : pendingTimers(this.scope);
  }

  private record(clean: boolean, snapshot: unknown): StoredInstanceState {
    const timers = this.lastTimers.length > 0 ? { timers: this.lastTimers } : {};
    return this.epoch === undefined ? { clean, snapshot, ...timers } : { clean, snapshot, epoch: this.epoch, ...timers };
  }

  /** Remove the stored record (cleanup({ state: true })). */
  async forget(): Promise<boolean> {
    return this.store.delete(this.key);
  }
}
