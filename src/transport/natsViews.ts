/**
 * Views of nats.js messages, headers and subscriptions as the Transport seam's
 * `Msg`, `MsgHeaders` and `Subscription`: nothing is copied, fields are read
 * from the client's objects on demand. Only NatsTransport builds them.
 */
import type { MsgHdrs, Msg as NatsMsg, Subscription as NatsSubscription } from '@nats-io/transport-node';
import type { Msg, MsgHeaders, Subscription } from './Transport.js';

/** A read-only view of nats.js headers; nothing is copied. */
export class NatsHeadersView implements MsgHeaders {
  readonly #h: MsgHdrs;

  constructor(h: MsgHdrs) {
    this.#h = h;
  }

  get(key: string): string | undefined {
    // MsgHdrsImpl keeps a Map of key → values; reading it directly avoids the
    // per-call key array that `has()`/`get()` build for their match modes.
    const map = (this.#h as { headers?: unknown }).headers;
    if (map instanceof Map) return (map.get(key) as string[] | undefined)?.[0];
    return this.#h.has(key) ? this.#h.get(key) : undefined;
  }

  keys(): Iterable<string> {
    return this.#h.keys();
  }

  toJSON(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const k of this.#h.keys()) out[k] = this.#h.get(k);
    return out;
  }
}

/** A lazy view of a nats.js message: fields are read from the client's message on demand. */
export class NatsMsgView implements Msg {
  readonly #m: NatsMsg;
  #headers: NatsHeadersView | null | undefined;

  constructor(m: NatsMsg) {
    this.#m = m;
  }

  get subject(): string {
    return this.#m.subject;
  }

  get data(): Uint8Array {
    return this.#m.data;
  }

  get reply(): string | undefined {
    return this.#m.reply || undefined;
  }

  get headers(): MsgHeaders | undefined {
    if (this.#headers === undefined) {
      const h = this.#m.headers;
      this.#headers = h === undefined ? null : new NatsHeadersView(h);
    }
    return this.#headers ?? undefined;
  }

  get noResponders(): boolean {
    // The same test nats.js applies in its own request paths.
    return this.#m.data.length === 0 && this.#m.headers?.code === 503;
  }

  toJSON(): Record<string, unknown> {
    return { subject: this.subject, reply: this.reply, size: this.data.length, noResponders: this.noResponders };
  }
}

export class NatsSubscriptionView implements Subscription {
  readonly #sub: NatsSubscription;

  constructor(
    readonly subject: string,
    readonly queue: string | undefined,
    sub: NatsSubscription,
  ) {
    this.#sub = sub;
  }

  get isClosed(): boolean {
    return this.#sub.isClosed();
  }

  unsubscribe(): void {
    if (this.#sub.isClosed()) return;
    try {
      this.#sub.unsubscribe();
    } catch {
      // The connection is closed, so the subscription is already gone.
    }
  }

  drain(): void {
    if (this.#sub.isClosed() || this.#sub.isDraining()) return;
    // It rejects only once the connection is closed, which ends the subscription too.
    this.#sub.drain().catch(() => {});
  }
}
