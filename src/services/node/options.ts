/**
 * Validation of `createNode` options, all of it before a connection opens
 * (the table of options is in Node.ts). Every error is an `InvalidSpecError`
 * whose `field` is the full path: `name`, `askTimout`, `transport.servers`,
 * `mailbox.overflw`, `supervision.decisionLogSize`, `cluster.downAfterMs`.
 *
 * Values of credential fields (`token`, `pass`, server URLs that may carry
 * user info) are never quoted back in a message.
 */
import { InvalidSpecError, describe } from '../../errors.js';
import { resolveMailbox } from '../../actors/ActorSystem.js';
import { DEFAULT_MAILBOX_CAPACITY } from '../../actors/Mailbox.js';
import {
  assertFunction,
  assertKnownKeys,
  assertOptionsObject,
  assertPositiveInteger,
  assertPositiveMs,
  isPlainObject,
  kindOf,
} from '../../options.js';
import { assertSupervisionOptions } from '../../supervision/index.js';
import { type CodecLimits, DEFAULT_LIMITS } from '../remote/frameGuard.js';
import { LocalBus } from '../../transport/LocalTransport.js';
import { assertJetStreamKvStoreOptions } from '../../transport/kv/JetStreamKvStore.js';
import type { NatsTransportOptions } from '../../transport/NatsTransport.js';
import type { Transport } from '../../transport/Transport.js';
import type { ClusterOptions } from '../cluster/Cluster.js';
import { resolveClusterOptions } from '../cluster/options.js';
import type { NodeOptions } from './Node.js';
import { assertNodeLabels } from '../catalog/labels.js';
import { assertStateOption } from '../state/stateOptions.js';
import { assertNodeName, assertPrefix, Subjects } from '../remote/subjects.js';
import { assertAdminOptions } from '../admin/AdminResponder.js';
import { assertHttpOptions } from '../health/httpOptions.js';

/** What `transport: { kind: 'nats', ... }` takes: the transport's own options, with a default connection `name` (the node's `logger` and `clock` are passed on). */
export type NatsTransportConfig = { readonly kind: 'nats' } & Omit<NatsTransportOptions, 'name' | 'logger' | 'clock'> & { readonly name?: string };

export type TransportConfig = { readonly kind: 'local'; readonly bus?: LocalBus } | NatsTransportConfig;

// Records over `keyof`: a key added to an options type and not here (or the
// reverse) fails to compile, so what is validated cannot drift from the types.
const NODE_KEYS: Record<keyof NodeOptions, true> = {
  name: true,
  transport: true,
  prefix: true,
  logger: true,
  clock: true,
  mailbox: true,
  askTimeout: true,
  limits: true,
  supervision: true,
  cluster: true,
  services: true,
  labels: true,
  events: true,
  admin: true,
  http: true,
  state: true,
};
const NATS_KEYS: Record<keyof NatsTransportConfig, true> = {
  kind: true,
  servers: true,
  name: true,
  token: true,
  user: true,
  pass: true,
  authenticator: true,
  tls: true,
  maxReconnectAttempts: true,
  reconnectTimeWait: true,
  reconnectBufferBytes: true,
  pingInterval: true,
  timeout: true,
  noRandomize: true,
  kv: true,
  onError: true,
};
const LOCAL_KEYS = ['kind', 'bus'];
const LIMIT_KEYS: Record<keyof CodecLimits, true> = { maxBytes: true, maxDepth: true };
const TRANSPORT_METHODS = ['publish', 'subscribe', 'request', 'flush', 'newInbox', 'onStatus', 'close'] as const;
/** What Halyard calls on a logger (and on the children it makes). */
const LOGGER_METHODS = ['child', 'debug', 'info', 'warn', 'error', 'isLevelEnabled'] as const;
const CLOCK_METHODS = ['now', 'setTimer', 'clearTimer'] as const;

/** Options checked and resolved: everything createNode needs before it connects. */
export interface ResolvedNodeOptions {
  readonly subjects: Subjects;
  readonly limits: CodecLimits;
  readonly cluster: ClusterOptions | undefined;
}

/** A `Transport` given by the user, rather than a config object: it has methods. */
export function isTransport(t: unknown): t is Transport {
  return typeof t === 'object' && t !== null && typeof (t as Transport).publish === 'function';
}

function missingMethods(value: unknown, methods: readonly string[]): string[] {
  if (typeof value !== 'object' || value === null) return [...methods];
  return methods.filter((m) => typeof (value as Record<string, unknown>)[m] !== 'function');
}

function assertNatsConfig(t: Record<string, unknown>): void {
  assertKnownKeys(t, 'transport', Object.keys(NATS_KEYS));
  const s = t.servers;
  if (s === undefined) throw new InvalidSpecError('transport.servers', 'is required for kind "nats" (a URL or an array of URLs)');
  const list = typeof s === 'string' ? [s] : s;
  if (!Array.isArray(list) || list.length === 0 || list.some((u) => typeof u !== 'string' || u.length === 0)) {
    throw new InvalidSpecError('transport.servers', 'must be a non-empty URL or a non-empty array of non-empty URLs');
  }
  if (t.name !== undefined && (typeof t.name !== 'string' || t.name.length === 0)) {
    throw new InvalidSpecError('transport.name', `must be a non-empty string (the connection name), got ${kindOf(t.name)}`);
  }
  for (const k of ['token', 'user', 'pass'] as const) {
    // No kindOf here: the value may be a secret.
    if (t[k] !== undefined && typeof t[k] !== 'string') throw new InvalidSpecError(`transport.${k}`, 'must be a string');
  }
  const auth = t.authenticator;
  if (auth !== undefined && typeof auth !== 'function' && !(Array.isArray(auth) && auth.every((a) => typeof a === 'function'))) {
    throw new InvalidSpecError('transport.authenticator', 'must be an authenticator function or an array of them (nkeyAuthenticator, credsAuthenticator, ...)');
  }
  if (t.tls !== undefined && t.tls !== null && !isPlainObject(t.tls)) throw new InvalidSpecError('transport.tls', 'must be an object of TLS options');
  const attempts = t.maxReconnectAttempts;
  if (attempts !== undefined && (!Number.isSafeInteger(attempts) || (attempts as number) < -1)) {
    throw new InvalidSpecError('transport.maxReconnectAttempts', `must be an integer >= -1 (-1: forever), got ${kindOf(attempts)}`);
  }
  const wait = t.reconnectTimeWait;
  if (wait !== undefined && (typeof wait !== 'number' || !Number.isFinite(wait) || wait < 0)) {
    throw new InvalidSpecError('transport.reconnectTimeWait', `must be a non-negative number of milliseconds, got ${kindOf(wait)}`);
  }
  const buffer = t.reconnectBufferBytes;
  if (buffer !== undefined && (!Number.isSafeInteger(buffer) || (buffer as number) < 0)) {
    throw new InvalidSpecError('transport.reconnectBufferBytes', `must be an integer >= 0 (bytes), got ${kindOf(buffer)}`);
  }
  if (t.pingInterval !== undefined) assertPositiveMs(t.pingInterval, 'transport.pingInterval');
  if (t.timeout !== undefined) assertPositiveMs(t.timeout, 'transport.timeout');
  if (t.onError !== undefined) assertFunction(t.onError, 'transport.onError', 'a function (error) => void');
  if (t.noRandomize !== undefined && typeof t.noRandomize !== 'boolean') {
    throw new InvalidSpecError('transport.noRandomize', `must be a boolean, got ${kindOf(t.noRandomize)}`);
  }
  assertJetStreamKvStoreOptions(t.kv, 'transport.kv', InvalidSpecError);
}

function assertTransport(t: unknown): void {
  if (t === undefined) return;
  if (isTransport(t)) {
    const missing = missingMethods(t, TRANSPORT_METHODS);
    if (missing.length > 0) throw new InvalidSpecError('transport', `a Transport must have ${missing.join(', ')}`);
    return;
  }
  assertOptionsObject(t, 'transport', "{ kind: 'local', bus? }, { kind: 'nats', servers, ... } or a Transport");
  switch (t.kind) {
    case 'local':
      assertKnownKeys(t, 'transport', LOCAL_KEYS);
      if (t.bus !== undefined && !(t.bus instanceof LocalBus)) throw new InvalidSpecError('transport.bus', `must be a LocalBus, got ${kindOf(t.bus)}`);
      return;
    case 'nats':
      assertNatsConfig(t);
      return;
    case undefined:
      throw new InvalidSpecError('transport.kind', 'is required: "local" or "nats"');
    default:
      throw new InvalidSpecError('transport.kind', `must be "local" or "nats", got ${kindOf(t.kind)}`);
  }
}

function assertMethods(value: unknown, field: string, methods: readonly string[], what: string): void {
  const missing = missingMethods(value, methods);
  if (missing.length === 0) return;
  const got = typeof value === 'object' && value !== null ? `an object without ${missing.join(', ')}` : kindOf(value);
  throw new InvalidSpecError(field, `must be ${what} with ${methods.join(', ')} methods, got ${got}`);
}

/** Check every option; throws `InvalidSpecError` naming the first bad one. Connects nothing. */
export function resolveNodeOptions(options: unknown): ResolvedNodeOptions {
  assertOptionsObject(options, 'options', '{ name, transport?, prefix?, ... }', {
    instead: (v) => (typeof v === 'string' ? `to name the node, pass { name: ${JSON.stringify(v)} }` : undefined),
  });
  assertKnownKeys(options, '', Object.keys(NODE_KEYS));
  const o = options as unknown as NodeOptions;
  if (o.name === undefined) throw new InvalidSpecError('name', 'is required (the node name: 1 to 64 letters, digits, "_" or "-")');
  try {
    assertNodeName(o.name);
  } catch (err) {
    throw new InvalidSpecError('name', describe(err));
  }
  assertTransport(o.transport);
  const prefix = o.prefix ?? 'halyard';
  try {
    assertPrefix(prefix);
  } catch (err) {
    throw new InvalidSpecError('prefix', describe(err));
  }
  if (o.logger !== undefined) assertMethods(o.logger, 'logger', LOGGER_METHODS, 'a pino-like logger (pino() or createLogger())');
  if (o.clock !== undefined) assertMethods(o.clock, 'clock', CLOCK_METHODS, 'a Clock (monotonicClock or a ManualClock)');
  resolveMailbox(o.mailbox, { capacity: DEFAULT_MAILBOX_CAPACITY, overflow: 'reject' });
  if (o.askTimeout !== undefined) assertPositiveMs(o.askTimeout, 'askTimeout');
  if (o.limits !== undefined) {
    assertOptionsObject(o.limits, 'limits', '{ maxBytes?, maxDepth? }');
    assertKnownKeys(o.limits, 'limits', Object.keys(LIMIT_KEYS));
  }
  const limits: CodecLimits = { ...DEFAULT_LIMITS, ...o.limits };
  assertPositiveInteger(limits.maxBytes, 'limits.maxBytes');
  assertPositiveInteger(limits.maxDepth, 'limits.maxDepth');
  assertSupervisionOptions(o.supervision);
  assertNodeLabels(o.labels);
  if (o.events !== undefined) {
    assertOptionsObject(o.events, 'events', '{ publish? }');
    assertKnownKeys(o.events, 'events', ['publish']);
    if (o.events.publish !== undefined && typeof o.events.publish !== 'boolean') throw new InvalidSpecError('events.publish', `must be a boolean, got ${kindOf(o.events.publish)}`);
  }
  assertAdminOptions(o.admin, (field, message) => {
    throw new InvalidSpecError(field, message);
  });
  if (o.http !== undefined) assertHttpOptions(o.http);
  assertStateOption(o.state);
  const cluster = o.cluster === undefined ? undefined : resolveClusterOptions(o.cluster);
  if (cluster !== undefined) {
    // The cluster keeps its records in the transport's key-value store; both
    // built-in transports have one, a hand-made Transport may not.
    const t = o.transport;
    if (isTransport(t) && typeof (t as Partial<Transport>).kv !== 'function') {
      throw new InvalidSpecError('transport', 'a cluster needs a transport with a key-value store (kv()), such as LocalTransport or NatsTransport');
    }
  }
  return { subjects: new Subjects(prefix), limits, cluster };
}
