/**
 * Key, filter, bucket, revision and value rules of the `KvStore` seam (see
 * `KvStore.ts`). JetStream KV maps a key to the subject `$KV.<bucket>.<key>`,
 * so keys follow subject tokens, restricted to the characters nats.js accepts
 * in keys; the in-process store applies the same rules so that nothing works
 * locally that NATS would refuse.
 */
import { InvalidArgumentError, InvalidKvKeyError } from '../../errors.js';

export const MAX_KV_KEY_LENGTH = 256;
export const MAX_BUCKET_NAME_LENGTH = 200;

const TOKEN = /^[-/_=A-Za-z0-9]+$/;
const BUCKET = /^[-_A-Za-z0-9]+$/;

function tokensOf(field: 'key' | 'filter', value: unknown): string[] {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_KV_KEY_LENGTH) {
    throw new InvalidKvKeyError(field, value, `a ${field} is 1 to ${MAX_KV_KEY_LENGTH} characters`);
  }
  return value.split('.');
}

/** Throws `InvalidKvKeyError` (field `key`) unless `key` is a valid key: no wildcards, no empty tokens. */
export function assertKey(key: unknown): asserts key is string {
  for (const token of tokensOf('key', key)) {
    if (!TOKEN.test(token)) throw new InvalidKvKeyError('key', key, 'tokens must be non-empty and use only letters, digits, "-", "/", "_" or "="');
  }
}

/** Throws `InvalidKvKeyError` (field `filter`) unless `filter` is a key whose tokens may be `*`, or `>` last. */
export function assertFilter(filter: unknown): asserts filter is string {
  const tokens = tokensOf('filter', filter);
  tokens.forEach((token, i) => {
    if (token === '*' || (token === '>' && i === tokens.length - 1)) return;
    if (!TOKEN.test(token)) throw new InvalidKvKeyError('filter', filter, 'tokens must be a key token, "*", or ">" as the last one');
  });
}

export function assertBucketName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !BUCKET.test(name) || name.length > MAX_BUCKET_NAME_LENGTH) {
    throw new InvalidKvKeyError('bucket', name, `a bucket name is 1 to ${MAX_BUCKET_NAME_LENGTH} letters, digits, "-" or "_"`);
  }
}

/** Throws `InvalidArgumentError` (field `revision`) unless `revision` is a positive safe integer. */
export function assertRevision(revision: unknown): asserts revision is number {
  if (typeof revision !== 'number' || !Number.isSafeInteger(revision) || revision <= 0) {
    throw new InvalidArgumentError('revision', 'must be a positive integer');
  }
}

/** Throws `InvalidArgumentError` (field `value`) unless `value` is a `Uint8Array` of at most `max` bytes. */
export function assertValue(value: unknown, max: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError('value', 'must be a Uint8Array');
  if (value.byteLength > max) throw new InvalidArgumentError('value', `is ${value.byteLength} bytes; the store takes at most ${max}`);
}

/** True when `key` (valid) matches `filter` (valid), with subject wildcard rules. */
export function matchesFilter(filter: string, key: string): boolean {
  if (filter === '>') return true;
  const f = filter.split('.');
  const k = key.split('.');
  for (let i = 0; i < f.length; i++) {
    const token = f[i]!;
    if (token === '>') return k.length > i;
    if (i >= k.length) return false;
    if (token !== '*' && token !== k[i]) return false;
  }
  return f.length === k.length;
}
