/**
 * Request/reply correlation over one wildcard inbox subscription per
 * connection, shared by both transports.
 *
 * - The connection subscribes once to `<prefix>.*` ({@link RequestMux.filter})
 *   and hands every message on it to {@link RequestMux.dispatch}.
 * - Each request gets the reply subject `<prefix>.<token>`, a pending entry
 *   and one unref'd timer. The first reply settles it; later ones are dropped.
 * - A reply with `noResponders: true` (the server's 503 status) rejects with
 *   `NoRespondersError` at once; the timer rejects with `TimeoutError`.
 * - {@link RequestMux.rejectAll} settles everything still pending, on close.
 *
 * One subscription instead of one per request saves a SUB/UNSUB round of
 * protocol per call, and keeps nats.js's `request()` (which builds an Error
 * for its stack trace on every call) off the hot path.
 */
import { InvalidArgumentError, NoRespondersError, TimeoutError } from '../errors.js';
import type { Msg } from './Transport.js';

interface Pending {
  readonly subject: string;
  readonly resolve: (msg: Msg) => void;
  readonly reject: (err: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** @internal */
export class RequestMux {
  /** Inbox prefix, `_INBOX.<unique>`. */
  readonly prefix: string;
  /** The wildcard filter the owning connection subscribes to. */
  readonly filter: string;
  readonly #pending = new Map<string, Pending>();
  #seq = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
    this.filter = `${prefix}.*`;
  }

  /** Requests awaiting a reply. */
  get size(): number {
    return this.#pending.size;
  }

  /**
   * Register a request to `subject`; returns the reply subject to publish
   * with, and the promise of the reply. Throws `InvalidArgumentError` for a
   * bad timeout.
   */
  add(subject: string, timeout: number): { reply: string; promise: Promise<Msg> } {
    if (typeof timeout !== 'number' || !(timeout >= 0) || !Number.isFinite(timeout)) {
      throw new InvalidArgumentError('timeout', 'must be a finite number of milliseconds >= 0');
    }
    const token = (this.#seq++).toString(36);
    const reply = `${this.prefix}.${token}`;
    const promise = new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        if (this.#pending.delete(token)) reject(new TimeoutError(subject, timeout));
      }, timeout);
      timer.unref();
      this.#pending.set(token, { subject, resolve, reject, timer });
    });
    return { reply, promise };
  }

  /** Forget a request whose publish failed, rejecting it with `err`. */
  cancel(reply: string, err: unknown): void {
    const token = reply.slice(this.prefix.length + 1);
    const p = this.#pending.get(token);
    if (p === undefined) return;
    this.#pending.delete(token);
    clearTimeout(p.timer);
    p.reject(err);
  }

  /** The inbox subscription's handler. */
  readonly dispatch = (msg: Msg): void => {
    const token = msg.subject.slice(this.prefix.length + 1);
    const p = this.#pending.get(token);
    if (p === undefined) return; // late reply after a timeout, or a second reply
    this.#pending.delete(token);
    clearTimeout(p.timer);
    if (msg.noResponders) p.reject(new NoRespondersError(p.subject));
    else p.resolve(msg);
  };

  /** Reject everything still pending with `err`. */
  rejectAll(err: unknown): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) {
      clearTimeout(p.timer);
      p.reject(err);
    }
  }
}
