/**
 * wire - reserved event types (`xstate.*`, `halyard.*`) are refused at every
 * entry point, and every inbound frame is accounted for exactly once.
 */
import { connect } from '@nats-io/transport-node';
import { pack } from 'msgpackr';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { EncodeError, InvalidArgumentError, InvalidEventError } from '../src/errors.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { decodeEnvelope, encodeEnvelope } from '../src/services/remote/envelope.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import type { Supervisor } from '../src/supervision/types.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

let seq = 0;
async function open(nats: boolean): Promise<Node> {
  const prefix = `w${process.pid}r${++seq}`;
  const node = await createNode({
    name: `n${seq}`,
    prefix,
    transport: nats ? { kind: 'nats', servers: inject('natsUrl') } : { kind: 'local', bus: new LocalBus() },
  });
  cleanups.push(() => node.shutdown());
  return node;
}

/** A transient child `counter` under a default (intensity 1) supervisor: a forged stop would end it for good. */
function superviseCounter(node: Node): Supervisor {
  return node.supervise({ children: [{ id: 'counter', start: counterMachine, name: 'counter', restart: 'transient' }] }, { name: 'app' });
}

function counterCell(sup: Supervisor) {
  const ref = sup.whichChildren().find((c) => c.id === 'counter')?.ref;
  if (!ref) throw new Error('counter is not running');
  return ref;
}

const FORGED = [{ type: 'xstate.stop' }, { type: 'xstate.error.actor.x', error: 'forged' }, { type: 'halyard.shutdown' }, { type: 'halyard.failure' }];

describe('wire - reserved events', () => {
  it('wire - a reserved xstate.*/halyard.* event told or asked locally is refused, counted and never reaches the logic', async () => {
    const node = await open(false);
    const sup = superviseCounter(node);
    const cell = counterCell(sup);
    cell.tell({ type: 'INC' });
    for (const ev of FORGED) {
      expect(() => cell.tell(ev as never)).toThrow(InvalidEventError);
      expect(() => node.ref('counter').tell(ev)).toThrow(InvalidEventError);
      await expect(cell.ask(ev as never)).rejects.toThrow(InvalidEventError);
      await expect(node.ref('counter').ask(ev)).rejects.toThrow(/reserved/);
    }
    expect(node.deadLetters.count(DeadLetterReason.ReservedEvent)).toBe(FORGED.length * 4);
    expect(await node.ref('counter').ask({ type: 'GET' })).toBe(1);
    expect(cell.lifecycle).toBe('running');
    expect(counterCell(sup)).toBe(cell);
  });

  for (const nats of [false, true]) {
    const label = nats ? 'nats' : 'local';
    it(`wire - a reserved event from the wire (msgpack and JSON) is refused and counted (${label})`, async () => {
      const node = await open(nats);
      const sup = superviseCounter(node);
      const cell = counterCell(sup);
      await node.flush();
      const raw = node.transport;
      const subject = node.subjects.svc('counter');
      const json = { 'content-type': 'application/json' };
      const enc = new TextEncoder();
      for (const ev of FORGED) {
        raw.publish(subject, encodeEnvelope({ v: 1, k: 'tell', t: 'counter', b: ev }));
        raw.publish(subject, enc.encode(JSON.stringify(ev)), { headers: json });
      }
      await waitFor(() => node.deadLetters.count(DeadLetterReason.ReservedEvent) >= FORGED.length * 2, {
        timeout: 5000,
        message: 'reserved tells counted',
      });
      // Asks get the typed error back, in the encoding they were asked in.
      const packed = await raw.request(subject, encodeEnvelope({ v: 1, k: 'ask', t: 'counter', c: '1', b: { type: 'xstate.stop' } }), { timeout: 5000 });
      expect(decodeEnvelope(packed.data)).toMatchObject({ k: 'error', b: { name: 'InvalidEventError', code: 'ERR_INVALID_EVENT' } });
      expect(packed.headers?.get('halyard-error')).toBe('1');
      const asJson = await raw.request(subject, enc.encode('{"type":"xstate.stop"}'), { timeout: 5000, headers: json });
      expect(asJson.headers?.get('halyard-error')).toBe('1');
      expect(JSON.parse(new TextDecoder().decode(asJson.data))).toMatchObject({ name: 'InvalidEventError' });
      expect(node.deadLetters.count(DeadLetterReason.ReservedEvent)).toBe(FORGED.length * 2 + 2);
      expect(await node.ref('counter').ask({ type: 'GET' })).toBe(0);
      expect(cell.lifecycle).toBe('running');
      expect(sup.whichChildren().find((c) => c.id === 'counter')?.status).toBe('running');
    });
  }
});

describe('wire - every inbound frame is counted', () => {
  it('wire - check and status frames without a reply subject, and bad levels, are counted', async () => {
    const node = await open(false);
    node.spawn(counterMachine, { name: 'counter' });
    const raw = node.transport;
    const subject = node.subjects.svc('counter');
    raw.publish(subject, encodeEnvelope({ v: 1, k: 'check', t: 'counter' }));
    raw.publish(subject, encodeEnvelope({ v: 1, k: 'status', t: 'counter' }));
    raw.publish(subject, new Uint8Array(0), { headers: { 'content-type': 'application/json', 'halyard-op': 'check' } });
    // Our encoder refuses a bad level, so this frame is packed by hand.
    const reply = await raw.request(subject, pack({ v: 1, k: 'check', t: 'counter', b: { level: 5 } }), { timeout: 5000 });
    expect(decodeEnvelope(reply.data)).toMatchObject({ k: 'error', b: { code: 'ERR_INVALID_ARGUMENT', field: 'level' } });
    expect(reply.headers?.get('halyard-error')).toBe('1');
    await waitFor(() => node.deadLetters.count(DeadLetterReason.NoReplySubject) === 3, { timeout: 5000, message: 'three unanswerable frames counted' });
    const stats = node.statusReport().inbound as { received: number; delivered: number; answered: number; refused: number; deadLettered: number };
    expect(stats).toEqual({ received: 4, delivered: 0, answered: 0, refused: 1, deadLettered: 3 });
  });

  it('wire - a client that forgets content-type gets its error as JSON with the halyard-error header (nats)', async () => {
    const node = await open(true);
    node.spawn(counterMachine, { name: 'counter' });
    await node.flush();
    const nc = await connect({ servers: inject('natsUrl'), name: 'plain-client' });
    cleanups.push(() => nc.close());
    const r = await nc.request(node.subjects.svc('counter'), '{"type":"INC"}', { timeout: 5000 });
    expect(r.headers?.get('halyard-error')).toBe('1');
    expect(r.headers?.get('content-type')).toBe('application/json');
    expect(JSON.parse(r.string())).toMatchObject({ name: 'DecodeError', message: expect.stringContaining('content-type: application/json') });
  });
});

describe('wire - bad API input', () => {
  it('wire - ask with a number for options, an unknown option key, or stop with a bad shutdown is a typed error naming the field', async () => {
    const node = await open(false);
    const c = node.spawn(counterMachine, { name: 'counter' });
    await expect(c.ask({ type: 'GET' }, 1000 as never)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'options' });
    await expect(node.ref('counter').ask({ type: 'GET' }, 1000 as never)).rejects.toMatchObject({ field: 'options' });
    const unknown = (await c.ask({ type: 'GET' }, { timout: 5 } as never).catch((e: unknown) => e)) as Error;
    expect(unknown).toBeInstanceOf(InvalidArgumentError);
    expect(unknown.message).toMatch(/options\.timout.*valid options are timeout/);
    await expect(node.ref('counter').ask({ type: 'GET' }, { timout: 5 } as never)).rejects.toMatchObject({ field: 'options.timout' });
    await expect(c.stop('soon' as never)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'shutdown' });
    expect(c.lifecycle).toBe('running');
    // A bad ask never throws synchronously.
    let pending: Promise<unknown> | undefined;
    expect(() => {
      pending = c.ask(null as never);
    }).not.toThrow();
    await expect(pending).rejects.toThrow(InvalidEventError);
  });

  it('wire - an event whose getter throws during encoding names event.<path>, not env.b', async () => {
    const node = await open(false);
    const ev = {
      type: 'ADD',
      get secret(): number {
        throw new Error('getter says no');
      },
    };
    const err = (() => {
      try {
        node.ref('far-away').tell(ev);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as Error).message).toContain('event.secret: getter says no');
    expect((err as Error).message).not.toContain('env.b');
    await expect(node.ref('far-away').ask(ev)).rejects.toThrow('event.secret: getter says no');
  });

  it('wire - JSON.stringify(node.deadLetters) prints the counts, not the internals', async () => {
    const node = await open(false);
    node.ref('nobody').tell({ type: 'X' });
    await waitFor(() => node.deadLetters.total === 1, { timeout: 5000, message: 'dead letter counted' });
    expect(JSON.parse(JSON.stringify(node.deadLetters))).toEqual({ total: 1, byReason: { 'no-such-actor': 1 } });
  });
});
