/**
 * What a context is made of, and the checks a definition passes before
 * anything of it starts.
 *
 * | key        | required | meaning |
 * |------------|----------|---------|
 * | `context`  | yes      | the context's name: letters, digits, `_`, `-` |
 * | `services` | yes      | a non-empty list of `{ id, service, config?, on_start?, on_update?, on_fail?, on_exit? }` |
 *
 * Each service entry: `id` is unique in the context, `service` names a type
 * in the node's catalogue, `config` goes to its schema, and each trigger is
 * one action or a list of them (triggers.ts).
 *
 * A service that some trigger starts is **deferred**: it starts when that
 * trigger fires, not with the context. The others start with the context, in
 * the order written. A chain of `start` actions from `on_start`/`on_exit`
 * that comes back to where it began would start services forever, so it is
 * refused (`on_fail` may restart its own service: supervision bounds that).
 */
import { InvalidContextError } from '../../errors.js';
import { isPlainObject, kindOf } from '../../options.js';
import { type ContextAction, TRIGGERS, type TriggerName, parseTrigger } from './triggers.js';

export interface ContextServiceSpec {
  readonly id: string;
  readonly service: string;
  readonly config?: unknown;
  readonly on_start?: string | readonly string[];
  readonly on_update?: string | readonly string[];
  readonly on_fail?: string | readonly string[];
  readonly on_exit?: string | readonly string[];
}

export interface ContextSpec {
  readonly context: string;
  readonly services: readonly ContextServiceSpec[];
}

/** A checked context: triggers parsed, the services that start with it known. */
export interface ContextDefinition {
  readonly kind: 'halyard.context.v1';
  readonly name: string;
  /** Where it was read from, for errors: a path, or `(definition)`. */
  readonly source: string;
  readonly services: ReadonlyArray<{
    readonly id: string;
    readonly service: string;
    readonly config: unknown;
    readonly triggers: Readonly<Record<TriggerName, readonly ContextAction[]>>;
  }>;
  /** Ids that start with the context, in order; the rest wait for a trigger. */
  readonly initial: readonly string[];
}

/** Where a field sits in its file, when the format knows. */
export type LineOf = (path: readonly (string | number)[]) => number | undefined;

const NAME = /^[A-Za-z0-9_-]+$/;
const TOP_KEYS = ['context', 'services'];
const SERVICE_KEYS = ['id', 'service', 'config', ...TRIGGERS];

export function isContextDefinition(value: unknown): value is ContextDefinition {
  return isPlainObject(value) && value.kind === 'halyard.context.v1';
}

/** Check a context spec written in code; a TypeScript context module exports what this returns. */
export function defineContext(spec: ContextSpec): ContextDefinition {
  return validateContext(spec, '(definition)');
}

/** Check `raw` (parsed from any format) and return the definition, or throw an `InvalidContextError` naming `source`, line and field. */
export function validateContext(raw: unknown, source: string, lineOf: LineOf = () => undefined): ContextDefinition {
  const fail = (path: (string | number)[], reason: string): never => {
    throw new InvalidContextError(source, fieldName(path), reason, lineOf(path));
  };
  if (!isPlainObject(raw)) fail([], `a context is an object with "context" and "services", got ${kindOf(raw)}`);
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) if (!TOP_KEYS.includes(k)) fail([k], `unknown key (known: ${TOP_KEYS.join(', ')})`);
  if (typeof top.context !== 'string' || !NAME.test(top.context)) fail(['context'], `must be a name of letters, digits, "_" or "-", got ${kindOf(top.context)}`);
  if (!Array.isArray(top.services) || top.services.length === 0) fail(['services'], `must be a non-empty list, got ${kindOf(top.services)}`);
  const list = top.services as unknown[];
  const ids = new Set<string>();
  list.forEach((s, i) => {
    if (!isPlainObject(s)) fail(['services', i], `must be an object, got ${kindOf(s)}`);
    const entry = s as Record<string, unknown>;
    for (const k of Object.keys(entry)) if (!SERVICE_KEYS.includes(k)) fail(['services', i, k], `unknown key (known: ${SERVICE_KEYS.join(', ')})`);
    if (typeof entry.id !== 'string' || !NAME.test(entry.id)) fail(['services', i, 'id'], `must be a name of letters, digits, "_" or "-", got ${kindOf(entry.id)}`);
    if (ids.has(entry.id as string)) fail(['services', i, 'id'], `duplicate id ${String(entry.id)}`);
    ids.add(entry.id as string);
    if (typeof entry.service !== 'string' || entry.service.length === 0) fail(['services', i, 'service'], `must name a service type, got ${kindOf(entry.service)}`);
  });
  const services = list.map((s, i) => {
    const entry = s as Record<string, unknown>;
    const triggers = {} as Record<TriggerName, ContextAction[]>;
    for (const t of TRIGGERS) {
      const value = entry[t];
      const texts = value === undefined ? [] : Array.isArray(value) ? value : [value];
      triggers[t] = texts.map((text, j) => {
        const path = Array.isArray(value) ? ['services', i, t, j] : ['services', i, t];
        const parsed = parseTrigger(text);
        if (typeof parsed === 'string') return fail(path, parsed);
        if (parsed.target !== 'context' && !ids.has(parsed.target)) {
          return fail(path, `names ${parsed.target}, which is not a service of this context (its services: ${[...ids].join(', ')})`);
        }
        return parsed;
      });
    }
    return { id: entry.id as string, service: entry.service as string, config: entry.config, triggers };
  });
  const deferred = new Set(services.flatMap((s) => TRIGGERS.flatMap((t) => s.triggers[t])).filter((a) => a.verb === 'start').map((a) => a.target));
  const cycle = startCycle(services);
  if (cycle !== undefined) {
    const at = services.findIndex((s) => s.id === cycle[0]);
    fail(['services', at], `cyclic start chain ${cycle.join(' -> ')}`);
  }
  const initial = services.map((s) => s.id).filter((id) => !deferred.has(id));
  if (initial.length === 0) fail(['services'], 'every service waits for a trigger, so none would ever start');
  return { kind: 'halyard.context.v1', name: top.context as string, source, services, initial };
}

function fieldName(path: readonly (string | number)[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** A cycle in the `start` edges of `on_start` and `on_exit`, as ids from its first to itself again. */
function startCycle(services: ReadonlyArray<{ id: string; triggers: Readonly<Record<TriggerName, readonly ContextAction[]>> }>): string[] | undefined {
  const edges = new Map(services.map((s) => [s.id, [...s.triggers.on_start, ...s.triggers.on_exit].filter((a) => a.verb === 'start').map((a) => a.target)]));
  const done = new Set<string>();
  const visit = (id: string, stack: string[]): string[] | undefined => {
    const at = stack.indexOf(id);
    if (at >= 0) return [...stack.slice(at), id];
    if (done.has(id)) return undefined;
    for (const next of edges.get(id) ?? []) {
      const found = visit(next, [...stack, id]);
      if (found) return found;
    }
    done.add(id);
    return undefined;
  };
  for (const s of services) {
    const found = visit(s.id, []);
    if (found) return found;
  }
  return undefined;
}
