/**
 * The correlation mux (src/transport/RequestMux.ts): deadlines on the
 * injected clock, one shared timer, and the transports' `request()` on it.
 * Time moves only by ManualClock.advance: nothing here waits on wall time.
 */
import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { type Clock, ManualClock, type TimerHandle } from '../src/clock.js';
import { NoRespondersError, TimeoutError } from '../src/errors.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { MAX_TIMER_MS, RequestMux } from '../src/transport/RequestMux.js';
import type { Msg } from '../src/transport/Transport.js';

/** A ManualClock that records how each timer was armed. */
class RecordingClock implements Clock {
  readonly inner = new ManualClock();
  readonly armed: { ms: number; keepAlive: boolean | undefined }[] = [];
  now(): number {
    return this.inner.now();
  }
  setTimer(fn: () => void, ms: number, keepAlive?: boolean): TimerHandle {
    this.armed.push({ ms, keepAlive });
    return this.inner.setTimer(fn, ms);
  }
  clearTimer(handle: TimerHandle): void {
    this.inner.clearTimer(handle);
  }
}

type Outcome = { kind: 'pending' } | { kind: 'resolved'; value: unknown } | { kind: 'rejected'; error: unknown };

/** Follows a promise's outcome synchronously-readable after a microtask flush. */
function track<T>(promise: Promise<T>): { readonly outcome: Outcome } {
  const box: { outcome: Outcome } = { outcome: { kind: 'pending' } };
  promise.then(
    (value) => {
      box.outcome = { kind: 'resolved', value };
    },
    (error: unknown) => {
      box.outcome = { kind: 'rejected', error };
    },
  );
  return box;
}

const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function reply(subject: string, noResponders = false): Msg {
  return { subject, data: new Uint8Array(0), noResponders };
}

describe('mux - deadlines on the injected clock', () => {
  it('mux - a request times out with TimeoutError at its deadline, not a millisecond before', async () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const r = track(mux.add('svc.a', 100, 'a').promise);
    clock.advance(99);
    await settled();
    expect(r.outcome.kind).toBe('pending');
    clock.advance(1);
    await settled();
    expect(r.outcome.kind).toBe('rejected');
    const err = (r.outcome as { error: unknown }).error;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toMatchObject({ code: 'ERR_TIMEOUT', message: expect.stringContaining('a') });
    expect(mux.size).toBe(0);
  });

  it('mux - one timer serves every request in flight', () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    for (let i = 0; i < 1000; i++) void mux.add('svc.a', 5000 + (i % 7)).promise.catch(() => {});
    expect(mux.size).toBe(1000);
    expect(clock.pendingTimers).toBe(1);
  });

  it('mux - a pending request keeps the process alive, and no timer is left once nothing is in flight', () => {
    const clock = new RecordingClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const a = mux.add('svc.a', 100);
    const b = mux.add('svc.b', 200);
    expect(clock.armed.length).toBeGreaterThan(0);
    expect(clock.armed.every((t) => t.keepAlive === true)).toBe(true);
    mux.dispatch(reply(a.reply));
    expect(clock.inner.pendingTimers).toBe(1);
    mux.dispatch(reply(b.reply));
    expect(clock.inner.pendingTimers).toBe(0);
    return Promise.all([a.promise, b.promise]);
  });

  it('mux - a deadline beyond what one Node timer can hold (24.8 days) is reached in steps, never early', async () => {
    const clock = new RecordingClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const timeout = 3 * MAX_TIMER_MS;
    const r = track(mux.add('svc.far', timeout).promise);
    clock.inner.advance(timeout - 1);
    await settled();
    expect(r.outcome.kind).toBe('pending');
    expect(clock.armed.every((t) => t.ms <= MAX_TIMER_MS)).toBe(true);
    clock.inner.advance(1);
    await settled();
    expect(r.outcome.kind).toBe('rejected');
  });

  it('mux - a shorter deadline added later re-arms the timer earlier', async () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const long = track(mux.add('svc.long', 1000).promise);
    const short = track(mux.add('svc.short', 10).promise);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    await settled();
    expect(short.outcome.kind).toBe('rejected');
    expect(long.outcome.kind).toBe('pending');
    clock.advance(990);
    await settled();
    expect(long.outcome.kind).toBe('rejected');
  });

  it('mux - the first reply settles a request; a late or second reply finds nothing', async () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const a = mux.add('svc.a', 50);
    const first = reply(a.reply);
    mux.dispatch(first);
    await expect(a.promise).resolves.toBe(first);
    expect(mux.take(a.token)).toBeUndefined();
    const b = mux.add('svc.b', 50);
    const tb = track(b.promise);
    clock.advance(50);
    await settled();
    expect(tb.outcome.kind).toBe('rejected');
    expect(mux.take(b.token)).toBeUndefined();
  });

  it('mux - no responders rejects at once; failSubject and rejectAll settle what they name and disarm the timer', async () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    const nobody = mux.add('svc.none', 1000);
    mux.dispatch(reply(nobody.reply, true));
    await expect(nobody.promise).rejects.toBeInstanceOf(NoRespondersError);
    const x1 = mux.add('svc.x', 1000).promise;
    const x2 = mux.add('svc.x', 2000).promise;
    const y = mux.add('svc.y', 3000).promise;
    const refused = new Error('refused');
    expect(mux.failSubject('svc.x', refused)).toBe(2);
    await expect(x1).rejects.toBe(refused);
    await expect(x2).rejects.toBe(refused);
    expect(mux.size).toBe(1);
    const closed = new Error('closed');
    mux.rejectAll(closed);
    await expect(y).rejects.toBe(closed);
    expect(clock.pendingTimers).toBe(0);
  });

  it('mux - a timeout handler that sends a new request gets a working deadline', async () => {
    const clock = new ManualClock();
    const mux = new RequestMux('_INBOX.t', clock);
    let retry: Promise<unknown> | undefined;
    const first = mux.add('svc.a', 10).promise.catch(() => {
      retry = mux.add('svc.a', 10).promise;
    });
    clock.advance(10);
    await first;
    expect(retry).toBeDefined();
    const r = track(retry!);
    expect(clock.pendingTimers).toBe(1);
    clock.advance(10);
    await settled();
    expect(r.outcome.kind).toBe('rejected');
  });

  it('mux - model: every request ends exactly once, answered or timed out at its own deadline, whatever the order', async () => {
    type Op = { op: 'add'; timeout: number } | { op: 'answer'; pick: number } | { op: 'advance'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constant('add' as const), timeout: fc.integer({ min: 0, max: 200 }) }),
      fc.record({ op: fc.constant('answer' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 120 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const clock = new ManualClock();
        const mux = new RequestMux('_INBOX.m', clock);
        interface Model {
          deadline: number;
          reply: string;
          ended: 'pending' | 'answered' | 'timeout';
          endedAt: number;
          box: { readonly outcome: Outcome };
        }
        const all: Model[] = [];
        for (const o of ops) {
          if (o.op === 'add') {
            const slot = mux.add('svc.m', o.timeout);
            const m: Model = { deadline: clock.now() + o.timeout, reply: slot.reply, ended: 'pending', endedAt: -1, box: track(slot.promise) };
            slot.promise.catch(() => {
              m.ended = 'timeout';
              m.endedAt = clock.now();
            });
            all.push(m);
          } else if (o.op === 'answer') {
            const open = all.filter((m) => m.ended === 'pending' && m.deadline > clock.now());
            if (open.length === 0) continue;
            const m = open[o.pick % open.length]!;
            mux.dispatch(reply(m.reply));
            m.ended = 'answered';
            m.endedAt = clock.now();
          } else {
            clock.advance(o.ms);
            await settled();
          }
        }
        // Fire whatever fell due at the current instant (a 0 ms timeout added last).
        clock.advance(0);
        await settled();
        for (const m of all) {
          const due = m.deadline <= clock.now();
          if (m.ended === 'timeout') {
            expect(m.box.outcome.kind).toBe('rejected');
            expect((m.box.outcome as { error: unknown }).error).toBeInstanceOf(TimeoutError);
          }
          if (m.ended === 'answered') expect(m.box.outcome.kind).toBe('resolved');
          if (m.ended === 'pending') expect(due).toBe(false);
          if (due && m.ended !== 'answered') expect(m.ended).toBe('timeout');
        }
        // Timeouts are observed after the advance that passed them, never before their deadline.
        for (const m of all) if (m.ended === 'timeout') expect(m.endedAt).toBeGreaterThanOrEqual(m.deadline);
        const open = all.filter((m) => m.ended === 'pending').length;
        expect(mux.size).toBe(open);
        expect(clock.pendingTimers).toBe(open > 0 ? 1 : 0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('transport - request deadlines follow the injected clock', () => {
  it('transport - a local request nobody answers times out when the injected clock reaches its deadline', async () => {
    const clock = new ManualClock();
    const bus = new LocalBus();
    const t = new LocalTransport({ name: 'mux-local', bus, clock });
    try {
      t.subscribe('svc.silent', () => {});
      const r = track(t.request('svc.silent', new Uint8Array([1]), { timeout: 250 }));
      await t.flush();
      clock.advance(249);
      await settled();
      expect(r.outcome.kind).toBe('pending');
      clock.advance(1);
      await settled();
      expect(r.outcome.kind).toBe('rejected');
      expect((r.outcome as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    } finally {
      await t.close();
    }
  });

  it('transport - a NATS request nobody answers (cluster RPCs, probes) times out on the injected clock', async () => {
    const clock = new ManualClock();
    const t = await NatsTransport.connect({ servers: inject('natsUrl'), name: 'mux-nats', clock });
    try {
      const subject = `mux.${process.pid}.silent`;
      t.subscribe(subject, () => {});
      await t.flush();
      const r = track(t.request(subject, new Uint8Array([1]), { timeout: 60_000 }));
      await t.flush();
      await settled();
      expect(r.outcome.kind).toBe('pending');
      clock.advance(60_000);
      await settled();
      expect(r.outcome.kind).toBe('rejected');
      expect((r.outcome as { error: unknown }).error).toBeInstanceOf(TimeoutError);
    } finally {
      await t.close();
    }
  });
});
