/**
 * Inbound: turns frames from the transport into mailbox deliveries.
 *
 * Every frame is guarded and decoded before anything else; a frame that fails
 * (malformed, oversize, too deep, not an event) is counted as a dead letter
 * and, when the sender gave a reply subject, answered with a typed error.
 *
 * Two encodings arrive here:
 * - msgpack envelopes from Halyard nodes (see codec.ts);
 * - JSON from plain NATS clients, marked by the header
 *   `content-type: application/json`. The body is the event; a message with a
 *   reply subject is an ask and gets its answer back as JSON. The optional
 *   header `halyard-op: check | status` asks for health instead (body
 *   `{"level": 10}` or empty). Errors come back as JSON `{name, message, code}`
 *   with the header `halyard-error: 1`.
 */
import { DeadLetterReason, type DeadLetters } from '../actors/DeadLetters.js';
import type { ActorCell } from '../actors/ActorCell.js';
import { isCheckLevel, type CheckLevel, type CheckResult, type StatusReport } from '../actors/ocf.js';
import { REPLY, type ReplyHandle } from '../actors/reply.js';
import {
  DecodeError,
  DecodeReason,
  FrameTooLargeError,
  InvalidArgumentError,
  InvalidEventError,
  NoSuchActorError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log.js';
import {
  type CodecLimits,
  type Envelope,
  decodeEnvelope,
  decodeJsonBody,
  encodeEnvelope,
  encodeJson,
} from '../transport/codec.js';
import type { Msg, Transport } from '../transport/Transport.js';

/** What a frame can be addressed to: an actor, or the node itself. */
export interface InboundTarget {
  readonly label: string;
  /** @internal Absent for targets that take no user messages (the node). */
  readonly _enqueue?: ActorCell['_enqueue'];
  check(level?: CheckLevel): Promise<CheckResult>;
  status(): Promise<StatusReport>;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const JSON_ERROR_HEADERS = { 'content-type': 'application/json', 'halyard-error': '1' } as const;

function isJson(msg: Msg): boolean {
  const h = msg.headers;
  if (!h) return false;
  const ct = h.get('content-type') ?? h.get('Content-Type');
  return ct?.startsWith('application/json') === true;
}

function isEventLike(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && typeof (v as { type?: unknown }).type === 'string' && (v as { type: string }).type.length > 0;
}

/** Answers one remote ask, once, in the encoding it was asked in. */
class RemoteReply implements ReplyHandle {
  private done = false;
  constructor(
    private readonly inbound: Inbound,
    private readonly subject: string,
    private readonly json: boolean,
    private readonly epoch: number | undefined,
  ) {}
  resolve(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.inbound.send(this.subject, this.json, 'reply', value, this.epoch);
  }
  reject(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.inbound.send(this.subject, this.json, 'error', toWireError(error), this.epoch);
  }
}

/** The epoch (fencing token) of a cluster instance hosted here, stamped on its replies. */
export type EpochOf = (name: string) => number | undefined;

export class Inbound {
  constructor(
    private readonly transport: Transport,
    private readonly deadLetters: DeadLetters,
    private readonly limits: CodecLimits,
    private readonly log: Logger,
    private readonly epochOf: EpochOf = () => undefined,
  ) {}

  /** Handle one frame for `target` (undefined: nobody here by that name or id). */
  handle(msg: Msg, target: InboundTarget | undefined, label: string): void {
    const json = isJson(msg);
    let env: Envelope;
    try {
      env = json ? this.fromJson(msg, label) : decodeEnvelope(msg.data, this.limits);
    } catch (err) {
      this.deadLetters.record(
        label,
        undefined,
        err instanceof FrameTooLargeError ? DeadLetterReason.FrameTooLarge : DeadLetterReason.Decode,
      );
      this.log.debug({ err: toWireError(err), subject: msg.subject }, 'undecodable frame');
      if (msg.reply) this.send(msg.reply, json, 'error', toWireError(err));
      return;
    }
    // A plain tell is the hot path: it never reads the reply subject, which
    // the NATS client would otherwise decode for every message.
    if (env.k === 'tell' && target?._enqueue && isEventLike(env.b)) {
      target._enqueue(env.b, undefined);
      return;
    }
    this.dispatch(env, msg.reply, json, target, label);
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
      case 'tell': {
        // A tell never gets an answer, but a refusal does go back to a reply
        // subject when there is one, so that no bad frame is lost in silence.
        if (!target?._enqueue) {
          this.deadLetters.record(label, env.b, DeadLetterReason.NoSuchActor);
          if (reply) this.send(reply, json, 'error', toWireError(new NoSuchActorError(label)));
          return;
        }
        if (!isEventLike(env.b)) {
          this.deadLetters.record(label, undefined, DeadLetterReason.InvalidEvent);
          if (reply) this.send(reply, json, 'error', toWireError(new InvalidEventError('"type" must be a non-empty string')));
          return;
        }
        target._enqueue(env.b, undefined);
        return;
      }
      case 'ask': {
        if (!reply) {
          // An ask nobody can answer is still a message: deliver it as a tell.
          this.dispatch({ ...env, k: 'tell' }, undefined, json, target, label);
          return;
        }
        if (!target?._enqueue) {
          this.deadLetters.record(label, env.b, DeadLetterReason.NoSuchActor);
          this.send(reply, json, 'error', toWireError(new NoSuchActorError(label)));
          return;
        }
        if (!isEventLike(env.b)) {
          this.deadLetters.record(label, undefined, DeadLetterReason.InvalidEvent);
          this.send(reply, json, 'error', toWireError(new InvalidEventError('"type" must be a non-empty string')));
          return;
        }
        const handle = new RemoteReply(this, reply, json, this.epochOf(label));
        const event = env.b as Record<string | symbol, unknown>;
        event[REPLY] = handle;
        target._enqueue(event, handle);
        return;
      }
      case 'check':
      case 'status': {
        if (!reply) return;
        if (!target) {
          this.send(reply, json, 'error', toWireError(new NoSuchActorError(label)));
          return;
        }
        const level = (env.b as { level?: unknown } | undefined)?.level ?? 0;
        if (env.k === 'check' && !isCheckLevel(level)) {
          this.send(reply, json, 'error', toWireError(new InvalidArgumentError('level', 'must be 0, 10 or 20')));
          return;
        }
        const answer = env.k === 'check' ? target.check(level as CheckLevel) : target.status();
        answer.then(
          (v) => this.send(reply, json, 'reply', v),
          (err) => this.send(reply, json, 'error', toWireError(err)),
        );
        return;
      }
      default:
        this.deadLetters.record(label, undefined, DeadLetterReason.Unroutable);
        if (reply) this.send(reply, json, 'error', toWireError(new DecodeError(DecodeReason.NotEnvelope, `${env.k} frames are not accepted here`)));
    }
  }

  /** @internal Publish a reply or error; never throws. */
  send(subject: string, json: boolean, kind: 'reply' | 'error', body: unknown, epoch?: number): void {
    try {
      if (json) {
        this.transport.publish(subject, encodeJson(body), { headers: kind === 'error' ? JSON_ERROR_HEADERS : JSON_HEADERS });
      } else {
        this.transport.publish(subject, encodeEnvelope(epoch === undefined ? { v: 1, k: kind, t: '', b: body } : { v: 1, k: kind, t: '', b: body, e: epoch }));
      }
    } catch (err) {
      if (kind === 'reply') {
        // The answer itself could not be encoded or sent: tell the asker why.
        this.send(subject, json, 'error', toWireError(err), epoch);
        return;
      }
      this.log.warn({ err: toWireError(err) }, 'could not send reply');
    }
  }
}
