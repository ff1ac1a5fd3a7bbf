import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { fromPromise } from 'xstate';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { OCF } from '../src/actors/ocf.js';
import type { ExitSignal } from '../src/actors/types.js';
import { ManualClock } from '../src/clock.js';
import {
  ActorFailedError,
  ActorNotRunningError,
  DuplicateNameError,
  InvalidArgumentError,
  InvalidEventError,
  InvalidNameError,
  InvalidSpecError,
  MailboxFullError,
  MessageDroppedError,
  TimeoutError,
} from '../src/errors.js';
import { counterMachine, failsOnStart, pinger, tally, trappingMachine } from './support/machines.js';

function exitOf(ref: { onExit(l: (e: ExitSignal) => void): () => void }): Promise<ExitSignal> {
  return new Promise((resolve) => ref.onExit(resolve));
}

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: 'info' }, stream), lines };
}

describe('actors - tell and ask', () => {
  it('actors - tell is processed in FIFO order and ask gets the reply', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine, { name: 'counter', input: { start: 5 } });
    for (let i = 0; i < 100; i++) c.tell({ type: 'ADD', by: i });
    await expect(c.ask({ type: 'GET' })).resolves.toBe(5 + 4950);
  });

  it('actors - any logic kind runs: fromTransition, fromCallback, fromPromise', async () => {
    const system = new ActorSystem({ node: 't' });
    const t = system.spawn(tally);
    t.tell({ type: 'X' });
    t.tell({ type: 'Y' });
    await expect(t.ask({ type: 'GET' })).resolves.toBe(2);
    const p = system.spawn(pinger);
    await expect(p.ask({ type: 'PING' })).resolves.toBe('PONG');
    const pr = system.spawn(fromPromise(async () => 42));
    await expect(exitOf(pr)).resolves.toMatchObject({ reason: 'normal', output: 42 });
  });

  it('actors - ask with no reply times out with a typed error on the injected clock', async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ node: 't', clock });
    const c = system.spawn(counterMachine);
    const pending = c.ask({ type: 'INC' }, { timeout: 100 });
    clock.advance(100);
    await expect(pending).rejects.toBeInstanceOf(TimeoutError);
    expect(clock.pendingTimers).toBe(0);
  });

  it('actors - a reply clears its deadline timer', async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ node: 't', clock });
    const c = system.spawn(counterMachine);
    await c.ask({ type: 'GET' }, { timeout: 100 });
    expect(clock.pendingTimers).toBe(0);
  });

  it('actors - invalid events and options are typed errors', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine);
    expect(() => c.tell(null as never)).toThrow(InvalidEventError);
    expect(() => c.tell({ type: '' } as never)).toThrow(InvalidEventError);
    // An ask fails like every other ask failure: a rejected promise, never a synchronous throw.
    await expect(c.ask({ type: 'GET' }, { timeout: -1 })).rejects.toThrow(InvalidArgumentError);
    expect(() => system.spawn({} as never)).toThrow(InvalidSpecError);
    expect(() => system.spawn(counterMachine, { mailbox: { capacity: 0 } })).toThrow(/mailbox.capacity/);
    expect(() => system.spawn(counterMachine, { mailbox: { overflow: 'nope' as never } })).toThrow(/mailbox.overflow/);
  });
});

describe('actors - names', () => {
  it('actors - names are unique per node and released on exit', async () => {
    const system = new ActorSystem({ node: 't' });
    const a = system.spawn(counterMachine, { name: 'svc' });
    expect(() => system.spawn(counterMachine, { name: 'svc' })).toThrow(DuplicateNameError);
    expect(system.lookup('svc')).toBe(a);
    await a.stop();
    expect(system.lookup('svc')).toBeUndefined();
    const b = system.spawn(counterMachine, { name: 'svc' });
    expect(system.lookup('svc')).toBe(b);
  });

  it('actors - invalid names are rejected', () => {
    const system = new ActorSystem({ node: 't' });
    for (const bad of ['', 'a b', 'a.*', 'a.>', 'a..b', '.a', 'x'.repeat(129), 'é']) {
      expect(() => system.spawn(counterMachine, { name: bad })).toThrow(InvalidNameError);
    }
    expect(system.spawn(counterMachine, { name: 'orders.eu-1_a' }).name).toBe('orders.eu-1_a');
  });
});

describe('actors - failure', () => {
  it('actors - a throw in the logic stops that actor with an error exit, not the process', async () => {
    const system = new ActorSystem({ node: 't', mailbox: { capacity: 64 } });
    const c = system.spawn(counterMachine, { name: 'c' });
    const exit = exitOf(c);
    const asked = c.ask({ type: 'BOOM' });
    const queued = c.ask({ type: 'GET' });
    c.tell({ type: 'INC' });
    await expect(asked).rejects.toBeInstanceOf(ActorFailedError);
    await expect(queued).rejects.toBeInstanceOf(ActorNotRunningError);
    const e = await exit;
    expect(e.reason).toBe('error');
    expect((e.error as Error).message).toBe('boom');
    expect(c.lifecycle).toBe('failed');
    expect(system.deadLetters.count(DeadLetterReason.ActorStopped)).toBe(1);
    expect(system.lookup('c')).toBeUndefined();
    // The system keeps working.
    const d = system.spawn(counterMachine);
    await expect(d.ask({ type: 'GET' })).resolves.toBe(0);
  });

  it('actors - a machine that fails while starting exits with error', async () => {
    const system = new ActorSystem({ node: 't' });
    const f = system.spawn(failsOnStart, { name: 'f' });
    await expect(exitOf(f)).resolves.toMatchObject({ reason: 'error' });
    expect(f.lifecycle).toBe('failed');
    await expect(f.check()).resolves.toMatchObject({ code: OCF.ERR_GENERIC, label: 'OCF_ERR_GENERIC' });
  });

  it('actors - a throwing exit listener does not stop the others', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine);
    c.onExit(() => {
      throw new Error('bad listener');
    });
    const ok = exitOf(c);
    c.tell({ type: 'FINISH' });
    await expect(ok).resolves.toMatchObject({ reason: 'normal', output: 0 });
  });

  it('actors - onExit after exit still fires once, and a cancelled listener never fires', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine);
    let cancelledCalls = 0;
    const cancel = c.onExit(() => cancelledCalls++);
    cancel();
    await c.stop();
    const calls: ExitSignal[] = [];
    await new Promise<void>((resolve) =>
      c.onExit((e) => {
        calls.push(e);
        resolve();
      }),
    );
    expect(calls).toHaveLength(1);
    expect(calls[0]!.reason).toBe('shutdown');
    expect(cancelledCalls).toBe(0);
  });
});

describe('actors - mailbox overflow', () => {
  it('actors - reject: the asker gets MailboxFullError and tells are dead letters', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine, { mailbox: { capacity: 2, overflow: 'reject' } });
    c.tell({ type: 'INC' });
    c.tell({ type: 'INC' });
    c.tell({ type: 'INC' });
    await expect(c.ask({ type: 'GET' })).rejects.toBeInstanceOf(MailboxFullError);
    expect(system.deadLetters.count(DeadLetterReason.MailboxFull)).toBe(2);
    await expect(c.ask({ type: 'GET' })).resolves.toBe(2);
    expect((await c.status()).dropped).toBe(2);
  });

  it('actors - drop-oldest: the oldest ask is rejected with MessageDroppedError', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine, { mailbox: { capacity: 2, overflow: 'drop-oldest' } });
    const first = c.ask({ type: 'GET' });
    c.tell({ type: 'INC' });
    c.tell({ type: 'INC' });
    await expect(first).rejects.toBeInstanceOf(MessageDroppedError);
    await expect(c.ask({ type: 'GET' })).resolves.toBe(2);
    expect(system.deadLetters.count(DeadLetterReason.DroppedOldest)).toBe(1);
  });

  it('actors - drop-newest: the new message is dropped', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine, { mailbox: { capacity: 2, overflow: 'drop-newest' } });
    c.tell({ type: 'INC' });
    c.tell({ type: 'INC' });
    await expect(c.ask({ type: 'GET' })).rejects.toBeInstanceOf(MessageDroppedError);
    expect(system.deadLetters.count(DeadLetterReason.DroppedNewest)).toBe(1);
    await expect(c.ask({ type: 'GET' })).resolves.toBe(2);
  });
});

describe('actors - stop and shutdown', () => {
  it('actors - brutal_kill exits killed at once', async () => {
    const system = new ActorSystem({ node: 't' });
    const t = system.spawn(trappingMachine);
    await expect(t.stop('brutal_kill')).resolves.toMatchObject({ reason: 'killed' });
  });

  it('actors - a machine that traps shutdown and finishes in time exits shutdown', async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ node: 't', clock });
    const t = system.spawn(trappingMachine);
    const stopped = t.stop(1000);
    await new Promise((r) => setImmediate(r));
    expect(t.lifecycle).toBe('stopping');
    t.tell({ type: 'CLOSED' } as never);
    await expect(stopped).resolves.toMatchObject({ reason: 'shutdown' });
    expect(clock.pendingTimers).toBe(0);
  });

  it('actors - a machine that traps shutdown but never finishes is killed after the timeout', async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ node: 't', clock });
    const t = system.spawn(trappingMachine);
    const stopped = t.stop(1000);
    await new Promise((r) => setImmediate(r));
    clock.advance(999);
    expect(t.lifecycle).toBe('stopping');
    clock.advance(1);
    await expect(stopped).resolves.toMatchObject({ reason: 'killed' });
  });

  it('actors - brutal_kill overrides a graceful stop under way', async () => {
    const clock = new ManualClock();
    const system = new ActorSystem({ node: 't', clock });
    const t = system.spawn(trappingMachine);
    const graceful = t.stop('infinity');
    await new Promise((r) => setImmediate(r));
    expect(t.lifecycle).toBe('stopping');
    await expect(t.stop('brutal_kill')).resolves.toMatchObject({ reason: 'killed' });
    await expect(graceful).resolves.toMatchObject({ reason: 'killed' });
  });

  it('actors - logic that cannot handle shutdown stops at once', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine);
    await expect(c.stop(5000)).resolves.toMatchObject({ reason: 'shutdown' });
    await expect(c.check()).resolves.toMatchObject({ code: OCF.NOT_RUNNING });
  });
});

describe('actors - check and status', () => {
  it('actors - check answers OCF codes for running, stopped and failed actors', async () => {
    const system = new ActorSystem({ node: 't' });
    const running = system.spawn(counterMachine, { name: 'r' });
    const stopped = system.spawn(counterMachine, { name: 's' });
    const failed = system.spawn(counterMachine, { name: 'f' });
    await stopped.stop();
    failed.tell({ type: 'BOOM' });
    await exitOf(failed);
    await expect(running.check(0)).resolves.toEqual({ code: 0, label: 'OCF_SUCCESS', reason: 'running', level: 0, actor: 'r', node: 't' });
    await expect(stopped.check(10)).resolves.toMatchObject({ code: 7, label: 'OCF_NOT_RUNNING', level: 10 });
    await expect(failed.check(20)).resolves.toMatchObject({ code: 1, label: 'OCF_ERR_GENERIC', reason: 'failed: boom' });
    await expect(running.check(5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('actors - a user check deepens the answer, and a throwing one is ERR_GENERIC', async () => {
    const system = new ActorSystem({ node: 't' });
    const deep = system.spawn(counterMachine, {
      check: ({ snapshot, level }) => (level >= 10 && (snapshot as { context: { n: number } }).context.n === 0 ? { code: OCF.DEGRADED, reason: 'idle' } : OCF.SUCCESS),
    });
    await expect(deep.check(0)).resolves.toMatchObject({ code: 0 });
    await expect(deep.check(10)).resolves.toMatchObject({ code: 190, label: 'OCF_DEGRADED', reason: 'idle' });
    const bad = system.spawn(counterMachine, {
      check: () => {
        throw new Error('probe failed');
      },
    });
    await expect(bad.check()).resolves.toMatchObject({ code: 1, reason: 'user check threw: probe failed' });
  });

  it('actors - status logs one structured line and returns it', async () => {
    const { logger, lines } = capture();
    const system = new ActorSystem({ node: 'n9', logger });
    const c = system.spawn(counterMachine, { name: 'counter' });
    c.tell({ type: 'INC' });
    await c.ask({ type: 'GET' });
    const before = lines.length;
    const s = await c.status();
    expect(lines.length).toBe(before + 1);
    const line = lines.at(-1)!;
    expect(line).toMatchObject({ msg: 'status', node: 'n9', actor: 'counter', state: 'counting', processed: 2, dropped: 0 });
    expect(line.mailbox).toEqual({ depth: 0, capacity: 4096, overflow: 'reject' });
    expect(s).toMatchObject({ state: 'counting', lifecycle: 'running', processed: 2, lastError: null });
  });

  it('actors - status of a failed actor carries the last error as a plain object', async () => {
    const system = new ActorSystem({ node: 't' });
    const c = system.spawn(counterMachine);
    c.tell({ type: 'BOOM' });
    await exitOf(c);
    const s = await c.status();
    expect(s.lastError).toEqual({ name: 'Error', message: 'boom', code: 'ERR_REMOTE' });
  });

  it('actors - no payload is logged above debug level', async () => {
    const { logger, lines } = capture();
    const system = new ActorSystem({ node: 't', logger });
    const c = system.spawn(counterMachine);
    await c.ask({ type: 'ECHO', value: 'secret-payload-123' });
    c.tell({ type: 'BOOM' });
    await exitOf(c);
    await c.status();
    expect(JSON.stringify(lines)).not.toContain('secret-payload-123');
  });
});

describe('actors - long ask deadlines', () => {
  it('actors - an ask with a timeout beyond 2^31-1 ms does not time out at once', async () => {
    // The real clock: Node's setTimeout fires any delay above 2^31-1 ms after 1 ms.
    const system = new ActorSystem({ node: 't' });
    const silent = system.spawn(counterMachine);
    let settled = false;
    const long = silent.ask({ type: 'INC' }, { timeout: 2 ** 31 + 1000 });
    long.then(
      () => (settled = true),
      () => (settled = true),
    );
    // A 50 ms deadline on the same clock: were the long one clamped, it would have fired first.
    await expect(silent.ask({ type: 'INC' }, { timeout: 50 })).rejects.toBeInstanceOf(TimeoutError);
    expect(settled).toBe(false);
    await system.stopAll();
  });

  it('actors - a deadline beyond the timer limit is re-armed in steps until it is due', async () => {
    const { MAX_TIMER_MS, monotonicClock } = await import('../src/clock.js');
    const delays: number[] = [];
    const real = globalThis.setTimeout;
    const fns: Array<() => void> = [];
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      delays.push(ms);
      fns.push(fn);
      return { unref() {} } as unknown as ReturnType<typeof setTimeout>;
    }) as typeof setTimeout;
    let fired = 0;
    try {
      monotonicClock.setTimer(() => fired++, 2 * MAX_TIMER_MS + 5);
      fns.shift()!();
      expect(fired).toBe(0);
      fns.shift()!();
      expect(fired).toBe(0);
      fns.shift()!();
    } finally {
      globalThis.setTimeout = real;
    }
    expect(delays).toEqual([MAX_TIMER_MS, MAX_TIMER_MS, 5]);
    expect(fired).toBe(1);
  });
});
