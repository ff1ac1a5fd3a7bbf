/**
 * The cluster's use of the key-value seam (`src/transport/kv/`): opening its
 * buckets from whatever transport the node has, and the JSON encoding of
 * every record it stores. The store's semantics (compare-and-set on
 * revisions, one wildcard filter per watch, delete markers in a watch's
 * first entries) are the seam's contract, in `transport/kv/KvStore.ts`; the
 * cluster relies on nothing more, so it runs on JetStream KV and on the
 * in-process store alike.
 */
import { ClusterUnavailableError, describe, InvalidKvKeyError, KvClosedError, KvConflictError } from '../../errors.js';
import type { KvBucket, KvEntry, KvStore } from '../../transport/kv/KvStore.js';
import type { Transport } from '../../transport/Transport.js';

export { DEFAULT_KV_TIMEOUT_MS } from '../../transport/kv/JetStreamKvStore.js';
export type { KvBucket, KvEntry, KvStore };
/** The cluster's name for a bucket (Membership, Lease, Registry take one). */
export type KV = KvBucket;

function isKvStore(source: Transport | KvStore): source is KvStore {
  return typeof (source as KvStore).bucket === 'function';
}

/**
 * Open (creating if needed) the bucket `bucket` in the store of `source`: a
 * transport (`transport.kv()`) or a store. Rejects with
 * `ClusterUnavailableError` when the store cannot be reached; a bad bucket
 * name (`InvalidKvKeyError`) or a closed store (`KvClosedError`) is said as such.
 */
export async function openKv(source: Transport | KvStore, bucket: string): Promise<KvBucket> {
  const store = isKvStore(source) ? source : source.kv();
  try {
    return await store.bucket(bucket);
  } catch (err) {
    if (err instanceof InvalidKvKeyError || err instanceof KvClosedError) throw err;
    throw new ClusterUnavailableError(`cannot open bucket ${bucket}: ${describe(err)}`, err);
  }
}

/** True when `err` is a lost compare-and-set (the key moved on since the revision we held). */
export function isCasConflict(err: unknown): err is KvConflictError {
  return err instanceof KvConflictError;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

/** The JSON value of `data`, or `undefined` when it is not JSON. */
export function decodeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(data));
  } catch {
    return undefined;
  }
}

/** The JSON value of a live entry; `undefined` for absent, deleted, purged or non-JSON entries. */
export function entryJson(entry: KvEntry | null | undefined): unknown {
  if (entry?.operation !== 'PUT') return undefined;
  return decodeJson(entry.value);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
