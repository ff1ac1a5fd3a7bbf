/**
 * The order in which a supervisor stops its children (OTP `terminate/2`).
 *
 * Reverse start order, one at a time, so that a child never outlives one it
 * was started after (the later one may depend on it); all at once, in no
 * defined order, for `simple_one_for_one` instances, as OTP's
 * `terminate_dynamic_children/1` does. Used both by a supervisor's own
 * terminate and when a killed supervisor stops what it left.
 */
import type { Strategy } from './types.js';

/** Run `stop` over `children` (given in start order) in shutdown order, resolving when every stop has. */
export async function inShutdownOrder<T>(strategy: Strategy, children: readonly T[], stop: (child: T) => Promise<void>): Promise<void> {
  if (strategy === 'simple_one_for_one') {
    await Promise.all(children.map((c) => stop(c)));
    return;
  }
  for (let i = children.length - 1; i >= 0; i--) await stop(children[i]!);
}
