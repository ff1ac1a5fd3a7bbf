/**
 * `defineService`: check a service type once, where it is written, and return
 * it frozen with its defaults (the table of keys is in definition.ts). Every
 * refusal is an `InvalidSpecError` whose `field` names the key (`version`,
 * `endpoints.charge`, `persist.everyMs`); nothing is started by a definition.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidSpecError } from '../../errors.js';
import { assertKnownKeys, assertOptionsObject, assertPositiveMs, kindOf } from '../../options.js';
import {
  type PersistOptions,
  SERVICE_DEFINITION,
  type ServiceDefinition,
  type ServiceSpec,
  ServiceContainer,
  ServiceLifetime,
} from './definition.js';
import { isStandardSchema } from './standardSchema.js';

const SPEC_KEYS: Record<keyof ServiceSpec, true> = {
  name: true,
  version: true,
  logic: true,
  description: true,
  config: true,
  ready: true,
  dependsOn: true,
  tags: true,
  requires: true,
  cardinality: true,
  container: true,
  module: true,
  lifetime: true,
  endpoints: true,
  persist: true,
  setup: true,
  teardown: true,
  startTimeoutMs: true,
  stopTimeoutMs: true,
};
const PERSIST_KEYS: Record<keyof PersistOptions, true> = { restoreAfterCrash: true, everyMs: true };

/** NATS micro's name rule (ADR-32). */
export const SERVICE_NAME = /^[A-Za-z0-9_-]+$/;
/** semver.org's own expression, anchored: strict, as the Go micro library and the nats CLI check it. */
export const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
/** A tag or node label: what a query or a node may name, kept to a safe token. */
const LABEL = /^[A-Za-z0-9_.:-]+$/;
/** Event types are free text in XState, but `xstate.*` is reserved for the runtime. */
const RESERVED_EVENT = /^xstate\./;

export const DEFAULT_START_TIMEOUT_MS = 10_000;
export const DEFAULT_STOP_TIMEOUT_MS = 5_000;
export const DEFAULT_PERSIST_EVERY_MS = 1_000;

function assertServiceName(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidSpecError(field, `must be a service name (letters, digits, "_" or "-"), got ${kindOf(value)}`);
  if (value.length > 64) throw new InvalidSpecError(field, 'must be at most 64 characters');
  if (!SERVICE_NAME.test(value)) throw new InvalidSpecError(field, `must match [A-Za-z0-9_-]+ (a NATS micro name), got ${kindOf(value)}`);
}

function stringList(value: unknown, field: string, item: (v: unknown, f: string) => void): readonly string[] {
  if (value === undefined) return Object.freeze([]);
  if (!Array.isArray(value)) throw new InvalidSpecError(field, `must be an array of strings, got ${kindOf(value)}`);
  const seen = new Set<string>();
  value.forEach((v, i) => {
    item(v, `${field}.${i}`);
    if (seen.has(v as string)) throw new InvalidSpecError(`${field}.${i}`, `repeats ${JSON.stringify(v)}`);
    seen.add(v as string);
  });
  return Object.freeze([...value] as string[]);
}

function assertLabel(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64 || !LABEL.test(value)) {
    throw new InvalidSpecError(field, `must be 1 to 64 letters, digits, "_", ".", ":" or "-", got ${kindOf(value)}`);
  }
}

function isLogic(value: unknown): value is AnyActorLogic {
  return typeof value === 'object' && value !== null && typeof (value as AnyActorLogic).transition === 'function' && typeof (value as AnyActorLogic).getInitialSnapshot === 'function';
}

function resolvePersist(value: unknown): false | PersistOptions {
  if (value === undefined || value === false) return false;
  if (value === true) return Object.freeze({ restoreAfterCrash: false, everyMs: DEFAULT_PERSIST_EVERY_MS });
  assertOptionsObject(value, 'persist', '{ restoreAfterCrash?, everyMs? }, or true / false');
  assertKnownKeys(value, 'persist', Object.keys(PERSIST_KEYS));
  if (value.restoreAfterCrash !== undefined && typeof value.restoreAfterCrash !== 'boolean') {
    throw new InvalidSpecError('persist.restoreAfterCrash', `must be a boolean, got ${kindOf(value.restoreAfterCrash)}`);
  }
  if (value.everyMs !== undefined) assertPositiveMs(value.everyMs, 'persist.everyMs');
  return Object.freeze({ restoreAfterCrash: value.restoreAfterCrash === true, everyMs: (value.everyMs as number | undefined) ?? DEFAULT_PERSIST_EVERY_MS });
}

function resolveEndpoints(value: unknown): Readonly<Record<string, string>> {
  if (value === undefined) return Object.freeze({});
  assertOptionsObject(value, 'endpoints', '{ <endpoint name>: <event type>, ... }');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!SERVICE_NAME.test(k)) throw new InvalidSpecError(`endpoints.${k}`, 'an endpoint name must match [A-Za-z0-9_-]+');
    if (k === 'check' || k === 'status') throw new InvalidSpecError(`endpoints.${k}`, 'is reserved: every service answers check and status');
    if (typeof v !== 'string' || v.length === 0) throw new InvalidSpecError(`endpoints.${k}`, `must be an event type (a non-empty string), got ${kindOf(v)}`);
    if (RESERVED_EVENT.test(v)) throw new InvalidSpecError(`endpoints.${k}`, 'xstate.* event types are reserved');
    out[k] = v;
  }
  return Object.freeze(out);
}

function assertModuleUrl(value: unknown): void {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidSpecError('module', `must be a module URL (import.meta.url), got ${kindOf(value)}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidSpecError('module', 'must be an absolute module URL such as import.meta.url (file:///...)');
  }
  if (url.protocol !== 'file:' && url.protocol !== 'data:') throw new InvalidSpecError('module', `must be a file: or data: URL, got ${url.protocol}`);
}

/**
 * Check a service type and return it frozen, with every default filled in.
 * Throws `InvalidSpecError` naming the first bad key.
 */
export function defineService<Config = unknown, Resource = unknown, L extends AnyActorLogic = AnyActorLogic>(
  spec: ServiceSpec<Config, Resource, L>,
): ServiceDefinition<Config, Resource, L> {
  assertOptionsObject(spec, 'service', '{ name, version, logic, ... }');
  assertKnownKeys(spec as unknown as Record<string, unknown>, '', Object.keys(SPEC_KEYS), { noun: 'key' });
  const s = spec as unknown as Record<string, unknown>;
  if (s.name === undefined) throw new InvalidSpecError('name', 'is required (a NATS micro name: [A-Za-z0-9_-]+)');
  assertServiceName(s.name, 'name');
  if (s.version === undefined) throw new InvalidSpecError('version', 'is required (semver, such as 1.0.0)');
  if (typeof s.version !== 'string' || !SEMVER.test(s.version)) throw new InvalidSpecError('version', `must be a semver version such as 1.4.0, got ${kindOf(s.version)}`);
  if (!isLogic(s.logic)) throw new InvalidSpecError('logic', `must be XState logic (createMachine, fromPromise, ...), got ${kindOf(s.logic)}`);
  if (s.description !== undefined && typeof s.description !== 'string') throw new InvalidSpecError('description', `must be a string, got ${kindOf(s.description)}`);
  if (s.config !== undefined && !isStandardSchema(s.config)) {
    throw new InvalidSpecError('config', `must be a Standard Schema v1 value (zod, valibot, arktype: with ~standard.version 1), got ${kindOf(s.config)}`);
  }
  const ready = s.ready;
  if (ready !== undefined && !(typeof ready === 'function' || (typeof ready === 'string' && ready.length > 0))) {
    throw new InvalidSpecError('ready', `must be a state tag (a non-empty string) or a predicate (snapshot) => boolean, got ${kindOf(ready)}`);
  }
  const dependsOn = stringList(s.dependsOn, 'dependsOn', assertServiceName);
  if (dependsOn.includes(s.name)) throw new InvalidSpecError('dependsOn', `a service cannot depend on itself (cycle ${s.name} -> ${s.name})`);
  const tags = stringList(s.tags, 'tags', assertLabel);
  const requires = stringList(s.requires, 'requires', assertLabel);
  const cardinality = s.cardinality ?? 'many';
  if (cardinality !== 'many' && cardinality !== 'per-node' && cardinality !== 'singleton') {
    throw new InvalidSpecError('cardinality', `must be 'many', 'per-node' or 'singleton', got ${kindOf(cardinality)}`);
  }
  const container = s.container ?? ServiceContainer.Inline;
  if (!Object.values(ServiceContainer).includes(container as ServiceContainer)) {
    throw new InvalidSpecError('container', `must be 'inline', 'worker' or 'process', got ${kindOf(container)}`);
  }
  if (s.module !== undefined) assertModuleUrl(s.module);
  if (container !== ServiceContainer.Inline && s.module === undefined) {
    throw new InvalidSpecError('module', `is required for container '${String(container)}': logic cannot travel, the container imports it (module: import.meta.url)`);
  }
  const lifetime = s.lifetime ?? ServiceLifetime.Node;
  if (lifetime !== 'detached' && lifetime !== 'node' && lifetime !== 'cluster') {
    const hint = lifetime === 'scope' ? " ('scope' is chosen per start: start(name, { lifetime: 'scope' }))" : '';
    throw new InvalidSpecError('lifetime', `must be 'detached', 'node' or 'cluster', got ${kindOf(lifetime)}${hint}`);
  }
  const endpoints = resolveEndpoints(s.endpoints);
  const persist = resolvePersist(s.persist);
  if (persist !== false && container !== ServiceContainer.Inline) {
    // The snapshot lives in the container; refused rather than silently not saved.
    throw new InvalidSpecError('persist', `is supported for container 'inline' only, not '${String(container)}'`);
  }
  for (const k of ['setup', 'teardown'] as const) {
    if (s[k] !== undefined && typeof s[k] !== 'function') throw new InvalidSpecError(k, `must be a function, got ${kindOf(s[k])}`);
  }
  if (s.startTimeoutMs !== undefined) assertPositiveMs(s.startTimeoutMs, 'startTimeoutMs');
  if (s.stopTimeoutMs !== undefined) assertPositiveMs(s.stopTimeoutMs, 'stopTimeoutMs');
  const def: ServiceDefinition<Config, Resource, L> = {
    kind: SERVICE_DEFINITION,
    name: s.name,
    version: s.version,
    logic: spec.logic,
    description: spec.description ?? '',
    config: spec.config,
    ready: spec.ready,
    dependsOn,
    tags,
    requires,
    cardinality,
    container: container as ServiceContainer,
    ...(spec.module === undefined ? {} : { module: spec.module }),
    lifetime,
    endpoints,
    persist,
    setup: spec.setup,
    teardown: spec.teardown,
    startTimeoutMs: spec.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    stopTimeoutMs: spec.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS,
  };
  return Object.freeze(def);
}
