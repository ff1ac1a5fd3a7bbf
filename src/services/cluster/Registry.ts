/**
 * The resource graph in the cluster's key-value store (JetStream KV or the
 * in-process store, `transport/kv/`): nodes, service types, instances,
 * configs, and who owns each name.
 *
 * ```ts
 * const registry = new Registry({ kv: await openKv(transport, bucketName('halyard', 'registry')) });
 * const claim = await registry.claim('orders', { node: 'n1', incarnation });
 * if (claim.ok) startInstance('orders', { epoch: claim.epoch });
 * ```
 *
 * ## Keys (one bucket, `history: 1`)
 * | key                 | value                                   | written by |
 * |---------------------|-----------------------------------------|------------|
 * | `node.<node>`       | any JSON (node facts: address, capacity) | `put('node', …)` |
 * | `type.<type>`       | any JSON (a service type's definition)   | `put('type', …)` |
 * | `instance.<name>`   | any JSON (an instance: its type, spec)   | `put('instance', …)` |
 * | `config.<name>`     | any JSON (configuration)                 | `put('config', …)` |
 * | `supervisor.<name>` | a supervisor's watched set (records.ts)  | `put('supervisor', …)` (Adoption.ts) |
 * | `owner.<name>`      | {@link OwnerRecord}                      | `claim` / `release` only |
 *
 * ## Ownership contract
 * - There is one `owner.<name>` key per name, so there is at most one owner
 *   in the store. Claims are compare-and-set, so no two claimers both
 *   succeed: `claim` without `replaces` is a KV `create` (wins only if the
 *   name is unowned); with `replaces: epoch` it is `update(key, value,
 *   epoch)` (wins only if that claim is still the current one, e.g. a
 *   failover taking over from an owner declared down).
 * - The epoch of a claim is its KV revision: strictly increasing across
 *   every claim of every name. It is the fencing token: work done and
 *   reports sent under an older epoch are rejected ({@link isStale}).
 * - `release(name, epoch)` deletes the claim only if it is still that epoch:
 *   a fenced-off owner cannot release its successor's claim.
 * - The registry decides nothing about liveness: a claim outlives its node
 *   until someone takes it over with `replaces`. Deciding when that is safe
 *   is the failover's job (membership verdict for instances; `Lease` for
 *   singletons, which must never run twice).
 *
 * ## Errors
 * Invalid names throw `InvalidNameError`; a store that cannot be reached
 * rejects with `ClusterUnavailableError`. A lost race is a result
 * (`{ ok: false }`), not an error.
 */
import { ClusterUnavailableError, describe, InvalidSpecError } from '../../errors.js';
import { entryJson, encodeJson, isCasConflict, isRecord, type KvBucket, type KvEntry } from './kv.js';
import { assertKvKey } from './subjects.js';

export { isStale } from './fencing.js';

export const RecordKind = { Node: 'node', Type: 'type', Instance: 'instance', Config: 'config', Supervisor: 'supervisor' } as const;
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

const OWNER = 'owner';
const KINDS = new Set<string>([...Object.values(RecordKind), OWNER]);

export interface OwnerRecord {
  readonly name: string;
  readonly node: string;
  /** The owner node's incarnation when it claimed (0 when not given). */
  readonly incarnation: number;
  /** The fencing token: the KV revision of the claim. */
  readonly epoch: number;
  /** Wall-clock ms of the claim, informational. */
  readonly at: number;
  readonly data?: unknown;
}

export interface ClaimOptions {
  readonly node: string;
  readonly incarnation?: number;
  /** The epoch of the claim this one takes over; absent to claim an unowned name. */
  readonly replaces?: number;
  /** Extra JSON stored with the claim. */
  readonly data?: unknown;
}

export type ClaimResult =
  | { readonly ok: true; readonly epoch: number; readonly revision: number }
  | { readonly ok: false; readonly reason: 'conflict'; readonly owner: OwnerRecord | undefined };

export type PutResult = { readonly ok: true; readonly revision: number } | { readonly ok: false; readonly reason: 'conflict' };

export interface StoredValue<T = unknown> {
  readonly value: T;
  readonly revision: number;
}

export interface RegistryChange {
  /** The full key, e.g. `owner.orders`. */
  readonly key: string;
  readonly kind: string;
  readonly name: string;
  readonly operation: 'put' | 'delete';
  readonly value: unknown;
  readonly revision: number;
}

export interface RegistryOptions {
  /** The registry bucket (`openKv(transport, bucketName(prefix, 'registry'))`). */
  readonly kv: KvBucket;
  /** Deadline of one KV write, ms. Default: the bucket's. */
  readonly timeoutMs?: number;
}

function keyOf(kind: string, name: string): string {
  const key = `${kind}.${name}`;
  assertKvKey(key);
  return key;
}

function ownerOf(name: string, entry: KvEntry | null): OwnerRecord | undefined {
  const v = entryJson(entry);
  if (!isRecord(v) || typeof v.node !== 'string' || entry === null) return undefined;
  return {
    name,
    node: v.node,
    incarnation: typeof v.incarnation === 'number' ? v.incarnation : 0,
    epoch: entry.revision,
    at: typeof v.at === 'number' ? v.at : 0,
    ...(v.data !== undefined ? { data: v.data } : {}),
  };
}

export class Registry {
  readonly #kv: KvBucket;
  readonly #timeoutMs: number | undefined;
  #ops = 0;

  constructor(options: RegistryOptions) {
    if (typeof options !== 'object' || options === null || options.kv === undefined) throw new InvalidSpecError('kv', 'is required');
    this.#kv = options.kv;
    this.#timeoutMs = options.timeoutMs;
  }

  /** KV operations issued so far (reads and writes), for ops/s measurements. */
  get operations(): number {
    return this.#ops;
  }

  /** Claim ownership of `name`. See the ownership contract in the module comment. */
  async claim(name: string, options: ClaimOptions): Promise<ClaimResult> {
    const key = keyOf(OWNER, name);
    if (typeof options?.node !== 'string' || options.node.length === 0) throw new InvalidSpecError('node', 'must be a non-empty string');
    if (options.replaces !== undefined && (!Number.isSafeInteger(options.replaces) || options.replaces <= 0)) {
      throw new InvalidSpecError('replaces', 'must be a positive integer epoch');
    }
    const value = encodeJson({
      type: 'halyard.registry.v1.owner',
      node: options.node,
      incarnation: options.incarnation ?? 0,
      at: Date.now(),
      ...(options.data !== undefined ? { data: options.data } : {}),
    });
    try {
      this.#ops++;
      const revision =
        options.replaces === undefined ? await this.#kv.create(key, value) : await this.#kv.update(key, value, options.replaces, this.#timeoutMs);
      return { ok: true, epoch: revision, revision };
    } catch (err) {
      if (!isCasConflict(err)) throw this.#unavailable(`claim ${name}`, err);
    }
    return { ok: false, reason: 'conflict', owner: await this.owner(name) };
  }

  /** Give up the claim `epoch` on `name`. False when that is no longer the current claim. */
  async release(name: string, epoch: number): Promise<boolean> {
    const key = keyOf(OWNER, name);
    if (!Number.isSafeInteger(epoch) || epoch <= 0) throw new InvalidSpecError('epoch', 'must be a positive integer');
    try {
      this.#ops++;
      await this.#kv.delete(key, { revision: epoch });
      return true;
    } catch (err) {
      if (isCasConflict(err)) return false;
      throw this.#unavailable(`release ${name}`, err);
    }
  }

  /** The current owner of `name`, if any. */
  async owner(name: string): Promise<OwnerRecord | undefined> {
    const key = keyOf(OWNER, name);
    try {
      this.#ops++;
      return ownerOf(name, await this.#kv.get(key));
    } catch (err) {
      throw this.#unavailable(`owner ${name}`, err);
    }
  }

  /**
   * Write a node, type, instance or config record. With `expect` (a
   * revision, or 0 for "must not exist"), a compare-and-set.
   */
  async put(kind: RecordKind, name: string, value: unknown, options: { expect?: number } = {}): Promise<PutResult> {
    if (!Object.values(RecordKind).includes(kind)) throw new InvalidSpecError('kind', 'must be node, type, instance, config or supervisor');
    const key = keyOf(kind, name);
    const data = encodeJson(value);
    try {
      this.#ops++;
      let revision: number;
      if (options.expect === undefined) revision = await this.#kv.put(key, data);
      else if (options.expect === 0) revision = await this.#kv.create(key, data);
      else revision = await this.#kv.update(key, data, options.expect, this.#timeoutMs);
      return { ok: true, revision };
    } catch (err) {
      if (isCasConflict(err)) return { ok: false, reason: 'conflict' };
      throw this.#unavailable(`put ${key}`, err);
    }
  }

  async get<T = unknown>(kind: RecordKind, name: string): Promise<StoredValue<T> | undefined> {
    const key = keyOf(kind, name);
    try {
      this.#ops++;
      const entry = await this.#kv.get(key);
      const value = entryJson(entry);
      return entry === null || value === undefined ? undefined : { value: value as T, revision: entry.revision };
    } catch (err) {
      throw this.#unavailable(`get ${key}`, err);
    }
  }

  /** Delete a record. With `expect`, only if it is still at that revision. */
  async remove(kind: RecordKind, name: string, options: { expect?: number } = {}): Promise<boolean> {
    const key = keyOf(kind, name);
    try {
      this.#ops++;
      await this.#kv.delete(key, options.expect === undefined ? undefined : { revision: options.expect });
      return true;
    } catch (err) {
      if (isCasConflict(err)) return false;
      throw this.#unavailable(`remove ${key}`, err);
    }
  }

  /** Names of the live records of one kind (owners included: `'owner'`). */
  async list(kind: RecordKind | 'owner'): Promise<string[]> {
    if (!KINDS.has(kind)) throw new InvalidSpecError('kind', 'must be node, type, instance, config, supervisor or owner');
    const names: string[] = [];
    try {
      const keys = await this.#kv.keys(`${kind}.>`);
      for await (const key of keys) names.push(key.slice(kind.length + 1));
    } catch (err) {
      throw this.#unavailable(`list ${kind}`, err);
    }
    return names.sort();
  }

  /**
   * Observe every change under `prefix` (a kind such as `'owner'`, or a key
   * prefix such as `'owner.orders'`; `''` for everything): the current values
   * first, then updates. One wildcard filter, so it works on nats-server 2.9.
   * Resolves to the function that stops watching.
   */
  async watch(prefix: string, fn: (change: RegistryChange) => void): Promise<() => void> {
    let filter = '>';
    if (prefix !== '') {
      const trimmed = prefix.endsWith('.') ? prefix.slice(0, -1) : prefix;
      assertKvKey(trimmed);
      filter = `${trimmed}.>`;
    }
    let iter: Awaited<ReturnType<KvBucket['watch']>>;
    try {
      iter = await this.#kv.watch({ key: filter });
    } catch (err) {
      throw this.#unavailable(`watch ${filter}`, err);
    }
    void (async () => {
      for await (const e of iter) {
        const dot = e.key.indexOf('.');
        const change: RegistryChange = {
          key: e.key,
          kind: dot === -1 ? e.key : e.key.slice(0, dot),
          name: dot === -1 ? '' : e.key.slice(dot + 1),
          operation: e.operation === 'PUT' ? 'put' : 'delete',
          value: e.operation === 'PUT' ? entryJson(e) : undefined,
          revision: e.revision,
        };
        try {
          fn(change);
        } catch {
          // An observer's failure is its own; the watch goes on.
        }
      }
    })().catch(() => {});
    return () => iter.stop();
  }

  #unavailable(what: string, err: unknown): Error {
    return new ClusterUnavailableError(`${what}: ${describe(err)}`, err);
  }
}
