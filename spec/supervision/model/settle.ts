/**
 * Wait until the runtime has nothing left to do, with a deadline.
 *
 * The supervision runtime reacts to exits and API calls through the node's
 * scheduler and promise chains; none of that needs wall time (the clock is a
 * ManualClock). So "settled" means: the scheduler is idle and nothing
 * observable changed for a few turns of the event loop. Each turn is one
 * `setImmediate`, which runs only after every pending microtask, so a turn
 * with no change is a real quiet point, not a guess. No fixed sleeps.
 */
import type { ActorSystem } from '../../../src/actors/ActorSystem.js';

export interface SettleOptions {
  /** Give up after this many ms of wall time. Default 2000. */
  readonly timeout?: number;
  /** Consecutive quiet turns required. Default 3. */
  readonly quietTurns?: number;
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Resolve once `system`'s scheduler is idle and `fingerprint()` has not
 * changed for `quietTurns` event-loop turns; reject at the deadline.
 */
export async function settle(system: ActorSystem, fingerprint: () => string, options: SettleOptions = {}): Promise<void> {
  const timeout = options.timeout ?? 2000;
  const quietTurns = options.quietTurns ?? 3;
  const deadline = performance.now() + timeout;
  let last = fingerprint();
  let quiet = 0;
  for (;;) {
    await turn();
    const now = fingerprint();
    if (system.scheduler.idle && now === last) {
      if (++quiet >= quietTurns) return;
    } else {
      quiet = 0;
    }
    last = now;
    if (performance.now() > deadline) {
      throw new Error(`settle: runtime still busy after ${timeout} ms (last fingerprint ${now})`);
    }
  }
}
