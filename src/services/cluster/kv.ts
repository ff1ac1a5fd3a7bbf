/**
 * JetStream KV access for the cluster layer (`@nats-io/kv` v3 on nats-server
 * 2.9+). What is relied on, and only that:
 * - `create(key)` succeeds only when the key is absent or deleted, and
 *   `update(key, value, revision)` only when `revision` is still the key's
 *   last: compare-and-set on the stream sequence, the basis of every claim
 *   and lease. A lost race fails with JetStream API error 10071 ("wrong last
 *   sequence"), see {@link isCasConflict}.
 * - A revision is the stream sequence of the write: strictly increasing per
 *   bucket, hence usable as a fencing token.
 * - `watch({ key })` with one (wildcard) filter. Several filters (2.10) and
 *   per-key TTLs (2.11) are not used: liveness comes from heartbeats, never
 *   from key expiry (2.9 sends no watch event when max-age removes a key).
 *
 * Buckets keep one value per key (`history: 1`) on file storage, so claims,
 * leases and incarnation counters survive a server restart.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { JetStreamApiCodes, JetStreamApiError, jetstream } from '@nats-io/jetstream';
import { type KV, type KvEntry, Kvm } from '@nats-io/kv';
import { ClusterUnavailableError, describe } from '../../errors.js';
import { NatsTransport } from '../../transport/NatsTransport.js';

export type { KV, KvEntry };

/** Default deadline of one KV operation, ms. */
export const DEFAULT_KV_TIMEOUT_MS = 2000;

export interface OpenKvOptions {
  /** Deadline of each KV operation, ms. Default {@link DEFAULT_KV_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
}

/** JetStream API codes of a stream created by someone else between our lookup and our add. */
const STREAM_NAME_IN_USE = 10058;
const STREAM_SUBJECT_OVERLAP = 10065;

/** Open (creating if needed) the bucket `bucket` over a NATS transport or connection. */
export async function openKv(source: NatsTransport | NatsConnection, bucket: string, options: OpenKvOptions = {}): Promise<KV> {
  const nc = source instanceof NatsTransport ? source._connection : source;
  const timeout = options.timeoutMs ?? DEFAULT_KV_TIMEOUT_MS;
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Kvm(jetstream(nc, { timeout })).create(bucket, { history: 1, timeout });
    } catch (err) {
      // Nodes starting together race to create the bucket: `create` looks the
      // stream up and adds it when missing, and the loser of the add is told
      // its subjects overlap (nats-server 2.9) or the name is taken. Looking
      // again finds the winner's stream.
      const raced = err instanceof JetStreamApiError && (err.code === STREAM_SUBJECT_OVERLAP || err.code === STREAM_NAME_IN_USE);
      if (!raced || attempt >= 3) throw new ClusterUnavailableError(`cannot open bucket ${bucket}: ${describe(err)}`, err);
    }
  }
}

/** True when `err` is a lost compare-and-set (the key moved on since the revision we held). */
export function isCasConflict(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
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
