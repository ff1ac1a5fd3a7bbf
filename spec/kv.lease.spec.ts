/**
 * The lease on the in-process store with a ManualClock: the fast tier the
 * KvStore seam makes possible. No server and no real time: every store call
 * settles in microtasks, so after each clock step one macrotask turn lets the
 * lease loops run to their next timer, and the safety argument of Lease.ts
 * can be checked at every millisecond of virtual time.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Lease, type LostReason } from '../src/services/cluster/Lease.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('lease on the in-process store, virtual time', () => {
  it('kv lease - a holder cut off from the store fences itself; the contender takes over only safetyMs after that, never overlapping', async () => {
    const clock = new ManualClock(1000);
    const server = new LocalKvServer();
    const s1 = new LocalKvStore({ server });
    const s2 = new LocalKvStore({ server });
    const timing = { leaseMs: 1000, renewMs: 100, safetyMs: 200, clock };
    const l1 = new Lease({ kv: await s1.bucket('leases'), name: 'leader', holder: 'h1', ...timing });
    const l2 = new Lease({ kv: await s2.bucket('leases'), name: 'leader', holder: 'h2', ...timing });
    const events: string[] = [];
    let lostAt: number | undefined;
    let acquiredAt: number | undefined;
    l1.on('lost', (r: LostReason) => {
      lostAt = clock.now();
      events.push(`h1 lost ${r}`);
    });
    l2.on('acquired', () => {
      acquiredAt = clock.now();
      events.push('h2 acquired');
    });
    try {
      l1.start();
      clock.advance(0);
      await settle();
      expect(l1.held).toBe(true);
      const first = l1.epoch!;
      l2.start();
      // Both run side by side for a while: h1 renews, h2 only watches.
      for (let t = 0; t < 3000; t += 10) {
        clock.advance(10);
        await settle();
        expect(l2.held).toBe(false);
      }
      expect(l1.held).toBe(true);
      // Cut h1 off from the store: its renewals fail from now on.
      await s1.close();
      for (let t = 0; t < 3000 && acquiredAt === undefined; t += 1) {
        clock.advance(1);
        await settle();
        expect(l1.held && l2.held, `two holders at ${clock.now()}`).toBe(false);
      }
      expect(events).toEqual(['h1 lost expired', 'h2 acquired']);
      expect(acquiredAt! - lostAt!).toBeGreaterThanOrEqual(timing.safetyMs);
      expect(l2.epoch!).toBeGreaterThan(first);
    } finally {
      await Promise.all([l1.stop(), l2.stop()]);
    }
  });
});
