/**
 * Per-endpoint request statistics, as `$SRV.STATS` reports them (ADR-32):
 * requests, errors, the last error's text and the processing time.
 *
 * The instance layer calls it once per request:
 * ```ts
 * const mark = stats.begin();
 * try { ...answer...; stats.end(mark); } catch (err) { stats.end(mark, err); }
 * ```
 * - Every request counts in `numRequests`, an error one in `numErrors` too
 *   (as the Go library counts them), and its message becomes `lastError`.
 * - Time is the injected clock's milliseconds, summed as a float and turned
 *   into integer nanoseconds only when read: two additions and a clock read
 *   per request, no allocation.
 * - `reset()` zeroes the counters (the `$SRV` "restart" of the Go library).
 */
import { type Clock, monotonicClock } from '../../clock.js';

/** What `$SRV.STATS` needs from one endpoint. Times in nanoseconds (integers). */
export interface EndpointStatsSnapshot {
  readonly numRequests: number;
  readonly numErrors: number;
  /** `''` until the first error. */
  readonly lastError: string;
  readonly processingTimeNs: number;
  readonly averageProcessingTimeNs: number;
}

const MAX_ERROR_TEXT = 1024;

export class EndpointStats {
  #requests = 0;
  #errors = 0;
  #lastError = '';
  #totalMs = 0;
  readonly #clock: Clock;

  constructor(clock: Clock = monotonicClock) {
    this.#clock = clock;
  }

  /** A start mark for {@link end}. */
  begin(): number {
    return this.#clock.now();
  }

  /** Count one request begun at `mark`; pass `error` when it was answered with an error. */
  end(mark: number, error?: unknown): void {
    this.record(this.#clock.now() - mark, error);
  }

  /** Count one request that took `durationMs` (when the caller timed it itself). */
  record(durationMs: number, error?: unknown): void {
    this.#requests++;
    if (durationMs > 0) this.#totalMs += durationMs;
    if (error !== undefined) {
      this.#errors++;
      this.#lastError = errorText(error);
    }
  }

  reset(): void {
    this.#requests = 0;
    this.#errors = 0;
    this.#lastError = '';
    this.#totalMs = 0;
  }

  snapshot(): EndpointStatsSnapshot {
    const processingTimeNs = Math.round(this.#totalMs * 1e6);
    return {
      numRequests: this.#requests,
      numErrors: this.#errors,
      lastError: this.#lastError,
      processingTimeNs,
      averageProcessingTimeNs: this.#requests === 0 ? 0 : Math.round(processingTimeNs / this.#requests),
    };
  }
}

function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : typeof error === 'string' ? error : String(error);
  return text.length > MAX_ERROR_TEXT ? text.slice(0, MAX_ERROR_TEXT) : text;
}
