/**
 * wire - fuzzed frames through the real Inbound: every frame ends in exactly
 * one outcome (delivered, answered, refused, dead letter), checked by totals,
 * and no reserved event ever reaches an actor.
 */
import fc from 'fast-check';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DeadLetters } from '../src/actors/DeadLetters.js';
import { isReservedType } from '../src/actors/events.js';
import { makeCheckResult, OCF } from '../src/actors/ocf.js';
import type { ReplyHandle } from '../src/actors/reply.js';
import { nullLogger } from '../src/log.js';
import { Inbound, type InboundStats, type InboundTarget } from '../src/services/remote/Inbound.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { encodeEnvelope } from '../src/services/remote/envelope.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import type { Msg, MsgHeaders } from '../src/transport/Transport.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const LIMITS = { maxBytes: 512, maxDepth: 8 };
const enc = new TextEncoder();

function headersOf(h: Record<string, string> | undefined): MsgHeaders | undefined {
  if (h === undefined) return undefined;
  return { get: (k) => h[k], keys: () => Object.keys(h) };
}

interface Frame {
  readonly data: Uint8Array;
  readonly headers?: Record<string, string>;
  readonly reply: boolean;
  /** 0: an actor, 1: the node (takes no messages), 2: nobody. */
  readonly target: 0 | 1 | 2;
}

const reservedType = fc.oneof(
  fc.constantFrom('xstate.stop', 'xstate.init', 'xstate.error.actor.x', 'halyard.shutdown', 'halyard.failure', 'halyard.supervisor.fail.v1'),
  fc.string({ maxLength: 8 }).map((s) => `xstate.${s}`),
  fc.string({ maxLength: 8 }).map((s) => `halyard.${s}`),
);
const userType = fc.oneof(fc.constantFrom('INC', 'GET', 'ADD', 'x'), fc.string({ maxLength: 12 }));
const eventType = fc.oneof({ weight: 3, arbitrary: userType }, { weight: 2, arbitrary: reservedType });
const event = fc.record({ type: eventType, n: fc.option(fc.integer(), { nil: undefined }) });
const level = fc.oneof(fc.constantFrom(0, 10, 20), fc.integer({ min: -5, max: 50 }), fc.constant('high'));

const msgpackFrame: fc.Arbitrary<Uint8Array> = fc.oneof(
  event.map((b) => encodeEnvelope({ v: 1, k: 'tell', t: 'a', b })),
  event.map((b) => encodeEnvelope({ v: 1, k: 'ask', t: 'a', c: '1', b })),
  // Raw packing reaches what our encoder refuses: bad levels, bad kinds, events without a type.
  fc.record({ v: fc.constantFrom(1, 2), k: fc.constantFrom('check', 'status', 'tell', 'ask', 'reply', 'error', 'zap'), t: fc.constant('a'), b: fc.oneof(fc.record({ level }), event, fc.anything({ maxDepth: 2 })) }).map(
    (env) => pack(env) as Uint8Array,
  ),
  fc.uint8Array({ maxLength: 64 }),
  fc.integer({ min: 513, max: 900 }).map((n) => encodeEnvelope({ v: 1, k: 'tell', t: 'a', b: { type: 'BIG', pad: 'x'.repeat(n) } }, { maxBytes: 2048, maxDepth: 8 })),
);
const jsonFrame: fc.Arbitrary<{ data: Uint8Array; headers: Record<string, string> }> = fc.record({
  data: fc.oneof(
    event.map((e) => enc.encode(JSON.stringify(e))),
    fc.record({ level }).map((b) => enc.encode(JSON.stringify(b))),
    fc.constant(new Uint8Array(0)),
    fc.string({ maxLength: 30 }).map((s) => enc.encode(s)),
    fc.integer({ min: 513, max: 900 }).map((n) => enc.encode(JSON.stringify({ type: 'BIG', pad: 'x'.repeat(n) }))),
  ),
  headers: fc.option(fc.constantFrom('check', 'status', 'tell', 'ask', 'bogus'), { nil: undefined }).map((op): Record<string, string> =>
    op === undefined ? { 'content-type': 'application/json' } : { 'content-type': 'application/json', 'halyard-op': op },
  ),
});
const frame: fc.Arbitrary<Frame> = fc.record({
  body: fc.oneof({ weight: 3, arbitrary: msgpackFrame.map((data) => ({ data, headers: undefined })) }, { weight: 2, arbitrary: jsonFrame }),
  reply: fc.boolean(),
  target: fc.constantFrom<0 | 1 | 2>(0, 0, 0, 1, 2),
}).map(({ body, reply, target }) => ({ data: body.data, headers: body.headers, reply, target }));

function sum(s: InboundStats): number {
  return s.delivered + s.answered + s.refused + s.deadLettered;
}

describe('wire - fuzzed inbound frames', () => {
  it('wire - 100 000 fuzzed frames: each ends delivered, answered, refused or a dead letter, and no reserved event is delivered', () => {
    const transport = new LocalTransport({ name: 'fuzz', bus: new LocalBus() });
    let reservedDelivered = 0;
    const actor: InboundTarget = {
      label: 'a',
      _enqueue(ev: unknown, reply: ReplyHandle | undefined) {
        if (isReservedType((ev as { type: string }).type)) reservedDelivered++;
        reply?.resolve(1);
      },
      check: async (lvl = 0) => makeCheckResult(OCF.SUCCESS, 'ok', lvl, 'a', 'n'),
      status: async () => ({}) as never,
    };
    const nodeTarget: InboundTarget = { label: 'n', check: actor.check, status: actor.status };
    const RUNS = 100;
    const PER_RUN = 1000;
    let total = 0;
    fc.assert(
      fc.property(fc.array(frame, { minLength: PER_RUN, maxLength: PER_RUN }), (frames) => {
        const deadLetters = new DeadLetters();
        const inbound = new Inbound(transport, deadLetters, LIMITS, nullLogger());
        for (const f of frames) {
          const msg: Msg = { subject: 'halyard.svc.a', data: f.data, reply: f.reply ? 'r.1' : undefined, headers: headersOf(f.headers) };
          inbound.handle(msg, f.target === 0 ? actor : f.target === 1 ? nodeTarget : undefined, 'a');
        }
        const s = inbound.stats();
        total += s.received;
        expect(s.received).toBe(frames.length);
        expect(sum(s)).toBe(s.received);
        expect(deadLetters.total).toBe(s.deadLettered);
        expect(reservedDelivered).toBe(0);
      }),
      { numRuns: RUNS },
    );
    expect(total).toBeGreaterThanOrEqual(100_000);
    void transport.close();
  });
});

describe('wire - fuzzed frames over NATS', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()!();
  });

  it('wire - 2 000 fuzzed frames over real NATS are all accounted for and the actor keeps running', async () => {
    const node: Node = await createNode({
      name: 'fz',
      prefix: `fz${process.pid}`,
      limits: LIMITS,
      transport: { kind: 'nats', servers: inject('natsUrl') },
      mailbox: { capacity: 100_000 },
    });
    cleanups.push(() => node.shutdown());
    const cell = node.spawn(counterMachine, { name: 'a' });
    await node.flush();
    const frames = fc.sample(frame, { numRuns: 2000, seed: 42 });
    const subject = node.subjects.svc('a');
    const raw = node.transport;
    const replyTo = raw.newInbox();
    for (const f of frames) raw.publish(subject, f.data, { reply: f.reply ? replyTo : undefined, headers: f.headers });
    const inbound = () => node.statusReport().inbound as InboundStats;
    await waitFor(() => inbound().received === frames.length, { timeout: 15_000, message: 'every frame received' });
    const s = inbound();
    expect(sum(s)).toBe(s.received);
    // BOOM is not among the generated types, and no reserved event got through: the actor is alive.
    expect(cell.lifecycle).toBe('running');
    expect(node.deadLetters.count('reserved-event')).toBeGreaterThan(0);
  });
});
