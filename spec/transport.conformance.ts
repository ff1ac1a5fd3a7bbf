/**
 * The transport conformance suite: one set of behaviours, run against every
 * `Transport` implementation (`transport.local.spec.ts`,
 * `transport.nats.spec.ts`). It is the executable form of the contract at the
 * top of `src/transport/Transport.ts`.
 *
 * The factory returns two connections `a` and `b` to the same bus or server.
 * Every test uses subjects under a fresh random prefix, so suites can share
 * one nats-server with other test files. Tests wait for state with deadlines
 * (`waitFor`) and use a request round trip (`settle`) as a barrier before
 * asserting that something did *not* arrive; there are no fixed sleeps.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FrameTooLargeError,
  InvalidArgumentError,
  InvalidSubjectError,
  NoRespondersError,
  TimeoutError,
  TransportClosedError,
} from '../src/errors.js';
import type { Msg, Subscription, Transport, TransportStatus } from '../src/transport/Transport.js';
import { waitFor } from './support/wait.js';

export interface TransportPair {
  readonly a: Transport;
  readonly b: Transport;
  cleanup(): Promise<void>;
  /** When given, every error a handler threw on either connection (their `onError`). */
  readonly handlerErrors?: readonly unknown[];
}

const EMPTY = new Uint8Array(0);
const DEADLINE = 10_000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const text = (m: Msg) => dec.decode(m.data);

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

function readU32(m: Msg): number {
  return new DataView(m.data.buffer, m.data.byteOffset, m.data.byteLength).getUint32(0);
}

export function describeTransportConformance(label: string, factory: () => Promise<TransportPair>): void {
  describe(`${label} conformance`, () => {
    let pair: TransportPair;
    let a: Transport;
    let b: Transport;
    /** Fresh subject prefix per test. */
    let p: string;
    /** Subject for `settle`, outside `p` so wildcard subscriptions on `p` never see it. */
    let settleSubject: string;

    beforeEach(async () => {
      pair = await factory();
      a = pair.a;
      b = pair.b;
      const id = randomBytes(6).toString('hex');
      p = `conf.${id}`;
      settleSubject = `settle.${id}`;
    });

    afterEach(async () => {
      await pair.cleanup();
    });

    /** Subscribe on `t`, recording messages; resolves once the server has the subscription. */
    async function collect(t: Transport, subject: string, queue?: string): Promise<{ msgs: Msg[]; sub: Subscription }> {
      const msgs: Msg[] = [];
      const sub = t.subscribe(subject, (m) => msgs.push(m), queue === undefined ? undefined : { queue });
      await t.flush();
      return { msgs, sub };
    }

    /**
     * A barrier: a request a → b → a. Everything `a` published before it has
     * reached `b`'s subscriptions and `a`'s own, so a count taken afterwards
     * is final.
     */
    async function settle(): Promise<void> {
      const sub = b.subscribe(settleSubject, (m) => b.publish(m.reply!, EMPTY));
      await b.flush();
      await a.request(settleSubject, EMPTY, { timeout: DEADLINE });
      sub.unsubscribe();
    }

    describe('transport', () => {
      it('transport - reports kind, name, connection state and payload limit', () => {
        expect(['local', 'nats']).toContain(a.kind);
        expect(a.name).not.toBe(b.name);
        expect(a.isConnected).toBe(true);
        expect(a.isClosed).toBe(false);
        expect(a.maxPayload).toBeGreaterThanOrEqual(1024 * 1024);
      });

      it('transport - newInbox returns unique, publishable _INBOX subjects', () => {
        const inboxes = new Set<string>();
        for (let i = 0; i < 200; i++) inboxes.add(a.newInbox());
        inboxes.add(b.newInbox());
        expect(inboxes.size).toBe(201);
        for (const inbox of inboxes) {
          expect(inbox.startsWith('_INBOX.')).toBe(true);
          expect(() => a.publish(inbox, EMPTY)).not.toThrow();
        }
      });
    });

    describe('subjects', () => {
      it('subjects - an exact subscription gets its subject only', async () => {
        const { msgs } = await collect(b, `${p}.x`);
        a.publish(`${p}.x`, bytes('x'));
        a.publish(`${p}.y`, bytes('y'));
        a.publish(`${p}.x.z`, bytes('xz'));
        await settle();
        expect(msgs.map(text)).toEqual(['x']);
        expect(msgs[0]!.subject).toBe(`${p}.x`);
      });

      it('subjects - * matches exactly one token', async () => {
        const { msgs } = await collect(b, `${p}.*`);
        for (const s of [`${p}.a`, `${p}.a.b`, p, `${p}.b`]) a.publish(s, bytes(s));
        await settle();
        expect(msgs.map((m) => m.subject)).toEqual([`${p}.a`, `${p}.b`]);
      });

      it('subjects - * in the middle matches one token there', async () => {
        const { msgs } = await collect(b, `${p}.*.end`);
        for (const s of [`${p}.x.end`, `${p}.x.y.end`, `${p}.x.other`, `${p}.end`, `${p}.y.end`]) a.publish(s, EMPTY);
        await settle();
        expect(msgs.map((m) => m.subject)).toEqual([`${p}.x.end`, `${p}.y.end`]);
      });

      it('subjects - > matches one or more trailing tokens', async () => {
        const { msgs } = await collect(b, `${p}.>`);
        for (const s of [`${p}.a`, `${p}.a.b`, p, `${p}.a.b.c`]) a.publish(s, EMPTY);
        await settle();
        expect(msgs.map((m) => m.subject)).toEqual([`${p}.a`, `${p}.a.b`, `${p}.a.b.c`]);
      });

      it('subjects - overlapping subscriptions each get a copy', async () => {
        const exact = await collect(b, `${p}.a`);
        const star = await collect(b, `${p}.*`);
        const tail = await collect(a, `${p}.>`);
        a.publish(`${p}.a`, bytes('hello'));
        await settle();
        for (const c of [exact, star, tail]) expect(c.msgs.map(text)).toEqual(['hello']);
      });

      it('subjects - invalid subjects throw InvalidSubjectError synchronously', async () => {
        const badPublish = ['', 'a..b', '.a', 'a.', 'a b', 'a\tb', 'a\nb', 'a.*', 'a.>', '*', '>', 'a.*.b', 'x'.repeat(1025)];
        for (const s of badPublish) {
          expect(() => a.publish(s, EMPTY), JSON.stringify(s)).toThrow(InvalidSubjectError);
          expect(() => a.request(s, EMPTY, { timeout: 1000 }), JSON.stringify(s)).toThrow(InvalidSubjectError);
        }
        const badSubscribe = ['', 'a..b', '.a', 'a.', 'a b', 'a.>.b', '>.a', 'a.\u00a0'];
        for (const s of badSubscribe) {
          expect(() => b.subscribe(s, () => {}), JSON.stringify(s)).toThrow(InvalidSubjectError);
        }
        expect(() => a.publish(`${p}.x`, EMPTY, { reply: `${p}.*` })).toThrow(InvalidSubjectError);
        expect(() => b.subscribe(`${p}.x`, () => {}, { queue: 'has space' })).toThrow(InvalidSubjectError);
        expect(() => b.subscribe(`${p}.x`, () => {}, { queue: '' })).toThrow(InvalidSubjectError);
        try {
          a.publish('a b', EMPTY);
        } catch (err) {
          expect((err as InvalidSubjectError).code).toBe('ERR_INVALID_SUBJECT');
        }
        // The connection is unharmed.
        const { msgs } = await collect(b, `${p}.ok`);
        a.publish(`${p}.ok`, EMPTY);
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'delivery after rejected subjects' });
      });

      it('subjects - valid filters are accepted', async () => {
        for (const s of [`${p}.*.>`, `${p}.*.*`, `${p}.>`, `${p}.a*`, `${p}.a>`]) {
          const sub = b.subscribe(s, () => {});
          expect(sub.subject).toBe(s);
          sub.unsubscribe();
        }
      });
    });

    describe('queue groups', () => {
      it('queue groups - each message goes to exactly one member; plain subscribers get all', async () => {
        const N = 300;
        const members = [
          await collect(b, `${p}.work`, 'workers'),
          await collect(b, `${p}.work`, 'workers'),
          await collect(a, `${p}.work`, 'workers'),
        ];
        const plain = await collect(b, `${p}.work`);
        for (let i = 0; i < N; i++) a.publish(`${p}.work`, u32(i));
        const total = () => members.reduce((n, m) => n + m.msgs.length, 0);
        await waitFor(() => plain.msgs.length === N && total() >= N, {
          timeout: DEADLINE,
          message: `${N} messages at the plain subscriber and across the group`,
        });
        await settle();
        expect(plain.msgs.map(readU32)).toEqual([...Array(N).keys()]);
        const seen = members.flatMap((m) => m.msgs.map(readU32)).sort((x, y) => x - y);
        expect(seen).toEqual([...Array(N).keys()]);
        // Every member took part: the load is shared, not pinned to one member.
        for (const m of members) expect(m.msgs.length).toBeGreaterThan(0);
      });

      it('queue groups - different group names each get every message', async () => {
        const g1 = [await collect(b, `${p}.job`, 'g1'), await collect(b, `${p}.job`, 'g1')];
        const g2 = [await collect(a, `${p}.job`, 'g2')];
        for (let i = 0; i < 20; i++) a.publish(`${p}.job`, u32(i));
        await settle();
        expect(g1[0]!.msgs.length + g1[1]!.msgs.length).toBe(20);
        expect(g2[0]!.msgs.length).toBe(20);
      });

      it('queue groups - one group name spans subject filters (as in nats-server)', async () => {
        const wide = await collect(b, `${p}.*`, 'g');
        const narrow = await collect(b, `${p}.x`, 'g');
        for (let i = 0; i < 20; i++) a.publish(`${p}.x`, u32(i));
        await settle();
        const seen = [...wide.msgs, ...narrow.msgs].map(readU32).sort((x, y) => x - y);
        expect(seen).toEqual([...Array(20).keys()]);
      });

      it('queue groups - a request to a group gets exactly one reply', async () => {
        let answered = 0;
        for (let i = 0; i < 3; i++) {
          b.subscribe(
            `${p}.svc`,
            (m) => {
              answered++;
              b.publish(m.reply!, bytes(`r${i}`));
            },
            { queue: 'svc' },
          );
        }
        await b.flush();
        const reply = await a.request(`${p}.svc`, EMPTY, { timeout: DEADLINE });
        expect(text(reply)).toMatch(/^r[012]$/);
        await settle();
        expect(answered).toBe(1);
      });
    });

    describe('request/reply', () => {
      it('request - round trip carries data and headers both ways', async () => {
        b.subscribe(`${p}.echo`, (m) => {
          b.publish(m.reply!, bytes(`echo:${text(m)}`), {
            headers: { 'X-Reply': 'yes', 'X-Got': m.headers?.get('X-Req') ?? 'none' },
          });
        });
        await b.flush();
        const reply = await a.request(`${p}.echo`, bytes('hi'), { timeout: DEADLINE, headers: { 'X-Req': 'r1' } });
        expect(text(reply)).toBe('echo:hi');
        expect(reply.headers?.get('X-Reply')).toBe('yes');
        expect(reply.headers?.get('X-Got')).toBe('r1');
        expect(reply.noResponders).toBeFalsy();
      });

      it('request - concurrent requests are matched to their own replies', async () => {
        b.subscribe(`${p}.double`, (m) => b.publish(m.reply!, u32(readU32(m) * 2)));
        await b.flush();
        const replies = await Promise.all(
          Array.from({ length: 100 }, (_, i) => a.request(`${p}.double`, u32(i), { timeout: DEADLINE })),
        );
        expect(replies.map(readU32)).toEqual(Array.from({ length: 100 }, (_, i) => i * 2));
      });

      it('request - no responders rejects with NoRespondersError without waiting for the deadline', async () => {
        // The deadline is longer than the test timeout: only an immediate
        // no-responders status can make this pass.
        const err = await a.request(`${p}.nobody`, EMPTY, { timeout: 120_000 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(NoRespondersError);
        expect((err as NoRespondersError).code).toBe('ERR_NO_RESPONDERS');
        expect((err as NoRespondersError).subject).toBe(`${p}.nobody`);
      });

      it('request - a responder that never answers rejects with TimeoutError', async () => {
        b.subscribe(`${p}.silent`, () => {});
        await b.flush();
        const err = await a.request(`${p}.silent`, EMPTY, { timeout: 50 }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(TimeoutError);
        expect((err as TimeoutError).timeoutMs).toBe(50);
      });

      it('request - a late reply after the deadline is ignored', async () => {
        const held: Msg[] = [];
        b.subscribe(`${p}.late`, (m) => held.push(m));
        await b.flush();
        await expect(a.request(`${p}.late`, EMPTY, { timeout: 20 })).rejects.toBeInstanceOf(TimeoutError);
        for (const m of held) b.publish(m.reply!, EMPTY);
        await settle();
        // And the connection still correlates new requests.
        b.subscribe(`${p}.ok`, (m) => b.publish(m.reply!, bytes('ok')));
        await b.flush();
        expect(text(await a.request(`${p}.ok`, EMPTY, { timeout: DEADLINE }))).toBe('ok');
      });

      it('request - a bad timeout throws InvalidArgumentError', () => {
        expect(() => a.request(`${p}.x`, EMPTY, { timeout: -1 })).toThrow(InvalidArgumentError);
        expect(() => a.request(`${p}.x`, EMPTY, { timeout: Number.NaN })).toThrow(InvalidArgumentError);
      });
    });

    describe('no responders', () => {
      it("no responders - the status message reaches only the publisher's own subscription on the reply subject", async () => {
        const mine = await collect(a, `${p}.inbox`);
        const theirs = await collect(b, `${p}.inbox`);
        a.publish(`${p}.nobody`, bytes('ignored'), { reply: `${p}.inbox` });
        await waitFor(() => mine.msgs.length === 1, { timeout: DEADLINE, message: 'no-responders status' });
        const status = mine.msgs[0]!;
        expect(status.noResponders).toBe(true);
        expect(status.subject).toBe(`${p}.inbox`);
        expect(status.data.length).toBe(0);
        await settle();
        expect(theirs.msgs).toEqual([]);
        expect(mine.msgs.length).toBe(1);
      });

      it('no responders - a publish with a reply to a subscribed subject is an ordinary message', async () => {
        const inbox = await collect(a, `${p}.inbox`);
        const target = await collect(b, `${p}.target`);
        a.publish(`${p}.target`, bytes('x'), { reply: `${p}.inbox` });
        await settle();
        expect(target.msgs.length).toBe(1);
        expect(target.msgs[0]!.reply).toBe(`${p}.inbox`);
        expect(target.msgs[0]!.noResponders).toBeFalsy();
        expect(inbox.msgs).toEqual([]);
      });
    });

    describe('ordering', () => {
      it('ordering - 1000 messages arrive in publish order', async () => {
        const { msgs } = await collect(b, `${p}.seq`);
        for (let i = 0; i < 1000; i++) a.publish(`${p}.seq`, u32(i));
        await waitFor(() => msgs.length === 1000, { timeout: DEADLINE, message: '1000 messages' });
        expect(msgs.map(readU32)).toEqual([...Array(1000).keys()]);
      });

      it('ordering - two publishers each keep their own order', async () => {
        const { msgs } = await collect(b, `${p}.>`);
        for (let i = 0; i < 500; i++) {
          a.publish(`${p}.a`, u32(i));
          b.publish(`${p}.b`, u32(i));
        }
        await waitFor(() => msgs.length === 1000, { timeout: DEADLINE, message: '1000 messages' });
        const from = (s: string) => msgs.filter((m) => m.subject === s).map(readU32);
        expect(from(`${p}.a`)).toEqual([...Array(500).keys()]);
        expect(from(`${p}.b`)).toEqual([...Array(500).keys()]);
      });
    });

    describe('unsubscribe', () => {
      it('unsubscribe - stops delivery and is idempotent', async () => {
        const { msgs, sub } = await collect(b, `${p}.u`);
        a.publish(`${p}.u`, u32(1));
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'first message' });
        expect(sub.isClosed).toBe(false);
        sub.unsubscribe();
        expect(sub.isClosed).toBe(true);
        expect(() => sub.unsubscribe()).not.toThrow();
        a.publish(`${p}.u`, u32(2));
        await settle();
        expect(msgs.map(readU32)).toEqual([1]);
      });

      it('unsubscribe - from inside the handler stops the messages behind it', async () => {
        const seen: number[] = [];
        const sub = b.subscribe(`${p}.once`, (m) => {
          seen.push(readU32(m));
          sub.unsubscribe();
        });
        await b.flush();
        for (let i = 0; i < 10; i++) a.publish(`${p}.once`, u32(i));
        await settle();
        expect(seen).toEqual([0]);
      });
    });

    describe('headers', () => {
      it('headers - round trip: exact-case keys, trimmed values', async () => {
        const { msgs } = await collect(b, `${p}.h`);
        a.publish(`${p}.h`, bytes('body'), { headers: { 'X-Key': 'v1', lower: 'v2', 'Mixed-Case': '  padded ' } });
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'message with headers' });
        const h = msgs[0]!.headers!;
        expect(h.get('X-Key')).toBe('v1');
        expect(h.get('lower')).toBe('v2');
        expect(h.get('Mixed-Case')).toBe('padded');
        expect(h.get('x-key')).toBeUndefined();
        expect(h.get('absent')).toBeUndefined();
        expect([...h.keys()].sort()).toEqual(['Mixed-Case', 'X-Key', 'lower']);
        expect(text(msgs[0]!)).toBe('body');
      });

      it('headers - a message published without headers has none', async () => {
        const { msgs } = await collect(b, `${p}.nh`);
        a.publish(`${p}.nh`, bytes('x'));
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'message' });
        expect(msgs[0]!.headers).toBeUndefined();
        expect(msgs[0]!.reply).toBeUndefined();
      });

      it('headers - invalid names or values throw InvalidArgumentError', () => {
        const bad: Record<string, string>[] = [{ 'bad key': 'v' }, { 'a:b': 'v' }, { '': 'v' }, { k: 'a\r\nb' }, { 'k\u00e9': 'v' }];
        for (const headers of bad) {
          expect(() => a.publish(`${p}.h`, EMPTY, { headers }), JSON.stringify(headers)).toThrow(InvalidArgumentError);
        }
      });
    });

    describe('payload', () => {
      it('payload - empty and large payloads arrive intact', async () => {
        const { msgs } = await collect(b, `${p}.data`);
        const big = randomBytes(256 * 1024);
        a.publish(`${p}.data`, EMPTY);
        a.publish(`${p}.data`, big);
        await waitFor(() => msgs.length === 2, { timeout: DEADLINE, message: 'two payloads' });
        expect(msgs[0]!.data.length).toBe(0);
        expect(Buffer.from(msgs[1]!.data).equals(big)).toBe(true);
      });

      it('payload - the publisher may reuse its buffer as soon as publish returns', async () => {
        const { msgs } = await collect(b, `${p}.reuse`);
        const buf = new Uint8Array([1, 2, 3]);
        a.publish(`${p}.reuse`, buf);
        buf.fill(9);
        a.publish(`${p}.reuse`, buf);
        await waitFor(() => msgs.length === 2, { timeout: DEADLINE, message: 'two messages' });
        expect([...msgs[0]!.data]).toEqual([1, 2, 3]);
        expect([...msgs[1]!.data]).toEqual([9, 9, 9]);
      });

      it('payload - more than maxPayload throws FrameTooLargeError', () => {
        const max = a.maxPayload;
        const err = (() => {
          try {
            a.publish(`${p}.big`, new Uint8Array(max + 1));
          } catch (e) {
            return e;
          }
        })();
        expect(err).toBeInstanceOf(FrameTooLargeError);
        expect((err as FrameTooLargeError).max).toBe(max);
        // Headers count towards the limit.
        expect(() => a.publish(`${p}.big`, new Uint8Array(max - 4), { headers: { k: 'v' } })).toThrow(FrameTooLargeError);
        expect(() => a.request(`${p}.big`, new Uint8Array(max + 1), { timeout: 1000 })).toThrow(FrameTooLargeError);
      });
    });

    describe('handlers', () => {
      it('handlers - a throwing handler does not stop delivery to it or to others', async () => {
        let thrown = 0;
        b.subscribe(`${p}.boom`, () => {
          thrown++;
          throw new Error(`boom ${thrown}`);
        });
        const { msgs } = await collect(b, `${p}.boom`);
        for (let i = 0; i < 5; i++) a.publish(`${p}.boom`, u32(i));
        await waitFor(() => msgs.length === 5, { timeout: DEADLINE, message: 'messages after a throwing handler' });
        await settle();
        expect(thrown).toBe(5);
        expect(msgs.map(readU32)).toEqual([0, 1, 2, 3, 4]);
        if (pair.handlerErrors !== undefined) {
          await waitFor(() => pair.handlerErrors!.length >= 5, { timeout: DEADLINE, message: 'onError reports' });
          expect(pair.handlerErrors.map((e) => (e as Error).message)).toEqual(['boom 1', 'boom 2', 'boom 3', 'boom 4', 'boom 5']);
        }
      });

      it('handlers - a rejected async handler is reported, not unhandled', async () => {
        const { msgs } = await collect(b, `${p}.async`);
        b.subscribe(`${p}.async`, async () => {
          await Promise.resolve();
          throw new Error('async boom');
        });
        await b.flush();
        a.publish(`${p}.async`, EMPTY);
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'message' });
        if (pair.handlerErrors !== undefined) {
          await waitFor(() => pair.handlerErrors!.some((e) => (e as Error).message === 'async boom'), {
            timeout: DEADLINE,
            message: 'async handler error reported',
          });
        }
      });
    });

    describe('close', () => {
      it('close - messages published before close are delivered', async () => {
        const { msgs } = await collect(b, `${p}.drain`);
        for (let i = 0; i < 500; i++) a.publish(`${p}.drain`, u32(i));
        await a.close();
        await waitFor(() => msgs.length === 500, { timeout: DEADLINE, message: '500 messages published before close' });
        expect(msgs.map(readU32)).toEqual([...Array(500).keys()]);
      });

      it('close - publish, subscribe and flush throw or reject with TransportClosedError', async () => {
        await a.close();
        expect(() => a.publish(`${p}.x`, EMPTY)).toThrow(TransportClosedError);
        expect(() => a.subscribe(`${p}.x`, () => {})).toThrow(TransportClosedError);
        await expect(a.request(`${p}.x`, EMPTY, { timeout: 1000 })).rejects.toBeInstanceOf(TransportClosedError);
        await expect(a.flush()).rejects.toBeInstanceOf(TransportClosedError);
      });

      it('close - is idempotent, flips state at once and emits closed exactly once', async () => {
        const statuses: TransportStatus[] = [];
        a.onStatus((s) => statuses.push(s));
        const first = a.close();
        expect(a.isClosed).toBe(true);
        const second = a.close();
        await Promise.all([first, second]);
        await a.close();
        expect(a.isConnected).toBe(false);
        expect(statuses.filter((s) => s.type === 'closed')).toHaveLength(1);
      });

      it('close - a pending request rejects with TransportClosedError', async () => {
        b.subscribe(`${p}.hold`, () => {});
        await b.flush();
        const pending = a.request(`${p}.hold`, EMPTY, { timeout: 120_000 });
        await a.close();
        await expect(pending).rejects.toBeInstanceOf(TransportClosedError);
      });

      it('close - subscriptions are closed afterwards and other connections carry on', async () => {
        const { sub } = await collect(a, `${p}.gone`);
        await a.close();
        expect(sub.isClosed).toBe(true);
        const { msgs } = await collect(b, `${p}.alive`);
        b.publish(`${p}.alive`, EMPTY);
        await waitFor(() => msgs.length === 1, { timeout: DEADLINE, message: 'b still works' });
      });

      it('close - onStatus unsubscribe stops notifications', async () => {
        const statuses: TransportStatus[] = [];
        const off = a.onStatus((s) => statuses.push(s));
        off();
        await a.close();
        expect(statuses).toEqual([]);
      });
    });
  });
}
