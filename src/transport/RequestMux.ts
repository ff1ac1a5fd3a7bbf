/**
 * Request/reply correlation: one wildcard inbox subscription, a correlation
 * map, and ONE deadline timer for every request in flight, on an injected
 * {@link Clock}. Both transports' `request()` use it (cluster RPCs, SWIM
 * probes) and so does a node's Requester (asks, checks, statuses).
 *
 * - Each request gets the reply subject `<prefix>.<token>` and a pending
 *   entry. The owner subscribes to the replies (the transports to
 *   {@link RequestMux.filter}, `<prefix>.*`) and hands them to
 *   {@link RequestMux.dispatch}, or takes the entry itself with
 *   {@link RequestMux.take} to decode the reply its own way.
 * - The first reply settles a request; later ones find no entry (`take`
 *   returns `undefined`: a late or a second reply).
 * - A reply with `noResponders: true` (the server's 503 status) rejects with
 *   `NoRespondersError` at once (in `dispatch`).
 * - At its deadline a request rejects with `TimeoutError(label, timeout)`.
 * - {@link RequestMux.failSubject} rejects the requests sent to one subject
 *   (the server refused the publish); {@link RequestMux.rejectAll} rejects
 *   everything, on close.
 *
 * ## One timer
 * Deadlines sit in a binary min-heap (earliest first; ties in order of
 * arrival). The clock timer is armed for the earliest deadline only:
 * ```
 *   add ──► heap push ── earlier than the armed deadline? ──► re-arm
 *   settle ──► heap remove ── nothing left in flight? ──► disarm
 *   timer ──► reject every entry whose deadline has come ──► arm for the next one
 * ```
 * Settling the earliest entry leaves the timer as it is: it fires, finds
 * nothing due and arms for the new earliest. So a steady stream of requests
 * with one timeout costs about one timer per timeout period instead of one
 * per request. The timer is armed with `keepAlive`: while a request is in
 * flight the process stays alive, so whoever awaits it sees its answer or
 * its `TimeoutError` (issue 7, defect 6); with nothing in flight no timer is
 * left to hold it.
 *
 * One subscription instead of one per request saves a SUB/UNSUB round of
 * protocol per call, and keeps nats.js's `request()` (which builds an Error
 * for its stack trace on every call) off the hot path.
 */
import { type Clock, monotonicClock, type TimerHandle } from '../clock.js';
import { InvalidArgumentError, NoRespondersError, TimeoutError } from '../errors.js';
import type { Msg } from './Transport.js';

/** One request in flight. */
export interface PendingRequest<T = Msg> extends RequestSlot<T> {
  /** Where the request was published. */
  readonly subject: string;
  /** What a `TimeoutError` names: the subject, or the actor name asked. */
  readonly label: string;
  readonly resolve: (value: T) => void;
  readonly reject: (err: unknown) => void;
  /** @internal */
  readonly _timeout: number;
  /** @internal Clock time at which it times out. */
  readonly _deadline: number;
  /** @internal Arrival order, for equal deadlines. */
  readonly _seq: number;
  /** @internal Position in the heap; -1 once out of it. */
  _index: number;
}

/** What {@link RequestMux.add} gives back: the reply subject to publish with, and the promise of the answer. */
export interface RequestSlot<T = Msg> {
  readonly token: string;
  readonly reply: string;
  readonly promise: Promise<T>;
}

interface Entry<T> extends PendingRequest<T> {
  promise: Promise<T>;
}

/**
 * Longest delay a Node timer takes: a longer one overflows and fires after
 * 1 ms. A farther deadline is reached in steps of at most this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Heap order: earlier deadline first, then earlier arrival. */
function earlier(a: { readonly _deadline: number; readonly _seq: number }, b: { readonly _deadline: number; readonly _seq: number }): boolean {
  return a._deadline < b._deadline || (a._deadline === b._deadline && a._seq < b._seq);
}

/** @internal */
export class RequestMux<T = Msg> {
  /** Inbox prefix, `_INBOX.<unique>` (a node's Requester uses `_INBOX.<unique>.r`). */
  readonly prefix: string;
  /** The wildcard filter the owning connection subscribes to: `<prefix>.*`. */
  readonly filter: string;
  readonly #clock: Clock;
  readonly #skip: number;
  readonly #pending = new Map<string, PendingRequest<T>>();
  readonly #heap: PendingRequest<T>[] = [];
  #seq = 0;
  #timer: TimerHandle | undefined;
  /** Deadline the timer is armed for; Infinity when disarmed. */
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(prefix: string, clock: Clock = monotonicClock) {
    this.prefix = prefix;
    this.filter = `${prefix}.*`;
    this.#clock = clock;
    this.#skip = prefix.length + 1;
  }

  /** Requests awaiting a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Register a request to `subject` that times out after `timeout` ms;
   * returns the reply subject to publish with, and the promise of the reply.
   * `label` is what its `TimeoutError` names (default: the subject). Throws
   * `InvalidArgumentError` for a bad timeout.
   */
  add(subject: string, timeout: number, label: string = subject): RequestSlot<T> {
    if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new InvalidArgumentError('timeout', 'must be a finite number of milliseconds >= 0');
    }
    const seq = this.#seq++;
    const token = seq.toString(36);
    const deadline = this.#clock.now() + timeout;
    const reply = this.prefix + '.' + token;
    let p!: Entry<T>;
    // The entry is also the slot handed back: one object per request, not two.
    const promise = new Promise<T>((resolve, reject) => {
      p = { token, reply, promise: undefined as unknown as Promise<T>, subject, label, resolve, reject, _timeout: timeout, _deadline: deadline, _seq: seq, _index: -1 };
    });
    p.promise = promise;
    this.#pending.set(token, p);
    this.#push(p);
    if (deadline < this.#armedFor) this.#arm(deadline);
    return p;
  }

  /** The request waiting on `token`, removed from the mux (so it is its caller's to settle), or `undefined`. */
  take(token: string): PendingRequest<T> | undefined {
    const p = this.#pending.get(token);
    if (p === undefined) return undefined;
    this.#forget(p);
    return p;
  }

  /** The token of a reply subject, `<prefix>.<token>`. */
  tokenOf(replySubject: string): string {
    return replySubject.slice(this.#skip);
  }

  /** Forget a request whose publish failed, rejecting it with `err`. */
  cancel(reply: string, err: unknown): void {
    this.take(this.tokenOf(reply))?.reject(err);
  }

  /** The inbox subscription's handler, for a mux whose requests resolve with the reply message itself. */
  readonly dispatch = (msg: Msg): void => {
    const p = this.take(this.tokenOf(msg.subject));
    if (p === undefined) return; // late reply after a timeout, or a second reply
    if (msg.noResponders) p.reject(new NoRespondersError(p.subject));
    else p.resolve(msg as unknown as T);
  };

  /** Reject every request published to `subject` with `err`; returns how many. */
  failSubject(subject: string, err: unknown): number {
    const hit: PendingRequest<T>[] = [];
    for (const p of this.#pending.values()) if (p.subject === subject) hit.push(p);
    for (const p of hit) {
      this.#forget(p);
      p.reject(err);
    }
    return hit.length;
  }

  /** Reject everything still pending with `err`. */
  rejectAll(err: unknown): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    this.#heap.length = 0;
    this.#disarm();
    for (const p of all) {
      p._index = -1;
      p.reject(err);
    }
  }

  // ── deadlines ─────────────────────────────────────────────────────────────

  #forget(p: PendingRequest<T>): void {
    this.#pending.delete(p.token);
    this.#remove(p);
    // Nothing in flight: no timer may hold the process.
    if (this.#pending.size === 0) this.#disarm();
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    const now = this.#clock.now();
    const delay = Math.min(Math.max(0, deadline - now), MAX_TIMER_MS);
    this.#armedFor = delay === MAX_TIMER_MS ? now + delay : deadline;
    this.#timer = this.#clock.setTimer(this.#fire, delay, true);
  }

  #disarm(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  readonly #fire = (): void => {
    // Everything due by the deadline this timer was armed for is due now, even
    // if the clock reads a hair earlier (float rounding, a timer run early).
    const limit = Math.max(this.#clock.now(), this.#armedFor);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const heap = this.#heap;
    // Collected first and rejected after: a rejection handler that adds a
    // request must find the heap and the timer in order.
    const due: PendingRequest<T>[] = [];
    while (heap.length > 0 && heap[0]!._deadline <= limit) {
      const p = heap[0]!;
      this.#pending.delete(p.token);
      this.#remove(p);
      due.push(p);
    }
    if (heap.length > 0 && this.#timer === undefined) this.#arm(heap[0]!._deadline);
    for (const p of due) p.reject(new TimeoutError(p.label, p._timeout));
  };

  // ── binary min-heap on (deadline, seq), with each entry's index kept for removal ──

  #push(p: PendingRequest<T>): void {
    p._index = this.#heap.length;
    this.#heap.push(p);
    this.#up(p._index);
  }

  #remove(p: PendingRequest<T>): void {
    const i = p._index;
    if (i < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    p._index = -1;
    if (last === p) return;
    heap[i] = last;
    last._index = i;
    this.#up(i);
    this.#down(last._index);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const p = heap[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const q = heap[parent]!;
      if (!earlier(p, q)) break;
      heap[i] = q;
      q._index = i;
      i = parent;
    }
    heap[i] = p;
    p._index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const p = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && earlier(heap[r]!, heap[l]!) ? r : l;
      const q = heap[c]!;
      if (!earlier(q, p)) break;
      heap[i] = q;
      q._index = i;
      i = c;
    }
    heap[i] = p;
    p._index = i;
  }
}
