/**
 * The wire codec: the only module that touches msgpackr.
 *
 * Every remote message is one {@link Envelope}, written as one plain
 * MessagePack map (no msgpackr records, no msgpackr extensions), so any
 * MessagePack client can read and write it.
 *
 * ## Envelope, version 1
 *
 * | key | field       | required | type     | meaning                                                     |
 * |-----|-------------|----------|----------|-------------------------------------------------------------|
 * | `v` | version     | yes      | `1`      | Wire version. Any other number: `DecodeError(unsupported-version)`. |
 * | `k` | kind        | yes      | string   | One of {@link EnvelopeKind}, see below.                     |
 * | `s` | sender      | no       | string   | Address of the sending actor, where replies may go.        |
 * | `t` | target      | yes      | string   | Address of the receiving actor (empty in answers, which go to an inbox). |
 * | `c` | correlation | no       | string   | Ties an `ask` / `check` to its `reply`, `error` or `status`. |
 * | `b` | body        | per kind | any      | Payload (see "Bodies"). Absent means `undefined`.          |
 * | `e` | epoch       | no       | integer  | Owner epoch of the target name (safe integer >= 0), reserved for fencing. |
 *
 * Kinds and their bodies:
 * - `tell`: fire and forget; `b` is the event.
 * - `ask`: request; `b` is the event; the answer goes to the NATS reply subject.
 * - `reply`: successful answer to an `ask`; `b` is the result (may be absent).
 * - `error`: failed answer; `b` is a `WireError` plain object `{ name, message, code, field? }`.
 *   {@link encodeEnvelope} turns any other body (an `Error` instance, a thrown string)
 *   into one with `toWireError` and trims a plain one to those fields, so class
 *   instances, stacks and causes never cross the wire.
 * - `check`: health probe; `b` is absent or a map `{ level }` (OCF check depth 0, 10 or 20;
 *   the health layer validates `level` and defaults it to 0).
 * - `status`: answer to a `check`; `b` is the status report (checked by the health layer).
 *
 * Keys are one letter because every remote message carries them. Unknown keys
 * are ignored on decode (room for additions within version 1); the encoder
 * never writes them.
 *
 * ## Subjects (assumed here, owned by the remote layer)
 * ```
 *   tell / ask / check  ──► subject of the target name      (envelope `t` repeats it, so a frame is self-describing)
 *   reply / error       ──► the request's reply subject     (`_INBOX.…`, `c` = the ask's `c`)
 *   status              ──► the check's reply subject
 * ```
 * Plain NATS clients that cannot speak MessagePack send a JSON body instead
 * ({@link decodeJsonBody}) and get JSON back ({@link encodeJson}); how a frame is
 * recognised as JSON (a header) is the transport's business, not the codec's.
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
 * ## Decoding untrusted frames
 * ```
 *   bytes ──► guardFrame (size, then one iterative pass: depth, truncation,
 *             │           0xc1, extension types, trailing bytes)
 *             ▼
 *           msgpackr unpack ──► shape check ──► Envelope
 * ```
 * Every failure is a `DecodeError` (`FrameTooLargeError` and `FrameTooDeepError`
 * are subclasses) with a `DecodeReason`; msgpackr's own exceptions are wrapped,
 * with the original as `cause`. The guard runs first so that msgpackr, which
 * recurses, never sees a frame nested deeper than `maxDepth`.
 *
 * Extensions: only type 0 (`undefined`, as msgpackr and notepack write it) and
 * type -1 (MessagePack timestamp) are accepted. Every other type is rejected by
 * the guard as `bad-type`, because msgpackr gives several types (0x42, 0x62, 0x65,
 * 0x69, 0x70, 0x72, 0x73, 0x74, 0x78) private meanings: some read the *next*
 * value as their payload or move the read position, so the structure msgpackr
 * decodes would no longer be the one the guard measured, and some build
 * cyclic graphs, `RegExp`s or record definitions from peer data.
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
  FrameTooDeepError,
  FrameTooLargeError,
  isWireError,
  toWireError,
  type WireError,
} from '../../errors.js';

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

/**
 * Limits for untrusted input. `maxBytes` bounds the frame size; `maxDepth`
 * bounds how many containers (maps, arrays) may be open at once, counting the
 * envelope map itself: a scalar frame has depth 0, `[]` depth 1, `[[]]` depth 2.
 * The guard itself takes any depth, but msgpackr recurses, so a `maxDepth` in
 * the thousands only moves the failure to a stack overflow (still a `DecodeError`).
 */
export interface CodecLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

export const DEFAULT_LIMITS: CodecLimits = Object.freeze({ maxBytes: 1024 * 1024, maxDepth: 32 });

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

// ─── Frame guard ─────────────────────────────────────────────────────────────

/**
 * Remaining-element counts of the open containers. Module-level and grown on
 * demand: the guard is synchronous and calls no user code, so it cannot be
 * re-entered, and the hot path allocates nothing.
 */
let counts = new Float64Array(64);

function truncated(pos: number, len: number): DecodeError {
  return new DecodeError(DecodeReason.Truncated, `frame ends at byte ${len}, value at byte ${pos} needs more`);
}

function extensionAllowed(type: number): boolean {
  // 0x00: undefined (msgpackr, notepack); 0xff = -1: MessagePack timestamp.
  return type === 0x00 || type === 0xff;
}

function badExtension(type: number, pos: number): DecodeError {
  const signed = type > 0x7f ? type - 0x100 : type;
  return new DecodeError(DecodeReason.BadType, `extension type ${signed} at byte ${pos} is not accepted`);
}

/**
 * Check an untrusted frame before anything decodes it: size first
 * ({@link FrameTooLargeError}), then one iterative pass over the MessagePack
 * structure that skips payloads and checks nesting depth
 * ({@link FrameTooDeepError}), truncation, the never-used byte 0xc1 and
 * extension types (`bad-type`), and bytes after the single top-level value
 * (`trailing-bytes`). An empty frame is `empty`.
 *
 * A container header is accepted only if the bytes left can hold its declared
 * elements (each takes at least one byte; a map entry counts as two), so a
 * 10-byte frame declaring 2^32 elements fails at once as `truncated`.
 */
export function guardFrame(bytes: Uint8Array, limits: CodecLimits): void {
  const len = bytes.length;
  if (len > limits.maxBytes) throw new FrameTooLargeError(len, limits.maxBytes);
  if (len === 0) throw new DecodeError(DecodeReason.Empty, 'empty frame');
  const maxDepth = limits.maxDepth;
  let depth = 0; // containers open
  let left = 1; // values still to read at this level; the top level holds exactly one
  let pos = 0;
  for (;;) {
    while (left === 0) {
      if (depth === 0) {
        if (pos !== len) {
          throw new DecodeError(DecodeReason.TrailingBytes, `${len - pos} bytes after the value ending at byte ${pos}`);
        }
        return;
      }
      left = counts[--depth]!;
    }
    if (pos >= len) throw truncated(pos, len);
    const start = pos;
    const b = bytes[pos]!;
    left--;
    let n: number; // elements of a container (map entries count twice)
    if (b < 0x80 || b >= 0xe0) {
      pos += 1; // positive / negative fixint
      continue;
    } else if (b < 0x90) {
      n = (b & 0x0f) * 2; // fixmap
      pos += 1;
    } else if (b < 0xa0) {
      n = b & 0x0f; // fixarray
      pos += 1;
    } else if (b < 0xc0) {
      pos += 1 + (b & 0x1f); // fixstr
      if (pos > len) throw truncated(start, len);
      continue;
    } else {
      let head = 1; // bytes before the payload
      let size = 0; // payload bytes
      n = -1; // not a container
      switch (b) {
        case 0xc0: // nil
        case 0xc2: // false
        case 0xc3: // true
          break;
        case 0xc1:
          throw new DecodeError(DecodeReason.BadType, `byte 0xc1 at ${pos} is never used in MessagePack`);
        case 0xc4: // bin 8
        case 0xd9: // str 8
          head = 2;
          if (pos + head > len) throw truncated(start, len);
          size = bytes[pos + 1]!;
          break;
        case 0xc5: // bin 16
        case 0xda: // str 16
          head = 3;
          if (pos + head > len) throw truncated(start, len);
          size = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
          break;
        case 0xc6: // bin 32
        case 0xdb: // str 32
          head = 5;
          if (pos + head > len) throw truncated(start, len);
          size = readU32(bytes, pos + 1);
          break;
        case 0xc7: // ext 8
          head = 3;
          if (pos + head > len) throw truncated(start, len);
          size = bytes[pos + 1]!;
          if (!extensionAllowed(bytes[pos + 2]!)) throw badExtension(bytes[pos + 2]!, start);
          break;
        case 0xc8: // ext 16
          head = 4;
          if (pos + head > len) throw truncated(start, len);
          size = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
          if (!extensionAllowed(bytes[pos + 3]!)) throw badExtension(bytes[pos + 3]!, start);
          break;
        case 0xc9: // ext 32
          head = 6;
          if (pos + head > len) throw truncated(start, len);
          size = readU32(bytes, pos + 1);
          if (!extensionAllowed(bytes[pos + 5]!)) throw badExtension(bytes[pos + 5]!, start);
          break;
        case 0xd4: // fixext 1, 2, 4, 8, 16
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
          head = 2;
          if (pos + head > len) throw truncated(start, len);
          size = 1 << (b - 0xd4);
          if (!extensionAllowed(bytes[pos + 1]!)) throw badExtension(bytes[pos + 1]!, start);
          break;
        case 0xcc: // uint 8
        case 0xd0: // int 8
          size = 1;
          break;
        case 0xcd: // uint 16
        case 0xd1: // int 16
          size = 2;
          break;
        case 0xca: // float 32
        case 0xce: // uint 32
        case 0xd2: // int 32
          size = 4;
          break;
        case 0xcb: // float 64
        case 0xcf: // uint 64
        case 0xd3: // int 64
          size = 8;
          break;
        case 0xdc: // array 16
          head = 3;
          if (pos + head > len) throw truncated(start, len);
          n = (bytes[pos + 1]! << 8) | bytes[pos + 2]!;
          break;
        case 0xdd: // array 32
          head = 5;
          if (pos + head > len) throw truncated(start, len);
          n = readU32(bytes, pos + 1);
          break;
        case 0xde: // map 16
          head = 3;
          if (pos + head > len) throw truncated(start, len);
          n = ((bytes[pos + 1]! << 8) | bytes[pos + 2]!) * 2;
          break;
        default: // 0xdf, map 32
          head = 5;
          if (pos + head > len) throw truncated(start, len);
          n = readU32(bytes, pos + 1) * 2;
          break;
      }
      pos += head + size;
      if (pos > len) throw truncated(start, len);
      if (n < 0) continue;
    }
    // A container header at `start` holding `n` elements.
    if (depth >= maxDepth) throw new FrameTooDeepError(maxDepth);
    if (n > len - pos) throw truncated(start, len);
    if (n === 0) continue;
    if (depth === counts.length) {
      const grown = new Float64Array(depth * 2);
      grown.set(counts);
      counts = grown;
    }
    counts[depth++] = left;
    left = n;
  }
}

function readU32(bytes: Uint8Array, at: number): number {
  return bytes[at]! * 0x1000000 + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!);
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

// ─── JSON, for plain NATS clients ────────────────────────────────────────────

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });
const utf8Encoder = new TextEncoder();

/**
 * Depth of a JSON text, measured on the bytes before parsing so that a deep
 * text is refused before `JSON.parse` allocates anything. Brackets inside
 * strings do not count. Malformed text is left for `JSON.parse` to reject.
 */
function guardJsonDepth(bytes: Uint8Array, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0, n = bytes.length; i < n; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c) i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) {
      inString = true;
    } else if (b === 0x5b || b === 0x7b) {
      if (++depth > maxDepth) throw new FrameTooDeepError(maxDepth);
    } else if (b === 0x5d || b === 0x7d) {
      depth--;
    }
  }
}

/**
 * Decode a UTF-8 JSON body from a plain NATS client. Size and depth are
 * checked on the bytes first (same limits and depth rule as MessagePack);
 * invalid UTF-8 or JSON is `DecodeError(bad-json)` with the parser's error as
 * `cause`. Throws only `DecodeError` and its subclasses.
 */
export function decodeJsonBody(bytes: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): unknown {
  if (bytes.length > limits.maxBytes) throw new FrameTooLargeError(bytes.length, limits.maxBytes);
  if (bytes.length === 0) throw new DecodeError(DecodeReason.Empty, 'empty frame');
  guardJsonDepth(bytes, limits.maxDepth);
  try {
    return JSON.parse(utf8Decoder.decode(bytes));
  } catch (err) {
    throw withCause(new DecodeError(DecodeReason.BadJson, describe(err).slice(0, 200)), err);
  }
}

/**
 * Encode a value as UTF-8 JSON for a plain NATS client, with `JSON.stringify`
 * semantics (functions and `undefined` properties are dropped, Dates become
 * strings). Throws {@link EncodeError} when there is no JSON form (a cycle, a
 * bigint, a top-level `undefined` or function).
 */
export function encodeJson(value: unknown): Uint8Array {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new EncodeError(describe(err), err);
  }
  if (text === undefined) throw new EncodeError(`${typeof value} has no JSON form`);
  return utf8Encoder.encode(text);
}
