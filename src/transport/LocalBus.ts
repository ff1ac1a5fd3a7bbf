/**
 * The in-process "server" that `LocalTransport` connections attach to.
 *
 * ## Contract
 * - Routing follows NATS (see `Transport.ts` and `subject.ts`): every plain
 *   subscription whose filter matches gets the message; each queue group name
 *   gets it once, at one member chosen by `queueSelection`.
 * - No responders: a message with a `reply` subject that matches no
 *   subscription is answered with a status message (`noResponders: true`,
 *   empty data) delivered to the first plain subscription *of the publishing
 *   connection* that matches the reply subject, exactly as nats-server does
 *   (other connections subscribed to that reply subject get nothing).
 * - Delivery is asynchronous and FIFO: `publish` only appends to one ready
 *   queue shared by the whole bus, and a single drain, scheduled as one
 *   microtask, delivers the batch. One queue keeps every publisher's order at
 *   every subscriber; one microtask per batch (rather than a promise per
 *   message) keeps the cost per message to an array push.
 * - A drain delivers at most {@link DRAIN_BUDGET} messages before yielding
 *   to the event loop with `setImmediate`, so handlers that publish to each
 *   other forever cannot starve timers and I/O.
 * - Targets are asked `closed` at delivery time: a subscription closed after
 *   a message was queued does not see it.
 *
 * ```
 *   publish ──► match (trie, cached) ──► ready queue ──(microtask)──► drain ──► handlers
 * ```
 */
import { LocalKvServer } from './kv/LocalKvStore.js';
import { type QueueGroupMatch, SubjectTrie } from './subject.js';
import type { Msg, MsgHeaders } from './Transport.js';

/** Messages delivered per drain before yielding to the event loop. */
export const DRAIN_BUDGET = 8192;

const EMPTY = new Uint8Array(0);

/** Something the bus delivers to. @internal */
export interface BusTarget {
  /** Checked at delivery time; when true the message is skipped. */
  readonly closed: boolean;
  /** Must not throw. */
  deliver(msg: Msg): void;
}

/** A subscription as the bus sees it. @internal */
export interface BusSubscription extends BusTarget {
  readonly subject: string;
  readonly queue: string | undefined;
  /** The connection that owns it, for no-responders routing. */
  readonly owner: object;
}

/** A message on the local bus; one instance is shared by every receiver of one publish. @internal */
export class LocalMsg implements Msg {
  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    readonly reply: string | undefined,
    readonly headers: MsgHeaders | undefined,
    readonly noResponders: boolean,
  ) {}
}

export interface LocalBusOptions {
  /** How a queue group member is chosen for each message. Default `'round-robin'`. */
  readonly queueSelection?: 'round-robin' | 'random';
}

export class LocalBus {
  static #default: LocalBus | undefined;

  /** The process-wide bus that `LocalTransport` uses when given none. */
  static get default(): LocalBus {
    LocalBus.#default ??= new LocalBus();
    return LocalBus.#default;
  }

  /** The bus's key-value buckets: every `LocalTransport.kv()` on this bus shares them, as clients of one nats-server share its JetStream. */
  readonly kvServer = new LocalKvServer();
  readonly #trie = new SubjectTrie<BusSubscription>();
  readonly #random: boolean;
  // The ready queue: parallel arrays drained from #head, reset when empty.
  #targets: (BusTarget | undefined)[] = [];
  #msgs: (Msg | undefined)[] = [];
  #head = 0;
  #scheduled = false;

  constructor(options: LocalBusOptions = {}) {
    this.#random = options.queueSelection === 'random';
  }

  /** Live subscriptions on this bus. */
  get subscriptionCount(): number {
    return this.#trie.size;
  }

  /** Messages queued and not yet delivered. */
  get pending(): number {
    return this.#targets.length - this.#head;
  }

  /** @internal Start routing to `sub`. Throws `InvalidSubjectError` for a bad filter or queue. */
  _add(sub: BusSubscription): void {
    this.#trie.insert(sub.subject, sub, sub.queue);
  }

  /** @internal Stop routing to `sub`; messages already queued for it are still offered. */
  _remove(sub: BusSubscription): void {
    this.#trie.remove(sub.subject, sub, sub.queue);
  }

  /** @internal Route `msg`, published by connection `origin`. Subjects are validated by the caller. */
  _publish(origin: object, msg: LocalMsg): void {
    const match = this.#trie.match(msg.subject);
    const { plain, groups } = match;
    if (plain.length === 0 && groups.length === 0) {
      if (msg.reply !== undefined) this.#noResponders(origin, msg.reply);
      return;
    }
    for (let i = 0; i < plain.length; i++) this.#enqueue(plain[i]!, msg);
    for (let i = 0; i < groups.length; i++) this.#enqueue(this.#pick(groups[i]!), msg);
  }

  /** @internal Resolves once everything queued before the call has been delivered. */
  _barrier(): Promise<void> {
    return new Promise((resolve) => {
      this.#enqueue({ closed: false, deliver: () => resolve() }, EMPTY_MSG);
    });
  }

  #noResponders(origin: object, reply: string): void {
    for (const sub of this.#trie.match(reply).plain) {
      if (sub.owner === origin) {
        this.#enqueue(sub, new LocalMsg(reply, EMPTY, undefined, undefined, true));
        return;
      }
    }
  }

  #pick(group: QueueGroupMatch<BusSubscription>): BusSubscription {
    const members = group.members;
    if (members.length === 1) return members[0]!;
    if (this.#random) return members[Math.floor(Math.random() * members.length)]!;
    if (group.cursor >= members.length) group.cursor = 0;
    return members[group.cursor++]!;
  }

  #enqueue(target: BusTarget, msg: Msg): void {
    this.#targets.push(target);
    this.#msgs.push(msg);
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#drain);
    }
  }

  readonly #drain = (): void => {
    const targets = this.#targets;
    const msgs = this.#msgs;
    let budget = DRAIN_BUDGET;
    // Handlers may publish while we drain; their messages join this same batch.
    while (this.#head < targets.length) {
      if (budget-- === 0) {
        setImmediate(this.#drain);
        return;
      }
      const i = this.#head++;
      const target = targets[i]!;
      const msg = msgs[i]!;
      targets[i] = undefined;
      msgs[i] = undefined;
      if (target.closed) continue;
      try {
        target.deliver(msg);
      } catch (err) {
        // Targets catch their handlers' errors; reaching here is a bug in a target.
        // Surface it outside the loop so one bad target cannot stall the bus.
        queueMicrotask(() => {
          throw err;
        });
      }
    }
    targets.length = 0;
    msgs.length = 0;
    this.#head = 0;
    this.#scheduled = false;
  };
}

const EMPTY_MSG = new LocalMsg('', EMPTY, undefined, undefined, false);
