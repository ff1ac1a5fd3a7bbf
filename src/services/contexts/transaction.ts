import { randomBytes } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const TRANSACTION = /^[A-Z2-7]{20}$/;

/** A context's transaction id: 20 base32 characters (RFC 4648 alphabet), 100 random bits, e.g. `6FDAHH3WPRVV7FGZCRIN`. */
export function newTransactionId(): string {
  const bytes = randomBytes(13);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5 && out.length < 20) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
