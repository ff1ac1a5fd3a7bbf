/**
 * Everything a node sends to other nodes: tells, and requests (ask, check,
 * status) with their answers. Hand-rolled over one wildcard inbox
 * subscription per node and the transport layer's {@link RequestMux} (a
 * correlation map and one deadline timer on the node's clock), never
 * `nc.request()` (which builds an Error object per call and is about 3x slower).
 *
 * Reply subjects:
 * - `<inbox>.r.<corr>` for asks, checks and statuses;
 * - `<inbox>.t.<name>` for tells: a tell carries a reply subject only so that
 *   the server's "no responders" status tells the sender nobody serves the
 *   name. Such tells are counted as dead letters (`no-such-actor`) instead of
 *   vanishing. No responder ever answers a tell.
 *
 * A reply that arrives after its deadline is counted as a `late-reply` dead
 * letter; one stamped with an epoch older than the newest known for its
 * target is refused (`StaleEpochError`, dead letter `stale-epoch`).
 */
import type { DeadLetters } from '../../actors/DeadLetters.js';
import { DeadLetterReason } from '../../actors/DeadLetters.js';
import type { Clock } from '../../clock.js';
import {
  DecodeError,
  DecodeReason,
  EncodeError,
  NoSuchActorError,
  NodeClosedError,
  StaleEpochError,
  TransportError,
  fromWireError,
  isWireError,
} from '../../errors.js';
import { decodeEnvelope, type RequestKind, requestFrame, tellFrame } from './envelope.js';
import type { CodecLimits } from './frameGuard.js';
import { RequestMux } from '../../transport/RequestMux.js';
import { type OwnedPublish, ownedPublisher } from './ownedPublisher.js';
import type { Msg, Subscription, Transport } from '../../transport/Transport.js';

export class Requester {
  private readonly mux: RequestMux<unknown>;
  private readonly askPrefix: string;
  private readonly tellPrefix: string;
  private readonly sub: Subscription;
  /** Publish a frame we encoded, to subjects we built from validated names. */
  private readonly publishOwned: OwnedPublish;
  private closedBy: string | undefined;

  constructor(
    transport: Transport,
    clock: Clock,
    private readonly deadLetters: DeadLetters,
    private readonly limits: CodecLimits,
    /** Newest epoch known for a target name: replies stamped older are stale. */
    private readonly knownEpoch: (target: string) => number | undefined = () => undefined,
  ) {
    const inbox = transport.newInbox();
    this.mux = new RequestMux<unknown>(`${inbox}.r`, clock);
    this.askPrefix = `${inbox}.r.`;
    this.tellPrefix = `${inbox}.t.`;
    this.sub = transport.subscribe(`${inbox}.>`, (msg) => this.onMessage(msg));
    this.publishOwned = ownedPublisher(transport);
  }

  /** Reply subject for a tell to `name`. */
  tellReply(name: string): string {
    return this.tellPrefix + name;
  }

  get inFlight(): number {
    return this.mux.size;
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

  /**
   * Send a request to `target` on `subject`; resolves with the answer's body,
   * rejects with its error (`RemoteError`), `TimeoutError` at the deadline,
   * `NoSuchActorError` when nobody serves the subject, or `NodeClosedError`.
   */
  request(subject: string, kind: RequestKind, target: string, body: unknown, timeout: number): Promise<unknown> {
    if (this.closedBy !== undefined) return Promise.reject(new NodeClosedError(this.closedBy));
    const { token, reply, promise } = this.mux.add(subject, timeout, target);
    try {
      this.publishOwned(subject, requestFrame(kind, target, token, body), reply);
    } catch (err) {
      this.mux.cancel(reply, err);
    }
    return promise;
  }

  /** Reject every pending request published to `subject` (the server refused it); returns how many. */
  failSubject(subject: string, error: unknown): number {
    return this.mux.failSubject(subject, error);
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
    const p = this.mux.take(this.mux.tokenOf(subject));
    if (!p) {
      this.deadLetters.record(subject, undefined, DeadLetterReason.LateReply);
      return;
    }
    if (msg.noResponders) {
      p.reject(new NoSuchActorError(p.label));
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
      const current = this.knownEpoch(p.label);
      if (current !== undefined && env.e < current) {
        this.deadLetters.record(p.label, undefined, DeadLetterReason.StaleEpoch);
        p.reject(new StaleEpochError(p.label, env.e, current));
        return;
      }
    }
    if (env.k === 'reply') p.resolve(env.b);
    else if (env.k === 'error' && isWireError(env.b)) p.reject(fromWireError(env.b));
    else p.reject(new DecodeError(DecodeReason.NotEnvelope, `unexpected ${env.k} frame in reply to ${p.label}`));
  }

  /** Reject everything in flight and stop listening. */
  close(nodeName: string): void {
    this.closedBy = nodeName;
    this.sub.unsubscribe();
    this.mux.rejectAll(new NodeClosedError(nodeName));
  }
}
