/**
 * A persisted machine waiting in an `after` state keeps its timer across a
 * stop and a restore (XState #5331: XState itself loses it): the due time is
 * saved beside the snapshot and armed again on restore (state/pendingTimers.ts),
 * on the node's injected clock, so these tests move time by hand.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { ManualClock } from '../src/clock.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { FileStateStore } from '../src/services/state/index.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

const MINUTE = 60_000;

const timedLogic = setup({}).createMachine({
  initial: 'idle',
  on: { READ: { actions: reply(({ self }) => String(self.getSnapshot().value)) } },
  states: {
    idle: { tags: ['ready'], on: { WAIT: 'waiting' } },
    waiting: { tags: ['ready'], after: { [MINUTE]: 'expired' }, on: { CANCEL: 'idle' } },
    expired: { tags: ['ready'], on: { WAIT: 'waiting' } },
  },
});

const timed = defineService({ name: 'timed', version: '1.0.0', logic: timedLogic, ready: 'ready', persist: { everyMs: 1 } });

interface StoredTimers {
  readonly timers?: ReadonlyArray<{ readonly id: string; readonly event: { readonly type: string }; readonly dueAt: number }>;
}

async function fixture(): Promise<{ store: FileStateStore; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'halyard-timers-'));
  dirs.push(dir);
  return { store: new FileStateStore({ dir }), dir };
}

async function nodeOn(dir: string, clock: ManualClock, name: string): Promise<Node> {
  const n = await createNode({ name, clock, services: [timed], state: { store: new FileStateStore({ dir }) } });
  nodes.push(n);
  return n;
}

/** Start `t1`, enter `waiting` (a one-minute `after`), stop: the record keeps the timer. */
async function leaveWaiting(dir: string): Promise<void> {
  const first = await nodeOn(dir, new ManualClock(), 'tm1');
  const p = await first.services.start('timed', { id: 't1' });
  p.tell({ type: 'WAIT' });
  expect(await p.ask({ type: 'READ' })).toBe('waiting');
  await p.stop();
  await first.shutdown();
}

describe('persist - a pending after timer across restore (xstate #5331)', () => {
  it('persist - a machine restored while waiting in an after state still moves on when its time comes', async () => {
    const { store, dir } = await fixture();
    const before = Date.now();
    await leaveWaiting(dir);
    const record = (await store.load('svc.timed.t1'))?.snapshot as StoredTimers;
    expect(record.timers).toHaveLength(1);
    expect(record.timers?.[0]?.event.type).toMatch(/^xstate\.after\.60000\./);
    expect(record.timers?.[0]?.dueAt).toBeGreaterThanOrEqual(before + MINUTE);

    const clock = new ManualClock();
    const again = await (await nodeOn(dir, clock, 'tm2')).services.start('timed', { id: 't1' });
    expect(await again.ask({ type: 'READ' })).toBe('waiting');
    clock.advance(MINUTE / 2);
    expect(await again.ask({ type: 'READ' })).toBe('waiting');
    clock.advance(MINUTE);
    expect(await again.ask({ type: 'READ' })).toBe('expired');
  });

  it('persist - leaving the state cancels a re-armed after timer, as it cancels its own', async () => {
    const { dir } = await fixture();
    await leaveWaiting(dir);
    const clock = new ManualClock();
    const again = await (await nodeOn(dir, clock, 'tm2')).services.start('timed', { id: 't1' });
    again.tell({ type: 'CANCEL' });
    expect(await again.ask({ type: 'READ' })).toBe('idle');
    clock.advance(2 * MINUTE);
    expect(await again.ask({ type: 'READ' })).toBe('idle');
  });

  it('persist - a timer that fell due while the instance was stopped fires at once on restore', async () => {
    const { store, dir } = await fixture();
    await leaveWaiting(dir);
    // What a long stop leaves: the due time is in the past.
    const found = await store.load('svc.timed.t1');
    const record = found?.snapshot as StoredTimers & Record<string, unknown>;
    const timers = record.timers?.map((t) => ({ ...t, dueAt: Date.now() - 1 }));
    await store.save('svc.timed.t1', { ...record, timers }, { expectedRevision: found?.revision ?? 0 });

    const clock = new ManualClock();
    const again = await (await nodeOn(dir, clock, 'tm2')).services.start('timed', { id: 't1' });
    clock.advance(0);
    await waitFor(async () => (await again.ask({ type: 'READ' })) === 'expired', { timeout: 5000, message: 't1 expired' });
  });

  it('persist - a restored timer is saved again while pending, so a second restore still fires it', async () => {
    const { dir } = await fixture();
    await leaveWaiting(dir);
    const second = await (await nodeOn(dir, new ManualClock(), 'tm2')).services.start('timed', { id: 't1' });
    expect(await second.ask({ type: 'READ' })).toBe('waiting');
    await second.stop();
    const clock = new ManualClock();
    const third = await (await nodeOn(dir, clock, 'tm3')).services.start('timed', { id: 't1' });
    clock.advance(MINUTE + 1);
    expect(await third.ask({ type: 'READ' })).toBe('expired');
  });
});
