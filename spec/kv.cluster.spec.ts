/**
 * The cluster on either store: the same scenarios on the in-process store
 * (several nodes on one LocalBus, the fast tier) and on JetStream KV (a real
 * nats-server). Only the transport differs: the cluster reaches its buckets
 * through `transport.kv()`.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node, type TransportConfig } from '../src/index.js';
import { bucketName, Lease, openKv } from '../src/services/cluster/index.js';
import { decodeJson } from '../src/services/cluster/kv.js';
import { type ClaimResult, Registry } from '../src/services/cluster/Registry.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

interface Tier {
  readonly label: string;
  readonly store: 'local' | 'jetstream';
  /** A transport config for createNode; one bus (or server) per test. */
  config(): TransportConfig;
  /** A bare transport on the same bus (or server) as `config()`'s. */
  connect(name: string): Promise<Transport>;
}

function localTier(): Tier {
  let bus = new LocalBus();
  return {
    label: 'in-process store (LocalBus)',
    store: 'local',
    config: () => {
      bus = new LocalBus();
      return { kind: 'local', bus };
    },
    connect: async (name) => new LocalTransport({ name, bus }),
  };
}

function natsTier(): Tier {
  return {
    label: 'JetStream KV (nats-server)',
    store: 'jetstream',
    config: () => ({ kind: 'nats', servers: inject('natsUrl') }),
    connect: (name) => NatsTransport.connect({ servers: inject('natsUrl'), name }),
  };
}

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

describe.each([localTier(), natsTier()])('kv cluster on $label', (tier) => {
  const nodes: Node[] = [];
  const transports: Transport[] = [];
  const buckets: Array<{ t: Transport; name: string }> = [];
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown()));
    for (const { t, name } of buckets.splice(0)) await t.kv().destroy(name).catch(() => {});
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  });

  let prefix = '';
  async function cluster(names: string[]): Promise<Node[]> {
    prefix = uniquePrefix('kvc');
    const transport = tier.config();
    const out: Node[] = [];
    for (const name of names) {
      const n = await createNode({ name, prefix, transport, cluster: fast });
      expect(n.transport.kv().kind).toBe(tier.store);
      nodes.push(n);
      out.push(n);
    }
    await waitFor(() => out.every((n) => n.nodes().filter((m) => m.status === 'up').length === names.length), {
      timeout: 10_000,
      message: 'every node sees every node up',
    });
    return out;
  }

  /** `n` bare transports; `fresh`: on a new bus (or the server), else on the bus of the last `cluster()`. */
  async function connectAll(n: number, tag: string, fresh = true): Promise<Transport[]> {
    if (fresh) tier.config();
    const out: Transport[] = [];
    for (let i = 0; i < n; i++) out.push(await tier.connect(`${tag}-${i}`));
    transports.push(...out);
    return out;
  }

  it('kv cluster - a remote child runs on its node and answers by name', async () => {
    const [a, b] = await cluster(['a', 'b']);
    b!.register('counter', counterMachine);
    await waitFor(() => a!.cluster!.typesOf('b')?.counter !== undefined, { timeout: 5000, message: "b's types reach a" });
    a!.supervise({ children: [{ id: 'c', start: { type: 'counter', input: { start: 41 } }, node: 'b', name: 'rc' }] });
    await waitFor(() => b!.whereis('rc'), { timeout: 5000, message: 'rc runs on b' });
    await b!.flush();
    a!.ref('rc').tell({ type: 'INC' });
    expect(await a!.ref('rc').ask({ type: 'GET' })).toBe(42);
    expect(b!.cluster!.instances()).toMatchObject([{ name: 'rc', type: 'counter', supervisor: 'a' }]);
  });

  it('kv cluster - singleton: a second instance anywhere is refused, the store’s claim deciding', async () => {
    const [a, b] = await cluster(['a', 'b']);
    a!.register('leader', counterMachine, { cardinality: 'singleton' });
    b!.register('leader', counterMachine, { cardinality: 'singleton' });
    await waitFor(() => a!.cluster!.typesOf('b')?.leader !== undefined && b!.cluster!.typesOf('a')?.leader !== undefined, { timeout: 5000, message: 'types seen' });
    await a!.cluster!.start({ name: 'leader1', type: 'leader', node: 'a' });
    const err = await b!.cluster!.start({ name: 'leader2', type: 'leader', node: 'b' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expect.stringMatching(/ERR_SERVICE_LOCKED|ERR_NO_NODE_AVAILABLE/) });
    expect(b!.cluster!.instances()).toEqual([]);
    expect(a!.cluster!.instances().map((i) => i.name)).toEqual(['leader1']);
  });

  it('kv cluster - a cluster-supervised instance fails over when its node leaves, and the decision is in the store', async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    for (const n of [a, b, c]) n!.register('counter', counterMachine);
    await waitFor(() => [a, b, c].every((x) => ['a', 'b', 'c'].every((n) => x!.cluster!.typesOf(n)?.counter !== undefined)), {
      timeout: 5000,
      message: 'types seen everywhere',
    });
    const coordinator = await waitFor(() => [a, b, c].find((n) => n!.cluster!.isCoordinator), { timeout: 5000, message: 'a coordinator' });
    const victim = [a, b, c].find((n) => n !== coordinator)!;
    await coordinator.cluster!.start({ name: 'p1', type: 'counter', node: victim.name, placement: 'any', restart: 'permanent' });
    await waitFor(() => coordinator.cluster!.records().length === 1, { timeout: 5000, message: 'record seen' });
    nodes.splice(nodes.indexOf(victim), 1);
    await victim.shutdown();
    const survivors = [a, b, c].filter((n) => n !== victim);
    await waitFor(() => survivors.some((n) => n!.whereis('p1')), { timeout: 10_000, message: 'p1 restarted on a survivor' });
    const decisions = await waitFor(
      async () => {
        const ds = await coordinator.cluster!.decisions();
        return ds.length === 1 ? ds : undefined;
      },
      { timeout: 5000, message: 'the decision recorded' },
    );
    expect(decisions.map((d) => [d.name, d.action, d.reason])).toEqual([['p1', 'restart', 'nodedown']]);
  });

  it('kv cluster - a node that falls silent (connection closed, no leave) is judged down by compare-and-set in the store, and its instance restarts on a survivor', async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    for (const n of [a, b, c]) n!.register('counter', counterMachine);
    await waitFor(() => [a, b, c].every((x) => ['a', 'b', 'c'].every((n) => x!.cluster!.typesOf(n)?.counter !== undefined)), {
      timeout: 5000,
      message: 'types seen everywhere',
    });
    const coordinator = await waitFor(() => [a, b, c].find((n) => n!.cluster!.isCoordinator), { timeout: 5000, message: 'a coordinator' });
    const victim = [a, b, c].find((n) => n !== coordinator)!;
    await coordinator.cluster!.start({ name: 'quiet', type: 'counter', node: victim.name, placement: 'any', restart: 'permanent' });
    await waitFor(() => victim.whereis('quiet'), { timeout: 5000, message: 'quiet runs on the victim' });
    await victim.transport.close();
    const survivors = [a, b, c].filter((n) => n !== victim);
    await waitFor(() => survivors.every((n) => n!.nodes().find((m) => m.node === victim.name)?.status === 'down'), {
      timeout: 10_000,
      message: 'the victim down on every survivor',
    });
    const [t] = await connectAll(1, 'members-reader', false);
    const record = decodeJson((await (await openKv(t!, bucketName(prefix, 'members'))).get(victim.name))!.value);
    expect(record).toMatchObject({ node: victim.name, status: 'down', by: expect.stringMatching(/^[abc]$/) });
    expect((record as { by: string }).by).not.toBe(victim.name);
    await waitFor(() => survivors.some((n) => n!.whereis('quiet')), { timeout: 10_000, message: 'quiet restarted on a survivor' });
  });

  it('kv cluster - registry: concurrent claims of one name from many clients have exactly one winner, which the losers see', async () => {
    const ts = await connectAll(6, 'reg');
    const bucket = bucketName(uniquePrefix('kvr'), 'registry');
    buckets.push({ t: ts[0]!, name: bucket });
    const registries = await Promise.all(ts.map(async (t) => new Registry({ kv: await openKv(t, bucket) })));
    for (let round = 0; round < 10; round++) {
      const name = `svc.race${round}`;
      const results = await Promise.all(registries.map((r, i) => r.claim(name, { node: `n${i}`, incarnation: 1 })));
      const winners = results.map((r, i) => (r.ok ? i : -1)).filter((i) => i >= 0);
      expect(winners).toHaveLength(1);
      const epoch = (results[winners[0]!] as Extract<ClaimResult, { ok: true }>).epoch;
      for (const r of results) if (!r.ok) expect(r.owner).toMatchObject({ node: `n${winners[0]}`, epoch });
      // A takeover needs the current epoch: the stale one loses.
      const next = await registries[(winners[0]! + 1) % registries.length]!.claim(name, { node: 'taker', replaces: epoch });
      expect(next.ok).toBe(true);
      expect((await registries[winners[0]!]!.claim(name, { node: 'late', replaces: epoch })).ok).toBe(false);
      expect(await registries[winners[0]!]!.release(name, epoch)).toBe(false);
    }
  });

  it('kv cluster - lease: one holder at a time; released, another contender takes it with a higher epoch', async () => {
    const [t1, t2] = await connectAll(2, 'lease');
    const bucket = bucketName(uniquePrefix('kvl'), 'leases');
    buckets.push({ t: t1!, name: bucket });
    const l1 = new Lease({ kv: await openKv(t1!, bucket), name: 'leader', holder: 'h1', leaseMs: 300, renewMs: 50 });
    const l2 = new Lease({ kv: await openKv(t2!, bucket), name: 'leader', holder: 'h2', leaseMs: 300, renewMs: 50 });
    try {
      l1.start();
      await waitFor(() => l1.held, { timeout: 5000, message: 'h1 holds' });
      const first = l1.epoch!;
      l2.start();
      expect(l2.held).toBe(false);
      await l1.release();
      await waitFor(() => l2.held, { timeout: 5000, message: 'h2 takes over' });
      expect(l2.epoch!).toBeGreaterThan(first);
      expect(l1.held).toBe(false);
    } finally {
      await Promise.all([l1.stop(), l2.stop()]);
    }
  });
});
