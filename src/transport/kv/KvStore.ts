/**
 * The key-value seam: what the cluster (and, next, the services' state
 * store) needs from a store of small values, and nothing more.
 *
 * Two implementations pass one conformance suite (`spec/kv.conformance.ts`):
 * - `JetStreamKvStore`: JetStream KV (`@nats-io/kv` v3, nats-server 2.9+),
 *   provided by `NatsTransport.kv()`;
 * - `LocalKvStore`: in-process, provided by `LocalTransport.kv()`. Every
 *   transport on one `LocalBus` sees the bus's buckets, so several nodes in
 *   one process share a store as they would share a NATS server.
 *
 * ```ts
 * const registry = await transport.kv().bucket('halyard-registry');
 * const rev = await registry.create('owner.orders', bytes);   // KvConflictError if owned
 * await registry.update('owner.orders', bytes2, rev);         // KvConflictError if it moved on
 * ```
 *
 * ## Buckets
 * `store.bucket(name)` opens a bucket, creating it when missing; callers
 * racing to create one all get it. A bucket keeps one entry per key (the
 * last write: a value, or a delete or purge marker). JetStream buckets are on
 * file storage and outlive the server's restarts; in-process buckets live as
 * long as their `LocalKvServer`. `store.destroy(name)` removes a bucket and
 * everything in it.
 *
 * ## Keys and filters (`keys.ts`)
 * A key is dot-separated tokens of letters, digits, `-`, `/`, `_`, `=`, at
 * most 256 characters. A filter is a key whose tokens may also be `*` (one
 * token) or, last, `>` (one or more tokens). Every call takes one filter: a
 * list of filters needs nats-server 2.10.
 *
 * ## Revisions
 * Every write to a bucket (put, create, update, delete, purge) takes the
 * bucket's next revision: strictly increasing per bucket, never reused.
 * An entry's revision is that of the write that made it. Revisions are
 * fencing tokens: a newer claim always has a larger one.
 *
 * ## Operations
 * | operation                      | takes effect when                                   | otherwise |
 * |--------------------------------|------------------------------------------------------|-----------|
 * | `get(key)`                     | always: the live entry, or `null` (absent, deleted, purged) | |
 * | `put(key, value)`              | always                                               | |
 * | `create(key, value)`           | the key is absent, deleted or purged                 | `KvConflictError` (expected 0) |
 * | `update(key, value, revision)` | the key's last write (a delete too) is `revision`    | `KvConflictError` |
 * | `delete(key, { revision? })`   | always; with `revision`, as `update`                 | `KvConflictError` |
 * | `purge(key, { revision? })`    | as `delete`; the marker also drops older history     | `KvConflictError` |
 * | `keys(filter?)`                | the live keys matching `filter` (default all), sorted | |
 * | `watch({ key? })`              | see below                                            | |
 * Writes resolve to the revision they took (`delete`/`purge` to nothing).
 * Values are bytes, copied on the way in and out: changing a buffer after a
 * write or a read changes nothing stored. A value is at most
 * `store.maxValueBytes` (JetStream: the server's `max_payload`, 1 MiB by
 * default; in-process: 1 MiB unless configured).
 *
 * ## Watch
 * - First the current entry of every matching key, in revision order, delete
 *   and purge markers included: a watcher that restarts learns what was
 *   deleted while it was away. Then later writes to matching keys, in
 *   revision order. Revisions seen only ever increase, and every key's latest
 *   entry always arrives.
 * - Writes awaited one after another arrive one by one. A burst of writes
 *   in flight together may arrive coalesced: a JetStream watch (an ordered
 *   push consumer) that falls behind restarts from each key's last value, so
 *   intermediate revisions of a key can be skipped (seen with nats.js 3.4 on
 *   nats-server 2.9.10). Treat a watch as "the state converges", not as a log.
 *   The in-process store delivers every write.
 * - Delivery is asynchronous, never inside the writer's call. Entries queue
 *   without bound until read: a watcher that stops reading should `stop()`.
 * - `stop()` ends the iteration (idempotent); closing the store ends every
 *   watch opened through it.
 *
 * ## Errors
 * - A bad key, filter or bucket name rejects with `InvalidKvKeyError`
 *   (`field`: `key`, `filter` or `bucket`), a revision that is not a positive
 *   integer with `InvalidArgumentError` (`revision`), a value that is not a
 *   `Uint8Array` or is over `maxValueBytes` with `InvalidArgumentError`
 *   (`value`): all before the store is asked, so nothing is written.
 * - A lost compare-and-set rejects with `KvConflictError`: a result to handle,
 *   not a failure.
 * - After `close()` (or the providing transport's), every operation rejects
 *   with `KvClosedError`.
 * - Anything else (server unreachable, timeout, bucket destroyed) rejects with
 *   `KvUnavailableError`, the store's own error as `cause`.
 */

export const KvOperation = { Put: 'PUT', Delete: 'DEL', Purge: 'PURGE' } as const;
export type KvOperation = (typeof KvOperation)[keyof typeof KvOperation];

export interface KvEntry {
  readonly bucket: string;
  readonly key: string;
  /** The value; empty for delete and purge markers. */
  readonly value: Uint8Array;
  readonly revision: number;
  readonly operation: KvOperation;
}

export interface KvWatch extends AsyncIterable<KvEntry> {
  /** End the iteration. Idempotent. */
  stop(): void;
}

export interface KvWatchOptions {
  /** One key or filter (`*`, `>`). Default `>`: every key. */
  readonly key?: string;
}

export interface KvDeleteOptions {
  /** Delete only if the key's last write is still this revision (compare-and-set). */
  readonly revision?: number;
}

export interface KvBucket {
  readonly name: string;
  get(key: string): Promise<KvEntry | null>;
  put(key: string, value: Uint8Array): Promise<number>;
  create(key: string, value: Uint8Array): Promise<number>;
  /** `timeoutMs`: deadline of this write where the store has one (JetStream); default the store's. */
  update(key: string, value: Uint8Array, revision: number, timeoutMs?: number): Promise<number>;
  delete(key: string, options?: KvDeleteOptions): Promise<void>;
  purge(key: string, options?: KvDeleteOptions): Promise<void>;
  keys(filter?: string): Promise<string[]>;
  watch(options?: KvWatchOptions): Promise<KvWatch>;
}

export interface KvStore {
  readonly kind: 'local' | 'jetstream';
  /** True once `close()` was called (or the providing transport closed). */
  readonly isClosed: boolean;
  /** Largest value a write takes, in bytes. */
  readonly maxValueBytes: number;
  /** Open the bucket `name`, creating it when missing. */
  bucket(name: string): Promise<KvBucket>;
  /** Remove the bucket `name` and its entries. False when there was none. */
  destroy(name: string): Promise<boolean>;
  /** End every watch opened through this store and refuse further operations. Buckets stay stored. Idempotent. */
  close(): Promise<void>;
}
