/**
 * The envelope: every remote message between Halyard nodes, and the only
 * module that packs or unpacks one with msgpackr. Untrusted frames pass
 * {@link guardFrame} (frameGuard.ts) first; plain clients' JSON is json.ts.
 *
 * Every remote message is one {@link Envelope}, written as one plain
 * MessagePack map (no msgpackr records, no msgpackr extensions), so any
 * MessagePack client can read and write it. Each kind has one builder in
 * this folder: tells in Router.ts, ask / check / status requests in
 * Requester.ts, reply and error answers in Inbound.ts.
 *
 * ## Envelope, version 1
 *
 * | key | field       | required | type     | meaning                                                     |
 * |-----|-------------|----------|----------|-------------------------------------------------------------|
 * | `v` | version     | yes      | `1`      | Wire version. Any other number: `DecodeError(unsupported-version)`. |
 * | `k` | kind        | yes      | string   | One of {@link EnvelopeKind}, see below.                     |
 * | `s` | sender      | no       | string   | Address of the sending actor. Halyard writes none today; decoders accept and ignore it. |
 * | `t` | target      | yes      | string   | Name or id of the receiving actor or node (empty in answers, which go to an inbox). |
 * | `c` | correlation | no       | string   | Written on requests (`ask`, `check`, `status`) for logs and tracing; answers do not echo it, because the reply subject (`<inbox>.r.<c>`) already correlates them. |
 * | `b` | body        | per kind | any      | Payload (see "Bodies"). Absent means `undefined`.          |
 * | `e` | epoch       | no       | integer  | On `reply` and `error` answers from a cluster instance: the epoch (fencing token, safe integer >= 0) it holds its name under. An asker that knows a newer epoch for that name refuses the answer (`StaleEpochError`, dead letter `stale-epoch`). Requests do not carry it. |
 *
 * Kinds and their bodies:
 * - `tell`: fire and forget; `b` is the event.
 * - `ask`: request; `b` is the event; the answer goes to the NATS reply subject.
 * - `check`: health request; `b` is absent or a map `{ level }` (OCF check depth 0, 10 or 20;
 *   the health layer validates `level` and defaults it to 0). Answered with a `reply` whose `b` is the `CheckResult`.
 * - `status`: status request; `b` is absent or `{}`. Answered with a `reply` whose `b` is the `StatusReport`.
 * - `reply`: successful answer to an `ask`, `check` or `status`; `b` is the result (may be absent).
 * - `error`: failed answer; `b` is a `WireError` plain object `{ name, message, code, field? }`.
 *   {@link encodeEnvelope} turns any other body (an `Error` instance, a thrown string)
 *   into one with `toWireError` and trims a plain one to those fields, so class
 *   instances, stacks and causes never cross the wire.
 *
 * Keys are one letter because every remote message carries them. Unknown keys
 * are ignored on decode (room for additions within version 1); the encoder
 * never writes them.
 *
 * ## Subjects (subjects.ts has the whole table)
 * ```
 *   tell / ask / check / status ──► subject of the target name or node (envelope `t` repeats it, so a frame is self-describing)
 *   reply / error               ──► the request's reply subject        (`_INBOX.<unique>.r.<c>`)
 * ```
 *
 * ## Bodies: what can be encoded
 * Plain data only, checked before packing so that nothing is lost silently:
 * `null`, booleans, numbers (including NaN and ±Infinity; `-0` arrives as `0`),
 * well-formed strings, `bigint` in [-2^63, 2^64) (arrives as `bigint`), `Uint8Array`
 * (arrives as a `Uint8Array`, in practice a Node `Buffer`), `Date` (MessagePack
 * timestamp), arrays, and plain objects (prototype `Object.prototype` or `null`;
 * own enumerable string keys). `undefined` follows JSON: an object property holding
 * it is left out, an array slot holding it (or a hole) becomes `null`, a body that
 * is `undefined` is absent.
 *
 * Anything else throws {@link EncodeError} naming the path (`env.b.items[2]`): functions
 * and symbols (msgpackr writes functions as `undefined` and throws a plain Error
 * on symbols), `Map`, `Set`, `Error`, `RegExp` and other class instances (msgpackr
 * turns them into objects or arrays), typed arrays other than `Uint8Array`
 * (msgpackr 2.1 writes their length in bytes but copies element values, leaving
 * stale bytes of earlier frames in the output), strings with lone surrogates
 * (UTF-8 cannot carry them), cycles, nesting deeper than `maxDepth`, and frames
 * larger than `maxBytes`. So whatever {@link encodeEnvelope} accepts,
 * {@link decodeEnvelope} with the same limits decodes.
 *
 * Map keys are decoded as object keys: strings stay, numbers, booleans and nil
 * become their string form, other key types are rejected (`bad-type`). msgpackr
 * renames a `__proto__` key to `__proto_` (prototype-pollution defence), so the
 * encoder rejects `__proto__` as a key rather than let it change on the way.
 */
import { Packr } from 'msgpackr';
import {
  DecodeError,
  DecodeReason,
  describe,
  EncodeError,
  ErrorCode,
  isWireError,
  toWireError,
  type WireError,
} from '../../errors.js';
import { type CodecLimits, DEFAULT_LIMITS, guardFrame } from './frameGuard.js';

// ─── Contract ────────────────────────────────────────────────────────────────

/** The only wire version this codec reads and writes. */
export const WIRE_VERSION = 1 as const;

export const EnvelopeKind = {
  Tell: 'tell',
  Ask: 'ask',
  Reply: 'reply',
  Error: 'error',
  Check: 'check',
  Status: 'status',
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/** One remote message. Field meanings and per-kind bodies: see the module TSDoc. */
export interface Envelope {
  readonly v: typeof WIRE_VERSION;
  readonly k: EnvelopeKind;
  /** Sender address. */
  readonly s?: string;
  /** Target address. */
  readonly t: string;
  /** Correlation id. */
  readonly c?: string;
  /** Body; a `WireError` for `error`, `{ level }` for `check`. */
  readonly b?: unknown;
  /** Epoch of the target's owner, for fencing. */
  readonly e?: number;
}

export function isEnvelopeKind(k: unknown): k is EnvelopeKind {
  return (
    k === EnvelopeKind.Tell ||
    k === EnvelopeKind.Ask ||
    k === EnvelopeKind.Reply ||
    k === EnvelopeKind.Error ||
    k === EnvelopeKind.Check ||
    k === EnvelopeKind.Status
  );
}

// ─── msgpackr ────────────────────────────────────────────────────────────────

// `structuredClone: false` makes msgpackr refuse its id/pointer extensions
// even if a frame got past the guard; `copyBuffers` keeps a decoded `bin` from
// pinning the whole inbound socket chunk it was sliced from.
const BASE_OPTIONS = { useRecords: false, mapsAsObjects: true, structuredClone: false, copyBuffers: true } as const;

/** The hot path: bodies without `undefined`. Writes every object as map16. */
const packr = new Packr(BASE_OPTIONS);

// Bodies holding `undefined` need JSON semantics (skip the property, nil in
// arrays) rather than msgpackr's fixext 0, which plain clients see as an
// unknown extension. `skipValues` is not in msgpackr's typings, and its writer
// is ~25% slower, so it is kept off the hot path.
const undefinedOptions = { ...BASE_OPTIONS, skipValues: [undefined], encodeUndefinedAsNil: true };
const undefinedPackr = new Packr(undefinedOptions);

// ─── Encoding ────────────────────────────────────────────────────────────────

/** Thrown inside the body walk; the path is filled in while unwinding, so the happy path builds no strings. */
class BodyError extends Error {
  readonly segments: string[] = [];
}

/** What a getter (or a proxy trap) threw during the walk, so that its path is named too. */
function asBodyError(err: unknown): BodyError {
  return err instanceof BodyError ? err : new BodyError(describe(err), { cause: err });
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const BIGINT_MIN = -(2n ** 63n);
const BIGINT_LIMIT = 2n ** 64n;
const wellFormed = (String.prototype as unknown as { isWellFormed: (this: string) => boolean }).isWellFormed;
const objectProto = Object.prototype;

let sawUndefined = false;

function rejectBody(what: string): never {
  throw new BodyError(what);
}

function keySegment(key: string): string {
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function typeName(v: object): string {
  const ctor = (v as { constructor?: { name?: unknown } }).constructor;
  const name = typeof ctor === 'function' && typeof ctor.name === 'string' && ctor.name ? ctor.name : 'object';
  return name;
}

/**
 * Checks one value against the body contract (module TSDoc). Recursion is
 * bounded by `depthLeft`, which also catches cycles.
 */
function checkValue(v: unknown, depthLeft: number): void {
  switch (typeof v) {
    case 'number':
    case 'boolean':
      return;
    case 'string':
      if (!wellFormed.call(v)) rejectBody('string with a lone surrogate cannot be written as UTF-8');
      return;
    case 'undefined':
      sawUndefined = true;
      return;
    case 'bigint':
      if (v < BIGINT_MIN || v >= BIGINT_LIMIT) rejectBody(`bigint ${v} does not fit in 64 bits`);
      return;
    case 'object':
      break;
    default:
      rejectBody(`${typeof v} cannot be encoded`);
  }
  if (v === null) return;
  if (Array.isArray(v)) {
    if (depthLeft === 0) rejectBody('nesting exceeds maxDepth (or the value is cyclic)');
    let i = 0;
    try {
      for (const n = v.length; i < n; i++) checkValue(v[i], depthLeft - 1);
    } catch (err) {
      const e = asBodyError(err);
      e.segments.push(`[${i}]`);
      throw e;
    }
    return;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto === objectProto || proto === null) {
    if (depthLeft === 0) rejectBody('nesting exceeds maxDepth (or the value is cyclic)');
    let key = '';
    try {
      // for-in without an own-property filter: on these two prototypes only a
      // polluted Object.prototype adds keys, and checking those too is harmless.
      for (key in v) {
        if (key === '__proto__') rejectBody('the key "__proto__" is renamed by the decoder');
        if (!wellFormed.call(key)) rejectBody('key with a lone surrogate cannot be written as UTF-8');
        checkValue((v as Record<string, unknown>)[key], depthLeft - 1);
      }
    } catch (err) {
      const e = asBodyError(err);
      e.segments.push(keySegment(key));
      throw e;
    }
    return;
  }
  if (v instanceof Uint8Array || v instanceof Date) return;
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) rejectBody(`${typeName(v)} is not portable; send a Uint8Array of its bytes`);
  if (v instanceof Map || v instanceof Set) rejectBody(`${typeName(v)} cannot be encoded; use a plain object or array`);
  if (v instanceof Error) rejectBody(`${typeName(v)} cannot be encoded; convert it with toWireError`);
  rejectBody(`${typeName(v)} instance cannot be encoded; use a plain object`);
}

/** Validates `value` (at `path`, with `depthLeft` containers still allowed) and reports whether it holds `undefined`. */
function checkBody(value: unknown, path: string, depthLeft: number): boolean {
  sawUndefined = false;
  try {
    checkValue(value, depthLeft);
  } catch (err) {
    if (err instanceof BodyError) {
      throw new EncodeError(`${path}${err.segments.reverse().join('')}: ${err.message}`, err.cause);
    }
    // A getter threw, or similar: still a typed error.
    throw new EncodeError(`${path}: ${describe(err)}`, err);
  }
  return sawUndefined;
}

function pack(value: unknown, withUndefined: boolean, limits: CodecLimits): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = withUndefined ? undefinedPackr.pack(value) : packr.pack(value);
  } catch (err) {
    // Not reached for values checkBody accepted; kept so a msgpackr surprise stays typed.
    throw new EncodeError(describe(err), err);
  }
  if (bytes.length > limits.maxBytes) {
    throw new EncodeError(`frame of ${bytes.length} bytes exceeds the limit of ${limits.maxBytes}`);
  }
  return bytes;
}

/** The wire fields of a plain WireError, so a `stack` or a `cause` riding along is not sent. */
function pickWireError(w: WireError): WireError {
  return typeof w.field === 'string'
    ? { name: w.name, message: w.message, code: w.code, field: w.field }
    : { name: w.name, message: w.message, code: w.code };
}

function checkOptionalString(env: Envelope, key: 's' | 'c'): void {
  const value = env[key];
  if (value !== undefined && typeof value !== 'string') throw new EncodeError(`env.${key}: must be a string`);
}

/**
 * Encode an envelope. Throws {@link EncodeError} (only) when a field is
 * malformed, the body breaks the body contract, or the frame exceeds
 * `limits.maxBytes`. Body errors name their path from `bodyPath`: callers
 * encoding a user's value pass the user's name for it (`event`, `reply`). An `error` body that is not a plain `WireError` is passed
 * through `toWireError` first.
 *
 * The returned bytes may be a view on msgpackr's shared output buffer: they are
 * never overwritten, but hold on to a copy if you keep many of them.
 */
export function encodeEnvelope(env: Envelope, limits: CodecLimits = DEFAULT_LIMITS, bodyPath = 'env.b'): Uint8Array {
  if (typeof env !== 'object' || env === null) throw new EncodeError('env: must be an object');
  if (env.v !== WIRE_VERSION) throw new EncodeError(`env.v: must be ${WIRE_VERSION}`);
  if (!isEnvelopeKind(env.k)) throw new EncodeError(`env.k: unknown kind ${JSON.stringify(String(env.k)).slice(0, 50)}`);
  if (typeof env.t !== 'string') throw new EncodeError('env.t: must be a string');
  checkOptionalString(env, 's');
  checkOptionalString(env, 'c');
  if (env.e !== undefined && !(Number.isSafeInteger(env.e) && env.e >= 0)) {
    throw new EncodeError('env.e: must be a safe integer >= 0');
  }
  let body: unknown = env.b;
  if (env.k === EnvelopeKind.Error) {
    body = body instanceof Error || !isWireError(body) ? toWireError(body) : pickWireError(body);
  } else if (env.k === EnvelopeKind.Check && !isCheckBody(body)) {
    throw new EncodeError('env.b: a check body is absent or a map { level }');
  }

  // A fresh object fixes the key order and drops keys that are not ours.
  const out: Record<string, unknown> = { v: WIRE_VERSION, k: env.k };
  if (env.s !== undefined) out.s = env.s;
  out.t = env.t;
  if (env.c !== undefined) out.c = env.c;
  if (body !== undefined) out.b = body;
  if (env.e !== undefined) out.e = env.e;

  // The envelope map is depth 1, so the body may open maxDepth - 1 containers.
  const withUndefined = body !== undefined && checkBody(body, bodyPath, limits.maxDepth - 1);
  return pack(out, withUndefined, limits);
}

/** Encode a bare value (no envelope) under the same body contract. `undefined` is written as nil. */
export function encodeBody(value: unknown, limits: CodecLimits = DEFAULT_LIMITS): Uint8Array {
  const withUndefined = checkBody(value, 'value', limits.maxDepth);
  return pack(value, withUndefined, limits);
}

// ─── Builders: the one place each kind of envelope is made ─────────────────

/** The kinds a node sends as requests, answered on a reply subject. */
export type RequestKind = typeof EnvelopeKind.Ask | typeof EnvelopeKind.Check | typeof EnvelopeKind.Status;
/** The kinds that answer a request. */
export type AnswerKind = typeof EnvelopeKind.Reply | typeof EnvelopeKind.Error;

/** A tell of `event` to the name or id `target`. A body error names the field `event`, as the sender knows it. */
export function tellFrame(target: string, event: unknown): Uint8Array {
  return encodeEnvelope({ v: WIRE_VERSION, k: EnvelopeKind.Tell, t: target, b: event }, undefined, 'event');
}

/** An ask, check or status request to `target`, with correlation id `c` (also the tail of its reply subject). */
export function requestFrame(kind: RequestKind, target: string, c: string, body: unknown): Uint8Array {
  // A body error names the field as the caller knows it: `event.items[2]`, not `env.b.items[2]`.
  return encodeEnvelope({ v: WIRE_VERSION, k: kind, t: target, c, b: body }, undefined, kind === EnvelopeKind.Ask ? 'event' : kind);
}

/** A reply or error answer; `epoch` is the answering cluster instance's, when it is one. */
export function answerFrame(kind: AnswerKind, body: unknown, epoch: number | undefined): Uint8Array {
  const env: Envelope =
    epoch === undefined ? { v: WIRE_VERSION, k: kind, t: '', b: body } : { v: WIRE_VERSION, k: kind, t: '', b: body, e: epoch };
  return encodeEnvelope(env, undefined, kind === EnvelopeKind.Reply ? 'reply' : 'env.b');
}

// ─── Decoding ────────────────────────────────────────────────────────────────

function withCause<E extends Error>(err: E, cause: unknown): E {
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  return err;
}

function unpack(bytes: Uint8Array, limits: CodecLimits): unknown {
  guardFrame(bytes, limits);
  try {
    return packr.unpack(bytes);
  } catch (err) {
    // After the guard this is a map key msgpackr will not turn into an object
    // key (an array, a map, a bin, a timestamp), or, with a maxDepth in the
    // thousands, msgpackr's recursion running out of stack.
    if (err instanceof RangeError && /call stack/i.test(err.message)) {
      throw withCause(new DecodeError('too-deep', 'nesting exceeds the decoder stack', ErrorCode.FrameTooDeep), err);
    }
    const incomplete = (err as { incomplete?: unknown } | null)?.incomplete === true;
    throw withCause(
      new DecodeError(incomplete ? DecodeReason.Truncated : DecodeReason.BadType, describe(err).slice(0, 200)),
      err,
    );
  }
}

function notEnvelope(detail: string): DecodeError {
  return new DecodeError(DecodeReason.NotEnvelope, detail);
}

/** Structure only: whether `level` is a valid depth is the health layer's call (it answers with a typed error). */
function isCheckBody(b: unknown): boolean {
  return b === undefined || (typeof b === 'object' && b !== null && !Array.isArray(b));
}

/**
 * Decode an untrusted frame: {@link guardFrame}, msgpackr, then the envelope
 * shape (module TSDoc). Throws only `DecodeError` and its subclasses.
 */
export function decodeEnvelope(bytes: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): Envelope {
  const value = unpack(bytes, limits);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw notEnvelope('frame is not a map');
  }
  const env = value as Record<string, unknown>;
  const v = env.v;
  if (v !== WIRE_VERSION) {
    if (typeof v === 'number' || typeof v === 'bigint') {
      throw new DecodeError(DecodeReason.UnsupportedVersion, `version ${String(v).slice(0, 30)}, expected ${WIRE_VERSION}`);
    }
    throw notEnvelope('v: missing or not a number');
  }
  const k = env.k;
  if (!isEnvelopeKind(k)) throw notEnvelope('k: not a known kind');
  if (typeof env.t !== 'string') throw notEnvelope('t: must be a string');
  if (env.s !== undefined && typeof env.s !== 'string') throw notEnvelope('s: must be a string');
  if (env.c !== undefined && typeof env.c !== 'string') throw notEnvelope('c: must be a string');
  const e = env.e;
  if (e !== undefined && !(typeof e === 'number' && Number.isSafeInteger(e) && e >= 0)) {
    throw notEnvelope('e: must be a safe integer >= 0');
  }
  if (k === EnvelopeKind.Error) {
    const b = env.b;
    if (!isWireError(b) || ((b as { field?: unknown }).field !== undefined && typeof b.field !== 'string')) {
      throw notEnvelope('b: an error body is { name, message, code } strings');
    }
  } else if (k === EnvelopeKind.Check && !isCheckBody(env.b)) {
    throw notEnvelope('b: a check body is absent or a map { level }');
  }
  return env as unknown as Envelope;
}

/** Decode a bare MessagePack value (no envelope), guarded like a frame. Throws only `DecodeError`. */
export function decodeBody(bytes: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): unknown {
  return unpack(bytes, limits);
}

