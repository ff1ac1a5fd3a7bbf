export { type StateStore, type StateRecord, type StateWriteOptions, assertStateKey, MAX_STATE_KEY_LENGTH } from './StateStore.js';
export { FileStateStore, type FileStateStoreOptions } from './FileStateStore.js';
export { KvStateStore, type KvStateStoreOptions } from './KvStateStore.js';
export { persistSnapshots, restoreActor, type PersistHandle, type PersistOptions, type Restored } from './persistSnapshots.js';
