/**
 * What a user may send to an actor: one check shared by every entry point
 * (local `tell`/`ask`, name refs, wire msgpack, wire JSON).
 *
 * An event is a non-array object whose `type` is a non-empty string outside
 * the reserved namespaces:
 * - `xstate.*`: XState acts on its own event types before the logic sees
 *   them (`xstate.stop` stops the actor, `xstate.error.actor.*` crashes a
 *   machine). From a peer they would let any publisher stop or crash any actor.
 * - `halyard.*`: Halyard's control events (`halyard.shutdown`,
 *   `halyard.failure`, the supervisor's own). A forged shutdown would stop an
 *   actor as if its supervisor had asked.
 *
 * Halyard delivers its control events through internal paths
 * (`ActorCell._enqueue`, the mailbox), never through these checks.
 */
import type { AnyEventObject } from 'xstate';
import { InvalidEventError } from '../errors.js';
import { DeadLetterReason, type DeadLetters } from './DeadLetters.js';

/** Event type prefixes no user or peer may send. */
export const RESERVED_EVENT_PREFIXES = ['xstate.', 'halyard.'] as const;

const CHAR_X = 0x78;
const CHAR_H = 0x68;

/** True when `type` is in a reserved namespace. One char compare for most types: this runs per message. */
export function isReservedType(type: string): boolean {
  const c = type.charCodeAt(0);
  if (c === CHAR_X) return type.startsWith('xstate.');
  if (c === CHAR_H) return type.startsWith('halyard.');
  return false;
}

/** Why a value is not a deliverable event. */
export const EventFault = {
  NotObject: 'not-object',
  NoType: 'no-type',
  Reserved: 'reserved',
} as const;
export type EventFault = (typeof EventFault)[keyof typeof EventFault];

/** `undefined` when `v` may be delivered to an actor; else why not. Allocates nothing. */
export function eventFault(v: unknown): EventFault | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return EventFault.NotObject;
  const type = (v as { type?: unknown }).type;
  if (typeof type !== 'string' || type.length === 0) return EventFault.NoType;
  return isReservedType(type) ? EventFault.Reserved : undefined;
}

/** The typed error for a fault found by {@link eventFault}. */
export function eventError(fault: EventFault, event: unknown): InvalidEventError {
  switch (fault) {
    case EventFault.NotObject:
      return new InvalidEventError('must be an object with a string "type"');
    case EventFault.NoType:
      return new InvalidEventError('"type" must be a non-empty string');
    case EventFault.Reserved: {
      const type = JSON.stringify((event as { type: string }).type.slice(0, 64));
      return new InvalidEventError(`"type" ${type} is reserved: xstate.* and halyard.* events are sent only by XState and Halyard`);
    }
  }
}

/** The dead-letter reason for a fault. */
export function faultReason(fault: EventFault): DeadLetterReason {
  return fault === EventFault.Reserved ? DeadLetterReason.ReservedEvent : DeadLetterReason.InvalidEvent;
}

/**
 * Throw {@link InvalidEventError} unless `event` may be delivered. A reserved
 * event is also counted as a dead letter (`reserved-event`) for `target`
 * when `deadLetters` is given: it is a refused message, not a caller's typo.
 */
export function assertEvent(event: unknown, deadLetters?: DeadLetters, target?: string): asserts event is AnyEventObject {
  const fault = eventFault(event);
  if (fault === undefined) return;
  if (fault === EventFault.Reserved && deadLetters) deadLetters.record(target ?? '', event, DeadLetterReason.ReservedEvent);
  throw eventError(fault, event);
}
