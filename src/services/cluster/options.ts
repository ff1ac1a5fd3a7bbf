/**
 * Validation of a node's `cluster` option, before anything connects.
 *
 * `cluster: true` takes every default; an object may set any of the keys
 * below (all in ms, see the table in Cluster.ts). Each error names the full
 * path (`cluster.downAfterMs`), including the relations the membership
 * detector needs (`heartbeatMs < suspectAfterMs < downAfterMs`), which would
 * otherwise be found only once the node is connected.
 */
import { InvalidSpecError } from '../../errors.js';
import { assertKnownKeys, assertOptionsObject, assertPositiveMs } from '../../options.js';
import { DEFAULT_HEARTBEAT_MS } from './Membership.js';

export interface ClusterOptions {
  readonly heartbeatMs?: number;
  readonly suspectAfterMs?: number;
  readonly downAfterMs?: number;
  readonly leaseMs?: number;
  /** How long an instance given up for its restart intensity is banned before the coordinator tries it again. Default 60000. */
  readonly failureTimeoutMs?: number;
}

const CLUSTER_KEYS = ['heartbeatMs', 'suspectAfterMs', 'downAfterMs', 'leaseMs', 'failureTimeoutMs'] as const satisfies readonly (keyof ClusterOptions)[];

/** Validate `cluster` options; returns them with no unknown keys. */
export function resolveClusterOptions(v: unknown): ClusterOptions {
  if (v === true) return {};
  assertOptionsObject(v, 'cluster', `true or { ${CLUSTER_KEYS.map((k) => `${k}?`).join(', ')} }`);
  assertKnownKeys(v, 'cluster', CLUSTER_KEYS);
  for (const k of CLUSTER_KEYS) if (v[k] !== undefined) assertPositiveMs(v[k], `cluster.${k}`);
  const o = v as ClusterOptions;
  // The defaults as Membership derives them, to check the relations between what was given.
  const heartbeat = o.heartbeatMs ?? DEFAULT_HEARTBEAT_MS;
  const suspect = o.suspectAfterMs ?? 2 * heartbeat;
  const down = o.downAfterMs ?? suspect + 1.6 * heartbeat;
  if (suspect <= heartbeat) {
    throw new InvalidSpecError('cluster.suspectAfterMs', `must be greater than heartbeatMs (${heartbeat}), got ${suspect}`);
  }
  if (down <= suspect) throw new InvalidSpecError('cluster.downAfterMs', `must be greater than suspectAfterMs (${suspect}), got ${down}`);
  return { heartbeatMs: o.heartbeatMs, suspectAfterMs: o.suspectAfterMs, downAfterMs: o.downAfterMs, leaseMs: o.leaseMs, failureTimeoutMs: o.failureTimeoutMs };
}
