/**
 * The recurring monitor of a supervised child (Pacemaker's recurring
 * `monitor` operation): with `monitor: { every, level, timeout? }` in its
 * child spec, the supervisor asks the child's Check at `level` every `every`
 * ms on the node's clock, and hands on what it hears.
 *
 * | Check answer                                   | verdict    | the supervisor ...                                   |
 * |------------------------------------------------|------------|------------------------------------------------------|
 * | 0 `OCF_SUCCESS`, 8 `OCF_RUNNING_PROMOTED`      | `ok`       | waits `every`, checks again                          |
 * | 190 `OCF_DEGRADED`, 191 `OCF_DEGRADED_PROMOTED`| `degraded` | reports `degraded` to the coordinator (default: log only), once per episode; keeps checking |
 * | any other code                                 | `failed`   | stops the child and reports a failure, as for a crash |
 * | no answer within `timeout`                     | `failed`   | the same (Pacemaker treats a timed-out monitor as failed) |
 *
 * A degraded child is reported when it becomes degraded, not on every check
 * while it stays so: a rule sees each episode once and the decision log is
 * not flooded by a slow child. An `ok` answer ends the episode.
 *
 * Checks never overlap: the next is due `every` ms after the previous one
 * answered (or timed out) and its verdict was handled. The loop ends when
 * the incarnation it watches ends (`cancel`), or after a `failed` verdict:
 * the restarted child gets a monitor of its own.
 */
import type { CheckLevel, CheckResult } from '../actors/ocf.js';
import { OCF } from '../actors/ocf.js';
import type { LocalActorRef } from '../actors/types.js';
import type { Clock, TimerHandle } from '../clock.js';
import { CheckFailedError } from '../errors.js';
import type { CheckReport } from './types.js';

export interface ChildMonitorSpec {
  /** Interval between checks, ms. */
  readonly every: number;
  /** OCF monitor depth: 0, 10 or 20. */
  readonly level: CheckLevel;
  /** Deadline for an answer, ms. */
  readonly timeout: number;
}

export type MonitorVerdict =
  | { readonly kind: 'degraded'; readonly result: CheckResult }
  | { readonly kind: 'failed'; readonly result: CheckResult | undefined };

export interface MonitorHandlers {
  /** A verdict that is not `ok`. The loop waits for the returned promise before the next check. */
  verdict(v: MonitorVerdict): void | Promise<void>;
}

/** Classify one Check answer. */
export function monitorVerdict(result: CheckResult): 'ok' | 'degraded' | 'failed' {
  switch (result.code) {
    case OCF.SUCCESS:
    case OCF.RUNNING_PROMOTED:
      return 'ok';
    case OCF.DEGRADED:
    case OCF.DEGRADED_PROMOTED:
      return 'degraded';
    default:
      return 'failed';
  }
}

/** Start checking `ref`; returns `cancel` (idempotent; no verdict is handed on after it). */
export function startChildMonitor(clock: Clock, ref: LocalActorRef, spec: ChildMonitorSpec, handlers: MonitorHandlers): () => void {
  let cancelled = false;
  let timer: TimerHandle | undefined;
  let deadline: TimerHandle | undefined;
  let degraded = false;

  const schedule = (): void => {
    if (!cancelled) timer = clock.setTimer(tick, spec.every);
  };

  const handOn = (v: MonitorVerdict): void => {
    const pending = handlers.verdict(v);
    if (v.kind === 'failed') return;
    if (pending instanceof Promise) void pending.then(schedule, schedule);
    else schedule();
  };

  function tick(): void {
    timer = undefined;
    if (cancelled || ref.exit !== undefined) return;
    let settled = false;
    const settle = (): void => {
      settled = true;
      if (deadline !== undefined) clock.clearTimer(deadline);
      deadline = undefined;
    };
    deadline = clock.setTimer(() => {
      deadline = undefined;
      if (settled || cancelled) return;
      // An answer already on its way (resolved, its callbacks queued) wins
      // over a deadline that fires in the same turn: a clock that jumps
      // (a ManualClock advanced past the deadline, or a loop that was
      // blocked) must not fail a child that did answer.
      setImmediate(() => {
        if (settled || cancelled) return;
        settle();
        handOn({ kind: 'failed', result: undefined });
      });
    }, spec.timeout);
    ref.check(spec.level).then(
      (result) => {
        if (settled || cancelled) return;
        settle();
        // The child is ending while we asked: its exit is the supervisor's to handle, not ours.
        if (ref.exit !== undefined || ref.lifecycle !== 'running') return;
        const kind = monitorVerdict(result);
        if (kind === 'ok') {
          degraded = false;
          schedule();
        } else if (kind === 'degraded') {
          if (degraded) return schedule();
          degraded = true;
          handOn({ kind, result });
        } else {
          handOn({ kind, result });
        }
      },
      () => {
        // check() rejects only for an invalid level, which validation rules out; treat it as no answer.
        if (settled || cancelled) return;
        settle();
        handOn({ kind: 'failed', result: undefined });
      },
    );
  }

  schedule();
  return () => {
    cancelled = true;
    if (timer !== undefined) clock.clearTimer(timer);
    if (deadline !== undefined) clock.clearTimer(deadline);
    timer = undefined;
    deadline = undefined;
  };
}

/** The report's `check` field for a verdict. */
export function checkReport(v: MonitorVerdict, spec: ChildMonitorSpec): CheckReport {
  if (v.result === undefined) return { level: spec.level, reason: `no answer within ${spec.timeout} ms`, timedOut: true };
  return { level: spec.level, code: v.result.code, reason: `${v.result.label}: ${v.result.reason}` };
}

/** The error a failed check is reported with; its `ocf` is the code answered, so OCF-class rules apply. */
export function checkFailure(ref: LocalActorRef, v: MonitorVerdict, spec: ChildMonitorSpec): CheckFailedError {
  const who = ref.name ?? ref.id;
  if (v.result === undefined) return new CheckFailedError(who, spec.level, undefined, `no answer within ${spec.timeout} ms`);
  return new CheckFailedError(who, spec.level, v.result.code, `${v.result.label} (${v.result.reason})`);
}
