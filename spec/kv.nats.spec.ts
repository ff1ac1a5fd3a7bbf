/**
 * JetStream KV through the KvStore seam: the conformance suite against the
 * run's shared nats-server, two connections as the two clients, plus what
 * only the NATS store shows (it closes with its transport).
 */
import { describe, expect, inject, it } from 'vitest';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { describeKvConformance } from './kv.conformance.js';

const natsUrl = inject('natsUrl');

describeKvConformance(
  'JetStreamKvStore',
  async () => {
    const ta = await NatsTransport.connect({ servers: natsUrl, name: 'kvconf-a' });
    const tb = await NatsTransport.connect({ servers: natsUrl, name: 'kvconf-b' });
    return {
      a: ta.kv(),
      b: tb.kv(),
      async cleanup() {
        await Promise.all([ta.close(), tb.close()]);
      },
    };
  },
  { modelRuns: 40, deliversEveryWrite: false },
);

describe('JetStreamKvStore', () => {
  it('kv nats - closing the transport closes its store: watches end and operations reject with KvClosedError', async () => {
    const t = await NatsTransport.connect({ servers: natsUrl, name: 'kv-close' });
    const other = await NatsTransport.connect({ servers: natsUrl, name: 'kv-close-other' });
    const name = `kvclose-${Date.now().toString(36)}`;
    try {
      const x = await t.kv().bucket(name);
      await x.put('k', new TextEncoder().encode('v'));
      const w = await x.watch();
      let n = 0;
      let first: () => void = () => {};
      const seenFirst = new Promise<void>((resolve) => {
        first = resolve;
      });
      const ended = (async () => {
        for await (const _ of w) {
          n++;
          first();
        }
      })();
      await seenFirst;
      await t.close();
      await ended;
      expect(n).toBe(1);
      expect(t.kv().isClosed).toBe(true);
      await expect(x.get('k')).rejects.toMatchObject({ name: 'KvClosedError', bucket: name });
      expect(await (await other.kv().bucket(name)).get('k')).not.toBeNull();
    } finally {
      await other.kv().destroy(name).catch(() => {});
      await Promise.all([t.close(), other.close()]);
    }
  });
});
