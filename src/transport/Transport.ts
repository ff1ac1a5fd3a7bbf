/**
 * The transport seam: the one narrow interface between Halyard and the wire.
 *
 * Two implementations pass one conformance suite (`spec/transport.conformance.ts`):
 * - `LocalTransport`: in-process, the embedded default, no server needed;
 * - `NatsTransport`: a real NATS connection (`@nats-io/transport-node`).
 *
 * ## Subject semantics (both implementations, identical to NATS)
 * - A subject is one or more tokens separated by `.`. Tokens are non-empty and
 *   contain no whitespace. Maximum length 1024 characters (see `subject.ts`).
 * - Subscriptions may use wildcards: `*` matches exactly one token, `>` (last
 *   token only) matches one or more tokens. Published subjects have no wildcards.
 * - Plain subscribers each receive a copy of every matching message.
 *   Subscribers that share a queue group name share the load: exactly one
 *   member of each group receives each message. As in nats-server, a group is
 *   pooled by its name across the subject filters that match a message.
 * - Delivery is asynchronous (never inside `publish`), at-most-once, and in
 *   publish order per publisher and subscriber.
 * - A message published with a `reply` subject that no subscription matches is
 *   answered at once with a "no responders" status message (`noResponders:
 *   true`, empty data), delivered to the publishing connection's own
 *   subscriptions that match the reply subject (and to no other connection). `request()` turns that
 *   into a `NoRespondersError` without waiting for its deadline.
 *
 * ## Errors
 * - Invalid subjects and queue names throw `InvalidSubjectError` synchronously.
 * - Using a closed transport throws / rejects with `TransportClosedError`.
 * - `request()` rejects with `NoRespondersError` or `TimeoutError`.
 *
 * ## Key-value store
 * `kv()` gives the store that comes with the connection (`kv/KvStore.ts`):
 * JetStream KV over NATS, the bus's in-process buckets locally. It closes
 * with the transport, so the cluster needs no knowledge of which it is.
 *
 * ## Lifecycle
 * ```
 *   connect() ──► connected ◄──► disconnected/reconnecting ──► reconnected
 *                     │
 *   close()  ──► draining (subscriptions drained, pending publishes flushed) ──► closed
 * ```
 */

import type { KvStore } from './kv/KvStore.js';

export interface MsgHeaders {
  get(key: string): string | undefined;
  keys(): Iterable<string>;
}

export interface Msg {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply?: string;
  /** Headers, if the publisher sent any. */
  readonly headers?: MsgHeaders;
  /** True when this is the server's "no responders" status for a request. */
  readonly noResponders?: boolean;
}

export type MsgHandler = (msg: Msg) => void;

export interface SubscribeOptions {
  /** Queue group: each message goes to one member of the group. */
  readonly queue?: string;
}

export interface Subscription {
  readonly subject: string;
  readonly queue?: string;
  /** Stop delivery. Idempotent. */
  unsubscribe(): void;
  /**
   * Stop delivery once what the server routed here before it saw the
   * unsubscription has been delivered (NATS: `sub.drain()`); `unsubscribe`
   * drops those in silence. Absent where nothing can be in flight.
   */
  drain?(): void;
  readonly isClosed: boolean;
}

export interface PublishOptions {
  readonly reply?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface RequestOptions {
  /** Deadline in milliseconds. */
  readonly timeout: number;
  readonly headers?: Readonly<Record<string, string>>;
}

export const TransportStatusType = {
  Disconnected: 'disconnected',
  Reconnecting: 'reconnecting',
  Reconnected: 'reconnected',
  Closed: 'closed',
  Error: 'error',
  /** The server refused a publish or subscribe for permissions (NATS only). */
  PermissionDenied: 'permission-denied',
  /**
   * The server most likely cut this connection off as a slow consumer (NATS
   * only). Always `inferred`: nats-server closes a slow consumer without
   * telling it; follows the `disconnected` it explains.
   */
  SlowConsumer: 'slow-consumer',
} as const;
export type TransportStatusType = (typeof TransportStatusType)[keyof typeof TransportStatusType];

export interface TransportStatus {
  readonly type: TransportStatusType;
  /** Human-readable detail; never contains credentials. */
  readonly detail?: string;
  /** For `permission-denied`: the subject refused, and whether to publish or subscribe. */
  readonly subject?: string;
  readonly operation?: 'publish' | 'subscribe';
  /** True when the cause is inferred from evidence rather than said by the server. */
  readonly inferred?: boolean;
  /** For `slow-consumer`: the event-loop stall, in ms, seen just before the disconnect. */
  readonly stalledMs?: number;
}

/** Connection counters (NATS); message and byte counts are the client's own. */
export interface TransportStats {
  readonly disconnects: number;
  readonly reconnects: number;
  /** Disconnects reported as `slow-consumer` (inferred, see the status type). */
  readonly slowConsumers: number;
  readonly inMsgs: number;
  readonly inBytes: number;
  readonly outMsgs: number;
  readonly outBytes: number;
}

export type StatusListener = (status: TransportStatus) => void;

export interface Transport {
  readonly kind: 'local' | 'nats';
  /** Connection name (NATS shows it in server monitoring). */
  readonly name: string;
  /** True once `close()` has been called. */
  readonly isClosed: boolean;
  /** True while the connection can carry messages. */
  readonly isConnected: boolean;
  /** Largest payload the connection accepts, in bytes. */
  readonly maxPayload: number;

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void;
  /**
   * @internal Publish a frame that the caller will never modify again, to a
   * subject (and reply subject) built from parts that were validated before:
   * no defensive copy, no subject re-validation. Size limits still apply.
   * Optional: callers fall back to `publish`.
   */
  _publishOwned?(subject: string, data: Uint8Array, reply?: string): void;
  subscribe(subject: string, handler: MsgHandler, options?: SubscribeOptions): Subscription;
  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg>;
  /** Resolves once everything published so far has reached the server (local: has been delivered). */
  flush(): Promise<void>;
  /** A fresh, unique inbox subject prefix-free token (`_INBOX.<unique>`). */
  newInbox(): string;
  /** Listen for connection status changes. Returns an unsubscribe function. */
  onStatus(listener: StatusListener): () => void;
  /** Connection counters, where the transport keeps them (NATS). */
  stats?(): TransportStats;
  /** The key-value store this connection provides; the same object on every call, closed with the transport. */
  kv(): KvStore;
  /** Drain subscriptions, flush, and close. Idempotent. */
  close(): Promise<void>;
}
