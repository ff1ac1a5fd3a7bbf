/**
 * The `http` option of `createNode` (and of {@link serveHealth}): where the
 * health endpoints listen. Off unless given.
 *
 * | key        | required | default       | meaning |
 * |------------|----------|---------------|---------|
 * | `port`     | yes      |               | TCP port, 0 for any free one (read it back from `node.health.port`) |
 * | `host`     | no       | `'127.0.0.1'` | interface to bind; anything but loopback only when written here |
 * | `services` | no       | `[]`          | service types that must each have a running instance for `/ready` |
 */
import { InvalidSpecError } from '../../errors.js';
import { assertKnownKeys, assertOptionsObject, kindOf } from '../../options.js';

export interface HttpOptions {
  readonly port: number;
  readonly host?: string;
  readonly services?: readonly string[];
}

export const DEFAULT_HEALTH_HOST = '127.0.0.1';

const KEYS: Record<keyof HttpOptions, true> = { port: true, host: true, services: true };

/** Throws `InvalidSpecError` naming the field (`http.port`, `http.host`, ...). */
export function assertHttpOptions(value: unknown, field = 'http', keys: readonly string[] = Object.keys(KEYS)): asserts value is HttpOptions {
  assertOptionsObject(value, field, '{ port, host?, services? }');
  assertKnownKeys(value, field, keys);
  const { port, host, services } = value as Record<string, unknown>;
  if (port === undefined) throw new InvalidSpecError(`${field}.port`, 'is required (a TCP port, 0 for any free one)');
  if (!Number.isInteger(port) || (port as number) < 0 || (port as number) > 65535) {
    throw new InvalidSpecError(`${field}.port`, `must be an integer from 0 to 65535, got ${kindOf(port)}`);
  }
  if (host !== undefined && (typeof host !== 'string' || host.length === 0)) {
    throw new InvalidSpecError(`${field}.host`, `must be a non-empty host name or address, got ${kindOf(host)}`);
  }
  if (services !== undefined) {
    if (!Array.isArray(services)) throw new InvalidSpecError(`${field}.services`, `must be an array of service names, got ${kindOf(services)}`);
    services.forEach((s, i) => {
      if (typeof s !== 'string' || s.length === 0) throw new InvalidSpecError(`${field}.services[${i}]`, `must be a service name, got ${kindOf(s)}`);
    });
  }
}
