/**
 * Time, injected. Production uses {@link monotonicClock}; tests use
 * {@link ManualClock} and advance it by hand, so nothing waits on wall time.
 */

export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Monotonic milliseconds; only differences are meaningful. */
  now(): number;
  /**
   * Call `fn` once after `ms`. A timer does not keep the process alive unless
   * `keepAlive` is true: ask deadlines set it, because someone awaits them;
   * heartbeats and shutdown timers do not.
   */
  setTimer(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/**
 * The longest delay `setTimeout` honours: Node fires a longer one after 1 ms
 * (with a TimeoutOverflowWarning), so a 30-day ask deadline would expire at once.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A timer that may outlive {@link MAX_TIMER_MS}: re-armed in steps until its deadline. */
interface LongTimer {
  current: ReturnType<typeof setTimeout>;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer(fn, ms, keepAlive) {
    const arm = (left: number): ReturnType<typeof setTimeout> => {
      const step = Math.min(left, MAX_TIMER_MS);
      const t = setTimeout(() => {
        if (left > step) timer.current = arm(left - step);
        else fn();
      }, step);
      // A background timer must not keep the process alive on its own.
      if (keepAlive !== true) t.unref?.();
      return t;
    };
    const timer: LongTimer = { current: undefined as unknown as ReturnType<typeof setTimeout> };
    timer.current = arm(ms);
    return timer as unknown as TimerHandle;
  },
  clearTimer(handle) {
    clearTimeout((handle as unknown as LongTimer).current);
  },
};

interface ManualTimer {
  at: number;
  seq: number;
  fn: () => void;
}

/** A clock that moves only when told to. Timers fire in deadline order, ties in creation order. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<ManualTimer>();

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as ManualTimer);
  }

  /** Number of timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Move time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const target = this.t + ms;
    for (;;) {
      let next: ManualTimer | undefined;
      for (const timer of this.timers) {
        if (timer.at <= target && (!next || timer.at < next.at || (timer.at === next.at && timer.seq < next.seq))) {
          next = timer;
        }
      }
      if (!next) break;
      this.timers.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
    }
    this.t = target;
  }
}
