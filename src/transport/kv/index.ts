/**
 * The key-value seam (`KvStore.ts`) and its two implementations: JetStream KV
 * and the in-process store.
 */
export {
  KvOperation,
  type KvBucket,
  type KvDeleteOptions,
  type KvEntry,
  type KvStore,
  type KvWatch,
  type KvWatchOptions,
} from './KvStore.js';
export { MAX_BUCKET_NAME_LENGTH, MAX_KV_KEY_LENGTH, assertBucketName, assertFilter, assertKey, assertValue, matchesFilter } from './keys.js';
export { DEFAULT_MAX_VALUE_BYTES, LocalKvServer, LocalKvStore, type LocalKvServerOptions, type LocalKvStoreOptions } from './LocalKvStore.js';
export { DEFAULT_KV_TIMEOUT_MS, JetStreamKvStore, type JetStreamKvStoreOptions } from './JetStreamKvStore.js';
