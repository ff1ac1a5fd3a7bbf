/**
 * A `Transport` decorator that counts messages by kind, for the traffic
 * tests: what one node publishes, and what its handlers receive.
 */
import type { KvStore } from '../../src/transport/kv/KvStore.js';
import type { Msg, MsgHandler, PublishOptions, RequestOptions, StatusListener, SubscribeOptions, Subscription, Transport } from '../../src/transport/Transport.js';

export interface Counts {
  hbPublished: number;
  hbDelivered: number;
  eventsPublished: number;
  eventsDelivered: number;
  /** Pings and probes, requests and replies. */
  probeTraffic: number;
}

export function zeroCounts(): Counts {
  return { hbPublished: 0, hbDelivered: 0, eventsPublished: 0, eventsDelivered: 0, probeTraffic: 0 };
}

export class CountingTransport implements Transport {
  readonly kind: 'local' | 'nats';
  counts: Counts = zeroCounts();
  readonly #inner: Transport;
  readonly #hb: string;
  readonly #cluster: string;

  constructor(inner: Transport, prefix: string) {
    this.#inner = inner;
    this.kind = inner.kind;
    this.#hb = `${prefix}.hb.`;
    this.#cluster = `${prefix}.cluster.`;
  }

  get name(): string {
    return this.#inner.name;
  }
  get isClosed(): boolean {
    return this.#inner.isClosed;
  }
  get isConnected(): boolean {
    return this.#inner.isConnected;
  }
  get maxPayload(): number {
    return this.#inner.maxPayload;
  }

  #count(subject: string, direction: 'out' | 'in'): void {
    if (subject.startsWith(this.#hb)) {
      if (direction === 'out') this.counts.hbPublished++;
      else this.counts.hbDelivered++;
    } else if (subject.startsWith(`${this.#cluster}ping.`) || subject.startsWith(`${this.#cluster}probe.`) || subject.startsWith('_INBOX.')) {
      this.counts.probeTraffic++;
    } else if (subject.startsWith(this.#cluster)) {
      if (direction === 'out') this.counts.eventsPublished++;
      else this.counts.eventsDelivered++;
    }
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    this.#count(subject, 'out');
    this.#inner.publish(subject, data, options);
  }

  subscribe(subject: string, handler: MsgHandler, options?: SubscribeOptions): Subscription {
    return this.#inner.subscribe(
      subject,
      (msg: Msg) => {
        this.#count(msg.subject, 'in');
        handler(msg);
      },
      options,
    );
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    this.counts.probeTraffic++;
    return this.#inner.request(subject, data, options);
  }

  flush(): Promise<void> {
    return this.#inner.flush();
  }
  newInbox(): string {
    return this.#inner.newInbox();
  }
  onStatus(listener: StatusListener): () => void {
    return this.#inner.onStatus(listener);
  }
  kv(): KvStore {
    return this.#inner.kv();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}
