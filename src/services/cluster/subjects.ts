/**
 * Subjects and KV keys of the cluster layer. With the default prefix `halyard`:
 *
 * | subject                          | publisher               | subscribers |
 * |----------------------------------|-------------------------|-------------|
 * | `halyard.hb.<node>`              | `<node>`, every heartbeat | `<node>`'s k ring successors, and `<node>` itself (its own echo proves its link) |
 * | `halyard.cluster.<event>`        | whoever saw the change  | every member (`halyard.cluster.*`): join, leave, suspect, alive, down |
 * | `halyard.cluster.ping.<node>`    | a prober (request)      | `<node>` answers with a pong |
 * | `halyard.cluster.probe.<node>`   | a suspecter (request)   | `<node>` pings the target for it and answers ack / nack |
 * | `halyard.clrpc.<node>`           | any node (request)      | `<node>`: spawn / stop / list of cluster instances (Host.ts; versioned frames, wire.ts) |
 * | `halyard.clexit.<node>`          | a node hosting an instance | `<node>`, whose supervisor started it: the instance's exit, with its epoch (RemoteChildren.ts) |
 *
 * `cluster.*` matches one token only, so pings and probes (two tokens after
 * `cluster`) never reach the event subscribers.
 *
 * KV keys are NATS-subject-like: dot-separated tokens of `[-/_=A-Za-z0-9]`.
 * Node names (one token of `[A-Za-z0-9_-]`) and actor names (dotted tokens of
 * the same) are valid keys as they are.
 */
import { InvalidNameError } from '../../errors.js';
import { assertNodeName, assertPrefix } from '../remote/subjects.js';

export class ClusterSubjects {
  readonly events: string;
  readonly #hb: string;
  readonly #cluster: string;

  constructor(readonly prefix: string) {
    assertPrefix(prefix);
    this.#hb = `${prefix}.hb.`;
    this.#cluster = `${prefix}.cluster.`;
    this.events = `${prefix}.cluster.*`;
  }

  heartbeat(node: string): string {
    return this.#hb + node;
  }

  event(kind: string): string {
    return this.#cluster + kind;
  }

  ping(node: string): string {
    return `${this.#cluster}ping.${node}`;
  }

  probe(node: string): string {
    return `${this.#cluster}probe.${node}`;
  }

  /** Spawn / stop / list requests to `node`. */
  rpc(node: string): string {
    return `${this.prefix}.clrpc.${node}`;
  }

  /** Exit reports for instances whose supervisor runs on `node`. */
  exits(node: string): string {
    return `${this.prefix}.clexit.${node}`;
  }
}

const KEY_TOKEN = /^[-/_=A-Za-z0-9]+$/;
const MAX_KEY_LENGTH = 256;

/** Throws `InvalidNameError` unless `key` is a valid KV key (no wildcards, no empty tokens). */
export function assertKvKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
    throw new InvalidNameError(key, `a key is 1 to ${MAX_KEY_LENGTH} characters`);
  }
  for (const token of key.split('.')) {
    if (!KEY_TOKEN.test(token)) throw new InvalidNameError(key, 'key tokens must be non-empty and use only letters, digits, "-", "/", "_" or "="');
  }
}

export { assertNodeName };

/** A bucket name for `what` under a subject prefix: dots are not allowed in bucket names. */
export function bucketName(prefix: string, what: string): string {
  assertPrefix(prefix);
  return `${prefix.replace(/\./g, '_')}-${what}`;
}
