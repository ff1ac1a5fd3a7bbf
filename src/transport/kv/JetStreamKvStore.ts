/**
 * The `KvStore` seam on JetStream KV (`@nats-io/kv` v3, nats-server 2.9+);
 * contract in `KvStore.ts`. What is relied on from JetStream, and only that:
 * - `create(key)` succeeds only when the key is absent or deleted, and
 *   `update(key, value, revision)` only when `revision` is still the key's
 *   last: compare-and-set on the stream sequence. A lost race is JetStream API
 *   error 10071 ("wrong last sequence"), turned into `KvConflictError`.
 * - A revision is the stream sequence of the write: strictly increasing per
 *   bucket.
 * - `watch({ key })` with one (wildcard) filter. Several filters (2.10) and
 *   per-key TTLs (2.11) are not used: 2.9 sends no watch event when max-age
 *   removes a key, so liveness must come from heartbeats, not expiry.
 *
 * Buckets keep one value per key (`history: 1`) on file storage, so claims,
 * leases and incarnation counters survive a server restart. On a cluster of
 * servers a bucket is created with `replicas` copies (default 1, JetStream's
 * default): R1 lives on one server and is unreachable while that server is
 * down, so a 3-server cluster wants `replicas: 3`. A bucket that exists is
 * opened as it is: its replica count is not changed.
 *
 * `NatsTransport.kv()` builds one on its connection and closes it first when
 * the transport closes; nothing else reaches the connection through it.
 */
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry as JsKvEntry, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { describe, InvalidArgumentError, KvClosedError, KvConflictError, KvUnavailableError } from '../../errors.js';
import { assertBucketName, assertFilter, assertKey, assertRevision, assertValue } from './keys.js';
import {
  type KvBucket,
  type KvDeleteOptions,
  type KvEntry,
  KvOperation,
  type KvStore,
  type KvWatch,
  type KvWatchOptions,
} from './KvStore.js';

/** Default deadline of one KV operation, ms. */
export const DEFAULT_KV_TIMEOUT_MS = 2000;

/** JetStream API codes of a stream created by someone else between our lookup and our add. */
const STREAM_NAME_IN_USE = 10058;
const STREAM_SUBJECT_OVERLAP = 10065;
const STREAM_NOT_FOUND = 10059;

/** JetStream's limit on a stream's replicas. */
export const MAX_KV_REPLICAS = 5;

export interface JetStreamKvStoreOptions {
  /** Deadline of each KV operation, ms. Default {@link DEFAULT_KV_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Copies of each bucket this store creates, 1 to {@link MAX_KV_REPLICAS}. Default 1. */
  readonly replicas?: number;
}

/** Check `options` (found at `path`: `''` for the constructor's, `transport.kv` for a node's), throwing `error` naming the field. */
export function assertJetStreamKvStoreOptions(
  options: unknown,
  path: string,
  error: new (field: string, reason: string) => Error = InvalidArgumentError,
): asserts options is JetStreamKvStoreOptions | undefined {
  if (options === undefined) return;
  const at = (key: string) => (path === '' ? key : `${path}.${key}`);
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new error(path, 'must be an object { timeoutMs?, replicas? }');
  const { timeoutMs, replicas, ...rest } = options as Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new error(at(unknown), 'unknown option; valid options are timeoutMs, replicas');
  if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0)) {
    throw new error(at('timeoutMs'), 'must be a positive number of ms');
  }
  if (replicas !== undefined && (!Number.isInteger(replicas) || (replicas as number) < 1 || (replicas as number) > MAX_KV_REPLICAS)) {
    throw new error(at('replicas'), `must be an integer from 1 to ${MAX_KV_REPLICAS}, got ${JSON.stringify(replicas) ?? typeof replicas}`);
  }
}

function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export class JetStreamKvStore implements KvStore {
  readonly kind = 'jetstream' as const;
  readonly timeoutMs: number;
  readonly replicas: number;
  readonly #nc: NatsConnection;
  readonly #js: JetStreamClient;
  readonly #watches = new Set<JetStreamWatch>();
  #closed = false;

  constructor(nc: NatsConnection, options: JetStreamKvStoreOptions = {}) {
    assertJetStreamKvStoreOptions(options, '');
    const timeout = options.timeoutMs ?? DEFAULT_KV_TIMEOUT_MS;
    this.timeoutMs = timeout;
    this.replicas = options.replicas ?? 1;
    this.#nc = nc;
    this.#js = jetstream(nc, { timeout });
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The server's `max_payload` (headers take a little of it too: a value right at the limit may still be refused). */
  get maxValueBytes(): number {
    return this.#nc.info?.max_payload ?? 1024 * 1024;
  }

  async bucket(name: string): Promise<KvBucket> {
    assertBucketName(name);
    for (let attempt = 1; ; attempt++) {
      this._assertOpen(name);
      try {
        const kv = await new Kvm(this.#js).create(name, { history: 1, replicas: this.replicas, timeout: this.timeoutMs });
        return new JetStreamBucket(this, name, kv);
      } catch (err) {
        // Nodes starting together race to create the bucket: `create` looks the
        // stream up and adds it when missing, and the loser of the add is told
        // its subjects overlap (nats-server 2.9) or the name is taken. Looking
        // again finds the winner's stream.
        const raced = err instanceof JetStreamApiError && (err.code === STREAM_SUBJECT_OVERLAP || err.code === STREAM_NAME_IN_USE);
        if (!raced || attempt >= 3) throw this._failure(`open bucket ${name}`, name, err);
      }
    }
  }

  async destroy(name: string): Promise<boolean> {
    assertBucketName(name);
    this._assertOpen(name);
    try {
      const kv = await new Kvm(this.#js).open(name);
      return await kv.destroy();
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === STREAM_NOT_FOUND) return false;
      throw this._failure(`destroy bucket ${name}`, name, err);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#watches) w.stop();
  }

  /** @internal */
  _assertOpen(bucket: string): void {
    if (this.#closed) throw new KvClosedError(bucket);
  }

  /** @internal The seam's error for a failed operation: closed first, since a closing connection fails in its own words. */
  _failure(operation: string, bucket: string, err: unknown): Error {
    if (this.#closed) return new KvClosedError(bucket);
    return new KvUnavailableError(operation, describe(err), err);
  }

  /** @internal */
  _track(w: JetStreamWatch): void {
    this.#watches.add(w);
  }

  /** @internal */
  _untrack(w: JetStreamWatch): void {
    this.#watches.delete(w);
  }
}

class JetStreamBucket implements KvBucket {
  constructor(
    readonly store: JetStreamKvStore,
    readonly name: string,
    readonly kv: KV,
  ) {}

  async get(key: string): Promise<KvEntry | null> {
    assertKey(key);
    const e = await this.#run('get', key, undefined, () => this.kv.get(key));
    return e === null || e.operation !== KvOperation.Put ? null : entryOf(e);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    assertValue(value, this.store.maxValueBytes);
    return this.#run('put', key, undefined, () => this.kv.put(key, value.slice()));
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    assertValue(value, this.store.maxValueBytes);
    return this.#run('create', key, 0, () => this.kv.create(key, value.slice()));
  }

  async update(key: string, value: Uint8Array, revision: number, timeoutMs?: number): Promise<number> {
    assertKey(key);
    assertRevision(revision);
    assertValue(value, this.store.maxValueBytes);
    return this.#run('update', key, revision, () => this.kv.update(key, value.slice(), revision, timeoutMs));
  }

  async delete(key: string, options?: KvDeleteOptions): Promise<void> {
    assertKey(key);
    const revision = options?.revision;
    if (revision !== undefined) assertRevision(revision);
    return this.#run('delete', key, revision, () => this.kv.delete(key, revision === undefined ? undefined : { previousSeq: revision }));
  }

  async purge(key: string, options?: KvDeleteOptions): Promise<void> {
    assertKey(key);
    const revision = options?.revision;
    if (revision !== undefined) assertRevision(revision);
    return this.#run('purge', key, revision, () => this.kv.purge(key, revision === undefined ? undefined : { previousSeq: revision }));
  }

  async keys(filter = '>'): Promise<string[]> {
    assertFilter(filter);
    return this.#run('keys', filter, undefined, async () => {
      const out: string[] = [];
      for await (const k of await this.kv.keys(filter)) out.push(k);
      return out.sort();
    });
  }

  async watch(options: KvWatchOptions = {}): Promise<KvWatch> {
    const filter = options.key ?? '>';
    assertFilter(filter);
    const iter = await this.#run('watch', filter, undefined, () => this.kv.watch({ key: filter }));
    const w = new JetStreamWatch(this.store, iter);
    if (this.store.isClosed) w.stop();
    else this.store._track(w);
    return w;
  }

  /** Run one operation; `expected` is the revision a compare-and-set expects (0: absent), undefined for none. */
  async #run<T>(op: string, key: string, expected: number | undefined, fn: () => Promise<T>): Promise<T> {
    this.store._assertOpen(this.name);
    try {
      return await fn();
    } catch (err) {
      if (expected !== undefined && isWrongLastSequence(err)) throw new KvConflictError(this.name, key, expected, err);
      throw this.store._failure(`${op} ${this.name}/${key}`, this.name, err);
    }
  }
}

function entryOf(e: JsKvEntry): KvEntry {
  return { bucket: e.bucket, key: e.key, value: e.value.slice(), revision: e.revision, operation: e.operation };
}

type JsWatchIterator = Awaited<ReturnType<KV['watch']>>;

class JetStreamWatch implements KvWatch {
  readonly #store: JetStreamKvStore;
  readonly #iter: JsWatchIterator;
  #stopped = false;

  constructor(store: JetStreamKvStore, iter: JsWatchIterator) {
    this.#store = store;
    this.#iter = iter;
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#store._untrack(this);
    this.#iter.stop();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KvEntry> {
    try {
      for await (const e of this.#iter) {
        if (this.#stopped) return;
        yield entryOf(e);
      }
    } finally {
      this.stop();
    }
  }
}
