/**
 * Restart strategies as a pure plan (OTP `supervisor:restart/3`).
 *
 * Given the strategy, the children's ids in start order and the child that is
 * to be restarted, the plan says which children to stop (in reverse start
 * order), which of those are then dropped, and which to start (in start
 * order). The supervisor carries the plan out; nothing here touches an actor.
 *
 * | strategy             | stop                                  | start                         |
 * |----------------------|---------------------------------------|-------------------------------|
 * | `one_for_one`        | nothing                               | the failed child              |
 * | `simple_one_for_one` | nothing                               | the failed child              |
 * | `one_for_all`        | every other child, last started first | all children                  |
 * | `rest_for_one`       | children started after the failed one, last first | the failed child and those after it |
 *
 * As OTP's `terminate_children/2`, temporary siblings that are stopped are
 * removed rather than restarted (they are never restarted). Every other
 * child in the affected range is started, including one that was not running
 * (terminated with `terminateChild`, or a transient child that had ended
 * normally): OTP's `start_children/2` starts every spec it is given.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Strategy } from '../types.js';

export interface RestartPlan {
  /** Children to stop, in reverse start order. Never contains the failed child. */
  readonly stop: readonly string[];
  /** Stopped children to drop afterwards (temporary ones). */
  readonly remove: readonly string[];
  /** Children to start, in start order. Always begins with or contains the failed child. */
  readonly start: readonly string[];
}

export function planRestart(
  strategy: Strategy,
  ids: readonly string[],
  failedId: string,
  isTemporary: (id: string) => boolean = () => false,
): RestartPlan {
  const at = ids.indexOf(failedId);
  if (at < 0) throw new InvalidArgumentError('failedId', `${failedId} is not among the children`);
  if (strategy === 'one_for_one' || strategy === 'simple_one_for_one') {
    return { stop: [], remove: [], start: [failedId] };
  }
  const affected = strategy === 'one_for_all' ? ids : ids.slice(at);
  const stop: string[] = [];
  const remove: string[] = [];
  const start: string[] = [];
  for (let i = affected.length - 1; i >= 0; i--) {
    const id = affected[i]!;
    if (id === failedId) continue;
    stop.push(id);
    if (isTemporary(id)) remove.push(id);
  }
  for (const id of affected) {
    if (id === failedId || !isTemporary(id)) start.push(id);
  }
  return { stop, remove, start };
}
