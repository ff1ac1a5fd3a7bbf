/**
 * The KV state store: one entry per key in a bucket of a `KvStore`
 * (in-process, or JetStream KV for the cluster), behind the `StateStore`
 * seam (contract in `StateStore.ts`). A state key is a valid KV key, used
 * as is. Revisions are the bucket's, and compare-and-set is the store's own
 * (`create` for 0, `update` for n), so it holds between nodes: a fenced old
 * owner's write with its stale revision is refused.
 */
import { CorruptStateError, InvalidArgumentError, KvConflictError, StateConflictError } from '../../errors.js';
import type { KvBucket, KvStore } from '../../transport/kv/KvStore.js';
import {
  type StateRecord,
  type StateStore,
  type StateWriteOptions,
  assertExpectedRevision,
  assertStateKey,
  encodeSnapshot,
} from './StateStore.js';

export interface KvStateStoreOptions {
  readonly kv: KvStore;
  /** Bucket name. Default `halyard-state`. */
  readonly bucket?: string;
}

const FORMAT = 'halyard.state.v1';

export class KvStateStore implements StateStore {
  readonly kind = 'kv' as const;
  readonly bucketName: string;
  private readonly kv: KvStore;
  private opened: Promise<KvBucket> | undefined;

  constructor(options: KvStateStoreOptions) {
    if (options?.kv === undefined) throw new InvalidArgumentError('kv', 'a KvStore is required');
    this.kv = options.kv;
    this.bucketName = options.bucket ?? 'halyard-state';
  }

  async save(key: string, snapshot: unknown, options?: StateWriteOptions): Promise<number> {
    assertStateKey(key);
    const expected = assertExpectedRevision(options);
    const value = new TextEncoder().encode(`{"format":"${FORMAT}","snapshot":${encodeSnapshot(snapshot)}}`);
    if (value.byteLength > this.kv.maxValueBytes) {
      throw new InvalidArgumentError('snapshot', `is ${value.byteLength} bytes as stored; the store takes at most ${this.kv.maxValueBytes}`);
    }
    const bucket = await this.bucket();
    try {
      if (expected === undefined) return await bucket.put(key, value);
      if (expected === 0) return await bucket.create(key, value);
      return await bucket.update(key, value, expected);
    } catch (err) {
      throw conflictOr(err, key, expected);
    }
  }

  async load(key: string): Promise<StateRecord | undefined> {
    assertStateKey(key);
    const entry = await (await this.bucket()).get(key);
    if (entry === null) return undefined;
    const where = `${this.bucketName}/${key}`;
    let record: { format?: unknown; snapshot?: unknown } | null;
    try {
      record = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(entry.value));
    } catch (err) {
      throw new CorruptStateError(key, where, 'not JSON', err);
    }
    if (typeof record !== 'object' || record === null || record.format !== FORMAT || !('snapshot' in record)) {
      throw new CorruptStateError(key, where, `not a ${FORMAT} record`);
    }
    return { snapshot: record.snapshot, revision: entry.revision };
  }

  async delete(key: string, options?: StateWriteOptions): Promise<boolean> {
    assertStateKey(key);
    const expected = assertExpectedRevision(options);
    const bucket = await this.bucket();
    const present = (await bucket.get(key)) !== null;
    if (expected === 0) {
      if (present) throw new StateConflictError(key, 0);
      return false;
    }
    if (expected === undefined) {
      if (!present) return false;
      await bucket.delete(key);
      return true;
    }
    try {
      await bucket.delete(key, { revision: expected });
    } catch (err) {
      throw conflictOr(err, key, expected);
    }
    return present;
  }

  async list(): Promise<string[]> {
    return (await this.bucket()).keys();
  }

  private bucket(): Promise<KvBucket> {
    this.opened ??= this.kv.bucket(this.bucketName);
    // A failed open is not cached, so a later call retries.
    this.opened.catch(() => {
      this.opened = undefined;
    });
    return this.opened;
  }
}

function conflictOr(err: unknown, key: string, expected: number | undefined): unknown {
  if (err instanceof KvConflictError) return new StateConflictError(key, expected ?? 0, err);
  return err;
}
