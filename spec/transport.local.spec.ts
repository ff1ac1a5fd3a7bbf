/**
 * LocalTransport: the conformance suite, plus what only the in-process bus
 * can promise (delivery timing, draining a subscriber, bus isolation).
 */
import { describe, expect, it } from 'vitest';
import { FrameTooLargeError, InvalidArgumentError } from '../src/errors.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import type { Msg } from '../src/transport/Transport.js';
import { describeTransportConformance } from './transport.conformance.js';
import { waitFor } from './support/wait.js';

const EMPTY = new Uint8Array(0);

describeTransportConformance('LocalTransport', async () => {
  const bus = new LocalBus();
  const handlerErrors: unknown[] = [];
  const onError = (err: unknown) => handlerErrors.push(err);
  const a = new LocalTransport({ name: 'conf-a', bus, onError });
  const b = new LocalTransport({ name: 'conf-b', bus, onError });
  return {
    a,
    b,
    handlerErrors,
    async cleanup() {
      await Promise.all([a.close(), b.close()]);
      expect(bus.subscriptionCount).toBe(0);
    },
  };
});

function pair(options: { queueSelection?: 'round-robin' | 'random' } = {}) {
  const bus = new LocalBus(options);
  return { bus, a: new LocalTransport({ name: 'a', bus }), b: new LocalTransport({ name: 'b', bus }) };
}

describe('LocalTransport', () => {
  it('local delivery - never inside publish; flush waits for delivery', async () => {
    const { a, b } = pair();
    const got: Msg[] = [];
    b.subscribe('x', (m) => got.push(m));
    a.publish('x', EMPTY);
    expect(got).toHaveLength(0);
    await a.flush();
    expect(got).toHaveLength(1);
  });

  it('local delivery - a burst published in one tick is delivered before the next macrotask', async () => {
    const { a, b } = pair();
    let n = 0;
    b.subscribe('burst', () => n++);
    for (let i = 0; i < 5000; i++) a.publish('burst', EMPTY);
    await new Promise((resolve) => setImmediate(resolve));
    expect(n).toBe(5000);
  });

  it('local delivery - handlers publishing to each other forever do not starve timers', async () => {
    const { bus, a, b } = pair();
    let stop = false;
    let hops = 0;
    a.subscribe('ping', () => {
      hops++;
      if (!stop) a.publish('pong', EMPTY);
    });
    b.subscribe('pong', () => {
      hops++;
      if (!stop) b.publish('ping', EMPTY);
    });
    a.publish('ping', EMPTY);
    await new Promise((resolve) => setTimeout(resolve, 0));
    stop = true;
    expect(hops).toBeGreaterThan(0);
    await waitFor(() => bus.pending === 0, { timeout: 5000, message: 'ping-pong to stop' });
  });

  it('local close - a closing subscriber still gets what was already queued for it', async () => {
    const { a, b } = pair();
    const got: Msg[] = [];
    b.subscribe('q', (m) => got.push(m));
    for (let i = 0; i < 50; i++) a.publish('q', EMPTY);
    const closing = b.close();
    a.publish('q', EMPTY); // after close(): b is off the bus
    await closing;
    await a.flush();
    expect(got).toHaveLength(50);
  });

  it('local close - a draining connection may still publish (answer what it holds)', async () => {
    const { a, b } = pair();
    b.subscribe('svc', (m) => b.publish(m.reply!, new Uint8Array([7])));
    const reply = a.request('svc', EMPTY, { timeout: 5000 });
    void b.close();
    expect([...(await reply).data]).toEqual([7]);
  });

  it('local close - leaves no subscriptions on the bus, including the request inbox', async () => {
    const { bus, a, b } = pair();
    b.subscribe('svc', (m) => b.publish(m.reply!, EMPTY));
    await a.request('svc', EMPTY, { timeout: 5000 });
    expect(bus.subscriptionCount).toBe(2);
    await Promise.all([a.close(), b.close()]);
    expect(bus.subscriptionCount).toBe(0);
  });

  it('local bus - connections on different buses do not see each other', async () => {
    const one = new LocalTransport({ name: 'one', bus: new LocalBus() });
    const two = new LocalTransport({ name: 'two', bus: new LocalBus() });
    const got: Msg[] = [];
    two.subscribe('x', (m) => got.push(m));
    one.publish('x', EMPTY);
    await Promise.all([one.flush(), two.flush()]);
    expect(got).toHaveLength(0);
  });

  it('local bus - transports without a bus share LocalBus.default', async () => {
    const one = new LocalTransport({ name: 'one' });
    const two = new LocalTransport({ name: 'two' });
    expect(one.bus).toBe(LocalBus.default);
    const subject = `default.${Math.random().toString(36).slice(2)}`;
    const got: Msg[] = [];
    two.subscribe(subject, (m) => got.push(m));
    one.publish(subject, EMPTY);
    await one.flush();
    expect(got).toHaveLength(1);
    await Promise.all([one.close(), two.close()]);
  });

  it('local queue groups - round robin spreads evenly; random still delivers exactly once', async () => {
    for (const queueSelection of ['round-robin', 'random'] as const) {
      const { a, b } = pair({ queueSelection });
      const counts = [0, 0, 0];
      for (let i = 0; i < 3; i++) b.subscribe('w', () => counts[i]!++, { queue: 'q' });
      for (let i = 0; i < 300; i++) a.publish('w', EMPTY);
      await a.flush();
      expect(counts.reduce((x, y) => x + y)).toBe(300);
      if (queueSelection === 'round-robin') expect(counts).toEqual([100, 100, 100]);
    }
  });

  it('local payload - maxPayload is configurable and counts headers', () => {
    const t = new LocalTransport({ name: 't', bus: new LocalBus(), maxPayload: 100 });
    expect(t.maxPayload).toBe(100);
    expect(() => t.publish('x', new Uint8Array(100))).not.toThrow();
    expect(() => t.publish('x', new Uint8Array(101))).toThrow(FrameTooLargeError);
    expect(() => t.publish('x', new Uint8Array(90), { headers: { k: 'v' } })).toThrow(FrameTooLargeError);
  });

  it('local handlers - errors go to onError with the message', async () => {
    const bus = new LocalBus();
    const reports: [unknown, Msg | undefined][] = [];
    const t = new LocalTransport({ name: 't', bus, onError: (err, msg) => reports.push([err, msg]) });
    const boom = new Error('boom');
    t.subscribe('x', () => {
      throw boom;
    });
    t.publish('x', EMPTY);
    await t.flush();
    expect(reports).toHaveLength(1);
    expect(reports[0]![0]).toBe(boom);
    expect(reports[0]![1]!.subject).toBe('x');
  });

  it('local options - a missing name or a bad maxPayload throws InvalidArgumentError', () => {
    expect(() => new LocalTransport({ name: '' })).toThrow(InvalidArgumentError);
    expect(() => new LocalTransport({ name: 'x', maxPayload: 0 })).toThrow(InvalidArgumentError);
  });

  it('local toString - names the connection', () => {
    const t = new LocalTransport({ name: 'named', bus: new LocalBus() });
    expect(String(t)).toBe('LocalTransport(named)');
    expect(JSON.parse(JSON.stringify(t))).toMatchObject({ kind: 'local', name: 'named' });
  });
});
