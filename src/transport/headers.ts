/**
 * Message headers, as both transports accept and deliver them.
 *
 * - Publishers pass headers as a plain `Record<string, string>`; receivers get
 *   a read-only {@link MsgHeaders} view.
 * - Keys are case-sensitive (exact match, as nats.js's default `Match.Exact`)
 *   and made of printable ASCII other than `:` (RFC 822 field names, the rule
 *   nats.js enforces). Values may not contain CR or LF and are trimmed, as
 *   nats.js does, so both transports deliver the same strings.
 * - Invalid headers throw `InvalidArgumentError` with field `headers.<key>`,
 *   synchronously, before anything is sent.
 * - Headers count against the payload limit with their NATS wire size
 *   ({@link headersWireSize}).
 */
import { FrameTooLargeError, InvalidArgumentError } from '../errors.js';
import type { MsgHeaders } from './Transport.js';

/** Throws `InvalidArgumentError` unless every key and value is valid (see the module comment). */
export function assertHeaders(headers: Readonly<Record<string, string>>): void {
  for (const key in headers) {
    if (key.length === 0) throw new InvalidArgumentError('headers', 'empty header name');
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c < 33 || c > 126 || c === 58) {
        throw new InvalidArgumentError(`headers.${key.slice(0, 100)}`, 'header names are printable ASCII without ":"');
      }
    }
    const value = headers[key];
    if (typeof value !== 'string') throw new InvalidArgumentError(`headers.${key.slice(0, 100)}`, 'header values are strings');
    if (value.includes('\r') || value.includes('\n')) {
      throw new InvalidArgumentError(`headers.${key.slice(0, 100)}`, 'header values cannot contain CR or LF');
    }
  }
}

/** Bytes the header block takes on the NATS wire: `NATS/1.0\r\n` + `k: v\r\n`… + `\r\n`. */
export function headersWireSize(headers: Readonly<Record<string, string>>): number {
  let size = 12;
  for (const key in headers) size += key.length + Buffer.byteLength(headers[key]!.trim()) + 4;
  return size;
}

/**
 * Validate `headers` (if any) and check that payload plus headers fit in
 * `max` bytes, as the server counts them. Throws `InvalidArgumentError` or
 * `FrameTooLargeError`. Shared by both transports so they refuse the same frames.
 */
export function assertFrameFits(data: Uint8Array, headers: Readonly<Record<string, string>> | undefined, max: number): void {
  let size = data.byteLength;
  if (headers !== undefined) {
    assertHeaders(headers);
    size += headersWireSize(headers);
  }
  if (size > max) throw new FrameTooLargeError(size, max);
}

/** An immutable snapshot of a publisher's headers. @internal */
export class RecordHeaders implements MsgHeaders {
  readonly #map: Map<string, string>;

  /** Copies `headers`, so the publisher may reuse its object. Validate first with {@link assertHeaders}. */
  constructor(headers: Readonly<Record<string, string>>) {
    this.#map = new Map();
    for (const key in headers) this.#map.set(key, headers[key]!.trim());
  }

  get(key: string): string | undefined {
    return this.#map.get(key);
  }

  keys(): Iterable<string> {
    return this.#map.keys();
  }

  toJSON(): Record<string, string> {
    return Object.fromEntries(this.#map);
  }
}
