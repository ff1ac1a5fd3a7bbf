/**
 * Fencing tokens. Every claim and every lease tenure carries an epoch: the
 * KV revision of the write that granted it, so epochs only grow. A receiver
 * that tracks the current epoch of a resource rejects anything carrying an
 * older one: that sender has been fenced off (declared down, paused past its
 * lease, or superseded) even if it does not know it yet.
 */
import { StaleEpochError } from '../../errors.js';

/** True when `epoch` is older than `current`: whatever carries it comes from a fenced-off owner. */
export function isStale(epoch: number, current: number): boolean {
  return epoch < current;
}

/** Throws `StaleEpochError` when `epoch` is older than `current`. */
export function assertFresh(resource: string, epoch: number, current: number): void {
  if (isStale(epoch, current)) throw new StaleEpochError(resource, epoch, current);
}
