/**
 * The KV state store: the conformance suite on the in-process KvStore and
 * on JetStream KV (the run's shared nats-server), plus what only the KV
 * store promises: compare-and-set holds between two clients, so a fenced
 * old owner cannot overwrite the new owner's state.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, inject, it } from 'vitest';
import { StateConflictError } from '../src/errors.js';
import { KvStateStore } from '../src/services/state/KvStateStore.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { describeStateConformance } from './state.conformance.js';

const natsUrl = inject('natsUrl');
const freshBucket = () => `state-${randomBytes(5).toString('hex')}`;

describeStateConformance(
  'KvStateStore on LocalKvStore',
  async () => {
    const kv = new LocalKvStore({ server: new LocalKvServer() });
    const bucket = freshBucket();
    return {
      store: new KvStateStore({ kv, bucket }),
      async corrupt(key, bytes) {
        await (await kv.bucket(bucket)).put(key, bytes);
        return `${bucket}/${key}`;
      },
      async cleanup() {
        await kv.close();
      },
    };
  },
  { modelRuns: 60 },
);

describeStateConformance(
  'KvStateStore on JetStream KV',
  async () => {
    const t = await NatsTransport.connect({ servers: natsUrl, name: 'stateconf' });
    const bucket = freshBucket();
    return {
      store: new KvStateStore({ kv: t.kv(), bucket }),
      async corrupt(key, bytes) {
        await (await t.kv().bucket(bucket)).put(key, bytes);
        return `${bucket}/${key}`;
      },
      async cleanup() {
        await t.kv().destroy(bucket);
        await t.close();
      },
    };
  },
  { modelRuns: 15 },
);

describe('KvStateStore', () => {
  it('state kv - a fenced old owner on another connection cannot overwrite the new owner’s state', async () => {
    const oldOwner = await NatsTransport.connect({ servers: natsUrl, name: 'state-old' });
    const newOwner = await NatsTransport.connect({ servers: natsUrl, name: 'state-new' });
    const bucket = freshBucket();
    try {
      const a = new KvStateStore({ kv: oldOwner.kv(), bucket });
      const b = new KvStateStore({ kv: newOwner.kv(), bucket });
      const r1 = await a.save('svc.counter', { count: 1 }, { expectedRevision: 0 });
      // Failover: the new owner restores and writes on from what it loaded.
      const found = await b.load('svc.counter');
      expect(found).toEqual({ snapshot: { count: 1 }, revision: r1 });
      const r2 = await b.save('svc.counter', { count: 2 }, { expectedRevision: found!.revision });
      await expect(a.save('svc.counter', { count: 1_000 }, { expectedRevision: r1 })).rejects.toBeInstanceOf(StateConflictError);
      expect(await a.load('svc.counter')).toEqual({ snapshot: { count: 2 }, revision: r2 });
    } finally {
      await newOwner.kv().destroy(bucket);
      await Promise.all([oldOwner.close(), newOwner.close()]);
    }
  });

  it('state kv - a snapshot over the store’s largest value is refused naming snapshot, nothing written', async () => {
    const kv = new LocalKvStore({ server: new LocalKvServer() });
    const store = new KvStateStore({ kv });
    try {
      await expect(store.save('big', 'x'.repeat(kv.maxValueBytes))).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'snapshot' });
      expect(await store.list()).toEqual([]);
    } finally {
      await kv.close();
    }
  });
});
