/**
 * This node's own link to the server, proven by the echo of its heartbeats.
 *
 * Each node subscribes to its own heartbeat subject: the echo coming back
 * proves the server still delivers to us. Own echo missing for
 * `isolatedAfterMs` (two heartbeat periods) means our link is gone even if
 * the client has not noticed yet (a partition): Membership then judges
 * nobody, and reports itself `isolated`.
 *
 * `confirmedAt` is the send time (this clock) of the latest heartbeat whose
 * echo came back: the server still had our link then. Unlike the echo's
 * arrival time, it does not move forward when a paused process reads old
 * echoes on waking, so `confirmedAt + leaseMs` is a safe self-fencing deadline.
 */
import type { Clock } from '../../clock.js';

/** How many recent send times are kept: echoes older than this confirm nothing. */
const SENT_RING = 16;

export class SelfLink {
  readonly #clock: Clock;
  readonly #isolatedAfterMs: number;
  #seq = 0;
  #lastEchoAt = 0;
  /** Send times of recent heartbeats by seq (a small ring). */
  readonly #sentAt = new Map<number, number>();
  #confirmedAt = Number.NEGATIVE_INFINITY;

  constructor(clock: Clock, isolatedAfterMs: number) {
    this.#clock = clock;
    this.#isolatedAfterMs = isolatedAfterMs;
  }

  get confirmedAt(): number {
    return this.#confirmedAt;
  }

  /** The sequence number of the next heartbeat. */
  nextSeq(): number {
    return ++this.#seq;
  }

  /** Heartbeat `seq` was sent at `at`. */
  sent(seq: number, at: number): void {
    this.#sentAt.set(seq, at);
    this.#sentAt.delete(seq - SENT_RING);
  }

  /** Our heartbeat `seq` came back at `now`; `current` when it was sent by this incarnation. */
  echoed(seq: number, current: boolean, now: number): void {
    this.#lastEchoAt = now;
    const sent = current ? this.#sentAt.get(seq) : undefined;
    if (sent !== undefined && sent > this.#confirmedAt) this.#confirmedAt = sent;
  }

  /** Count the link as heard at `now` (on start, and after a reconnect). */
  trust(now: number): void {
    this.#lastEchoAt = now;
  }

  /** Our event loop stalled for `ms`: a missing echo meanwhile is no evidence. */
  credit(ms: number, now: number): void {
    this.#lastEchoAt = Math.min(now, this.#lastEchoAt + ms);
  }

  /** True when no echo came back for longer than `isolatedAfterMs`. */
  silent(now: number = this.#clock.now()): boolean {
    return now - this.#lastEchoAt > this.#isolatedAfterMs;
  }
}
