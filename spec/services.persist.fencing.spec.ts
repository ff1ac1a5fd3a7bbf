/**
 * Fencing of a persisted instance's state between cluster owners
 * (instancePersistence.ts): the owner that takes an instance over claims its
 * record under its epoch, so an old owner still running (partitioned, not
 * yet self-fenced) cannot overwrite or delete the new owner's state, and an
 * owner with an older epoch started late cannot take it back. Two owners on
 * two connections to the run's nats-server, one JetStream KV bucket.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { assign, createActor, setup } from 'xstate';
import { ManualClock } from '../src/clock.js';
import { StaleEpochError } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { InstancePersistence } from '../src/services/instances/instancePersistence.js';
import { observedLogic } from '../src/services/instances/observedLogic.js';
import { KvStateStore } from '../src/services/state/KvStateStore.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { waitFor } from './support/wait.js';

const natsUrl = inject('natsUrl');
const KEY = 'svc.counter.c1';

const counterLogic = setup({ types: {} as { context: { n: number } } }).createMachine({
  context: { n: 0 },
  initial: 'ready',
  states: { ready: { on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) } } } },
});

const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of closers.splice(0).reverse()) await c();
});

/** A connection of its own (one per owner, as two nodes have) to a bucket of this test's own. */
async function storeOn(bucket: string): Promise<KvStateStore> {
  const t = await NatsTransport.connect({ servers: natsUrl, name: `fence-${bucket}` });
  closers.push(() => t.close());
  return new KvStateStore({ kv: t.kv(), bucket });
}

/** What an owner logs at warn: every refused write ends up here. */
function recordingLogger(warnings: string[]): Logger {
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg), info: () => {}, debug: () => {}, error: () => {} };
  return log as unknown as Logger;
}

/** One owner's incarnation of the counter under `epoch`, as ServiceInstance runs it (load, wrap, observe, begin). */
async function owner(store: KvStateStore, epoch: number) {
  const warnings: string[] = [];
  const log = recordingLogger(warnings);
  const persistence = new InstancePersistence(store, KEY, { restoreAfterCrash: true, everyMs: 0 }, new ManualClock(), () => log);
  await persistence.load(epoch);
  const actor = createActor(observedLogic(persistence.wrap(counterLogic), (s) => persistence.observe(s)));
  actor.start();
  persistence.begin();
  closers.push(async () => actor.stop());
  return { persistence, actor, warnings };
}

interface Stored {
  readonly clean: boolean;
  readonly epoch?: number;
  readonly snapshot: { context?: { n?: number } } | null;
}

async function stored(store: KvStateStore): Promise<Stored | undefined> {
  return (await store.load(KEY))?.snapshot as Stored | undefined;
}

describe('persist - fencing between cluster owners', () => {
  it('persist - an old owner still running after failover cannot overwrite the new owner’s state', async () => {
    const bucket = `fence-${randomBytes(5).toString('hex')}`;
    const oldStore = await storeOn(bucket);
    const newStore = await storeOn(bucket);
    closers.push(() => newStore.list().then((keys) => Promise.all(keys.map((k) => newStore.delete(k)))));

    const old = await owner(oldStore, 5);
    old.actor.send({ type: 'INC' });
    old.actor.send({ type: 'INC' });
    await waitFor(async () => (await stored(newStore))?.snapshot?.context?.n === 2, { timeout: 5000, message: 'the old owner saved 2' });
    expect((await stored(newStore))?.epoch).toBe(5);

    // Failover: a survivor takes the instance over under a newer epoch while the old owner still runs.
    const next = await owner(newStore, 9);
    expect(next.persistence.restored).toBe(true);
    expect(next.actor.getSnapshot().context.n).toBe(2);

    old.actor.send({ type: 'INC' });
    old.actor.send({ type: 'INC' });
    await waitFor(() => old.warnings.includes('persisted state not saved'), { timeout: 5000, message: 'the old owner’s write refused' });
    next.actor.send({ type: 'INC' });
    await waitFor(async () => (await stored(newStore))?.snapshot?.context?.n === 3, { timeout: 5000, message: 'the new owner saved 3' });
    expect((await stored(newStore))?.epoch).toBe(9);

    // The old owner reaching its end writes nothing either: not its clean record, not a delete.
    await old.persistence.end('finished');
    expect(old.warnings).toContain('persisted state not saved at the end');
    expect((await stored(newStore))?.snapshot?.context?.n).toBe(3);

    await next.persistence.end('clean');
    expect(await stored(newStore)).toMatchObject({ clean: true, epoch: 9, snapshot: { context: { n: 3 } } });
  });

  it('persist - an owner whose epoch is older than the stored state’s is refused with StaleEpochError, nothing written', async () => {
    const bucket = `fence-${randomBytes(5).toString('hex')}`;
    const store = await storeOn(bucket);
    closers.push(() => store.delete(KEY));
    const current = await owner(store, 9);
    current.actor.send({ type: 'INC' });
    await waitFor(async () => (await stored(store))?.snapshot?.context?.n === 1, { timeout: 5000, message: 'the owner saved 1' });
    const revision = (await store.load(KEY))?.revision;

    const late = new InstancePersistence(store, KEY, { restoreAfterCrash: true, everyMs: 0 }, new ManualClock(), () => recordingLogger([]));
    const err = await late.load(7).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleEpochError);
    expect(err).toMatchObject({ name: 'StaleEpochError', epoch: 7, current: 9, resource: KEY });
    expect((await store.load(KEY))?.revision).toBe(revision);
  });

  it('persist - a new owner of an instance that never saved claims the key, so the old owner’s first write is refused', async () => {
    const bucket = `fence-${randomBytes(5).toString('hex')}`;
    const oldStore = await storeOn(bucket);
    const newStore = await storeOn(bucket);
    closers.push(() => newStore.delete(KEY));
    // Both loaded before either wrote: the old owner holds "absent".
    const warnings: string[] = [];
    const oldP = new InstancePersistence(oldStore, KEY, { restoreAfterCrash: true, everyMs: 0 }, new ManualClock(), () => recordingLogger(warnings));
    await oldP.load();
    const oldActor = createActor(observedLogic(oldP.wrap(counterLogic), (s) => oldP.observe(s)));
    oldActor.start();
    oldP.begin();
    closers.push(async () => oldActor.stop());

    const next = await owner(newStore, 9);
    expect(next.persistence.restored).toBe(false);
    expect(await stored(newStore)).toEqual({ clean: false, snapshot: null, epoch: 9 });
    oldActor.send({ type: 'INC' });
    await waitFor(() => warnings.includes('persisted state not saved'), { timeout: 5000, message: 'the old owner’s write refused' });
    next.actor.send({ type: 'INC' });
    next.actor.send({ type: 'INC' });
    await waitFor(async () => (await stored(newStore))?.snapshot?.context?.n === 2, { timeout: 5000, message: 'the new owner saved 2' });
  });
});
