/**
 * Persisted service instances (issue 8, part 9): `persist` saves the
 * instance's snapshot to the node's StateStore and brings it back on a
 * graceful restart, after a crash only with `restoreAfterCrash`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { assign, sendTo, setup, spawnChild } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { InvalidArgumentError, InvalidSpecError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { ServiceEventType } from '../src/services/instances/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { FileStateStore, KvStateStore } from '../src/services/state/index.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function stateDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'halyard-persist-'));
  dirs.push(dir);
  return dir;
}

const counterLogic = setup({ types: {} as { context: { n: number } } }).createMachine({
  context: { n: 0 },
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: {
        INC: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] },
        READ: { actions: reply(({ context }) => context.n) },
        CRASH: {
          actions: () => {
            throw new Error('boom');
          },
        },
        FINISH: 'finished',
      },
    },
    finished: { type: 'final' },
  },
});

function counter(persist: unknown) {
  return defineService({ name: 'counter', version: '1.0.0', logic: counterLogic, ready: 'ready', persist: persist as never });
}

async function node(store: FileStateStore, services: ReturnType<typeof defineService>[], name = 'p1'): Promise<Node> {
  const n = await createNode({ name, services, state: { store } });
  nodes.push(n);
  return n;
}

async function countTo(p: { ask<R>(e: { type: string }): Promise<R> }, times: number): Promise<void> {
  for (let i = 0; i < times; i++) await p.ask({ type: 'INC' });
}

function restartedOnce(n: Node, id: string): Promise<void> {
  return new Promise((resolve) => {
    let seen = 0;
    const off = n.services.onEvent((e) => {
      if (e.type === ServiceEventType.Started && e.instance === id && ++seen === 1) {
        off();
        resolve();
      }
    });
  });
}

describe('services - persisted state', () => {
  it('persist - a counter with persist counts 3, is stopped and started again, and reads 3', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter(true)]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    await p.stop();
    const again = await n.services.start('counter', { id: 'c1' });
    expect(again).not.toBe(p);
    expect(await again.ask({ type: 'READ' })).toBe(3);
    // And it goes on counting from there.
    expect(await again.ask({ type: 'INC' })).toBe(4);
  });

  it('persist - a stop in the same turn as the last change keeps that change', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter(true)]);
    const p = await n.services.start('counter', { id: 'c1' });
    expect([await p.ask({ type: 'INC' }), await p.ask({ type: 'INC' })]).toEqual([1, 2]);
    await p.stop();
    const again = await n.services.start('counter', { id: 'c1' });
    expect(await again.ask({ type: 'READ' })).toBe(2);
  });

  it('persist - a graceful restart on a new node over the same folder continues the count', async () => {
    const dir = await stateDir();
    const first = await node(new FileStateStore({ dir }), [counter(true)], 'p1');
    await countTo(await first.services.start('counter', { id: 'c1' }), 3);
    await first.shutdown();
    const second = await node(new FileStateStore({ dir }), [counter(true)], 'p2');
    expect(await (await second.services.start('counter', { id: 'c1' })).ask({ type: 'READ' })).toBe(3);
  });

  it('persist - a crash without restoreAfterCrash restarts from scratch', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter({ everyMs: 1 })]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    const restarted = restartedOnce(n, 'c1');
    p.tell({ type: 'CRASH' });
    await restarted;
    expect(p.incarnation).toBe(2);
    expect(await p.ask({ type: 'READ' })).toBe(0);
  });

  it('persist - a crash with restoreAfterCrash restarts from the saved count', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter({ everyMs: 1, restoreAfterCrash: true })]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    await waitFor(async () => ((await store.load('svc.counter.c1'))?.snapshot as { snapshot?: { context?: { n?: number } } })?.snapshot?.context?.n === 3, {
      timeout: 5000,
      message: 'the count of 3 saved',
    });
    const restarted = restartedOnce(n, 'c1');
    p.tell({ type: 'CRASH' });
    await restarted;
    expect(p.incarnation).toBe(2);
    expect(await p.ask({ type: 'READ' })).toBe(3);
  });

  it('persist - state left by a crashed node is not restored without restoreAfterCrash, and is with it', async () => {
    const dir = await stateDir();
    const store = new FileStateStore({ dir });
    // What a node killed while counting leaves: a record not marked clean.
    const crashed = await node(store, [counter({ everyMs: 1 })], 'p1');
    const p = await crashed.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    await waitFor(async () => ((await store.load('svc.counter.c1'))?.snapshot as { snapshot?: { context?: { n?: number } } })?.snapshot?.context?.n === 3, {
      timeout: 5000,
      message: 'the count of 3 saved',
    });
    const record = await store.load('svc.counter.c1');
    const unclean = { ...(record?.snapshot as object), clean: false };
    await crashed.shutdown();
    await store.save('svc.counter.c1', unclean);

    const fresh = await node(new FileStateStore({ dir }), [counter({ everyMs: 1 })], 'p2');
    const a = await fresh.services.start('counter', { id: 'c1' });
    expect(await a.ask({ type: 'READ' })).toBe(0);
    await fresh.shutdown();

    await store.save('svc.counter.c1', unclean);
    const restoring = await node(new FileStateStore({ dir }), [counter({ everyMs: 1, restoreAfterCrash: true })], 'p3');
    expect(await (await restoring.services.start('counter', { id: 'c1' })).ask({ type: 'READ' })).toBe(3);
  });

  it('persist - on NATS the default store is JetStream KV: a counter stopped on one node reads 3 on another', async () => {
    const servers = inject('natsUrl');
    const tag = `${process.pid}x${Date.now().toString(36)}`;
    const def = defineService({ name: 'counter', version: '1.0.0', logic: counterLogic, ready: 'ready', persist: true });
    const first = await createNode({ name: `kv1-${tag}`, transport: { kind: 'nats', servers }, services: [def] });
    nodes.push(first);
    const p = await first.services.start('counter', { id: `c-${tag}` });
    await countTo(p, 3);
    await p.stop();
    const second = await createNode({ name: `kv2-${tag}`, transport: { kind: 'nats', servers }, services: [def] });
    nodes.push(second);
    const again = await second.services.start('counter', { id: `c-${tag}` });
    expect(await again.ask({ type: 'READ' })).toBe(3);
    await again.stop();
    await again.cleanup({ state: true });
    expect(await new KvStateStore({ kv: second.transport.kv() }).load(`svc.counter.c-${tag}`)).toBeUndefined();
  });

  it('persist - cleanup({ state: true }) deletes the persisted state, and the next start begins at 0', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter(true)]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    await p.stop();
    expect(await store.load('svc.counter.c1')).toBeDefined();
    await p.cleanup({ state: true });
    expect(await store.load('svc.counter.c1')).toBeUndefined();
    expect(await (await n.services.start('counter', { id: 'c1' })).ask({ type: 'READ' })).toBe(0);
    await expect(p.cleanup({ stat: true } as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('persist - logic that reached its final state has finished: the next start begins fresh', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter(true)]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 2);
    p.tell({ type: 'FINISH' });
    await p.waitTillStopped(5000);
    expect(await store.load('svc.counter.c1')).toBeUndefined();
    expect(await (await n.services.start('counter', { id: 'c1' })).ask({ type: 'READ' })).toBe(0);
  });

  it('persist - a service without persist writes nothing', async () => {
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [counter(false)]);
    const p = await n.services.start('counter', { id: 'c1' });
    await countTo(p, 3);
    await p.stop();
    expect(await store.list()).toEqual([]);
  });

  it('persist - a machine with an invoked and a spawned child is restored and both children run (xstate #5077, #5057, #4873)', async () => {
    const child = setup({ types: {} as { context: { n: number } } }).createMachine({
      context: { n: 0 },
      on: { BUMP: { actions: assign({ n: ({ context }) => context.n + 1 }) } },
    });
    const logic = setup({ actors: { child } }).createMachine({
      // Children named by src string: XState cannot restore inline child logic (#4873), and persistSnapshots refuses it.
      entry: spawnChild('child', { id: 'spawned' }),
      initial: 'ready',
      states: {
        ready: {
          tags: ['ready'],
          invoke: { id: 'invoked', src: 'child' },
          on: {
            BUMP: { actions: [sendTo('invoked', { type: 'BUMP' }), sendTo('spawned', { type: 'BUMP' })] },
            READ: {
              actions: reply(({ self }) => {
                const children = self.getSnapshot().children as Record<string, { getSnapshot(): { context: { n: number } } } | undefined>;
                return { invoked: children.invoked?.getSnapshot().context.n, spawned: children.spawned?.getSnapshot().context.n };
              }),
            },
          },
        },
      },
    });
    const def = defineService({ name: 'family', version: '1.0.0', logic, ready: 'ready', persist: true });
    const store = new FileStateStore({ dir: await stateDir() });
    const n = await node(store, [def]);
    const p = await n.services.start('family', { id: 'f1' });
    p.tell({ type: 'BUMP' });
    p.tell({ type: 'BUMP' });
    expect(await p.ask({ type: 'READ' })).toEqual({ invoked: 2, spawned: 2 });
    await p.stop();
    const again = await n.services.start('family', { id: 'f1' });
    expect(await again.ask({ type: 'READ' })).toEqual({ invoked: 2, spawned: 2 });
    // Both children run after the restore: they take events and persist again.
    again.tell({ type: 'BUMP' });
    expect(await again.ask({ type: 'READ' })).toEqual({ invoked: 3, spawned: 3 });
    await again.stop();
    expect(await (await n.services.start('family', { id: 'f1' })).ask({ type: 'READ' })).toEqual({ invoked: 3, spawned: 3 });
  });

  it('persist - persist on a worker or process container is refused naming persist', () => {
    for (const container of ['worker', 'process'] as const) {
      let err: unknown;
      try {
        defineService({ name: 'w', version: '1.0.0', logic: counterLogic, container, module: import.meta.url, persist: true });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidSpecError);
      expect((err as InvalidSpecError).field).toBe('persist');
    }
  });

  it('persist - the node state option is validated, unknown keys refused', async () => {
    for (const [state, field] of [
      [{ dri: '/tmp/x' }, 'state.dri'],
      [{ dir: '' }, 'state.dir'],
      [{ store: {} }, 'state.store'],
      ['/tmp/x', 'state'],
    ] as const) {
      const err = await createNode({ name: 'bad', state: state as never }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(state)).toBeInstanceOf(InvalidSpecError);
      expect((err as InvalidSpecError).field).toBe(field);
    }
  });
});
