/**
 * Outgoing request/reply over the transport, hand-rolled: one wildcard inbox
 * subscription per node and a correlation map, never `nc.request()` (which
 * builds an Error object per call and is about 3x slower).
 *
 * Reply subjects:
 * - `<inbox>.r.<corr>` for asks, checks and statuses;
 * - `<inbox>.t.<name>` for tells: a tell carries a reply subject only so that
 *   the server's "no responders" status tells the sender nobody serves the
 *   name. Such tells are counted as dead letters (`no-such-actor`) instead of
 *   vanishing. No responder ever answers a tell.
 *
 * A reply that arrives after its deadline is counted as a `late-reply` dead letter.
 */
import type { DeadLetters } from '../../actors/DeadLetters.js';
import { DeadLetterReason } from '../../actors/DeadLetters.js';
import type { Clock, TimerHandle } from '../../clock.js';
import {
  DecodeError,
  DecodeReason,
  EncodeError,
  NoSuchActorError,
  NodeClosedError,
  StaleEpochError,
  TimeoutError,
  TransportError,
  fromWireError,
  isWireError,
} from '../../errors.js';
import { decodeEnvelope, type RequestKind, requestFrame, tellFrame } from './envelope.js';
import type { CodecLimits } from './frameGuard.js';
import type { Msg, Subscription, Transport } from '../../transport/Transport.js';

/** The transport's no-copy publish for frames we own, or plain publish when it has none. */
export function ownedPublisher(transport: Transport): (subject: string, frame: Uint8Array, reply?: string) => void {
  if (transport._publishOwned) return transport._publishOwned.bind(transport);
  return (subject, frame, reply) => transport.publish(subject, frame, reply === undefined ? undefined : { reply });
}

interface Pending {
  readonly target: string;
  readonly subject: string;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
  timer: TimerHandle | undefined;
}

export class Requester {
  private readonly pending = new Map<string, Pending>();
  private readonly inbox: string;
  private readonly askPrefix: string;
  private readonly tellPrefix: string;
  private readonly sub: Subscription;
  private seq = 0;
  private closedBy: string | undefined;

  constructor(
    transport: Transport,
    private readonly clock: Clock,
    private readonly deadLetters: DeadLetters,
    private readonly limits: CodecLimits,
    /** Newest epoch known for a target name: replies stamped older are stale. */
    private readonly knownEpoch: (target: string) => number | undefined = () => undefined,
  ) {
    this.inbox = transport.newInbox();
    this.askPrefix = `${this.inbox}.r.`;
    this.tellPrefix = `${this.inbox}.t.`;
    this.sub = transport.subscribe(`${this.inbox}.>`, (msg) => this.onMessage(msg));
    this.publishOwned = ownedPublisher(transport);
  }

  /** Publish a frame we encoded, to subjects we built from validated names. */
  private readonly publishOwned: (subject: string, frame: Uint8Array, reply?: string) => void;

  /** Reply subject for a tell to `name`. */
  tellReply(name: string): string {
    return this.tellPrefix + name;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Tell `event` to `name` over the transport, on `subject` with the reply
   * subject {@link tellReply}. Throws `EncodeError` for a body that cannot be
   * sent; a transport that cannot take it now (disconnected, reconnect buffer
   * full) costs a `transport-down` dead letter instead, as a tell is at-most-once.
   */
  tell(subject: string, reply: string, name: string, event: unknown): void {
    let frame: Uint8Array;
    try {
      frame = tellFrame(name, event);
    } catch (err) {
      throw err instanceof EncodeError ? err : new EncodeError('event', err);
    }
    try {
      this.publishOwned(subject, frame, reply);
    } catch (err) {
      if (!(err instanceof TransportError)) throw err;
      this.deadLetters.record(name, event, DeadLetterReason.TransportDown);
    }
  }

  request(subject: string, kind: RequestKind, target: string, body: unknown, timeout: number): Promise<unknown> {
    if (this.closedBy !== undefined) return Promise.reject(new NodeClosedError(this.closedBy));
    const c = (++this.seq).toString(36);
    const frame = requestFrame(kind, target, c, body);
    return new Promise((resolve, reject) => {
      const p: Pending = { target, subject, resolve, reject, timer: undefined };
      // Kept alive: a pending request holds the process until it settles.
      p.timer = this.clock.setTimer(
        () => {
          if (this.pending.delete(c)) reject(new TimeoutError(target, timeout));
        },
        timeout,
        true,
      );
      this.pending.set(c, p);
      try {
        this.publishOwned(subject, frame, this.askPrefix + c);
      } catch (err) {
        this.settle(c);
        reject(err);
      }
    });
  }

  /** Reject every pending request published to `subject` (the server refused it); returns how many. */
  failSubject(subject: string, error: unknown): number {
    let n = 0;
    for (const [c, p] of this.pending) {
      if (p.subject !== subject) continue;
      this.settle(c);
      p.reject(error);
      n++;
    }
    return n;
  }

  private settle(c: string): Pending | undefined {
    const p = this.pending.get(c);
    if (!p) return undefined;
    this.pending.delete(c);
    if (p.timer !== undefined) this.clock.clearTimer(p.timer);
    return p;
  }

  private onMessage(msg: Msg): void {
    const subject = msg.subject;
    if (subject.startsWith(this.tellPrefix)) {
      if (msg.noResponders) {
        this.deadLetters.record(subject.slice(this.tellPrefix.length), undefined, DeadLetterReason.NoSuchActor);
      }
      return;
    }
    if (!subject.startsWith(this.askPrefix)) {
      this.deadLetters.record(subject, undefined, DeadLetterReason.Unroutable);
      return;
    }
    const p = this.settle(subject.slice(this.askPrefix.length));
    if (!p) {
      this.deadLetters.record(subject, undefined, DeadLetterReason.LateReply);
      return;
    }
    if (msg.noResponders) {
      p.reject(new NoSuchActorError(p.target));
      return;
    }
    let env: ReturnType<typeof decodeEnvelope>;
    try {
      env = decodeEnvelope(msg.data, this.limits);
    } catch (err) {
      p.reject(err);
      return;
    }
    // A reply from an instance that has since been replaced (a paused node
    // waking up, a reply stuck in a socket buffer) carries its old epoch.
    if (env.e !== undefined) {
      const current = this.knownEpoch(p.target);
      if (current !== undefined && env.e < current) {
        this.deadLetters.record(p.target, undefined, DeadLetterReason.StaleEpoch);
        p.reject(new StaleEpochError(p.target, env.e, current));
        return;
      }
    }
    if (env.k === 'reply') p.resolve(env.b);
    else if (env.k === 'error' && isWireError(env.b)) p.reject(fromWireError(env.b));
    else p.reject(new DecodeError(DecodeReason.NotEnvelope, `unexpected ${env.k} frame in reply to ${p.target}`));
  }

  /** Reject everything in flight and stop listening. */
  close(nodeName: string): void {
    this.closedBy = nodeName;
    this.sub.unsubscribe();
    for (const c of [...this.pending.keys()]) this.settle(c)?.reject(new NodeClosedError(nodeName));
  }
}
