/**
 * Dead letters: every message that reached no one, counted by reason.
 *
 * Nothing is dropped silently: a refused, dropped, undeliverable or
 * undecodable message increments a counter here, and listeners (tests, the
 * node's Status) can watch them. Payloads are never kept, only the target,
 * the event type and the reason.
 */

export const DeadLetterReason = {
  NoSuchActor: 'no-such-actor',
  MailboxFull: 'mailbox-full',
  DroppedOldest: 'dropped-oldest',
  DroppedNewest: 'dropped-newest',
  ActorStopped: 'actor-stopped',
  InvalidEvent: 'invalid-event',
  /** An event of a reserved type (`xstate.*`, `halyard.*`) sent by a user or a peer: never delivered. */
  ReservedEvent: 'reserved-event',
  /** The NATS server refused the publish for this connection's permissions. */
  PermissionDenied: 'permission-denied',
  /** A check or status frame without a reply subject: nobody to answer. */
  NoReplySubject: 'no-reply-subject',
  Decode: 'decode-error',
  FrameTooLarge: 'frame-too-large',
  LateReply: 'late-reply',
  Unroutable: 'unroutable',
  /** The transport was disconnected and could hold no more. */
  TransportDown: 'transport-down',
  /** A reply or report carrying an older epoch than the current owner's. */
  StaleEpoch: 'stale-epoch',
  /** A message to a cluster instance this node stopped when it fenced itself off (answered with `FencedError`). */
  Fenced: 'fenced',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason];

export interface DeadLetter {
  readonly target: string;
  /** The event's `type` when known. */
  readonly type: string | undefined;
  readonly reason: DeadLetterReason;
}

export type DeadLetterListener = (letter: DeadLetter) => void;

export class DeadLetters {
  private readonly counts = new Map<DeadLetterReason, number>();
  private readonly listeners = new Set<DeadLetterListener>();
  private n = 0;

  /** Total dead letters so far. */
  get total(): number {
    return this.n;
  }

  /** Counts by reason. */
  byReason(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  count(reason: DeadLetterReason): number {
    return this.counts.get(reason) ?? 0;
  }

  record(target: string, event: unknown, reason: DeadLetterReason): void {
    this.n++;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
    if (this.listeners.size === 0) return;
    const type =
      typeof event === 'object' && event !== null && typeof (event as { type?: unknown }).type === 'string'
        ? (event as { type: string }).type
        : undefined;
    const letter: DeadLetter = { target, type, reason };
    for (const l of this.listeners) {
      try {
        l(letter);
      } catch {
        // A listener's failure must not stop the counting or the other listeners.
      }
    }
  }

  /** What `JSON.stringify` prints: the counts, not the listeners. */
  toJSON(): { total: number; byReason: Record<string, number> } {
    return { total: this.n, byReason: this.byReason() };
  }

  subscribe(listener: DeadLetterListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
