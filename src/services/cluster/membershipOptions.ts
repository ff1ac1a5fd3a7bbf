/**
 * The options of `Membership.start()`, validated and resolved to numbers.
 *
 * ## Options
 * | option           | required | default          | meaning |
 * |------------------|----------|------------------|---------|
 * | `node`           | yes      |                  | node name, one subject token, unique in the cluster |
 * | `transport`      | yes      |                  | a connected `Transport` (NATS in production) |
 * | `kv`             | yes      |                  | the members bucket (`openKv(transport, bucketName(prefix, 'members'))`) |
 * | `prefix`         | no       | `'halyard'`      | subject prefix, see `subjects.ts` |
 * | `clock`          | no       | monotonic        | injected time source |
 * | `logger`         | no       | silent           | pino logger; a child `{component: 'membership', node}` is used |
 * | `heartbeatMs`    | no       | 250              | heartbeat period |
 * | `suspectAfterMs` | no       | 2 × heartbeatMs  | silence after which a watched node is `suspect` |
 * | `downAfterMs`    | no       | suspectAfterMs + 1.6 × heartbeatMs | silence after which a suspect, unconfirmed alive by probes, is declared `down` |
 * | `watchers`       | no       | 2                | k: how many ring successors watch each node |
 * | `indirectProbes` | no       | 2                | helpers asked to ping a suspect (SWIM ping-req) |
 * | `kvTimeoutMs`    | no       | 2000             | deadline of one KV operation |
 *
 * ## Why these timeouts (defaults 250 / 500 / 900 ms)
 * - Suspect after two heartbeat periods: one late or lost heartbeat is noise.
 * - Down after 900 ms of silence: a node whose event loop stalls for up to
 *   about 600 ms (silence = stall + up to one period) is suspected but never
 *   declared down, which is the busy-node case Moleculer got wrong (#891, #705).
 * - After a SIGKILL, detection takes 900 ms minus the time since the last
 *   heartbeat (0–250 ms), plus one tick (50 ms) and one KV write: about
 *   0.65–1.0 s, leaving at least 0.5 s of a 1.5 s failover budget for the
 *   takeover itself.
 */
import type { Clock } from '../../clock.js';
import { InvalidSpecError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Transport } from '../../transport/Transport.js';
import { DEFAULT_KV_TIMEOUT_MS, type KV } from './kv.js';
import { assertNodeName } from './subjects.js';

export const DEFAULT_HEARTBEAT_MS = 250;
export const DEFAULT_WATCHERS = 2;
export const DEFAULT_INDIRECT_PROBES = 2;

export interface MembershipOptions {
  readonly node: string;
  readonly transport: Transport;
  readonly kv: KV;
  readonly prefix?: string;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly heartbeatMs?: number;
  readonly suspectAfterMs?: number;
  readonly downAfterMs?: number;
  readonly watchers?: number;
  readonly indirectProbes?: number;
  readonly kvTimeoutMs?: number;
}

/** The timing and fan-out settings, every default filled in. */
export interface MembershipSettings {
  readonly heartbeatMs: number;
  readonly suspectAfterMs: number;
  readonly downAfterMs: number;
  readonly watchers: number;
  readonly indirectProbes: number;
  readonly kvTimeoutMs: number;
}

function positive(field: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidSpecError(field, 'must be a positive finite number');
  return v;
}

function count(field: string, v: number | undefined, fallback: number, min: number): number {
  if (v === undefined) return fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidSpecError(field, `must be an integer >= ${min}`);
  return v;
}

/** Check every option (a typed error naming the field) and fill in the defaults. */
export function membershipSettings(options: MembershipOptions): MembershipSettings {
  if (typeof options !== 'object' || options === null) throw new InvalidSpecError('options', 'must be an object');
  assertNodeName(options.node);
  if (options.transport === undefined) throw new InvalidSpecError('transport', 'is required');
  if (options.kv === undefined) throw new InvalidSpecError('kv', 'is required');
  const heartbeatMs = positive('heartbeatMs', options.heartbeatMs, DEFAULT_HEARTBEAT_MS);
  const suspectAfterMs = positive('suspectAfterMs', options.suspectAfterMs, 2 * heartbeatMs);
  const downAfterMs = positive('downAfterMs', options.downAfterMs, suspectAfterMs + 1.6 * heartbeatMs);
  if (suspectAfterMs <= heartbeatMs) throw new InvalidSpecError('suspectAfterMs', 'must be greater than heartbeatMs');
  if (downAfterMs <= suspectAfterMs) throw new InvalidSpecError('downAfterMs', 'must be greater than suspectAfterMs');
  return {
    heartbeatMs,
    suspectAfterMs,
    downAfterMs,
    watchers: count('watchers', options.watchers, DEFAULT_WATCHERS, 1),
    indirectProbes: count('indirectProbes', options.indirectProbes, DEFAULT_INDIRECT_PROBES, 0),
    kvTimeoutMs: positive('kvTimeoutMs', options.kvTimeoutMs, DEFAULT_KV_TIMEOUT_MS),
  };
}
