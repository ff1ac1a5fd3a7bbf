/**
 * Answering remote requests: a reply or an error, sent once, in the encoding
 * the request came in.
 *
 * | asked in  | reply                                     | error                                                  |
 * |-----------|-------------------------------------------|--------------------------------------------------------|
 * | msgpack   | `reply` envelope (`e`: the instance's epoch) | `error` envelope, header `halyard-error: 1`          |
 * | JSON      | JSON body, `content-type: application/json` | JSON `{name, message, code}`, plus `halyard-error: 1` |
 *
 * Answers from a cluster instance carry its epoch (fencing token): in the
 * envelope's `e`, and for plain JSON clients, which have no envelope, in the
 * header `halyard-epoch: <epoch>`, so that they can tell an answer from a
 * replaced owner too.
 *
 * Sending never throws: an answer that cannot be encoded or sent is turned
 * into an error answer telling the asker why; an error answer that cannot be
 * sent is logged.
 */
import type { ReplyHandle } from '../../actors/reply.js';
import { toLogError, toWireError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { assertPublishSubject } from '../../transport/subject.js';
import type { Transport } from '../../transport/Transport.js';
import { answerFrame } from './envelope.js';
import { encodeJson } from './json.js';
import { type OwnedPublish, ownedPublisher } from './ownedPublisher.js';

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const JSON_ERROR_HEADERS = { 'content-type': 'application/json', 'halyard-error': '1' } as const;
// Error frames are marked in both encodings, so any client can tell it got an error without decoding.
const MSGPACK_ERROR_HEADERS = { 'halyard-error': '1' } as const;
/** The header that carries an answering instance's epoch to plain JSON clients. */
export const EPOCH_HEADER = 'halyard-epoch';

export class Answerer {
  private readonly publishOwned: OwnedPublish;

  constructor(
    private readonly transport: Transport,
    private readonly log: Logger,
  ) {
    this.publishOwned = ownedPublisher(transport);
  }

  /** Answer `value` to `subject`; an answer that cannot be sent becomes an error answer. */
  reply(subject: string, json: boolean, value: unknown, epoch?: number): void {
    try {
      if (json) this.transport.publish(subject, encodeJson(value), { headers: jsonHeaders(JSON_HEADERS, epoch) });
      else {
        // The reply subject came from the wire; the frame is ours, fresh, so it needs no copy.
        assertPublishSubject(subject);
        this.publishOwned(subject, answerFrame('reply', value, epoch));
      }
    } catch (err) {
      // The answer itself could not be encoded or sent: tell the asker why.
      this.error(subject, json, err, epoch);
    }
  }

  /** Answer the error `err` to `subject`. */
  error(subject: string, json: boolean, err: unknown, epoch?: number): void {
    const body = toWireError(err);
    try {
      if (json) this.transport.publish(subject, encodeJson(body), { headers: jsonHeaders(JSON_ERROR_HEADERS, epoch) });
      else this.transport.publish(subject, answerFrame('error', body, epoch), { headers: MSGPACK_ERROR_HEADERS });
    } catch (sendErr) {
      this.log.warn({ err: toLogError(sendErr) }, 'could not send reply');
    }
  }
}

function jsonHeaders(base: Readonly<Record<string, string>>, epoch: number | undefined): Readonly<Record<string, string>> {
  return epoch === undefined ? base : { ...base, [EPOCH_HEADER]: String(epoch) };
}

/** The handle an ask from another node carries into the mailbox: answers it once, in the encoding it was asked in. */
export class RemoteReply implements ReplyHandle {
  private done = false;
  constructor(
    private readonly answerer: Answerer,
    private readonly subject: string,
    private readonly json: boolean,
    private readonly epoch: number | undefined,
  ) {}
  resolve(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.answerer.reply(this.subject, this.json, value, this.epoch);
  }
  reject(error: unknown): void {
    if (this.done) return;
    this.done = true;
    this.answerer.error(this.subject, this.json, error, this.epoch);
  }
}
