/**
 * supervision - stopping children: reverse start order, each child with its
 * own `shutdown` (brutal_kill at once; ms: graceful, killed when the time runs
 * out on the clock; infinity: no deadline).
 */
import { describe, expect, it } from 'vitest';
import type { LocalActorRef } from '../src/actors/types.js';
import type { Supervisor } from '../src/supervision/types.js';
import { graceful, harness, settle, stubborn, turns, within, worker } from './support/supervision.js';

function ref(sup: Supervisor, id: string): LocalActorRef {
  const r = sup.whichChildren().find((c) => c.id === id)?.ref;
  if (!r) throw new Error(`no running child ${id}`);
  return r;
}

describe('supervision - shutdown of children', () => {
  it('supervision - brutal_kill is immediate: exit killed, no timer, no waiting', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ children: [{ id: 's', start: stubborn, shutdown: 'brutal_kill' }] });
    const s = ref(sup, 's');
    const timers = clock.pendingTimers;
    const done = sup.terminateChild('s');
    expect(s.exit?.reason).toBe('killed');
    expect(clock.pendingTimers).toBe(timers);
    await done;
    await sup.stop();
  });

  it('supervision - a child that handles halyard.shutdown but never finishes is killed when its time runs out', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ children: [{ id: 's', start: stubborn, shutdown: 1000 }] });
    const s = ref(sup, 's');
    let done = false;
    const p = sup.terminateChild('s').then(() => {
      done = true;
    });
    await turns();
    expect(s.lifecycle).toBe('stopping');
    clock.advance(999);
    await turns();
    expect(done).toBe(false);
    expect(s.exit).toBeUndefined();
    clock.advance(1);
    await within(p, 'terminateChild after the shutdown time');
    expect(s.exit?.reason).toBe('killed');
    await sup.stop();
  });

  it('supervision - a child that finishes in time exits shutdown and leaves no timer behind', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ children: [{ id: 'g', start: graceful, shutdown: 1000 }] });
    const g = ref(sup, 'g');
    const timers = clock.pendingTimers;
    await sup.terminateChild('g');
    expect(g.exit?.reason).toBe('shutdown');
    expect(clock.pendingTimers).toBe(timers);
    await sup.stop();
  });

  it('supervision - infinity waits without a deadline', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ children: [{ id: 's', start: stubborn, shutdown: 'infinity' }] });
    const s = ref(sup, 's');
    const timers = clock.pendingTimers;
    const p = sup.terminateChild('s');
    await turns();
    clock.advance(1_000_000);
    await turns();
    expect(s.exit).toBeUndefined();
    expect(clock.pendingTimers).toBe(timers);
    s.tell({ type: 'DRAINED' });
    await within(p, 'terminateChild of an infinity child that finished');
    expect(s.exit?.reason).toBe('shutdown');
    await sup.stop();
  });

  it('supervision - the supervisor stops children one at a time in reverse order, each with its own shutdown', async () => {
    const { system, supervision, clock } = harness();
    const baseline = system.size;
    const sup = supervision.supervise(
      {
        children: [
          { id: 'a', start: graceful, name: 'a', shutdown: 5000 },
          { id: 'b', start: stubborn, name: 'b', shutdown: 2000 },
          { id: 'c', start: worker, name: 'c', shutdown: 'brutal_kill' },
          { id: 'd', start: graceful, name: 'd' },
        ],
      },
      { name: 'sup' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    const stopped = sup.stop();
    await settle();
    await turns();
    // d (graceful) and c (killed) are gone; b holds the line until its 2 s run out; a waits its turn.
    expect(order).toEqual(['d:shutdown', 'c:killed']);
    expect(ref(sup, 'a').exit).toBeUndefined();
    clock.advance(2000);
    expect(await within(stopped, 'supervisor stop')).toEqual({ reason: 'shutdown' });
    expect(order).toEqual(['d:shutdown', 'c:killed', 'b:killed', 'a:shutdown', 'sup:shutdown']);
    expect(system.size).toBe(baseline);
    expect(clock.pendingTimers).toBe(0);
  });

  it('supervision - a child supervisor defaults to infinity and stops its own subtree first', async () => {
    const { system, supervision, clock } = harness();
    const sup = supervision.supervise(
      { children: [{ id: 's', type: 'supervisor', name: 's', start: { children: [{ id: 'x', start: stubborn, name: 'x', shutdown: 300 }] } }] },
      { name: 'top' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    const stopped = sup.stop();
    await turns(5);
    clock.advance(300);
    await within(stopped, 'tree stop');
    expect(order).toEqual(['x:killed', 's:shutdown', 'top:shutdown']);
  });

  it('supervision - a child supervisor killed after its shutdown time: its draining subtree is killed with it', async () => {
    const { system, supervision, clock } = harness();
    const baseline = system.size;
    const sup = supervision.supervise(
      { children: [{ id: 's', type: 'supervisor', name: 's', shutdown: 100, start: { children: [{ id: 'x', start: stubborn, name: 'x', shutdown: 'infinity' }] } }] },
      { name: 'top' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    let exit: unknown;
    const stopped = sup.stop().then((e) => {
      exit = e;
    });
    await turns(5);
    clock.advance(100);
    // A killed supervisor kills its children, even one draining with no
    // deadline: the kill overrides the graceful stop, as exit(Pid, kill) does.
    await within(stopped, 'tree stop');
    expect(exit).toEqual({ reason: 'shutdown' });
    expect(order).toEqual(['s:killed', 'x:killed', 'top:shutdown']);
    expect(system.size).toBe(baseline);
  });
});

describe('supervision - a supervisor killed from outside (OTP: its children trap the exit)', () => {
  it('supervision - a supervisor killed from outside still stops its children in reverse order with their shutdowns, and a nested supervisor stops its own', async () => {
    const { system, supervision, clock } = harness();
    const baseline = system.size;
    const sup = supervision.supervise(
      {
        children: [
          { id: 'a', start: graceful, name: 'a' },
          { id: 's', type: 'supervisor', name: 's', start: { children: [{ id: 'x', start: graceful, name: 'x' }, { id: 'y', start: graceful, name: 'y' }] } },
          { id: 'b', start: stubborn, name: 'b', shutdown: 1000 },
          { id: 'c', start: worker, name: 'c' },
        ],
      },
      { name: 'top' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    await sup.ref.stop('brutal_kill');
    await settle();
    await turns();
    // c does not handle the shutdown event and stops at once; b drains and holds the line until its 1 s run out.
    expect(order).toEqual(['top:killed', 'c:shutdown']);
    expect(system.lookup('a')?.exit).toBeUndefined();
    expect(system.lookup('b')?.lifecycle).toBe('stopping');
    clock.advance(1000);
    const exit = await within(sup.stopped, 'stopped of the killed supervisor');
    expect(exit).toMatchObject({ reason: 'error', error: { reason: 'killed' } });
    expect(order).toEqual(['top:killed', 'c:shutdown', 'b:killed', 'y:shutdown', 'x:shutdown', 's:shutdown', 'a:shutdown']);
    expect(system.size).toBe(baseline);
    expect(clock.pendingTimers).toBe(0);
  });

  it('supervision - a simple_one_for_one supervisor killed from outside stops its instances all at once, each with its shutdown', async () => {
    const { system, supervision, clock } = harness();
    const baseline = system.size;
    const pool = supervision.supervise({ strategy: 'simple_one_for_one', children: [{ id: 'i', start: stubborn, shutdown: 1000 }] }, { name: 'pool' });
    const a = await pool.startChild();
    const b = await pool.startChild();
    await pool.ref.stop('brutal_kill');
    await turns(5);
    // Both got their shutdown event together: one deadline ends them both.
    expect([a.lifecycle, b.lifecycle]).toEqual(['stopping', 'stopping']);
    clock.advance(1000);
    expect(await within(pool.stopped, 'stopped of the killed pool')).toMatchObject({ reason: 'error' });
    expect([a.exit?.reason, b.exit?.reason]).toEqual(['killed', 'killed']);
    expect(system.size).toBe(baseline);
  });

  it('supervision - a nested supervisor killed from outside is restarted only once its old subtree has stopped, so its children take their names again', async () => {
    const { system, supervision, clock } = harness();
    const top = supervision.supervise(
      { children: [{ id: 's', type: 'supervisor', name: 's', start: { children: [{ id: 'x', start: stubborn, name: 'x', shutdown: 1000 }] } }] },
      { name: 'top' },
    );
    const oldX = system.lookup('x')!;
    await system.lookup('s')!.stop('brutal_kill');
    await turns(5);
    // The old x has its shutdown event and is draining: top has neither decided nor restarted yet.
    expect(oldX.lifecycle).toBe('stopping');
    expect(supervision.coordinator.decisions({ supervisor: 'top' })).toEqual([]);
    clock.advance(1000);
    await within(top.whenIdle(), 'top idle after the old subtree stopped');
    expect(oldX.exit?.reason).toBe('killed');
    expect(supervision.coordinator.decisions({ supervisor: 'top' }).map((d) => [d.input.reason, d.directive.type])).toEqual([['killed', 'restart']]);
    const newX = system.lookup('x');
    expect(newX).toBeDefined();
    expect(newX).not.toBe(oldX);
    expect(newX?.lifecycle).toBe('running');
    expect(top.childSupervisor('s')?.whichChildren().map((c) => `${c.id}:${c.status}`)).toEqual(['x:running']);
    const stopped = top.stop();
    await turns(5);
    clock.advance(1000);
    await within(stopped, 'top stop');
  });
});
