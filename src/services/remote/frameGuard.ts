/**
 * The frame guard: the check every untrusted MessagePack frame passes before
 * msgpackr sees it, and the limits it enforces (shared with the JSON path).
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
 */
import { DecodeError, DecodeReason, FrameTooDeepError, FrameTooLargeError } from '../../errors.js';

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
