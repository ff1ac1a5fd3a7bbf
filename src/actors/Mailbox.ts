/**
 * A bounded FIFO mailbox.
 *
 * Each entry is an event plus, for an ask, its reply handle. The ring buffer
 * starts small and grows by doubling up to `capacity`, so an idle actor costs
 * a few slots, not `capacity` of them.
 *
 * Overflow policies, applied when a message arrives at a full mailbox:
 * - `reject`: the new message is refused; an asker gets `MailboxFullError`.
 * - `drop-newest`: the new message is dropped; an asker gets `MessageDroppedError`.
 * - `drop-oldest`: the oldest queued message is dropped to make room; its asker,
 *   if any, gets `MessageDroppedError`.
 * Whatever is refused or dropped is counted by the caller as a dead letter.
 */
import type { ReplyHandle } from './reply.js';

export const OverflowPolicy = {
  Reject: 'reject',
  DropNewest: 'drop-newest',
  DropOldest: 'drop-oldest',
} as const;
export type OverflowPolicy = (typeof OverflowPolicy)[keyof typeof OverflowPolicy];

export interface MailboxOptions {
  /** Maximum queued messages. Default 4096. */
  readonly capacity?: number;
  /** Default `reject`. */
  readonly overflow?: OverflowPolicy;
}

export const DEFAULT_MAILBOX_CAPACITY = 4096;

/** A power of two, as every size after it: slots are found with a mask, not a division. */
const INITIAL_SLOTS = 4;
const EMPTY: unknown[] = [];

export class Mailbox {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  private events: unknown[];
  private replies: (ReplyHandle | undefined)[];
  private head = 0;
  private size = 0;

  constructor(capacity: number, overflow: OverflowPolicy) {
    this.capacity = capacity;
    this.overflow = overflow;
    // No slots until the first message: most actors are idle most of the time.
    this.events = EMPTY;
    this.replies = EMPTY as (ReplyHandle | undefined)[];
  }

  get depth(): number {
    return this.size;
  }

  get isFull(): boolean {
    return this.size >= this.capacity;
  }

  /** Append; the caller has checked for room (or is forcing a system message past capacity). */
  push(event: unknown, reply: ReplyHandle | undefined): void {
    if (this.size === this.events.length) this.grow();
    const i = (this.head + this.size) & (this.events.length - 1);
    this.events[i] = event;
    this.replies[i] = reply;
    this.size++;
  }

  /** Remove the oldest entry. Returns false when empty. The entry is left in `outEvent`/`outReply`. */
  shift(): boolean {
    if (this.size === 0) return false;
    const i = this.head;
    this.outEvent = this.events[i];
    this.outReply = this.replies[i];
    this.events[i] = undefined;
    this.replies[i] = undefined;
    this.head = (i + 1) & (this.events.length - 1);
    this.size--;
    return true;
  }

  /** The entry last removed by {@link shift}: kept in fields so the hot path allocates nothing. */
  outEvent: unknown = undefined;
  outReply: ReplyHandle | undefined = undefined;

  /** Empty the mailbox, handing each entry to `each` in FIFO order. */
  clear(each: (event: unknown, reply: ReplyHandle | undefined) => void): void {
    while (this.shift()) {
      const event = this.outEvent;
      const reply = this.outReply;
      this.outEvent = undefined;
      this.outReply = undefined;
      each(event, reply);
    }
  }

  private grow(): void {
    const old = this.events.length;
    const next = Math.max(INITIAL_SLOTS, old * 2);
    const events = new Array(next);
    const replies = new Array(next);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & (old - 1);
      events[k] = this.events[i];
      replies[k] = this.replies[i];
    }
    this.events = events;
    this.replies = replies;
    this.head = 0;
  }
}
