/**
 * JSON for plain NATS clients that cannot speak MessagePack: a JSON body in
 * ({@link decodeJsonBody}), JSON out ({@link encodeJson}). Size and depth are
 * held to the same {@link CodecLimits} as MessagePack frames. How a frame is
 * recognised as JSON (the `content-type` header) is Inbound's business.
 */
import { DecodeError, DecodeReason, describe, EncodeError, FrameTooDeepError, FrameTooLargeError } from '../../errors.js';
import { type CodecLimits, DEFAULT_LIMITS } from './frameGuard.js';

function withCause<E extends Error>(err: E, cause: unknown): E {
  Object.defineProperty(err, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
  return err;
}

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
