/**
 * children: a supervisor's child records, in start order (OTP's
 * `#state.children`).
 *
 * One record per child spec (per instance under `simple_one_for_one`), holding
 * the child's current incarnation: its actor, the nested supervisor when it is
 * one, the exit watch, a pending delayed restart. Every start and every stop
 * the supervisor makes goes through {@link ChildTable.started} and
 * {@link ChildTable.detach}, and both bump the record's `epoch`. Work queued
 * for an older epoch (an exit, a retry, a delayed restart) is stale: the
 * supervisor has acted on the child itself since, which is what OTP's
 * `unlink_flush` guarantees. Keeping that in one place is the point of this
 * module: a stop that forgot to bump the epoch, or to unwatch, would let a
 * stale exit restart a child twice.
 */
import type { ActorRef, ExitSignal, LocalActorRef } from '../actors/types.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { ResolvedChildSpec } from './childSpec.js';
import { childInfo } from './childInfo.js';
import type { SupervisorImpl } from './Supervisor.js';
import type { ChildCounts, ChildInfo, ChildStatus } from './types.js';

/** One child spec and its current incarnation. */
export interface ChildRecord {
  readonly id: string;
  readonly spec: ResolvedChildSpec;
  readonly input: unknown;
  ref: LocalActorRef | undefined;
  /** The nested supervisor, when `ref` is one's actor. */
  nested: SupervisorImpl | undefined;
  unwatch: (() => void) | undefined;
  status: ChildStatus;
  /** Bumped whenever the supervisor starts or stops this child (see the module comment). */
  epoch: number;
  /** A delayed restart (`restart-after`) waiting on the clock. */
  timer: TimerHandle | undefined;
  /** Ends the recurring Check of the current incarnation (childMonitor.ts). */
  stopMonitor: (() => void) | undefined;
}

/** What a detached record was running: the caller stops it. */
export interface Detached {
  readonly rec: ChildRecord;
  readonly ref: LocalActorRef | undefined;
  readonly nested: SupervisorImpl | undefined;
}

/** The input a spec's child starts with (remote children carry theirs too). */
export function inputOf(spec: ResolvedChildSpec): unknown {
  return spec.start.kind === 'logic' || spec.start.kind === 'remote' ? spec.start.input : undefined;
}

export class ChildTable {
  private readonly records = new Map<string, ChildRecord>();

  constructor(private readonly clock: Clock) {}

  get size(): number {
    return this.records.size;
  }

  get(id: string): ChildRecord | undefined {
    return this.records.get(id);
  }

  /** Records in start order. */
  values(): IterableIterator<ChildRecord> {
    return this.records.values();
  }

  ids(): string[] {
    return [...this.records.keys()];
  }

  /** Append a record for `spec` (not started). */
  add(id: string, spec: ResolvedChildSpec, input: unknown = inputOf(spec)): ChildRecord {
    const rec: ChildRecord = { id, spec, input, ref: undefined, nested: undefined, unwatch: undefined, status: 'terminated', epoch: 0, timer: undefined, stopMonitor: undefined };
    this.records.set(id, rec);
    return rec;
  }

  /** Forget `rec`, if it is still the record for its id. */
  remove(rec: ChildRecord): void {
    if (this.records.get(rec.id) === rec) this.records.delete(rec.id);
  }

  delete(id: string): void {
    this.records.delete(id);
  }

  /** True while `rec` is this table's record for its id and has not been started or stopped since `epoch`. */
  isCurrent(rec: ChildRecord, epoch: number): boolean {
    return rec.epoch === epoch && this.records.get(rec.id) === rec;
  }

  /** The record of a child id, or of the running actor `target`. */
  find(target: string | ActorRef): ChildRecord | undefined {
    if (typeof target === 'string') return this.records.get(target);
    for (const r of this.records.values()) {
      if (r.ref !== undefined && (r.ref === target || (target.isLocal && r.ref.id === target.id))) return r;
    }
    return undefined;
  }

  /**
   * `rec` runs `ref` now (and `nested`, for a supervisor): a new epoch, and a
   * watch that hands the exit to `onExit` only while that epoch is current.
   */
  started(rec: ChildRecord, ref: LocalActorRef, nested: SupervisorImpl | undefined, onExit: (rec: ChildRecord, epoch: number, exit: ExitSignal) => void): void {
    rec.ref = ref;
    rec.nested = nested;
    rec.status = 'running';
    const epoch = ++rec.epoch;
    rec.unwatch = ref.onExit((exit) => {
      if (rec.epoch === epoch) onExit(rec, epoch, exit);
    });
  }

  /** The child ended by itself: its incarnation is gone, its epoch stays (the exit being handled is current). */
  ended(rec: ChildRecord): void {
    this.stopMonitor(rec);
    rec.ref = undefined;
    rec.nested = undefined;
    rec.unwatch = undefined;
    rec.status = 'terminated';
  }

  /**
   * The supervisor is about to stop `rec`'s child (or has lost it): stop
   * watching first, so that the exit it causes is never reported, cancel a
   * delayed restart, and start a new epoch. Returns what was running.
   */
  detach(rec: ChildRecord): Detached {
    const ref = rec.ref;
    const nested = rec.nested;
    rec.unwatch?.();
    rec.unwatch = undefined;
    this.stopMonitor(rec);
    this.cancelTimer(rec);
    rec.epoch++;
    rec.ref = undefined;
    rec.nested = undefined;
    rec.status = 'terminated';
    return { rec, ref, nested };
  }

  /** Detach every record and empty the table; start order. */
  detachAll(): Detached[] {
    const out: Detached[] = [];
    for (const r of this.records.values()) out.push(this.detach(r));
    this.records.clear();
    return out;
  }

  clear(): void {
    this.records.clear();
  }

  /** `rec` will be restarted by `fire` after `ms` on the clock. */
  restartLater(rec: ChildRecord, ms: number, fire: () => void): void {
    rec.status = 'restarting';
    rec.timer = this.clock.setTimer(() => {
      rec.timer = undefined;
      fire();
    }, ms);
  }

  private stopMonitor(rec: ChildRecord): void {
    rec.stopMonitor?.();
    rec.stopMonitor = undefined;
  }

  cancelTimer(rec: ChildRecord): void {
    if (rec.timer === undefined) return;
    this.clock.clearTimer(rec.timer);
    rec.timer = undefined;
  }

  cancelTimers(): void {
    for (const r of this.records.values()) this.cancelTimer(r);
  }

  /** OTP `which_children/1`. */
  infos(): ChildInfo[] {
    const out: ChildInfo[] = [];
    for (const r of this.records.values()) out.push(childInfo(r.id, r.ref, r.spec.type, r.spec.restart, r.status));
    return out;
  }

  /** OTP `count_children/1`; a `simple_one_for_one` supervisor has one spec, its template. */
  counts(simple: boolean): ChildCounts {
    let active = 0;
    let supervisors = 0;
    let workers = 0;
    for (const r of this.records.values()) {
      if (r.ref !== undefined && r.ref.exit === undefined) active++;
      if (r.spec.type === 'supervisor') supervisors++;
      else workers++;
    }
    return { specs: simple ? 1 : this.records.size, active, supervisors, workers };
  }

  /** Ids of children waiting for a restart, start order. */
  restarting(): string[] {
    const out: string[] = [];
    for (const r of this.records.values()) if (r.status === 'restarting') out.push(r.id);
    return out;
  }

  /** Delayed restarts pending, for leak tests. */
  get timers(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.timer !== undefined) n++;
    return n;
  }
}
