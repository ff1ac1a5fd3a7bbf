/**
 * Child specs and supervisor flags: defaults, and validation that rejects an
 * invalid spec before anything starts (OTP `check_flags/1`,
 * `check_startspec/2`).
 *
 * Every error is an `InvalidSpecError` whose `field` is a dotted path into
 * the spec: `strategy`, `children[1].id`, `children[2].start.children[0].id`.
 * The keys, values and defaults are the table in types.ts. Beyond OTP:
 * unknown keys are rejected (a misspelt `restart` would otherwise silently
 * mean `permanent`), child `name`s must be unique across the whole tree (they
 * share one node's registry), and a `simple_one_for_one` template may not
 * have a `name` (its instances could not all carry it).
 */
import type { AnyActorLogic } from 'xstate';
import { resolveMailbox } from '../actors/ActorSystem.js';
import type { MailboxOptions } from '../actors/Mailbox.js';
import { assertName } from '../actors/names.js';
import { CHECK_LEVELS, type CheckFn } from '../actors/ocf.js';
import type { Shutdown } from '../actors/types.js';
import { InvalidSpecError, describe } from '../errors.js';
import { assertKnownKeys, at, isPlainObject } from '../options.js';
import type { ChildMonitorSpec } from './childMonitor.js';
import type { AutoShutdown, ChildSpec, ChildType, RemoteStart, RestartType, Strategy, SupervisorSpec } from './types.js';

export const DEFAULT_STRATEGY: Strategy = 'one_for_one';
export const DEFAULT_INTENSITY = 1;
export const DEFAULT_PERIOD = 5000;
export const DEFAULT_AUTO_SHUTDOWN: AutoShutdown = 'never';
export const DEFAULT_RESTART: RestartType = 'permanent';
export const DEFAULT_WORKER_SHUTDOWN = 5000;
export const DEFAULT_SUPERVISOR_SHUTDOWN: Shutdown = 'infinity';

/** How a child is started, resolved. */
export type ResolvedStart =
  | { readonly kind: 'logic'; readonly logic: AnyActorLogic; readonly input: unknown }
  | { readonly kind: 'supervisor'; readonly spec: ResolvedSupervisorSpec }
  | ({ readonly kind: 'remote' } & RemoteStart);

/** A child spec with every default filled in. */
export interface ResolvedChildSpec {
  readonly id: string;
  readonly start: ResolvedStart;
  readonly restart: RestartType;
  readonly shutdown: Shutdown;
  readonly type: ChildType;
  readonly significant: boolean;
  readonly name: string | undefined;
  readonly mailbox: MailboxOptions | undefined;
  /** The recurring Check, when the spec asks for one (childMonitor.ts). */
  readonly monitor: ChildMonitorSpec | undefined;
  /** How the child answers Check beyond the built-in answer. */
  readonly check: CheckFn | undefined;
}

/** Supervisor flags and children with every default filled in. */
export interface ResolvedSupervisorSpec {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  readonly autoShutdown: AutoShutdown;
  readonly children: readonly ResolvedChildSpec[];
}

const STRATEGIES: ReadonlySet<string> = new Set(['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one']);
const RESTARTS: ReadonlySet<string> = new Set(['permanent', 'transient', 'temporary']);
const AUTO_SHUTDOWNS: ReadonlySet<string> = new Set(['never', 'any_significant', 'all_significant']);
const SUPERVISOR_KEYS = ['strategy', 'intensity', 'period', 'autoShutdown', 'children'];
const CHILD_KEYS = ['id', 'start', 'restart', 'shutdown', 'type', 'significant', 'name', 'mailbox', 'node', 'placement', 'monitor', 'check'];
const MONITOR_KEYS = ['every', 'level', 'timeout'];
const REMOTE_START_KEYS = ['type', 'input'];
const START_KEYS = ['logic', 'input'];
const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAILBOX_DEFAULTS = { capacity: 1, overflow: 'reject' } as const;

/** True for XState v5 actor logic (what `ActorSystem.spawn` accepts). */
export function isActorLogic(value: unknown): value is AnyActorLogic {
  return typeof value === 'object' && value !== null && typeof (value as { transition?: unknown }).transition === 'function';
}

/** The shared unknown-key check (src/options.ts), in spec words: `unknown key; valid keys are ...`. */
function rejectUnknownKeys(obj: Record<string, unknown>, allowed: readonly string[], prefix: string): void {
  assertKnownKeys(obj, prefix, allowed, { noun: 'key' });
}

/**
 * Validate supervisor flags and children and fill in defaults. Throws
 * `InvalidSpecError` naming the first offending field.
 */
export function validateSupervisorSpec(spec: unknown): ResolvedSupervisorSpec {
  return resolveSupervisor(spec, '', new Set());
}

/**
 * Validate one child spec for a supervisor with these flags (as OTP's
 * `check_childspec/2` does for `start_child/2`). Field paths start at `prefix`.
 */
export function validateChildSpec(
  spec: unknown,
  flags: { readonly autoShutdown: AutoShutdown; readonly strategy?: Strategy },
  prefix = '',
): ResolvedChildSpec {
  return resolveChild(spec, flags.autoShutdown, flags.strategy ?? DEFAULT_STRATEGY, prefix, new Set());
}

function resolveSupervisor(spec: unknown, prefix: string, names: Set<string>): ResolvedSupervisorSpec {
  if (!isPlainObject(spec)) throw new InvalidSpecError(prefix === '' ? 'spec' : prefix, 'must be a supervisor spec object');
  rejectUnknownKeys(spec, SUPERVISOR_KEYS, prefix);
  const s = spec as SupervisorSpec;

  const strategy = s.strategy ?? DEFAULT_STRATEGY;
  if (!STRATEGIES.has(strategy)) throw new InvalidSpecError(at(prefix, 'strategy'), `must be one of ${[...STRATEGIES].join(', ')}`);

  const intensity = s.intensity ?? DEFAULT_INTENSITY;
  if (!Number.isSafeInteger(intensity) || intensity < 0) {
    throw new InvalidSpecError(at(prefix, 'intensity'), 'must be an integer >= 0 (restarts allowed within period)');
  }

  const period = s.period ?? DEFAULT_PERIOD;
  if (!Number.isSafeInteger(period) || period < 1) throw new InvalidSpecError(at(prefix, 'period'), 'must be an integer >= 1 (ms)');

  const autoShutdown = s.autoShutdown ?? DEFAULT_AUTO_SHUTDOWN;
  if (!AUTO_SHUTDOWNS.has(autoShutdown)) {
    throw new InvalidSpecError(at(prefix, 'autoShutdown'), `must be one of ${[...AUTO_SHUTDOWNS].join(', ')}`);
  }
  if (strategy === 'simple_one_for_one' && autoShutdown !== 'never') {
    // OTP: {bad_combination, [{auto_shutdown, _}, {strategy, simple_one_for_one}]}.
    throw new InvalidSpecError(at(prefix, 'autoShutdown'), 'must be never for a simple_one_for_one supervisor');
  }

  const list = s.children ?? [];
  if (!Array.isArray(list)) throw new InvalidSpecError(at(prefix, 'children'), 'must be an array of child specs');
  if (strategy === 'simple_one_for_one' && list.length !== 1) {
    throw new InvalidSpecError(at(prefix, 'children'), `simple_one_for_one needs exactly one child spec (the template), got ${list.length}`);
  }

  const ids = new Set<string>();
  const children: ResolvedChildSpec[] = [];
  for (let i = 0; i < list.length; i++) {
    const childPrefix = at(prefix, `children[${i}]`);
    const child = resolveChild(list[i], autoShutdown, strategy, childPrefix, names);
    if (ids.has(child.id)) throw new InvalidSpecError(`${childPrefix}.id`, `duplicate child id ${JSON.stringify(child.id)}`);
    ids.add(child.id);
    children.push(child);
  }
  return { strategy, intensity, period, autoShutdown, children };
}

function resolveChild(spec: unknown, autoShutdown: AutoShutdown, strategy: Strategy, prefix: string, names: Set<string>): ResolvedChildSpec {
  if (!isPlainObject(spec)) throw new InvalidSpecError(prefix === '' ? 'spec' : prefix, 'must be a child spec object');
  rejectUnknownKeys(spec, CHILD_KEYS, prefix);
  const c = spec as unknown as ChildSpec;

  if (typeof c.id !== 'string' || c.id.length === 0) throw new InvalidSpecError(at(prefix, 'id'), 'must be a non-empty string');

  const type = c.type ?? 'worker';
  if (type !== 'worker' && type !== 'supervisor') throw new InvalidSpecError(at(prefix, 'type'), 'must be worker or supervisor');

  const restart = c.restart ?? DEFAULT_RESTART;
  if (!RESTARTS.has(restart)) throw new InvalidSpecError(at(prefix, 'restart'), `must be one of ${[...RESTARTS].join(', ')}`);

  const significant = c.significant ?? false;
  if (typeof significant !== 'boolean') throw new InvalidSpecError(at(prefix, 'significant'), 'must be a boolean');
  if (significant && restart === 'permanent') {
    throw new InvalidSpecError(at(prefix, 'significant'), 'a permanent child cannot be significant (OTP bad_combination)');
  }
  if (significant && autoShutdown === 'never') {
    throw new InvalidSpecError(at(prefix, 'significant'), 'significant children need autoShutdown any_significant or all_significant');
  }

  const shutdown = c.shutdown ?? (type === 'supervisor' ? DEFAULT_SUPERVISOR_SHUTDOWN : DEFAULT_WORKER_SHUTDOWN);
  if (shutdown !== 'brutal_kill' && shutdown !== 'infinity' && !(Number.isSafeInteger(shutdown) && (shutdown as number) >= 0)) {
    throw new InvalidSpecError(at(prefix, 'shutdown'), "must be 'brutal_kill', 'infinity' or an integer >= 0 (ms)");
  }

  const name = c.name;
  if (name !== undefined) {
    if (strategy === 'simple_one_for_one') {
      throw new InvalidSpecError(at(prefix, 'name'), 'a simple_one_for_one template cannot have a name: every instance would carry it');
    }
    try {
      assertName(name);
    } catch (err) {
      throw new InvalidSpecError(at(prefix, 'name'), describe(err));
    }
    if (names.has(name)) throw new InvalidSpecError(at(prefix, 'name'), `name ${name} is used twice in this tree`);
    names.add(name);
  }

  if (c.mailbox !== undefined) {
    if (!isPlainObject(c.mailbox)) throw new InvalidSpecError(at(prefix, 'mailbox'), 'must be an object');
    resolveMailbox(c.mailbox, MAILBOX_DEFAULTS, at(prefix, 'mailbox'));
  }

  const monitor = c.monitor === undefined ? undefined : resolveMonitor(c.monitor, at(prefix, 'monitor'));
  if (c.check !== undefined && typeof c.check !== 'function') {
    throw new InvalidSpecError(at(prefix, 'check'), 'must be a function ({ snapshot, level, mailbox }) => code | { code, reason }');
  }

  let start = resolveStart(c.start, type, at(prefix, 'start'), names);
  if (c.node !== undefined || c.placement !== undefined) {
    if (start.kind !== 'remote') {
      throw new InvalidSpecError(at(prefix, c.node !== undefined ? 'node' : 'placement'), 'needs start: { type, input? } (logic cannot travel to another node)');
    }
    if (c.node !== undefined && (typeof c.node !== 'string' || !NODE_NAME.test(c.node))) {
      // The node-name rule of services/remote/subjects.ts, restated: supervision does not depend on services.
      throw new InvalidSpecError(at(prefix, 'node'), 'a node name is 1 to 64 letters, digits, "_" or "-"');
    }
    if (c.placement !== undefined && c.placement !== 'pinned' && c.placement !== 'any') {
      throw new InvalidSpecError(at(prefix, 'placement'), "must be 'pinned' or 'any'");
    }
    if (c.placement === 'pinned' && c.node === undefined) throw new InvalidSpecError(at(prefix, 'node'), "is required with placement 'pinned'");
    start = { ...start, node: c.node, placement: c.placement ?? (c.node !== undefined ? 'pinned' : 'any') };
  }
  if (c.check !== undefined && start.kind !== 'logic') {
    throw new InvalidSpecError(at(prefix, 'check'), 'only a child started from logic answers Check with its own function');
  }
  return { id: c.id, start, restart, shutdown, type, significant, name, mailbox: c.mailbox, monitor, check: c.check };
}

/** `monitor: { every, level?, timeout? }`: ms intervals as integers, level an OCF depth. */
function resolveMonitor(monitor: unknown, field: string): ChildMonitorSpec {
  if (!isPlainObject(monitor)) throw new InvalidSpecError(field, 'must be an object { every, level?, timeout? }');
  rejectUnknownKeys(monitor, MONITOR_KEYS, field);
  const m = monitor as { every?: unknown; level?: unknown; timeout?: unknown };
  if (m.every === undefined) throw new InvalidSpecError(at(field, 'every'), 'is required (ms between checks)');
  if (!Number.isSafeInteger(m.every) || (m.every as number) < 1) throw new InvalidSpecError(at(field, 'every'), 'must be an integer >= 1 (ms)');
  const level = m.level ?? 0;
  if (!(CHECK_LEVELS as readonly unknown[]).includes(level)) throw new InvalidSpecError(at(field, 'level'), `must be one of ${CHECK_LEVELS.join(', ')}`);
  const timeout = m.timeout ?? m.every;
  if (!Number.isSafeInteger(timeout) || (timeout as number) < 1) throw new InvalidSpecError(at(field, 'timeout'), 'must be an integer >= 1 (ms)');
  return { every: m.every as number, level: level as ChildMonitorSpec['level'], timeout: timeout as number };
}

function resolveStart(start: unknown, type: ChildType, field: string, names: Set<string>): ResolvedStart {
  if (isActorLogic(start)) return { kind: 'logic', logic: start, input: undefined };
  if (isPlainObject(start) && 'type' in start && !('logic' in start)) {
    rejectUnknownKeys(start, REMOTE_START_KEYS, field);
    if (type !== 'worker') throw new InvalidSpecError(`${field}.type`, 'a remote child must be a worker');
    try {
      assertName(start.type);
    } catch (err) {
      throw new InvalidSpecError(`${field}.type`, describe(err));
    }
    return { kind: 'remote', type: start.type as string, input: start.input, node: undefined, placement: 'any' };
  }
  if (isPlainObject(start) && 'logic' in start) {
    rejectUnknownKeys(start, START_KEYS, field);
    if (!isActorLogic(start.logic)) throw new InvalidSpecError(`${field}.logic`, 'must be XState v5 actor logic');
    return { kind: 'logic', logic: start.logic, input: start.input };
  }
  if (isPlainObject(start) && type === 'supervisor') {
    return { kind: 'supervisor', spec: resolveSupervisor(start, field, names) };
  }
  throw new InvalidSpecError(
    field,
    type === 'supervisor'
      ? 'must be XState actor logic, { logic, input }, or a SupervisorSpec'
      : "must be XState actor logic or { logic, input } (a SupervisorSpec needs type: 'supervisor')",
  );
}
