/**
 * Delayed events an XState actor has scheduled for itself (`after`
 * transitions, `raise(..., { delay })`), kept beside its persisted snapshot
 * and armed again on restore. XState does neither (#5331, open): its
 * scheduler lives in the actor system, not in the snapshot, so a machine
 * restored while waiting in an `after` state stays there for ever.
 *
 * ## What is kept
 * `{ id, event, dueAt }` for each self-addressed delayed event: `dueAt` is
 * wall-clock ms (`Date.now()`, the clock XState stamps `startedAt` with).
 * A delayed send to another actor is not kept: its target cannot travel.
 *
 * ## Restored: as if the timer had kept running
 * Of XState's three candidate rules (resume from the due time, from the
 * remaining time, or restart the delay) this is the first: the event is due
 * at its original time, at once if that has passed while the instance was
 * stopped or failing over. A deadline stays a deadline. Nodes with skewed
 * wall clocks move it by their skew.
 *
 * ## How it is re-armed
 * Through the actor's own scheduler, under the same id, so leaving the state
 * cancels it exactly as XState cancels its own `after` (and the next
 * snapshot keeps it pending); and on the injected `Clock` as well, so a
 * test's ManualClock can make it due. Whichever fires first delivers the
 * event and cancels the other: delivered once.
 */
import type { AnyActorRef, AnyActorScope, EventObject } from 'xstate';
import type { Clock, TimerHandle } from '../../clock.js';

export interface PendingTimer {
  readonly id: string;
  readonly event: EventObject;
  /** Wall-clock ms at which the event is due. */
  readonly dueAt: number;
}

interface Scheduled {
  readonly id: string;
  readonly event: EventObject;
  readonly startedAt: number;
  readonly delay: number;
  readonly source: AnyActorRef;
  readonly target: AnyActorRef;
}

function scheduledOf(scope: AnyActorScope): Scheduled[] {
  return Object.values(scope.system.getSnapshot()._scheduledEvents as Record<string, Scheduled>);
}

/** The delayed events `scope`'s actor has pending for itself, with their due times. */
export function pendingTimers(scope: AnyActorScope): PendingTimer[] {
  const out: PendingTimer[] = [];
  for (const s of scheduledOf(scope)) {
    if (s.source === scope.self && s.target === scope.self) out.push({ id: s.id, event: s.event, dueAt: s.startedAt + s.delay });
  }
  return out;
}

/** Timers as read back from a store: anything that is not one is dropped. */
export function asPendingTimers(value: unknown): PendingTimer[] {
  if (!Array.isArray(value)) return [];
  return value.filter(
    (t): t is PendingTimer =>
      typeof t === 'object' &&
      t !== null &&
      typeof t.id === 'string' &&
      typeof t.event === 'object' &&
      t.event !== null &&
      typeof t.event.type === 'string' &&
      typeof t.dueAt === 'number' &&
      Number.isFinite(t.dueAt),
  );
}

/**
 * Arm `timers` again on the started actor of `scope` (see the module
 * comment). Returns a function that drops the clock's timers (the
 * scheduler's end with the actor).
 */
export function rearmTimers(scope: AnyActorScope, timers: readonly PendingTimer[], clock: Clock, wallNow: () => number = Date.now): () => void {
  const handles = new Set<TimerHandle>();
  const self = scope.self;
  for (const t of timers) {
    const wait = Math.max(0, t.dueAt - wallNow());
    scope.system.scheduler.schedule(self, self, t.event, wait, t.id);
    const armed = scheduledOf(scope).find((s) => s.source === self && s.id === t.id);
    const handle = clock.setTimer(() => {
      handles.delete(handle);
      // Gone: delivered by the scheduler already, cancelled by leaving the state, or the actor stopped. Another entry
      // under the same id is the state entered again, with a delay of its own: not ours to fire early.
      if (armed === undefined || !scheduledOf(scope).includes(armed)) return;
      scope.system.scheduler.cancel(self, t.id);
      self.send(t.event);
    }, wait);
    handles.add(handle);
  }
  return () => {
    for (const h of handles) clock.clearTimer(h);
    handles.clear();
  };
}
