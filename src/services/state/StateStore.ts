/**
 * The state store seam: where a persisted actor's snapshot lives between
 * incarnations. Two implementations pass one conformance suite
 * (`spec/state.conformance.ts`):
 * - `FileStateStore`: one file per key in a folder (the embedded default);
 * - `KvStateStore`: one entry per key in a bucket of a `KvStore` (in-process
 *   or JetStream KV, for the cluster).
 *
 * ```ts
 * const store = new FileStateStore({ dir: '/var/lib/app/state' });
 * const rev = await store.save('orders.1', snapshot, { expectedRevision: 0 }); // StateConflictError if present
 * await store.save('orders.1', next, { expectedRevision: rev });              // StateConflictError if it moved on
 * const found = await store.load('orders.1');                                 // { snapshot, revision } | undefined
 * ```
 *
 * ## Keys
 * 1 to 200 characters: dot-separated, non-empty tokens of letters, digits,
 * `-` and `_`. That is a valid KV key and a safe file name (no `/`, no `..`),
 * so a key means the same in every store. Anything else rejects with
 * `InvalidStateKeyError` (`field` `key`) before the store is touched.
 *
 * ## Snapshots
 * Any JSON value (XState's `getPersistedSnapshot()` is one). It is stored as
 * JSON; `load` returns a fresh copy. A value JSON cannot carry (a cycle, a
 * bigint) rejects with `InvalidArgumentError` (`snapshot`), nothing written.
 *
 * ## Revisions (compare-and-set)
 * Every save returns the key's new revision, a positive integer larger than
 * the one it replaces (after a delete a key starts again: the file store
 * from 1, the KV store from the bucket's next revision). `expectedRevision` makes `save`/`delete` conditional:
 * `0` means "only if absent", `n` means "only if the stored revision is
 * still `n`"; a lost race rejects with `StateConflictError`. An owner that
 * keeps passing the revision it last wrote cannot overwrite a newer owner's
 * state. Without `expectedRevision` a write always wins.
 *
 * ## Errors
 * Every error is a rejection, never a synchronous throw. A stored value that cannot be read back rejects `load` with
 * `CorruptStateError` naming the file (or `bucket/key`). Store failures
 * (disk, KV) reject with the store's own typed error.
 */
import { InvalidArgumentError, InvalidStateKeyError } from '../../errors.js';

export interface StateRecord {
  readonly snapshot: unknown;
  readonly revision: number;
}

export interface StateWriteOptions {
  /** Write only if the stored revision is this one (0: only if absent). */
  readonly expectedRevision?: number;
}

export interface StateStore {
  readonly kind: 'file' | 'kv';
  /** Store `snapshot` under `key`; resolves to the new revision. */
  save(key: string, snapshot: unknown, options?: StateWriteOptions): Promise<number>;
  load(key: string): Promise<StateRecord | undefined>;
  /** Remove `key`; true if it was there. With `expectedRevision`, only if still at it. */
  delete(key: string, options?: StateWriteOptions): Promise<boolean>;
  /** Every stored key, sorted. */
  list(): Promise<string[]>;
}

export const MAX_STATE_KEY_LENGTH = 200;
const KEY = /^[-_A-Za-z0-9]+(\.[-_A-Za-z0-9]+)*$/;

/** Throws `InvalidStateKeyError` unless `key` follows the key rule above. */
export function assertStateKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_STATE_KEY_LENGTH) {
    throw new InvalidStateKeyError(key, `a key is 1 to ${MAX_STATE_KEY_LENGTH} characters`);
  }
  if (!KEY.test(key)) {
    throw new InvalidStateKeyError(key, 'a key is dot-separated, non-empty tokens of letters, digits, "-" or "_"');
  }
}

export function isStateKey(key: unknown): key is string {
  return typeof key === 'string' && key.length > 0 && key.length <= MAX_STATE_KEY_LENGTH && KEY.test(key);
}

/** Throws `InvalidArgumentError` (`expectedRevision`) unless it is absent or a non-negative safe integer. */
export function assertExpectedRevision(options: StateWriteOptions | undefined): number | undefined {
  const rev = options?.expectedRevision;
  if (rev === undefined) return undefined;
  if (typeof rev !== 'number' || !Number.isSafeInteger(rev) || rev < 0) {
    throw new InvalidArgumentError('expectedRevision', 'must be a non-negative integer (0: only if absent)');
  }
  return rev;
}

/** JSON text of `snapshot`, or `InvalidArgumentError` (`snapshot`) when JSON cannot carry it. */
export function encodeSnapshot(snapshot: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(snapshot);
  } catch (err) {
    throw new InvalidArgumentError('snapshot', `cannot be stored as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new InvalidArgumentError('snapshot', 'cannot be stored as JSON (undefined or a function)');
  return text;
}
