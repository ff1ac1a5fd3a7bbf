/**
 * persistSnapshots / restoreActor: coalesced writes on a ManualClock,
 * fencing by revision, and the XState restore traps (#5077, #5057, #4873):
 * machines restored with invoked and spawned children, checked to run.
 */
import { assign, createActor, createMachine, fromCallback, fromPromise, sendParent, sendTo, setup, spawnChild } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { StateConflictError } from '../src/errors.js';
import { KvStateStore } from '../src/services/state/KvStateStore.js';
import type { StateStore, StateWriteOptions } from '../src/services/state/StateStore.js';
import { persistSnapshots, restoreActor } from '../src/services/state/persistSnapshots.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

/** A store that records every snapshot saved through it. */
function recordingStore(): StateStore & { saved: unknown[] } {
  const inner = new KvStateStore({ kv: new LocalKvStore({ server: new LocalKvServer() }) });
  const saved: unknown[] = [];
  return {
    kind: inner.kind,
    saved,
    async save(key: string, snapshot: unknown, options?: StateWriteOptions) {
      const rev = await inner.save(key, snapshot, options);
      saved.push(snapshot);
      return rev;
    },
    load: (key) => inner.load(key),
    delete: (key, options) => inner.delete(key, options),
    list: () => inner.list(),
  };
}

const countOf = (snapshot: unknown) => (snapshot as { context: { n: number } }).context.n;
const wait = { timeout: 5_000 };

/** The count of the child `id` of `actor`; fails the test when there is no such child. */
function childCount(actor: { getSnapshot(): { children: Record<string, unknown> } }, id: string): number {
  const child = actor.getSnapshot().children[id] as { getSnapshot(): { context: { n: number } } } | undefined;
  if (child === undefined) throw new Error(`no child ${id}`);
  return child.getSnapshot().context.n;
}

describe('persistSnapshots', () => {
  it('persist - changes are coalesced to at most one write per everyMs, always the latest snapshot', async () => {
    const clock = new ManualClock();
    const store = recordingStore();
    const actor = createActor(counterMachine, { input: {} });
    const handle = persistSnapshots(actor, store, 'svc.counter', { everyMs: 100, clock });
    actor.start();
    actor.send({ type: 'INC' });
    await waitFor(() => store.saved.length === 1, { ...wait, message: 'the first change is written at once' });
    for (let i = 0; i < 4; i++) actor.send({ type: 'INC' });
    await waitFor(() => clock.pendingTimers === 1, { ...wait, message: 'the next write waits for everyMs' });
    clock.advance(99);
    expect(store.saved).toHaveLength(1);
    clock.advance(1);
    await waitFor(() => store.saved.length === 2, { ...wait, message: 'the coalesced write' });
    expect(countOf(store.saved[1])).toBe(5);
    clock.advance(10_000);
    expect(clock.pendingTimers).toBe(0);
    expect(store.saved).toHaveLength(2);
    expect(handle.writes).toBe(2);
    expect(countOf((await store.load('svc.counter'))?.snapshot)).toBe(5);
    await handle.stop();
    actor.stop();
  });

  it('persist - stop writes a pending change at once, and nothing is written after it', async () => {
    const clock = new ManualClock();
    const store = recordingStore();
    const actor = createActor(counterMachine, { input: {} }).start();
    const handle = persistSnapshots(actor, store, 'k', { everyMs: 1_000, clock });
    actor.send({ type: 'INC' });
    await waitFor(() => clock.pendingTimers === 0 && store.saved.length === 1, { ...wait, message: 'first write' });
    actor.send({ type: 'INC' });
    actor.send({ type: 'INC' });
    await handle.stop();
    expect(store.saved.map(countOf)).toEqual([1, 3]);
    actor.send({ type: 'INC' });
    clock.advance(5_000);
    actor.stop();
    expect(store.saved.map(countOf)).toEqual([1, 3]);
  });

  it('persist - an actor that failed does not overwrite its last good state, and flush leaves no timer armed', async () => {
    const clock = new ManualClock();
    const store = recordingStore();
    const actor = createActor(counterMachine, { input: {} });
    actor.subscribe({ error: () => {} });
    actor.start();
    const handle = persistSnapshots(actor, store, 'k', { everyMs: 100, clock });
    actor.send({ type: 'INC' });
    await waitFor(() => store.saved.length === 1, { ...wait, message: 'first write' });
    actor.send({ type: 'INC' });
    await waitFor(() => clock.pendingTimers === 1, { ...wait, message: 'the next write is armed' });
    actor.send({ type: 'BOOM' });
    expect(actor.getSnapshot().status).toBe('error');
    await handle.flush();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(1_000);
    await handle.stop();
    expect(store.saved.map(countOf)).toEqual([1]);
    expect(countOf((await store.load('k'))?.snapshot)).toBe(1);
  });

  it('persist - an owner that lost the key reports the conflict and stops writing', async () => {
    const clock = new ManualClock();
    const store = recordingStore();
    const rev = await store.save('k', { taken: 'by me' });
    const errors: unknown[] = [];
    const actor = createActor(counterMachine, { input: {} }).start();
    const handle = persistSnapshots(actor, store, 'k', { everyMs: 10, clock, revision: rev, onError: (e) => errors.push(e) });
    // Another owner took the key over.
    const theirs = await store.save('k', { taken: 'by them' });
    actor.send({ type: 'INC' });
    await waitFor(() => errors.length === 1, { ...wait, message: 'the conflict is reported' });
    expect(errors[0]).toBeInstanceOf(StateConflictError);
    actor.send({ type: 'INC' });
    clock.advance(100);
    await handle.flush();
    expect(errors).toHaveLength(1);
    expect(await store.load('k')).toEqual({ snapshot: { taken: 'by them' }, revision: theirs });
    expect(handle.writes).toBe(0);
    actor.stop();
  });

  it('persist - an actor with a child spawned from inline logic is refused naming actor, before anything is written (xstate #5057, #4873)', async () => {
    const store = recordingStore();
    const machine = createMachine({
      entry: spawnChild(fromPromise(() => new Promise<never>(() => {})), { id: 'work' }),
    });
    const actor = createActor(machine).start();
    expect(() => persistSnapshots(actor, store, 'k', { everyMs: 10, clock: new ManualClock() })).toThrow(
      expect.objectContaining({ name: 'InvalidArgumentError', field: 'actor', message: expect.stringContaining('work') }),
    );
    expect(await store.list()).toEqual([]);
    actor.stop();
  });

  it('persist - a bad everyMs or key is a typed error naming the field', () => {
    const actor = createActor(counterMachine, { input: {} });
    const store = recordingStore();
    expect(() => persistSnapshots(actor, store, 'k', { everyMs: -1 })).toThrow(expect.objectContaining({ field: 'everyMs' }));
    expect(() => persistSnapshots(actor, store, '../k', { everyMs: 1 })).toThrow(expect.objectContaining({ field: 'key' }));
  });
});

describe('restoreActor', () => {
  it('restore - a persisted counter comes back with its count and its revision carries the fencing on', async () => {
    const clock = new ManualClock();
    const store = recordingStore();
    const first = createActor(counterMachine, { input: {} }).start();
    const h1 = persistSnapshots(first, store, 'svc.counter', { everyMs: 50, clock, revision: 0 });
    for (let i = 0; i < 7; i++) first.send({ type: 'INC' });
    await h1.stop();
    first.stop();

    const { actor, revision } = await restoreActor(counterMachine, store, 'svc.counter');
    expect(revision).toBe(h1.revision);
    const h2 = persistSnapshots(actor, store, 'svc.counter', { everyMs: 50, clock, revision });
    actor.start();
    expect(actor.getSnapshot().context.n).toBe(7);
    actor.send({ type: 'INC' });
    await h2.stop();
    expect(countOf((await store.load('svc.counter'))?.snapshot)).toBe(8);
    actor.stop();
  });

  it('restore - nothing stored gives a fresh actor and no revision', async () => {
    const { actor, revision } = await restoreActor(counterMachine, recordingStore(), 'none');
    expect(revision).toBeUndefined();
    expect(actor.start().getSnapshot().context.n).toBe(0);
    actor.stop();
  });

  // A child machine that counts INC and tells its parent when it reaches 3.
  const childCounter = setup({ types: { context: {} as { n: number } } }).createMachine({
    context: { n: 0 },
    on: {
      INC: {
        actions: [assign({ n: ({ context }) => context.n + 1 }), sendParent(({ context }) => ({ type: context.n >= 3 ? 'REACHED' : 'COUNTED' }))],
      },
    },
  });

  it('restore - a machine with an invoked child machine is restored with the child’s state, and the child runs (xstate #5077)', async () => {
    const parent = setup({ actors: { childCounter } }).createMachine({
      initial: 'waiting',
      states: {
        waiting: {
          invoke: { id: 'child', src: 'childCounter' },
          on: { INC: { actions: sendTo('child', { type: 'INC' }) }, REACHED: 'reached' },
        },
        reached: {},
      },
    });
    const store = recordingStore();
    const before = createActor(parent).start();
    const h = persistSnapshots(before, store, 'p', { everyMs: 0, clock: new ManualClock() });
    before.send({ type: 'INC' });
    before.send({ type: 'INC' });
    await h.stop();
    before.stop();
    // The child was at 2 when stored: one more INC must reach it and come back to the parent.
    const { actor } = await restoreActor(parent, store, 'p');
    actor.start();
    expect(actor.getSnapshot().value).toBe('waiting');
    expect(childCount(actor, 'child')).toBe(2);
    actor.send({ type: 'INC' });
    expect(actor.getSnapshot().value).toBe('reached');
    actor.stop();
  });

  it('restore - an invoked callback actor that was running when stored runs again after restore, and answers', async () => {
    let starts = 0;
    const pinger = fromCallback(({ sendBack, receive }) => {
      starts++;
      receive((event) => {
        if (event.type === 'PING') sendBack({ type: 'PONG' });
      });
    });
    const parent = setup({ actors: { pinger } }).createMachine({
      initial: 'listening',
      states: {
        listening: { invoke: { id: 'pinger', src: 'pinger' }, on: { PING: { actions: sendTo('pinger', { type: 'PING' }) }, PONG: 'ponged' } },
        ponged: {},
      },
    });
    const store = recordingStore();
    const before = createActor(parent).start();
    await store.save('cb', before.getPersistedSnapshot());
    before.stop();
    expect(starts).toBe(1);
    const { actor } = await restoreActor(parent, store, 'cb');
    actor.start();
    // The invoke that was running when the snapshot was taken runs again.
    expect(starts).toBe(2);
    actor.send({ type: 'PING' });
    expect(actor.getSnapshot().value).toBe('ponged');
    actor.stop();
  });

  it('restore - a child spawned from a named src comes back with its state and runs (xstate #4873)', async () => {
    const parent = setup({ actors: { childCounter } }).createMachine({
      entry: spawnChild('childCounter', { id: 'spawned' }),
      initial: 'waiting',
      states: { waiting: { on: { INC: { actions: sendTo('spawned', { type: 'INC' }) }, REACHED: 'reached' } }, reached: {} },
    });
    const store = recordingStore();
    const before = createActor(parent).start();
    before.send({ type: 'INC' });
    before.send({ type: 'INC' });
    await store.save('s', before.getPersistedSnapshot());
    before.stop();
    const { actor } = await restoreActor(parent, store, 's');
    actor.start();
    expect(childCount(actor, 'spawned')).toBe(2);
    actor.send({ type: 'INC' });
    expect(actor.getSnapshot().value).toBe('reached');
    actor.stop();
  });
});
