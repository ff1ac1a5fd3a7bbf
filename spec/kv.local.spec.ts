/**
 * The in-process KvStore: the conformance suite, plus what only it promises
 * (buckets shared through a LocalBus, private servers isolated).
 */
import { describe, expect, it } from 'vitest';
import { openKv } from '../src/services/cluster/kv.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import { describeKvConformance } from './kv.conformance.js';

const bytes = (s: string) => new TextEncoder().encode(s);

describeKvConformance(
  'LocalKvStore',
  async () => {
    const server = new LocalKvServer();
    const a = new LocalKvStore({ server });
    const b = new LocalKvStore({ server });
    return {
      a,
      b,
      async cleanup() {
        await Promise.all([a.close(), b.close()]);
      },
    };
  },
  { modelRuns: 200, deliversEveryWrite: true },
);

describe('LocalKvStore', () => {
  it('kv local - transports on one LocalBus share its buckets; another bus sees none of them', async () => {
    const bus = new LocalBus();
    const t1 = new LocalTransport({ name: 't1', bus });
    const t2 = new LocalTransport({ name: 't2', bus });
    const other = new LocalTransport({ name: 'other', bus: new LocalBus() });
    try {
      expect(t1.kv()).toBe(t1.kv());
      const rev = await (await t1.kv().bucket('shared')).put('k', bytes('v'));
      expect((await (await t2.kv().bucket('shared')).get('k'))?.revision).toBe(rev);
      expect(await (await other.kv().bucket('shared')).get('k')).toBeNull();
      expect(bus.kvServer.buckets).toEqual(['shared']);
    } finally {
      await Promise.all([t1.close(), t2.close(), other.close()]);
    }
  });

  it('kv local - closing a transport closes its store only: the buckets stay on the bus for the others', async () => {
    const bus = new LocalBus();
    const t1 = new LocalTransport({ name: 't1', bus });
    const t2 = new LocalTransport({ name: 't2', bus });
    const x = await t1.kv().bucket('b');
    await x.put('k', bytes('v'));
    await t1.close();
    expect(t1.kv().isClosed).toBe(true);
    await expect(x.get('k')).rejects.toMatchObject({ name: 'KvClosedError' });
    expect(await (await t2.kv().bucket('b')).get('k')).not.toBeNull();
    await t2.close();
  });

  it('kv local - the cluster opening a bucket with a bad name gets InvalidKvKeyError naming bucket, not "unavailable"', async () => {
    const store = new LocalKvStore();
    await expect(openKv(store, 'bad.name')).rejects.toMatchObject({ name: 'InvalidKvKeyError', field: 'bucket' });
    await store.close();
    await expect(openKv(store, 'good')).rejects.toMatchObject({ name: 'KvClosedError' });
  });

  it('kv local - a store made without a server has a private one', async () => {
    const a = new LocalKvStore();
    const b = new LocalKvStore();
    await (await a.bucket('b')).put('k', bytes('v'));
    expect(await (await b.bucket('b')).get('k')).toBeNull();
  });
});
