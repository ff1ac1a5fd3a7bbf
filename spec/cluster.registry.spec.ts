import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { isStale } from '../src/services/cluster/fencing.js';
import { bucketName, openKv } from '../src/services/cluster/index.js';
import { type ClaimResult, Registry } from '../src/services/cluster/Registry.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { connect, uniquePrefix } from './cluster/harness.js';

const NODES = 8;

/** The same scenarios on both stores: JetStream KV on the shared nats-server, and the in-process store of one LocalBus. */
const tiers: Array<{ label: string; connect: (name: string) => Promise<Transport> }> = [
  { label: 'JetStream KV', connect: (name) => connect(inject('natsUrl'), name) },
  { label: 'the in-process store', connect: async (name) => new LocalTransport({ name, bus: localBus }) },
];
const localBus = new LocalBus();

describe.each(tiers)('cluster - registry on $label', (tier) => {
  const prefix = uniquePrefix('r');
  const bucket = bucketName(prefix, 'registry');
  const transports: Transport[] = [];
  /** One registry per node, each on its own connection: claims race for real at the server. */
  const registries: Registry[] = [];

  beforeAll(async () => {
    for (let i = 0; i < NODES; i++) {
      const t = await tier.connect(`${prefix}-n${i}`);
      transports.push(t);
      registries.push(new Registry({ kv: await openKv(t, bucket) }));
    }
  });

  afterAll(async () => {
    if (transports[0]) await transports[0].kv().destroy(bucket).catch(() => {});
    await Promise.allSettled(transports.map((t) => t.close()));
  });

  it('cluster - concurrent claims of one name from many nodes: exactly one winner, and the losers see it', async () => {
    for (let round = 0; round < 20; round++) {
      const name = `svc.race${round}`;
      const results = await Promise.all(registries.map((r, i) => r.claim(name, { node: `n${i}`, incarnation: 1 })));
      const winners = results.map((r, i) => (r.ok ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      const winner = winners[0]!;
      const epoch = (results[winner] as Extract<ClaimResult, { ok: true }>).epoch;
      for (const r of results) if (!r.ok) expect(r.owner).toMatchObject({ node: `n${winner}`, epoch });
      await expect(registries[0]!.owner(name)).resolves.toMatchObject({ name, node: `n${winner}`, epoch });
    }
  });

  it('cluster - takeover races: of many claimers replacing the same epoch one wins, with a newer epoch', async () => {
    const name = 'svc.failover';
    const first = await registries[0]!.claim(name, { node: 'n0' });
    expect(first.ok).toBe(true);
    const old = (first as Extract<ClaimResult, { ok: true }>).epoch;
    const results = await Promise.all(registries.slice(1).map((r, i) => r.claim(name, { node: `n${i + 1}`, replaces: old })));
    const won = results.filter((r): r is Extract<ClaimResult, { ok: true }> => r.ok);
    expect(won).toHaveLength(1);
    expect(isStale(old, won[0]!.epoch)).toBe(true);
    // The fenced-off owner can neither release nor replace its successor's claim.
    await expect(registries[0]!.release(name, old)).resolves.toBe(false);
    await expect(registries[0]!.claim(name, { node: 'n0', replaces: old })).resolves.toMatchObject({ ok: false });
    await expect(registries[0]!.release(name, won[0]!.epoch)).resolves.toBe(true);
    await expect(registries[0]!.owner(name)).resolves.toBeUndefined();
    const again = await registries[3]!.claim(name, { node: 'n3' });
    expect(again.ok && again.epoch > won[0]!.epoch).toBe(true);
  });

  it('cluster - records: put with compare-and-set, get, list, watch', async () => {
    const r = registries[0]!;
    const created = await r.put('type', 'orders', { spec: 'v1' }, { expect: 0 });
    expect(created.ok).toBe(true);
    await expect(r.put('type', 'orders', { spec: 'v0' }, { expect: 0 })).resolves.toEqual({ ok: false, reason: 'conflict' });
    const rev = (created as { revision: number }).revision;
    await expect(r.put('type', 'orders', { spec: 'v2' }, { expect: rev })).resolves.toMatchObject({ ok: true });
    await expect(r.put('type', 'orders', { spec: 'v3' }, { expect: rev })).resolves.toEqual({ ok: false, reason: 'conflict' });
    await expect(r.get('type', 'orders')).resolves.toMatchObject({ value: { spec: 'v2' } });
    await r.put('instance', 'orders.eu', { type: 'orders' });
    await r.put('config', 'orders', { replicas: 2 });
    await r.put('node', 'n0', { zone: 'a' });
    const seen: string[] = [];
    const stop = await registries[1]!.watch('instance', (c) => seen.push(`${c.operation}:${c.name}`));
    await r.put('instance', 'orders.us', { type: 'orders' });
    await r.remove('instance', 'orders.eu');
    await expect.poll(() => seen, { timeout: 5000 }).toEqual(['put:orders.eu', 'put:orders.us', 'delete:orders.eu']);
    stop();
    await expect(r.list('instance')).resolves.toEqual(['orders.us']);
    expect(r.operations).toBeGreaterThan(0);
  });

  it('cluster - model: random interleavings of claim, takeover and release from several nodes never give two owners', async () => {
    type Op = { node: number; kind: 'claim' | 'takeover' | 'release' };
    const op = fc.record({ node: fc.integer({ min: 0, max: 3 }), kind: fc.constantFrom<Op['kind']>('claim', 'takeover', 'release') });
    let run = 0;
    let totalOps = 0;
    const started = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 8 }), fc.scheduler(), async (batches, s) => {
        const name = `model.r${run++}`;
        type Owner = { node: number; epoch: number } | null;
        let model: Owner = null;
        /** What each node last learned of the name's epoch (its own claim, or the owner it saw). */
        const seen = new Map<number, number>();
        /** Epoch each node believes it owns. */
        const mine = new Map<number, number>();
        for (const batch of batches) {
          // The scheduler decides the order in which the nodes' calls go out; the server decides the races.
          const done = batch.map((o) =>
            s.schedule(Promise.resolve(o), `${o.kind}@n${o.node}`).then(async () => {
              const reg = registries[o.node]!;
              const known = seen.get(o.node);
              if (o.kind === 'claim') return { o, arg: undefined, res: await reg.claim(name, { node: `n${o.node}` }) };
              if (o.kind === 'takeover') {
                if (known === undefined) return { o, arg: undefined, res: undefined };
                return { o, arg: known, res: await reg.claim(name, { node: `n${o.node}`, replaces: known }) };
              }
              const held = mine.get(o.node);
              if (held === undefined) return { o, arg: undefined, res: undefined };
              return { o, arg: held, res: await reg.release(name, held) };
            }),
          );
          await s.waitAll();
          const results = await Promise.all(done);
          totalOps += results.length;

          // Linearize the successes (claim epochs are KV revisions: their order is the store's order) and replay them on the model.
          const claims = results
            .filter((r) => r.o.kind !== 'release' && r.res !== undefined && (r.res as ClaimResult).ok)
            .map((r) => ({ node: r.o.node, replaces: r.arg, epoch: (r.res as Extract<ClaimResult, { ok: true }>).epoch }))
            .sort((a, b) => a.epoch - b.epoch);
          const released = new Set(results.filter((r) => r.o.kind === 'release' && r.res === true).map((r) => r.arg as number));
          const states: Owner[] = [model];
          let state: Owner = model;
          const releaseIfDue = () => {
            if (state !== null && released.delete(state.epoch)) {
              state = null;
              states.push(state);
            }
          };
          for (const c of claims) {
            releaseIfDue();
            if (c.replaces === undefined) expect(state).toBeNull();
            else expect(state?.epoch).toBe(c.replaces);
            state = { node: c.node, epoch: c.epoch };
            states.push(state);
          }
          releaseIfDue();
          expect([...released]).toEqual([]);
          // A refused call must have been refusable at some point of that history.
          for (const r of results) {
            if (r.res === undefined) continue;
            const failed = r.o.kind === 'release' ? r.res === false : !(r.res as ClaimResult).ok;
            if (!failed) continue;
            if (r.o.kind === 'claim') expect(states.some((x) => x !== null)).toBe(true);
            else expect(states.some((x) => x?.epoch !== r.arg)).toBe(true);
          }
          model = state;

          // Each node's knowledge, as its results told it. A node's concurrent calls may complete in any
          // order, so it keeps the newest epoch it has learned, and a release only drops the epoch it released.
          const learn = (m: Map<number, number>, node: number, epoch: number) => m.set(node, Math.max(m.get(node) ?? 0, epoch));
          for (const r of results) {
            if (r.res === undefined) continue;
            if (r.o.kind === 'release') {
              if (r.res === true && mine.get(r.o.node) === r.arg) mine.delete(r.o.node);
              continue;
            }
            const res = r.res as ClaimResult;
            if (res.ok) {
              learn(mine, r.o.node, res.epoch);
              learn(seen, r.o.node, res.epoch);
            } else if (res.owner !== undefined) {
              learn(seen, r.o.node, res.owner.epoch);
            }
          }
          // The store agrees with the model...
          const stored = await registries[0]!.owner(name);
          expect(stored === undefined ? null : { node: Number(stored.node.slice(1)), epoch: stored.epoch }).toEqual(model);
          // ...and never two owners: of all nodes that believe they own the name, at most one holds
          // the current epoch; every other belief is stale and would be fenced off.
          const current = model?.epoch ?? Number.POSITIVE_INFINITY;
          const live = [...mine.entries()].filter(([, e]) => !isStale(e, current));
          expect(live.length).toBeLessThanOrEqual(1);
          if (model !== null) expect(live).toEqual([[model.node, model.epoch]]);
        }
      }),
      { numRuns: 100 },
    );
    const secs = (performance.now() - started) / 1000;
    console.log(`[cluster] registry model: ${run} runs, ${totalOps} operations, ${(totalOps / secs).toFixed(0)} ops/s including checks`);
  }, 60_000);

  it('cluster - registry throughput (claims + releases per second, informational)', async () => {
    const r = registries[0]!;
    const n = 300;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      const c = await r.claim(`bench.s${i}`, { node: 'n0' });
      if (c.ok) await r.release(`bench.s${i}`, c.epoch);
    }
    const sequential = (2 * n) / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    await Promise.all(
      registries.map(async (reg, k) => {
        for (let i = 0; i < n / NODES; i++) {
          const c = await reg.claim(`bench.p${k}.${i}`, { node: `n${k}` });
          if (c.ok) await reg.release(`bench.p${k}.${i}`, c.epoch);
        }
      }),
    );
    const parallel = (2 * Math.floor(n / NODES) * NODES) / ((performance.now() - t1) / 1000);
    console.log(`[cluster] registry: ${sequential.toFixed(0)} ops/s sequential, ${parallel.toFixed(0)} ops/s from ${NODES} connections`);
    expect(sequential).toBeGreaterThan(0);
  });
});
