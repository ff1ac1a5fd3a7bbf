/**
 * Publishing frames this node encoded itself: the transport's no-copy
 * `_publishOwned` when it has one (the frame is fresh and never changed
 * again, so the defensive copy `publish` makes buys nothing), else `publish`.
 * Subjects must have been validated before; size limits still apply.
 */
import type { Transport } from '../../transport/Transport.js';

export type OwnedPublish = (subject: string, frame: Uint8Array, reply?: string) => void;

/** The transport's no-copy publish for frames we own, or plain publish when it has none. */
export function ownedPublisher(transport: Transport): OwnedPublish {
  if (transport._publishOwned) return transport._publishOwned.bind(transport);
  return (subject, frame, reply) => transport.publish(subject, frame, reply === undefined ? undefined : { reply });
}
