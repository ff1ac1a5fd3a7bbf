/**
 * Actor names. A name becomes part of a NATS subject (`<prefix>.svc.<name>`),
 * so it is one or more dot-separated segments of `[A-Za-z0-9_-]`, at most 128
 * characters, with no wildcards or whitespace. Validated at the edge.
 */
import { InvalidNameError } from '../errors.js';

const SEGMENT = /^[A-Za-z0-9_-]+$/;
export const MAX_NAME_LENGTH = 128;

export function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new InvalidNameError(name, 'must be a string');
  if (name.length === 0) throw new InvalidNameError(name, 'must not be empty');
  if (name.length > MAX_NAME_LENGTH) throw new InvalidNameError(name, `longer than ${MAX_NAME_LENGTH} characters`);
  for (const seg of name.split('.')) {
    if (!SEGMENT.test(seg)) {
      throw new InvalidNameError(name, 'segments must be non-empty and use only letters, digits, "_" and "-"');
    }
  }
}

export function isValidName(name: unknown): name is string {
  try {
    assertName(name);
    return true;
  } catch {
    return false;
  }
}
