/**
 * Restart intensity: OTP's `supervisor:add_restart/3`, as a pure function
 * over timestamps from the injected monotonic clock.
 *
 * A supervisor keeps the clock times of its recent restarts, oldest first.
 * Each restart is added to that history; restarts that have left the window
 * are dropped; if more than `intensity` remain, the supervisor has reached its
 * maximum restart intensity and gives up (it stops its children and ends with
 * reason `shutdown`).
 *
 * ## The window
 * As OTP: a restart stays in the window while `r >= now - period`, that is
 * `now - r <= period`. A restart exactly `period` ms old still counts. OTP
 * measures in whole seconds and we in milliseconds; the comparison is the
 * same, so a tree tuned against OTP behaves the same here.
 *
 * | intensity | period | history (ms)  | now  | kept + now      | exceeded |
 * |-----------|--------|---------------|------|-----------------|----------|
 * | 1         | 5000   | []            | 0    | [0]             | no       |
 * | 1         | 5000   | [0]           | 4999 | [0, 4999]       | yes      |
 * | 1         | 5000   | [0]           | 5000 | [0, 5000]       | yes      |
 * | 1         | 5000   | [0]           | 5001 | [5001]          | no       |
 * | 0         | 5000   | []            | 0    | [0]             | yes      |
 */

export interface RestartCheck {
  /** The history after this restart: in-window restarts plus `now`, oldest first. */
  readonly history: readonly number[];
  /** More than `intensity` restarts inside the window. */
  readonly exceeded: boolean;
}

/** OTP `add_restart/3`: record a restart at `now` and say whether intensity is exceeded. */
export function addRestart(history: readonly number[], now: number, intensity: number, period: number): RestartCheck {
  const first = firstInWindow(history, now, period);
  // Sized once: slice-then-push would grow the copy past its length, and a
  // supervisor makes one of these per restart (each report keeps its own).
  const kept = history.length - first;
  const next = new Array<number>(kept + 1);
  for (let i = 0; i < kept; i++) next[i] = history[first + i]!;
  next[kept] = now;
  return { history: next, exceeded: next.length > intensity };
}

/**
 * Would one more restart at `now` exceed `intensity`? Same answer as
 * {@link addRestart}, without allocating, looking at no more than the newest
 * `intensity` entries: it is exceeded exactly when that many are in the
 * window already.
 */
export function wouldExceed(history: readonly number[], now: number, intensity: number, period: number): boolean {
  if (history.length < intensity) return false;
  for (let i = history.length - 1; i >= history.length - intensity; i--) {
    if (now - history[i]! > period) return false;
  }
  return true;
}

/** The restarts of `history` still inside the window at `now`, oldest first. */
export function inWindow(history: readonly number[], now: number, period: number): readonly number[] {
  const first = firstInWindow(history, now, period);
  return first === 0 ? history : history.slice(first);
}

/**
 * Index of the oldest restart still in the window. Walks from the newest
 * entry back, as OTP's `lists:takewhile` over its newest-first list does, so
 * an entry is kept only if every newer one is too.
 */
function firstInWindow(history: readonly number[], now: number, period: number): number {
  let i = history.length;
  while (i > 0 && now - history[i - 1]! <= period) i--;
  return i;
}
