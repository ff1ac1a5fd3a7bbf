/**
 * `LoopStallWatch`: how long this process's event loop was recently unable
 * to run timers, measured by a background tick that notices when it fires
 * late.
 *
 * Why a transport wants it: nats.js reads its socket on the event loop, so a
 * loop that is blocked (a long synchronous handler, a `spawnSync`, a GC
 * storm) is a client that stops reading, and nats-server cuts such a client
 * off as a slow consumer without telling it why. A recent stall is the
 * client-side evidence that a silent disconnect was that (see
 * `NatsTransport`, "Slow consumers").
 *
 * - The tick runs every {@link TICK_MS} on the injected clock and never keeps
 *   the process alive. A tick that fires `d` ms late records a stall of `d`.
 * - {@link LoopStallWatch.recentStall} is the longest stall that ended in the
 *   last {@link WINDOW_MS}, or the one still under way (a tick overdue now),
 *   whichever is longer: a caller woken by the same wake-up as the late tick
 *   may run before it.
 * - The pure part (`record`, `recentStall` with an explicit `now`) is what
 *   tests drive; `start`/`stop` only arm the tick.
 */
import { type Clock, monotonicClock, type TimerHandle } from '../clock.js';

/** Interval of the background tick. */
export const TICK_MS = 100;
/** How far back a stall still counts as recent. */
export const WINDOW_MS = 5000;
/** Lateness below this is timer jitter, not a stall, and is not kept. */
const MIN_STALL_MS = 10;

interface Stall {
  readonly endedAt: number;
  readonly ms: number;
}

export class LoopStallWatch {
  readonly #clock: Clock;
  #timer: TimerHandle | undefined;
  /** When the tick last ran (or was armed). */
  #lastTick: number;
  /** Stalls that ended within the window, oldest first; short, as stalls are rare. */
  #stalls: Stall[] = [];

  constructor(clock: Clock = monotonicClock) {
    this.#clock = clock;
    this.#lastTick = clock.now();
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#lastTick = this.#clock.now();
    this.#arm();
  }

  stop(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
  }

  /** A tick ran at `now`: record how late it was. */
  record(now: number): void {
    const late = now - this.#lastTick - TICK_MS;
    this.#lastTick = now;
    this.#prune(now);
    if (late >= MIN_STALL_MS) this.#stalls.push({ endedAt: now, ms: late });
  }

  /** Longest stall, in ms, that ended within the window before `now` or is still going on at `now`. 0 when none. */
  recentStall(now: number = this.#clock.now()): number {
    this.#prune(now);
    let longest = Math.max(0, now - this.#lastTick - TICK_MS);
    for (const s of this.#stalls) longest = Math.max(longest, s.ms);
    return longest;
  }

  #prune(now: number): void {
    while (this.#stalls.length > 0 && this.#stalls[0]!.endedAt < now - WINDOW_MS) this.#stalls.shift();
  }

  #arm(): void {
    this.#timer = this.#clock.setTimer(() => {
      this.record(this.#clock.now());
      this.#arm();
    }, TICK_MS);
  }
}
