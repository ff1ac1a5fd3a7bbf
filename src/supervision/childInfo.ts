/**
 * childInfo: the entries `whichChildren()` answers (OTP `which_children/1`).
 *
 * An entry is data about a child; its `ref` is a handle to act on it. Kept
 * enumerable, the ref made `console.log(sup.whichChildren())` dump a whole
 * ActorCell (mailbox, XState snapshot, listeners) and `JSON.stringify` walk
 * into it. So `ref` is non-enumerable: JSON shows `{id,type,restart,status}`,
 * and `util.inspect` shows those plus `ref` as the actor's address.
 */
import type { LocalActorRef } from '../actors/types.js';
import type { ChildInfo, ChildStatus, ChildType, RestartType } from './types.js';

const inspectCustom = Symbol.for('nodejs.util.inspect.custom');

/** What `util.inspect` prints for a ref: its address, or its id on a node with no transport (empty address). */
function refLabel(ref: LocalActorRef | undefined): string | undefined {
  if (ref === undefined) return undefined;
  return ref.address !== '' ? ref.address : ref.id;
}

export function childInfo(
  id: string,
  ref: LocalActorRef | undefined,
  type: ChildType,
  restart: RestartType,
  status: ChildStatus,
): ChildInfo {
  const info = { id, type, restart, status } as ChildInfo;
  Object.defineProperty(info, 'ref', { value: ref, enumerable: false });
  Object.defineProperty(info, inspectCustom, {
    value: () => ({ id, type, restart, status, ref: refLabel(ref) }),
    enumerable: false,
  });
  return Object.freeze(info);
}
