/**
 * Inbound: turns frames from the transport into mailbox deliveries.
 *
 * Every frame is guarded and decoded before anything else; a frame that fails
 * (malformed, oversize, too deep, not an event) is counted as a dead letter
 * and, when the sender gave a reply subject, answered with a typed error.
 *
 * Two encodings arrive here:
 * - msgpack envelopes from Halyard nodes (see envelope.ts);
 * - JSON from plain NATS clients, marked by the header
 *   `content-type: application/json`. The body is the event; a message with a
 *   reply subject is an ask and gets its answer back as JSON. The optional
 *   header `halyard-op: check | status` asks for health instead (body
 *   `{"level": 10}` or empty). Errors come back as JSON `{name, message, code}`
 *   with the header `halyard-error: 1`; answers from a cluster instance carry
 *   its epoch in the header `halyard-epoch` (see Answerer.ts).
 *
 * A frame for a cluster instance this node stopped by fencing itself off
 * (SelfFence.ts) is a `fenced` dead letter, answered with that node's
 * `FencedError` where the sender gave a reply subject: a paused process
 * reads, on waking, what NATS routed to it meanwhile, and its askers should
 * learn at once that the instance moved, not at their deadline. The error
 * goes without the old epoch, which an asker that knows the new owner would
 * refuse as stale.
 */
import { DeadLetterReason, type DeadLetters } from '../../actors/DeadLetters.js';
import type { ActorCell } from '../../actors/ActorCell.js';
import { EventFault, eventError, eventFault, faultReason } from '../../actors/events.js';
import { isCheckLevel, type CheckLevel, type CheckResult, type StatusReport } from '../../actors/ocf.js';
import { REPLY } from '../../actors/reply.js';
import {
  DecodeError,
  DecodeReason,
  FrameTooLargeError,
  InvalidArgumentError,
  NoSuchActorError,
  toLogError,
} from '../../errors.js';
import type { Logger } from '../../log.js';
import { Answerer, RemoteReply } from './Answerer.js';
import { type Envelope, decodeEnvelope } from './envelope.js';
import type { CodecLimits } from './frameGuard.js';
import { decodeJsonBody } from './json.js';
import type { Msg, Transport } from '../../transport/Transport.js';

/** What a frame can be addressed to: an actor, or the node itself. */
export interface InboundTarget {
  readonly label: string;
  /** @internal Absent for targets that take no user messages (the node). */
  readonly _enqueue?: ActorCell['_enqueue'];
  check(level?: CheckLevel): Promise<CheckResult>;
  status(): Promise<StatusReport>;
}

/**
 * Where inbound frames ended. Every frame ends in exactly one outcome, so
 * `received === delivered + answered + refused + deadLettered` at all times.
 */
export interface InboundStats {
  /** Frames handed to Inbound. */
  readonly received: number;
  /** Tells and asks put to a mailbox, which accounts for them from there (processed, or its own dead letter). */
  readonly delivered: number;
  /** Check and Status frames answered (the answer may itself be an error the target raised). */
  readonly answered: number;
  /** Frames answered with an error and nothing else: a Check of an actor not here, a bad level. */
  readonly refused: number;
  /** Frames counted as dead letters by Inbound (answered with the error too, when they carry a reply subject). */
  readonly deadLettered: number;
}

function isJson(msg: Msg): boolean {
  const h = msg.headers;
  if (!h) return false;
  const ct = h.get('content-type') ?? h.get('Content-Type');
  return ct?.startsWith('application/json') === true;
}

/** The epoch (fencing token) of a cluster instance hosted here, stamped on its replies. */
export type EpochOf = (name: string) => number | undefined;

/** The error (a `FencedError`) to refuse a frame for `label` with, when it is an instance this node stopped by fencing. */
export type FencedRefusal = (label: string) => Error | undefined;

export class Inbound {
  private received = 0;
  private delivered = 0;
  private answered = 0;
  private refused = 0;
  private deadLettered = 0;
  private readonly answerer: Answerer;

  constructor(
    transport: Transport,
    private readonly deadLetters: DeadLetters,
    private readonly limits: CodecLimits,
    private readonly log: Logger,
    private readonly epochOf: EpochOf = () => undefined,
    private readonly fencedRefusal: FencedRefusal = () => undefined,
  ) {
    this.answerer = new Answerer(transport, log);
  }

  /** Where the frames received so far ended (see {@link InboundStats}). */
  stats(): InboundStats {
    return {
      received: this.received,
      delivered: this.delivered,
      answered: this.answered,
      refused: this.refused,
      deadLettered: this.deadLettered,
    };
  }

  /** Handle one frame for `target` (undefined: nobody here by that name or id). */
  handle(msg: Msg, target: InboundTarget | undefined, label: string): void {
    this.received++;
    const json = isJson(msg);
    let env: Envelope;
    try {
      env = json ? this.fromJson(msg, label) : decodeEnvelope(msg.data, this.limits);
    } catch (err) {
      this.deadLetter(label, undefined, err instanceof FrameTooLargeError ? DeadLetterReason.FrameTooLarge : DeadLetterReason.Decode);
      this.log.debug({ err: toLogError(err), subject: msg.subject }, 'undecodable frame');
      const reply = msg.reply;
      if (reply) {
        if (!json && !(err instanceof FrameTooLargeError) && this.parsesAsJson(msg.data)) {
          // A plain client that forgot the content-type header: answer in the encoding it speaks.
          this.sendError(reply, true, new DecodeError(DecodeReason.NotEnvelope, 'not a MessagePack envelope; a JSON body needs the header content-type: application/json'));
        } else {
          this.sendError(reply, json, err);
        }
      }
      return;
    }
    // A plain tell is the hot path: it never reads the reply subject, which
    // the NATS client would otherwise decode for every message.
    if (env.k === 'tell' && target?._enqueue && eventFault(env.b) === undefined) {
      this.delivered++;
      target._enqueue(env.b, undefined);
      return;
    }
    this.dispatch(env, msg.reply, json, target, label);
  }

  private parsesAsJson(data: Uint8Array): boolean {
    try {
      decodeJsonBody(data, this.limits);
      return true;
    } catch {
      return false;
    }
  }

  private deadLetter(label: string, event: unknown, reason: DeadLetterReason): void {
    this.deadLettered++;
    this.deadLetters.record(label, event, reason);
  }

  private fromJson(msg: Msg, label: string): Envelope {
    const op = msg.headers?.get('halyard-op');
    const body = msg.data.length === 0 && op ? {} : decodeJsonBody(msg.data, this.limits);
    if (op === 'check' || op === 'status') return { v: 1, k: op, t: label, b: body };
    if (op !== undefined && op !== 'tell' && op !== 'ask') {
      throw new DecodeError(DecodeReason.NotEnvelope, `unknown halyard-op header ${JSON.stringify(op.slice(0, 32))}`);
    }
    return { v: 1, k: msg.reply && op !== 'tell' ? 'ask' : 'tell', t: label, b: body };
  }

  private dispatch(env: Envelope, reply: string | undefined, json: boolean, target: InboundTarget | undefined, label: string): void {
    switch (env.k) {
      case 'tell':
      case 'ask': {
        // A tell never gets an answer, but a refusal does go back to a reply
        // subject when there is one, so that no bad frame is lost in silence.
        // An ask nobody can answer is still a message: it is delivered as a tell.
        if (!target?._enqueue) {
          if (target === undefined && this.refuseFenced(label, env.b, reply, json)) return;
          this.deadLetter(label, env.b, DeadLetterReason.NoSuchActor);
          if (reply) this.sendError(reply, json, new NoSuchActorError(label));
          return;
        }
        const fault = eventFault(env.b);
        if (fault !== undefined) {
          // Reserved types are refused here, before any logic sees them: from
          // a peer, `xstate.stop` would stop the actor (see actors/events.ts).
          this.deadLetter(label, fault === EventFault.Reserved ? env.b : undefined, faultReason(fault));
          if (reply) this.sendError(reply, json, eventError(fault, env.b));
          return;
        }
        this.delivered++;
        if (env.k === 'tell' || !reply) {
          target._enqueue(env.b, undefined);
          return;
        }
        const handle = new RemoteReply(this.answerer, reply, json, this.epochOf(label));
        const event = env.b as Record<string | symbol, unknown>;
        event[REPLY] = handle;
        target._enqueue(event, handle);
        return;
      }
      case 'check':
      case 'status': {
        if (!reply) {
          this.deadLetter(label, undefined, DeadLetterReason.NoReplySubject);
          return;
        }
        if (!target) {
          if (this.refuseFenced(label, undefined, reply, json)) return;
          this.refused++;
          this.sendError(reply, json, new NoSuchActorError(label));
          return;
        }
        const level = (env.b as { level?: unknown } | undefined)?.level ?? 0;
        if (env.k === 'check' && !isCheckLevel(level)) {
          this.refused++;
          this.sendError(reply, json, new InvalidArgumentError('level', 'must be 0, 10 or 20'));
          return;
        }
        this.answered++;
        let answer: Promise<unknown>;
        try {
          answer = env.k === 'check' ? target.check(level as CheckLevel) : target.status();
        } catch (err) {
          answer = Promise.reject(err);
        }
        answer.then(
          (v) => this.answerer.reply(reply, json, v),
          (err) => this.answerer.error(reply, json, err),
        );
        return;
      }
      default:
        this.deadLetter(label, undefined, DeadLetterReason.Unroutable);
        if (reply) this.sendError(reply, json, new DecodeError(DecodeReason.NotEnvelope, `${env.k} frames are not accepted here`));
    }
  }

  /** A frame for an instance stopped by fencing: a dead letter, answered with the `FencedError`. */
  private refuseFenced(label: string, event: unknown, reply: string | undefined, json: boolean): boolean {
    const err = this.fencedRefusal(label);
    if (err === undefined) return false;
    this.deadLetter(label, event, DeadLetterReason.Fenced);
    if (reply) this.sendError(reply, json, err);
    return true;
  }

  private sendError(subject: string, json: boolean, err: unknown): void {
    this.answerer.error(subject, json, err);
  }
}
