/**
 * What a service instance tells the `$SRV` responder about itself, and the
 * checks made on it at registration (`InvalidSpecError` naming the field):
 *
 * | field         | required | default      | rule                                          |
 * |---------------|----------|--------------|-----------------------------------------------|
 * | `name`        | yes      |              | `[A-Za-z0-9_-]+` (one NATS micro name)         |
 * | `id`          | yes      |              | `[A-Za-z0-9_-]+`, unique per name on a responder |
 * | `version`     | yes      |              | strict semver 2.0.0 (`1.4.0`, `2.0.0-rc.1+b7`) |
 * | `description` | no       | `''`         | a string                                      |
 * | `metadata`    | no       | `{}`         | string values only                            |
 * | `endpoints`   | no       | none         | name → subject, or `{ subject, queueGroup, metadata }` |
 * | `started`     | no       | registration time | a valid `Date`                           |
 * | `check`       | no       | answers 0 `OCF_SUCCESS` | `(level) => code \| { code, reason }`, may be async |
 * | `status`      | no       | `{}`         | `() => object`, may be async; the instance logs its status line there |
 *
 * Endpoint names follow the name rule (`endpoints.<name>`); subjects are NATS
 * subjects, wildcards allowed (`endpoints.<name>.subject`); the queue group
 * defaults to `q`, as in every NATS micro library, and `null` means none.
 * The names `check` and `status` are taken: the responder adds those two
 * endpoints itself (on `$SRV.CHECK|STATUS.<name>.<id>`).
 *
 * The responder only lists endpoints and reports their statistics; the
 * instance layer subscribes to them and counts each request through the
 * registration's {@link EndpointStats}.
 */
import type { CheckLevel, UserCheckAnswer } from '../../actors/ocf.js';
import { InvalidSpecError } from '../../errors.js';
import { assertQueueName, isSubscribeSubject } from '../../transport/subject.js';

export const DEFAULT_QUEUE_GROUP = 'q';

const NAME = /^[A-Za-z0-9_-]+$/;
// Semantic Versioning 2.0.0, section 9-10: no leading zeros, optional pre-release and build.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$/;
const MAX_NAME = 256;

export interface MicroEndpointSpec {
  readonly subject: string;
  /** Default `q`; `null` for none. */
  readonly queueGroup?: string | null;
  readonly metadata?: Readonly<Record<string, string>>;
}

export type CheckCallback = (level: CheckLevel) => UserCheckAnswer | Promise<UserCheckAnswer>;
export type StatusCallback = () => Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>;

export interface MicroInstance {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly description?: string;
  readonly metadata?: Readonly<Record<string, string>>;
  readonly endpoints?: Readonly<Record<string, string | MicroEndpointSpec>>;
  readonly started?: Date;
  readonly check?: CheckCallback;
  readonly status?: StatusCallback;
}

/** @internal An endpoint after validation. */
export interface _Endpoint {
  readonly name: string;
  readonly subject: string;
  readonly queueGroup: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** @internal A registration after validation: frozen copies, nothing of the caller's. */
export interface _Instance {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly description: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly endpoints: readonly _Endpoint[];
  readonly started: string;
  readonly check: CheckCallback | undefined;
  readonly status: StatusCallback | undefined;
}

export const RESERVED_ENDPOINTS: ReadonlySet<string> = new Set(['check', 'status']);

export function isMicroName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME && NAME.test(value);
}

export function isSemver(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NAME && SEMVER.test(value);
}

/** Throws `InvalidSpecError(field)` unless `value` is a NATS micro name. */
export function assertMicroName(field: string, value: unknown): asserts value is string {
  if (!isMicroName(value)) {
    throw new InvalidSpecError(field, `${show(value)} is not a NATS micro name: 1 to ${MAX_NAME} letters, digits, "_" or "-"`);
  }
}

/** Throws `InvalidSpecError(field)` unless `value` is a strict semver version. */
export function assertSemver(field: string, value: unknown): asserts value is string {
  if (!isSemver(value)) throw new InvalidSpecError(field, `${show(value)} is not a semantic version (like 1.4.0)`);
}

/** @internal Validate and copy a registration. */
export function _normalizeInstance(spec: MicroInstance, now: () => Date): _Instance {
  if (typeof spec !== 'object' || spec === null) throw new InvalidSpecError('instance', 'expected an object');
  assertMicroName('name', spec.name);
  assertMicroName('id', spec.id);
  assertSemver('version', spec.version);
  if (spec.description !== undefined && typeof spec.description !== 'string') {
    throw new InvalidSpecError('description', 'expected a string');
  }
  const metadata = stringRecord('metadata', spec.metadata);
  const endpoints: _Endpoint[] = [];
  if (spec.endpoints !== undefined) {
    if (typeof spec.endpoints !== 'object' || spec.endpoints === null) throw new InvalidSpecError('endpoints', 'expected an object');
    for (const [name, value] of Object.entries(spec.endpoints)) {
      endpoints.push(normalizeEndpoint(name, value));
    }
  }
  const started = spec.started ?? now();
  if (!(started instanceof Date) || Number.isNaN(started.getTime())) throw new InvalidSpecError('started', 'expected a valid Date');
  if (spec.check !== undefined && typeof spec.check !== 'function') throw new InvalidSpecError('check', 'expected a function');
  if (spec.status !== undefined && typeof spec.status !== 'function') throw new InvalidSpecError('status', 'expected a function');
  return Object.freeze({
    name: spec.name,
    id: spec.id,
    version: spec.version,
    description: spec.description ?? '',
    metadata,
    endpoints: Object.freeze(endpoints),
    started: started.toISOString(),
    check: spec.check,
    status: spec.status,
  });
}

function normalizeEndpoint(name: string, value: string | MicroEndpointSpec): _Endpoint {
  const field = `endpoints.${name}`;
  assertMicroName(field, name);
  if (RESERVED_ENDPOINTS.has(name)) throw new InvalidSpecError(field, `"${name}" is added by the responder itself`);
  const spec: MicroEndpointSpec | undefined =
    typeof value === 'string' ? { subject: value } : typeof value === 'object' && value !== null ? value : undefined;
  if (spec === undefined) throw new InvalidSpecError(field, 'expected a subject or { subject, queueGroup, metadata }');
  if (typeof spec.subject !== 'string' || !isSubscribeSubject(spec.subject)) {
    throw new InvalidSpecError(`${field}.subject`, `${show(spec.subject)} is not a NATS subject`);
  }
  let queueGroup: string | undefined = DEFAULT_QUEUE_GROUP;
  if (spec.queueGroup === null) queueGroup = undefined;
  else if (spec.queueGroup !== undefined) {
    try {
      assertQueueName(spec.queueGroup);
    } catch {
      throw new InvalidSpecError(`${field}.queueGroup`, `${show(spec.queueGroup)} is not a queue group name`);
    }
    queueGroup = spec.queueGroup;
  }
  return Object.freeze({ name, subject: spec.subject, queueGroup, metadata: stringRecord(`${field}.metadata`, spec.metadata) });
}

function stringRecord(field: string, value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidSpecError(field, 'expected an object of strings');
  const out: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw new InvalidSpecError(`${field}.${key}`, 'expected a string');
    out[key] = v;
  }
  return Object.freeze(out);
}

function show(value: unknown): string {
  return JSON.stringify(typeof value === 'string' ? value.slice(0, 100) : String(value));
}
