/**
 * The node's `state` option: where persisted service instances
 * (`defineService({ persist })`) keep their snapshots.
 *
 * | value            | store                                                                 |
 * |------------------|-----------------------------------------------------------------------|
 * | `{ store }`      | that `StateStore` (a `FileStateStore`, a `KvStateStore`, your own)     |
 * | `{ dir }`        | `FileStateStore` in `dir`                                              |
 * | absent, NATS     | `KvStateStore` on the transport's JetStream KV (bucket `halyard-state`): a survivor can read it |
 * | absent, embedded | `FileStateStore` in `<cwd>/.halyard/state/<node>` (PM2 keeps its dump under `~/.pm2` the same way) |
 *
 * The store is made on first use (a persisted instance starting), so a node
 * with no persisted service creates no folder. Unknown keys are refused.
 */
import { join } from 'node:path';
import { InvalidSpecError } from '../../errors.js';
import { assertKnownKeys, assertOptionsObject, kindOf } from '../../options.js';
import type { Transport } from '../../transport/Transport.js';
import { FileStateStore } from './FileStateStore.js';
import { KvStateStore } from './KvStateStore.js';
import type { StateStore } from './StateStore.js';

export type NodeStateOption = { readonly dir: string } | { readonly store: StateStore };

const STORE_METHODS = ['save', 'load', 'delete', 'list'] as const;

/** Throws `InvalidSpecError` naming `state`, `state.dir` or `state.store`. */
export function assertStateOption(value: unknown): void {
  if (value === undefined) return;
  assertOptionsObject(value, 'state', '{ dir } or { store }');
  assertKnownKeys(value, 'state', ['dir', 'store']);
  if ('dir' in value && 'store' in value) throw new InvalidSpecError('state', 'takes { dir } or { store }, not both');
  if ('dir' in value) {
    if (typeof value.dir !== 'string' || value.dir.length === 0) throw new InvalidSpecError('state.dir', `must be a non-empty path, got ${kindOf(value.dir)}`);
    return;
  }
  if (!('store' in value)) throw new InvalidSpecError('state', 'takes { dir } or { store }');
  const store = value.store as Record<string, unknown> | null;
  const missing = STORE_METHODS.filter((m) => typeof store?.[m] !== 'function');
  if (missing.length > 0) throw new InvalidSpecError('state.store', `must be a StateStore (missing ${missing.join(', ')})`);
}

/** The node's store, by the table above. */
export function resolveStateStore(option: NodeStateOption | undefined, node: string, transport: Transport): StateStore {
  if (option !== undefined && 'store' in option) return option.store;
  if (option !== undefined) return new FileStateStore({ dir: option.dir });
  if (transport.kind === 'nats') return new KvStateStore({ kv: transport.kv() });
  return new FileStateStore({ dir: join(process.cwd(), '.halyard', 'state', node) });
}
