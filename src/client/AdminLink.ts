/**
 * How the admin client reaches nodes: one request (first answer), a gather
 * (every answer until they stop coming), and a subscription. Over a
 * Transport (NATS or a LocalBus) here; over the control socket in
 * SocketLink.ts. Frames are already-encoded admin JSON (services/admin/protocol.ts).
 */
import { NoRespondersError, TimeoutError } from '../errors.js';
import type { Transport } from '../transport/Transport.js';

export interface GatherOptions {
  /** The longest the whole gather may take, ms. */
  readonly timeout: number;
  /** How long to wait after the last answer for another, ms. */
  readonly windowMs: number;
}

export interface AdminLink {
  request(subject: string, frame: string, timeout: number): Promise<string>;
  gather(subject: string, frame: string, options: GatherOptions): Promise<string[]>;
  subscribe(subject: string, listener: (subject: string, data: string) => void): () => void;
  close(): Promise<void>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class TransportLink implements AdminLink {
  constructor(
    private readonly transport: Transport,
    private readonly owned: boolean,
  ) {}

  async request(subject: string, frame: string, timeout: number): Promise<string> {
    const msg = await this.transport.request(subject, encoder.encode(frame), { timeout });
    return decoder.decode(msg.data);
  }

  gather(subject: string, frame: string, options: GatherOptions): Promise<string[]> {
    const t = this.transport;
    const inbox = t.newInbox();
    const answers: string[] = [];
    return new Promise<string[]>((resolve, reject) => {
      let window: ReturnType<typeof setTimeout> | undefined;
      const finish = (): void => {
        clearTimeout(window);
        clearTimeout(deadline);
        sub.unsubscribe();
        resolve(answers);
      };
      const deadline = setTimeout(finish, options.timeout);
      const sub = t.subscribe(inbox, (msg) => {
        // No node listens: nothing will come.
        if (msg.noResponders === true) return finish();
        answers.push(decoder.decode(msg.data));
        clearTimeout(window);
        window = setTimeout(finish, options.windowMs);
      });
      try {
        t.publish(subject, encoder.encode(frame), { reply: inbox });
      } catch (err) {
        clearTimeout(deadline);
        sub.unsubscribe();
        reject(err);
      }
    });
  }

  subscribe(subject: string, listener: (subject: string, data: string) => void): () => void {
    const sub = this.transport.subscribe(subject, (msg) => listener(msg.subject, decoder.decode(msg.data)));
    return () => sub.unsubscribe();
  }

  async close(): Promise<void> {
    if (this.owned) await this.transport.close();
  }
}

export function isNoAnswer(err: unknown): boolean {
  return err instanceof NoRespondersError || err instanceof TimeoutError;
}
