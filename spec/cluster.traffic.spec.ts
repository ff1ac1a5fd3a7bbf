import { afterEach, describe, expect, inject, it } from 'vitest';
import { CountingTransport, type Counts, zeroCounts } from './cluster/countingTransport.js';
import { connect, TestCluster, uniquePrefix } from './cluster/harness.js';
import { waitFor } from './support/wait.js';

const clusters: TestCluster[] = [];

afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

/** Start `n` members in this process, each on its own NATS connection, and count their traffic in steady state. */
async function measure(n: number): Promise<{ perInterval: Counts; intervals: number }> {
  const servers = inject('natsUrl');
  const c = new TestCluster(servers, uniquePrefix('t'));
  clusters.push(c);
  const names = Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`);
  const counters: CountingTransport[] = [];
  // Start in small batches: joins are rare events, but 50 at once would all be "new" together.
  for (let i = 0; i < names.length; i += 10) {
    await Promise.all(
      names.slice(i, i + 10).map(async (name) => {
        const transport = await connect(servers, `${c.prefix}-${name}-count`);
        const counting = new CountingTransport(transport, c.prefix);
        counters.push(counting);
        await c.start(name, { transport: counting });
      }),
    );
  }
  await waitFor(() => c.allSee(names, names), { timeout: 20_000, interval: 20, message: `all ${n} see all ${n} up` });
  // Steady state: joins are done; every node watches exactly its k predecessors.
  await waitFor(() => names.every((x) => c.members.get(x)!.membership.watching.length === Math.min(2, n - 1)), {
    timeout: 5000,
    message: 'every ring settled',
  });
  for (const t of counters) t.counts = zeroCounts();
  const intervals = 8;
  await waitFor(() => counters.reduce((s, t) => s + t.counts.hbPublished, 0) >= intervals * n, {
    timeout: 10_000,
    interval: 10,
    message: `${intervals} heartbeat intervals`,
  });
  const total = zeroCounts();
  for (const t of counters) for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += t.counts[k];
  // One interval = one heartbeat published by each node; counts are normalised by that, not by time.
  const measured = total.hbPublished / n;
  const perInterval = zeroCounts();
  for (const k of Object.keys(total) as (keyof Counts)[]) perInterval[k] = total[k] / measured;
  expect(names.filter((x) => c.members.get(x)!.membership.members().some((m) => m.status !== 'up'))).toEqual([]);
  return { perInterval, intervals: measured };
}

describe('cluster - heartbeat traffic', () => {
  it('cluster - heartbeat messages per interval grow linearly with the number of nodes (3, 10, 50)', async () => {
    const rows: string[] = [];
    for (const n of [3, 10, 50]) {
      const { perInterval: p } = await measure(n);
      const total = p.hbPublished + p.hbDelivered + p.eventsPublished + p.eventsDelivered + p.probeTraffic;
      rows.push(
        `N=${String(n).padStart(2)}  published ${p.hbPublished.toFixed(1).padStart(5)}  delivered ${p.hbDelivered.toFixed(1).padStart(6)}  ` +
          `events ${(p.eventsPublished + p.eventsDelivered).toFixed(1).padStart(4)}  probes ${p.probeTraffic.toFixed(1).padStart(4)}  ` +
          `total ${total.toFixed(1).padStart(6)}  = ${(total / n).toFixed(2)}·N  (all-to-all: ${n + n * n} = N + N²)`,
      );
      // Each node publishes one heartbeat; k = 2 watchers plus its own echo receive it.
      expect(p.hbPublished).toBeCloseTo(n, 5);
      expect(p.hbDelivered).toBeLessThanOrEqual(3 * n * 1.1);
      // Everything else (events, probes) is quiet in steady state; allow stragglers.
      expect(total).toBeLessThanOrEqual(5 * n);
    }
    console.log(`[cluster] heartbeat traffic per interval (k = 2):\n${rows.join('\n')}`);
  }, 60_000);
});
