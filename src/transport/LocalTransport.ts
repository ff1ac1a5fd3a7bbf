/**
 * `LocalTransport`: a connection to an in-process {@link LocalBus}. The
 * embedded default; no server needed. Passes the same conformance suite as
 * `NatsTransport` (see `Transport.ts` for the binding contract).
 *
 * ## Options
 * | option       | required | default           | meaning                                   |
 * |--------------|----------|-------------------|-------------------------------------------|
 * | `name`       | yes      |                   | connection name (non-empty)               |
 * | `bus`        | no       | `LocalBus.default`| the bus to attach to                      |
 * | `maxPayload` | no       | 1 MiB             | largest data + header bytes per publish   |
 * | `onError`    | no       | logger / warning  | receives errors thrown by handlers        |
 * | `logger`     | no       | none              | pino logger for handler errors            |
 *
 * ## Behaviour
 * - `publish` validates, copies `data` (like writing to a socket, so the
 *   caller may reuse its buffer) and queues; it never runs a handler. All
 *   receivers of one publish share the copy: treat `msg.data` as read-only.
 * - Payloads over `maxPayload` throw `FrameTooLargeError`.
 * - `request` uses one `_INBOX.<id>.*` subscription per connection and a
 *   correlation map (`RequestMux`).
 * - `flush` resolves once everything published so far has been delivered.
 *
 * ## Lifecycle
 * ```
 *   new ──► open ──close()──► draining ──(queued messages delivered)──► closed
 * ```
 * `close()` removes every subscription from the bus at once (no new
 * messages), lets the messages already queued for them be delivered, then
 * closes them, rejects pending requests with `TransportClosedError` and emits
 * status `closed`. While draining, `publish` still works (so handlers can
 * answer requests they already hold); `subscribe` throws and `request`
 * rejects. Once closed, `publish` throws `TransportClosedError`.
 */
import { randomBytes } from 'node:crypto';
import { type Clock, monotonicClock } from '../clock.js';
import { InvalidArgumentError, TransportClosedError } from '../errors.js';
import type { Logger } from '../log.js';
import { guardHandler, type HandlerErrorListener, handlerErrorReporter } from './guardHandler.js';
import { StatusListeners } from './StatusListeners.js';
import { assertFrameFits, RecordHeaders } from './headers.js';
import { LocalKvStore } from './kv/LocalKvStore.js';
import { type BusSubscription, LocalBus, LocalMsg } from './LocalBus.js';
import { RequestMux } from './RequestMux.js';
import { assertPublishSubject, assertQueueName, assertSubscribeSubject } from './subject.js';
import type {
  Msg,
  MsgHandler,
  PublishOptions,
  RequestOptions,
  StatusListener,
  SubscribeOptions,
  Subscription,
  Transport,
} from './Transport.js';

export { LocalBus, type LocalBusOptions } from './LocalBus.js';

/** Default `maxPayload`, the same as nats-server's default `max_payload`. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

export interface LocalTransportOptions {
  readonly name: string;
  readonly bus?: LocalBus;
  readonly maxPayload?: number;
  readonly onError?: HandlerErrorListener;
  readonly logger?: Logger;
  /** Time source for `request()` deadlines. Default {@link monotonicClock}. */
  readonly clock?: Clock;
}

// Unique per process: inboxes from two processes sharing a bridge must not collide.
const INBOX_ID = randomBytes(9).toString('base64url');
let inboxSeq = 0;

const State = { Open: 'open', Draining: 'draining', Closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

class LocalSubscription implements Subscription, BusSubscription {
  #closed = false;

  constructor(
    readonly owner: LocalTransport,
    readonly subject: string,
    readonly queue: string | undefined,
    private readonly handler: MsgHandler,
    private readonly onUnsubscribe: (sub: LocalSubscription) => void,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  deliver(msg: Msg): void {
    this.handler(msg);
  }

  unsubscribe(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onUnsubscribe(this);
  }

  /** @internal End of a drain: stop delivery without touching the bus again. */
  _close(): void {
    this.#closed = true;
  }
}

export class LocalTransport implements Transport {
  readonly kind = 'local' as const;
  readonly name: string;
  readonly maxPayload: number;
  readonly bus: LocalBus;
  readonly #report: HandlerErrorListener;
  readonly #subs = new Set<LocalSubscription>();
  readonly #status: StatusListeners;
  #state: State = State.Open;
  #mux: RequestMux | undefined;
  readonly #clock: Clock;
  #closing: Promise<void> | undefined;
  #kv: LocalKvStore | undefined;

  constructor(options: LocalTransportOptions) {
    if (typeof options?.name !== 'string' || options.name.length === 0) {
      throw new InvalidArgumentError('name', 'must be a non-empty string');
    }
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    if (!Number.isInteger(maxPayload) || maxPayload <= 0) {
      throw new InvalidArgumentError('maxPayload', 'must be a positive integer');
    }
    this.name = options.name;
    this.maxPayload = maxPayload;
    this.bus = options.bus ?? LocalBus.default;
    this.#clock = options.clock ?? monotonicClock;
    this.#report = handlerErrorReporter(options.onError, options.logger);
    this.#status = new StatusListeners(this.#report);
  }

  get isClosed(): boolean {
    return this.#state !== State.Open;
  }

  get isConnected(): boolean {
    return this.#state !== State.Closed;
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    if (this.#state === State.Closed) throw this.#closedError();
    assertPublishSubject(subject);
    const reply = options?.reply;
    if (reply !== undefined) assertPublishSubject(reply);
    const headers = this.#checkPayload(data, options?.headers);
    this.bus._publish(this, new LocalMsg(subject, new Uint8Array(data), reply, headers, false));
  }

  /** @internal See {@link Transport._publishOwned}. */
  _publishOwned(subject: string, data: Uint8Array, reply?: string): void {
    if (this.#state === State.Closed) throw this.#closedError();
    this.#checkPayload(data, undefined);
    this.bus._publish(this, new LocalMsg(subject, data, reply, undefined, false));
  }

  subscribe(subject: string, handler: MsgHandler, options?: SubscribeOptions): Subscription {
    if (this.#state !== State.Open) throw this.#closedError();
    assertSubscribeSubject(subject);
    const queue = options?.queue;
    if (queue !== undefined) assertQueueName(queue);
    return this.#subscribe(subject, queue, guardHandler(handler, this.#report));
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    if (this.#state !== State.Open) return Promise.reject(this.#closedError());
    assertPublishSubject(subject);
    const headers = this.#checkPayload(data, options.headers);
    this.#mux ??= this.#startMux();
    const { reply, promise } = this.#mux.add(subject, options.timeout);
    this.bus._publish(this, new LocalMsg(subject, new Uint8Array(data), reply, headers, false));
    return promise;
  }

  flush(): Promise<void> {
    if (this.#state === State.Closed) return Promise.reject(this.#closedError());
    return this.bus._barrier();
  }

  newInbox(): string {
    return `_INBOX.${INBOX_ID}${(inboxSeq++).toString(36)}`;
  }

  onStatus(listener: StatusListener): () => void {
    return this.#status.add(listener);
  }

  /** A store on this bus's buckets (`LocalBus.kvServer`), shared with every transport on the bus. */
  kv(): LocalKvStore {
    if (this.#kv === undefined) {
      this.#kv = new LocalKvStore({ server: this.bus.kvServer });
      if (this.#state !== State.Open) void this.#kv.close();
    }
    return this.#kv;
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#state = State.Draining;
    void this.#kv?.close();
    for (const sub of this.#subs) this.bus._remove(sub);
    this.#closing = this.bus._barrier().then(() => {
      this.#state = State.Closed;
      for (const sub of this.#subs) sub._close();
      this.#subs.clear();
      this.#mux?.rejectAll(this.#closedError());
      this.#status.emit({ type: 'closed' });
    });
    return this.#closing;
  }

  toString(): string {
    return `LocalTransport(${this.name})`;
  }

  toJSON(): Record<string, unknown> {
    return { kind: this.kind, name: this.name, closed: this.isClosed, connected: this.isConnected };
  }

  #subscribe(subject: string, queue: string | undefined, handler: MsgHandler): LocalSubscription {
    const sub = new LocalSubscription(this, subject, queue, handler, this.#unsubscribed);
    this.bus._add(sub);
    this.#subs.add(sub);
    return sub;
  }

  readonly #unsubscribed = (sub: LocalSubscription): void => {
    this.bus._remove(sub);
    this.#subs.delete(sub);
  };

  #startMux(): RequestMux {
    const mux = new RequestMux(this.newInbox(), this.#clock);
    this.#subscribe(mux.filter, undefined, mux.dispatch);
    return mux;
  }

  /** Validates headers and size; returns the receivers' snapshot of the headers. */
  #checkPayload(data: Uint8Array, headers: Readonly<Record<string, string>> | undefined): RecordHeaders | undefined {
    assertFrameFits(data, headers, this.maxPayload);
    return headers === undefined ? undefined : new RecordHeaders(headers);
  }

  #closedError(): TransportClosedError {
    return new TransportClosedError(`transport ${this.name} is closed`);
  }

}
