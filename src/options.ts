/**
 * Checks for options objects, shared by every edge that takes one
 * (`createNode`, `spawn`, `supervise`, supervisor and child specs, cluster
 * options, name-ref asks and stops), so that they refuse bad input in the same
 * words.
 *
 * - An unknown key is refused, naming its full path and listing the valid
 *   keys (`askTimout: unknown option (did you mean askTimeout?); valid options
 *   are name, transport, ...`): a misspelt option would otherwise silently mean
 *   its default.
 * - A value that is not an object where one is expected is refused with what
 *   it was, and for the common slip of passing a bare value where an object
 *   belongs (`spawn(m, 'counter')`), the object to pass instead.
 *
 * Errors are `InvalidSpecError` for configuration and `InvalidArgumentError`
 * for call arguments (pass `error`), both with the dotted path as `field`.
 * This module depends on errors.ts only, so every layer may use it.
 */
import { InvalidArgumentError, InvalidSpecError } from './errors.js';

/** `(field, reason)`: the constructor shape of both validation errors. */
export type FieldErrorClass = new (field: string, reason: string) => Error;

export interface KnownKeysOptions {
  /** What a key is called in the message. Default `option`. */
  readonly noun?: string;
  /** Keys accepted but not listed (internal ones). */
  readonly internal?: readonly string[];
  /** Default `InvalidSpecError`. */
  readonly error?: FieldErrorClass;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `path.key`, or `key` at the top. */
export function at(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

/** What a value is, for a message: `a string`, `null`, `an array`, `the number 1000`. */
export function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `the ${typeof value} ${String(value)}`;
    case 'undefined':
      return 'undefined';
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      return 'an object';
  }
}

/** Edit distance counting a swap of neighbours as one edit (`nmae` → `name`); options are short, so the table is nothing. */
function distance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= y.length; j++) d[0]![j] = j;
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[x.length]![y.length]!;
}

/** The valid key closest to `key`, if it is close enough to be a typo. */
export function closest(key: string, valid: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Math.max(1, Math.min(2, Math.floor(key.length / 3)));
  for (const v of valid) {
    const d = distance(key, v);
    if (d <= bestD && (best === undefined || d < bestD)) {
      best = v;
      bestD = d;
    }
  }
  return best;
}

/**
 * Refuse every own key of `obj` not in `validKeys`, naming it as `path.key`
 * and listing the valid ones.
 */
export function assertKnownKeys(
  obj: Record<string, unknown>,
  path: string,
  validKeys: readonly string[],
  options: KnownKeysOptions = {},
): void {
  const internal = options.internal ?? [];
  for (const key of Object.keys(obj)) {
    if (validKeys.includes(key) || internal.includes(key)) continue;
    const noun = options.noun ?? 'option';
    const guess = closest(key, validKeys);
    const hint = guess === undefined ? '' : ` (did you mean ${guess}?)`;
    const Err = options.error ?? InvalidSpecError;
    throw new Err(at(path, key), `unknown ${noun}${hint}; valid ${noun}s are ${validKeys.join(', ')}`);
  }
}

/**
 * `value` must be a plain object. `shape` describes the expected one in the
 * message (`{ name?, input?, mailbox?, check? }`); `instead`, given the
 * value, may suggest the object that was meant.
 */
export function assertOptionsObject(
  value: unknown,
  path: string,
  shape: string,
  options: { readonly error?: FieldErrorClass; readonly instead?: (value: unknown) => string | undefined } = {},
): asserts value is Record<string, unknown> {
  if (isPlainObject(value)) return;
  const Err = options.error ?? InvalidSpecError;
  const hint = options.instead?.(value);
  throw new Err(path, `must be an object ${shape}, got ${kindOf(value)}${hint === undefined ? '' : ` (${hint})`}`);
}

/** `value` must be a positive finite number of milliseconds. */
export function assertPositiveMs(value: unknown, path: string, error: FieldErrorClass = InvalidSpecError): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new error(path, `must be a positive finite number of milliseconds, got ${kindOf(value)}`);
  }
}

/** `value` must be a positive safe integer. */
export function assertPositiveInteger(value: unknown, path: string, error: FieldErrorClass = InvalidSpecError): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new error(path, `must be a positive integer, got ${kindOf(value)}`);
}

/** `value` must be a function. */
export function assertFunction(value: unknown, path: string, what: string, error: FieldErrorClass = InvalidSpecError): void {
  if (typeof value !== 'function') throw new error(path, `must be ${what}, got ${kindOf(value)}`);
}

const SHUTDOWN_WORDS = ['brutal_kill', 'infinity'];

/**
 * A `Shutdown` argument: `'brutal_kill'`, `'infinity'` or a non-negative
 * number of ms (OTP's child-spec `shutdown`). An `InvalidArgumentError`.
 */
export function assertShutdownArg(value: unknown, path = 'shutdown'): void {
  if (value === 'brutal_kill' || value === 'infinity') return;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return;
  const guess = typeof value === 'string' ? closest(value.replace(/-/g, '_'), SHUTDOWN_WORDS) : undefined;
  const hint = guess === undefined ? '' : ` (did you mean '${guess}'?)`;
  throw new InvalidArgumentError(path, `must be 'brutal_kill', 'infinity' or a non-negative number of ms, got ${kindOf(value)}${hint}`);
}

/**
 * Ask options: `undefined` or `{ timeout? }` (the timeout's value is the
 * actor layer's to check, `assertTimeout`). A bare number is the usual slip (`ask(ev, 1000)`), and is refused with the
 * object to pass. An `InvalidArgumentError`.
 */
// Built once: this check runs on every ask that passes options.
const ASK_KEYS = ['timeout'] as const;
const ASK_OBJECT = {
  error: InvalidArgumentError,
  instead: (v: unknown) => (typeof v === 'number' ? `for a deadline, pass { timeout: ${v} }` : undefined),
} as const;
const ASK_KEYS_OPTIONS = { error: InvalidArgumentError } as const;

export function assertAskOptions(value: unknown, path = 'options'): void {
  if (value === undefined) return;
  assertOptionsObject(value, path, '{ timeout? }', ASK_OBJECT);
  assertKnownKeys(value, path, ASK_KEYS, ASK_KEYS_OPTIONS);
}
