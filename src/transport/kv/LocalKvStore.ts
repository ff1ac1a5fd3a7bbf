/**
 * The in-process `KvStore` (contract in `KvStore.ts`), for a cluster in one
 * process and for fast tests of cluster logic.
 *
 * A `LocalKvServer` holds the buckets, as a nats-server would; each
 * `LocalKvStore` is one client's view of it, with its own closed state and
 * its own watches. A `LocalBus` owns one server, and `LocalTransport.kv()`
 * gives a store on its bus's server, so nodes on one bus share buckets.
 * `new LocalKvStore()` alone gets a private server.
 *
 * A write takes effect inside the call, before the returned promise settles:
 * nothing is in flight, so compare-and-set races are decided by call order.
 * Watchers are told during the write and read the entry from their queue
 * later, so delivery is never inside the writer's call.
 */
import { InvalidArgumentError, KvClosedError, KvConflictError, KvUnavailableError } from '../../errors.js';
import { assertBucketName, assertFilter, assertKey, assertRevision, assertValue, matchesFilter } from './keys.js';
import {
  type KvBucket,
  type KvDeleteOptions,
  type KvEntry,
  KvOperation,
  type KvStore,
  type KvWatch,
  type KvWatchOptions,
} from './KvStore.js';

const EMPTY = new Uint8Array(0);

interface Stored {
  readonly key: string;
  readonly value: Uint8Array;
  readonly revision: number;
  readonly operation: KvOperation;
}

/** One bucket's entries and watchers, shared by every store on the server. */
class BucketState {
  revision = 0;
  destroyed = false;
  readonly entries = new Map<string, Stored>();
  readonly watchers = new Set<LocalWatch>();

  constructor(readonly name: string) {}

  write(key: string, operation: KvOperation, value: Uint8Array, expected: number | undefined): number {
    const current = this.entries.get(key);
    if (expected !== undefined) {
      // 0: the key must be absent or deleted; otherwise the key's last write, deletes included.
      const ok = expected === 0 ? current === undefined || current.operation !== KvOperation.Put : (current?.revision ?? 0) === expected;
      if (!ok) throw new KvConflictError(this.name, key, expected);
    }
    const stored: Stored = { key, value: operation === KvOperation.Put ? value.slice() : EMPTY, revision: ++this.revision, operation };
    this.entries.set(key, stored);
    for (const w of this.watchers) w._offer(stored);
    return stored.revision;
  }
}

/** Default largest value, bytes: nats-server's default `max_payload`, so nothing fits locally that NATS would refuse by default. */
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;

export interface LocalKvServerOptions {
  /** Largest value a write takes, bytes. Default {@link DEFAULT_MAX_VALUE_BYTES}. */
  readonly maxValueBytes?: number;
}

/** The buckets of one process (or one bus): what a nats-server's JetStream would hold. */
export class LocalKvServer {
  readonly maxValueBytes: number;
  readonly #buckets = new Map<string, BucketState>();

  constructor(options: LocalKvServerOptions = {}) {
    const max = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
    if (!Number.isSafeInteger(max) || max <= 0) throw new InvalidArgumentError('maxValueBytes', 'must be a positive integer');
    this.maxValueBytes = max;
  }

  /** Names of the buckets that exist, sorted. */
  get buckets(): string[] {
    return [...this.#buckets.keys()].sort();
  }

  /** @internal The bucket `name`, created when missing. */
  _open(name: string): BucketState {
    let b = this.#buckets.get(name);
    if (b === undefined) {
      b = new BucketState(name);
      this.#buckets.set(name, b);
    }
    return b;
  }

  /** @internal */
  _destroy(name: string): boolean {
    const b = this.#buckets.get(name);
    if (b === undefined) return false;
    this.#buckets.delete(name);
    b.destroyed = true;
    for (const w of b.watchers) w.stop();
    return true;
  }
}

export interface LocalKvStoreOptions {
  /** The server whose buckets to use. Default: a new, private one. */
  readonly server?: LocalKvServer;
}

export class LocalKvStore implements KvStore {
  readonly kind = 'local' as const;
  readonly server: LocalKvServer;
  readonly #watches = new Set<LocalWatch>();
  #closed = false;

  constructor(options: LocalKvStoreOptions = {}) {
    this.server = options.server ?? new LocalKvServer();
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  get maxValueBytes(): number {
    return this.server.maxValueBytes;
  }

  async bucket(name: string): Promise<KvBucket> {
    assertBucketName(name);
    this._assertOpen(name);
    return new LocalKvBucket(this, this.server._open(name));
  }

  async destroy(name: string): Promise<boolean> {
    assertBucketName(name);
    this._assertOpen(name);
    return this.server._destroy(name);
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

  /** @internal */
  _track(w: LocalWatch): void {
    this.#watches.add(w);
  }

  /** @internal */
  _untrack(w: LocalWatch): void {
    this.#watches.delete(w);
  }
}

class LocalKvBucket implements KvBucket {
  constructor(
    readonly store: LocalKvStore,
    readonly state: BucketState,
  ) {}

  get name(): string {
    return this.state.name;
  }

  async get(key: string): Promise<KvEntry | null> {
    assertKey(key);
    this.#check('get');
    const s = this.state.entries.get(key);
    return s === undefined || s.operation !== KvOperation.Put ? null : entryOf(this.name, s);
  }

  async put(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    assertValue(value, this.store.maxValueBytes);
    this.#check('put');
    return this.state.write(key, KvOperation.Put, value, undefined);
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    assertKey(key);
    assertValue(value, this.store.maxValueBytes);
    this.#check('create');
    return this.state.write(key, KvOperation.Put, value, 0);
  }

  async update(key: string, value: Uint8Array, revision: number, _timeoutMs?: number): Promise<number> {
    assertKey(key);
    assertRevision(revision);
    assertValue(value, this.store.maxValueBytes);
    this.#check('update');
    return this.state.write(key, KvOperation.Put, value, revision);
  }

  async delete(key: string, options?: KvDeleteOptions): Promise<void> {
    this.#remove('delete', KvOperation.Delete, key, options);
  }

  async purge(key: string, options?: KvDeleteOptions): Promise<void> {
    this.#remove('purge', KvOperation.Purge, key, options);
  }

  async keys(filter = '>'): Promise<string[]> {
    assertFilter(filter);
    this.#check('keys');
    const out: string[] = [];
    for (const s of this.state.entries.values()) if (s.operation === KvOperation.Put && matchesFilter(filter, s.key)) out.push(s.key);
    return out.sort();
  }

  async watch(options: KvWatchOptions = {}): Promise<KvWatch> {
    const filter = options.key ?? '>';
    assertFilter(filter);
    this.#check('watch');
    const w = new LocalWatch(this.store, this.state, filter);
    const initial = [...this.state.entries.values()].filter((s) => matchesFilter(filter, s.key)).sort((a, b) => a.revision - b.revision);
    for (const s of initial) w._offer(s);
    this.state.watchers.add(w);
    this.store._track(w);
    return w;
  }

  #remove(op: string, operation: KvOperation, key: string, options: KvDeleteOptions | undefined): void {
    assertKey(key);
    if (options?.revision !== undefined) assertRevision(options.revision);
    this.#check(op);
    this.state.write(key, operation, EMPTY, options?.revision);
  }

  #check(op: string): void {
    this.store._assertOpen(this.name);
    if (this.state.destroyed) throw new KvUnavailableError(`${op} on ${this.name}`, 'the bucket was destroyed');
  }
}

function entryOf(bucket: string, s: Stored): KvEntry {
  return { bucket, key: s.key, value: s.value.slice(), revision: s.revision, operation: s.operation };
}

class LocalWatch implements KvWatch {
  readonly #queue: KvEntry[] = [];
  #waiting: ((r: IteratorResult<KvEntry>) => void) | undefined;
  #stopped = false;

  constructor(
    readonly store: LocalKvStore,
    readonly state: BucketState,
    readonly filter: string,
  ) {}

  /** @internal Called by the bucket during a write (or while opening, for the current entries). */
  _offer(s: Stored): void {
    if (this.#stopped || !matchesFilter(this.filter, s.key)) return;
    const entry = entryOf(this.state.name, s);
    const waiting = this.#waiting;
    if (waiting === undefined) {
      this.#queue.push(entry);
      return;
    }
    this.#waiting = undefined;
    waiting({ value: entry, done: false });
  }

  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#queue.length = 0;
    this.state.watchers.delete(this);
    this.store._untrack(this);
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<KvEntry> {
    return {
      next: () => {
        const entry = this.#queue.shift();
        if (entry !== undefined) return Promise.resolve({ value: entry, done: false });
        if (this.#stopped) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.#waiting = resolve;
        });
      },
      return: () => {
        this.stop();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
