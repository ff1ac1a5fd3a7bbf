/**
 * Halyard on a real 3-server nats-server cluster (issue 7, "On a real NATS
 * cluster"): the harness first, then replicated buckets, then nodes spread
 * over the servers while one server is killed and restarted under load.
 *
 * What the kill test asserts: the node on the killed server reconnects to
 * another; every decision in KV before the kill is there, unchanged, after it
 * and after the restart; at no sampled moment do two valid nodes host one
 * instance, nor does a node host one under an epoch the KV claims have given
 * to another node; asks fail only with the typed errors of a path being
 * rebuilt (TRANSIENT), none before the kill and none once a full round is
 * answered again; the restarted server is routed, a current JetStream peer
 * and a current copy of every bucket, and the nodes keep working. What it
 * only prints: the timings (reconnect, asks answering, the registry taking
 * writes) and the counts of asks by class.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { HalyardError, KvUnavailableError } from '../src/errors.js';
import { createNode, type Node } from '../src/index.js';
import { bucketName } from '../src/services/cluster/index.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { type NatsClusterHandle, startNatsCluster } from './support/natsCluster.js';
import { waitFor } from './support/wait.js';

const clusters: NatsClusterHandle[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown(100)));
  for (const c of clusters.splice(0)) await c.stop();
});

describe('nats cluster - harness', () => {
  it('nats cluster - three routed servers with a JetStream meta leader; a killed server leaves and a restarted one rejoins', async () => {
    const cluster = await startNatsCluster({ size: 3, jetstream: true });
    clusters.push(cluster);
    expect(new Set(cluster.urls).size).toBe(3);
    for (let i = 0; i < 3; i++) {
      expect((await cluster.routez(i)).num_routes).toBeGreaterThanOrEqual(2);
      expect((await cluster.jsz(i)).meta_cluster).toMatchObject({ cluster_size: 3, leader: expect.stringMatching(/^s[0-2]$/) });
    }
    const pid = cluster.servers[1]!.pid;
    await cluster.kill(1);
    expect(cluster.servers[1]!.running).toBe(false);
    await cluster.waitFormed();
    expect(await cluster.notFormed()).toBeUndefined();
    await cluster.restart(1);
    expect(cluster.servers[1]!.pid).not.toBe(pid);
    const leader = (await cluster.jsz(1)).meta_cluster!.leader!;
    const li = Number(leader.slice(1));
    const peers = (await cluster.jsz(li)).meta_cluster!.replicas!;
    if (leader !== 's1') expect(peers.find((p) => p.name === 's1')).toMatchObject({ current: true });
  }, 60_000);
});

describe('nats cluster - replicated buckets', () => {
  it('nats cluster - with transport kv replicas 3, every cluster bucket a node opens is R3, a copy on each server', async () => {
    const cluster = await startNatsCluster({ size: 3, jetstream: true });
    clusters.push(cluster);
    const prefix = uniquePrefix('r');
    const node = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers: [...cluster.urls], kv: { replicas: 3 } }, cluster: true });
    nodes.push(node);
    const buckets = ['members', 'registry', 'leases', 'coord'].map((what) => `KV_${prefix}-${what}`);
    const placed = await waitFor(
      async () => {
        const streams = (await cluster.streams()).filter((s) => buckets.includes(s.name));
        return streams.length === buckets.length && streams.every((s) => s.hostedOn.length === 3 && s.leader !== undefined) ? streams : undefined;
      },
      { timeout: 10_000, message: 'every cluster bucket on three servers' },
    );
    for (const s of placed) {
      expect([...s.hostedOn].sort()).toEqual(['s0', 's1', 's2']);
      expect(s.replicas.map((r) => r.name).sort()).toEqual(['s0', 's1', 's2'].filter((n) => n !== s.leader));
    }
  }, 60_000);

  it('nats cluster - transport kv and noRandomize are checked before connecting, naming the field', async () => {
    const servers = 'nats://127.0.0.1:1';
    await expect(createNode({ name: 'a', transport: { kind: 'nats', servers, kv: { replicas: 7 } } })).rejects.toMatchObject({
      name: 'InvalidSpecError',
      field: 'transport.kv.replicas',
    });
    await expect(createNode({ name: 'a', transport: { kind: 'nats', servers, kv: { replicas: 1.5 } } })).rejects.toMatchObject({ field: 'transport.kv.replicas' });
    await expect(createNode({ name: 'a', transport: { kind: 'nats', servers, kv: { replica: 3 } as never } })).rejects.toMatchObject({ field: 'transport.kv.replica' });
    await expect(createNode({ name: 'a', transport: { kind: 'nats', servers, kv: 3 as never } })).rejects.toMatchObject({ field: 'transport.kv' });
    await expect(createNode({ name: 'a', transport: { kind: 'nats', servers, noRandomize: 'yes' as never } })).rejects.toMatchObject({
      field: 'transport.noRandomize',
    });
  });
});

/** Error classes an ask may end with while its path is being rebuilt: each says what went wrong, none is a crash. */
const TRANSIENT = new Set(['TimeoutError', 'TransportError', 'TransportClosedError', 'NoSuchActorError', 'NoRespondersError', 'FencedError', 'NodeDownError', 'ActorNotRunningError']);

type Phase = 'before' | 'outage' | 'after';
interface Tally {
  sent: number;
  ok: number;
  failed: Record<string, number>;
}
const tally = (): Tally => ({ sent: 0, ok: 0, failed: {} });
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which valid node hosts which instance, now (every node is in this process: one synchronous look is one moment). */
function hostedNow(all: readonly Node[]): Map<string, Array<{ node: string; epoch: number }>> {
  const out = new Map<string, Array<{ node: string; epoch: number }>>();
  for (const n of all) {
    if (!n.cluster!.valid) continue;
    for (const i of n.cluster!.instances()) out.set(i.name, [...(out.get(i.name) ?? []), { node: n.name, epoch: i.epoch }]);
  }
  return out;
}

describe('nats cluster - a server dies under load', () => {
  it('nats cluster - kill one of three servers under asks and tells: nodes move to the others, no decision lost, never two owners, asks fail only typed, then it rejoins', async () => {
    const cluster = await startNatsCluster({ size: 3, jetstream: true });
    clusters.push(cluster);
    const prefix = uniquePrefix('k');
    const urls = cluster.urls;
    const names = ['a', 'b', 'c'] as const;
    // Each node lists all three servers, starting with its own: a on s0, b on s1, c on s2.
    const all: Node[] = [];
    for (const [i, name] of names.entries()) {
      const servers = [...urls.slice(i), ...urls.slice(0, i)];
      const node = await createNode({
        name,
        prefix,
        transport: { kind: 'nats', servers, noRandomize: true, reconnectTimeWait: 100, kv: { replicas: 3 } },
        cluster: true,
      });
      nodes.push(node);
      all.push(node);
      node.register('counter', counterMachine);
      node.register('single', counterMachine, { cardinality: 'singleton' });
    }
    const [a] = all as [Node, Node, Node];
    const serverOf = async (): Promise<Record<string, string>> => {
      const out: Record<string, string> = {};
      for (const s of cluster.servers) {
        if (!s.running) continue;
        for (const conn of (await cluster.connz(s.index)).connections ?? []) if (conn.name?.startsWith('halyard-')) out[conn.name.slice(8)] = s.name;
      }
      return out;
    };
    expect(await serverOf()).toEqual({ a: 's0', b: 's1', c: 's2' });
    await waitFor(() => all.every((n) => names.every((m) => n.cluster!.nodes().some((x) => x.node === m && x.status === 'up') && n.cluster!.typesOf(m)?.single !== undefined)), {
      timeout: 15_000,
      message: 'every node sees every node up, with its types',
    });

    // A singleton and ten instances, spread over the nodes, each free to move.
    const instances = ['single', ...Array.from({ length: 10 }, (_, i) => `w${i}`)];
    await a.cluster!.start({ name: 'single', type: 'single' });
    for (let i = 0; i < 10; i++) await a.cluster!.start({ name: `w${i}`, type: 'counter', node: names[i % 3], placement: 'any' });
    await waitFor(() => all.every((n) => instances.every((x) => n.cluster!.records().some((r) => r.name === x && r.state === 'running'))), {
      timeout: 15_000,
      message: 'every node sees the eleven instances running',
    });

    // Decisions to keep: three instances crash and the coordinator restarts them.
    for (const x of ['w0', 'w1', 'w2']) a.ref(x).tell({ type: 'BOOM' });
    const before = await waitFor(
      async () => {
        const ds = await a.cluster!.decisions();
        return ds.filter((d) => ['w0', 'w1', 'w2'].includes(d.name) && d.action === 'restart').length >= 3 ? ds : undefined;
      },
      { timeout: 20_000, message: 'three restart decisions in KV' },
    );
    const decisionKey = (d: { name: string; fromEpoch: number }) => `${d.name}.${d.fromEpoch}`;
    // With one of three servers down, nats-server 2.9.10 times out about a third of KV key listings (an ordered
    // consumer, which decisions() uses); the reads get no fewer decisions, only fail: retry those, and count them.
    let unavailableReads = 0;
    const readDecisions = (n: Node) =>
      waitFor(
        async () => {
          try {
            return await n.cluster!.decisions();
          } catch (err) {
            if (!(err instanceof KvUnavailableError)) throw err;
            unavailableReads++;
            return undefined;
          }
        },
        { timeout: 30_000, message: `decisions readable from ${n.name}` },
      );

    // Ownership, sampled all along: the nodes' own views at one moment, and those views against the KV claims.
    const observer = await NatsTransport.connect({ servers: [...urls], name: `${prefix}-observer`, reconnectTimeWait: 100 });
    const registry = await observer.kv().bucket(bucketName(prefix, 'registry'));
    const own = { viewSamples: 0, viewDuplicates: [] as string[], kvSamples: 0, claimEvents: 0, kvDuplicates: [] as string[] };
    let sampling = true;
    const viewSampler = (async () => {
      while (sampling) {
        own.viewSamples++;
        for (const [name, hosts] of hostedNow(all)) if (hosts.length > 1) own.viewDuplicates.push(`${name}@${hosts.map((h) => h.node).join('+')}`);
        await pause(5);
      }
    })();
    // The claims as the KV holds them, kept current by a watch: any claim in the map was written before the look that follows.
    const claims = new Map<string, { node: string; epoch: number }>();
    const watch = await registry.watch({ key: 'owner.>' });
    const watching = (async () => {
      for await (const e of watch) {
        own.claimEvents++;
        const name = e.key === 'owner.singleton.single' ? 'single' : e.key.slice('owner.'.length);
        if (e.operation === 'PUT') claims.set(name, JSON.parse(new TextDecoder().decode(e.value)) as { node: string; epoch: number });
        else claims.delete(name);
      }
    })();
    const kvSampler = (async () => {
      while (sampling) {
        const known = new Map(claims);
        own.kvSamples++;
        // A node serving a name under an epoch the KV has already given to another node: two owners.
        for (const [name, hosts] of hostedNow(all)) {
          const claim = known.get(name);
          for (const h of hosts) {
            if (claim !== undefined && claim.node !== h.node && claim.epoch > h.epoch) {
              own.kvDuplicates.push(`${name}: ${h.node}@${h.epoch} serves, KV gave it to ${claim.node}@${claim.epoch}`);
            }
          }
        }
        await pause(5);
      }
    })();

    // Load: asks and tells from every node to every instance, paced.
    let phase: Phase = 'before';
    const asks: Record<Phase, Tally> = { before: tally(), outage: tally(), after: tally() };
    const tellErrors: Record<string, number> = {};
    const untyped: string[] = [];
    let loading = true;
    let lastFailureAt: number | undefined;
    const failures: string[] = [];
    const worker = async (from: Node, seed: number) => {
      let k = seed;
      while (loading) {
        const target = instances[k++ % instances.length]!;
        try {
          from.ref(target).tell({ type: 'INC' });
        } catch (err) {
          tellErrors[(err as Error).name] = (tellErrors[(err as Error).name] ?? 0) + 1;
        }
        // An ask counts in the phase it ends in: one sent just before the kill and lost with the server is the outage's.
        try {
          await from.ref(target).ask({ type: 'GET' }, { timeout: 2000 });
          asks[phase].sent++;
          asks[phase].ok++;
          await pause(5);
        } catch (err) {
          const name = err instanceof HalyardError && typeof err.code === 'string' ? err.name : `untyped ${String(err)}`;
          if (!(err instanceof HalyardError)) untyped.push(String(err));
          const t = asks[phase];
          t.sent++;
          t.failed[name] = (t.failed[name] ?? 0) + 1;
          lastFailureAt = performance.now();
          if (failures.length < 20) failures.push(`${phase} ${from.name}->${target} ${name} +${Math.round(performance.now() - loadStart)}ms`);
          await pause(20);
        }
      }
    };
    const loadStart = performance.now();
    const load = all.flatMap((n, i) => [0, 1, 2].map((j) => worker(n, i * 5 + j * 3)));
    await waitFor(() => asks.before.ok >= 300, { timeout: 30_000, message: '300 asks answered before the kill' });

    // Kill the server leading the registry stream (the harshest: the KV must elect a new leader), and the node on it must move.
    const registryStream = `KV_${bucketName(prefix, 'registry')}`;
    const victim = (await cluster.streams()).find((s) => s.name === registryStream)!.leader!;
    const k = Number(victim.slice(1));
    const moved = names[k]!;
    const reconnectedAt = new Map<string, number>();
    const disconnectedAt = new Map<string, number>();
    for (const n of all) {
      n.transport.onStatus((s) => {
        if (s.type === 'disconnected' && !disconnectedAt.has(n.name)) disconnectedAt.set(n.name, performance.now());
        if (s.type === 'reconnected' && !reconnectedAt.has(n.name)) reconnectedAt.set(n.name, performance.now());
      });
    }
    const killedAt = performance.now();
    phase = 'outage';
    await cluster.kill(k);
    const roundOk = async () => {
      const answers = await Promise.allSettled(all.flatMap((n) => instances.map((x) => n.ref(x).ask({ type: 'GET' }, { timeout: 2000 }))));
      return answers.every((r) => r.status === 'fulfilled');
    };
    // Three things heal on their own clocks: the moved node's connection, the buckets' leaders, the asks.
    // A write to the registry bucket (a `config` record, which no node reads) says when its new stream leader takes writes.
    const probe = new TextEncoder().encode('{}');
    const [, placedAt, answeredAt, writableAt] = await Promise.all([
      waitFor(() => reconnectedAt.has(moved), { timeout: 20_000, message: `node ${moved} reconnects to another server` }),
      waitFor(
        async () => {
          const streams = (await cluster.streams()).filter((s) => s.name.startsWith(`KV_${prefix}-`));
          return streams.length === 4 && streams.every((s) => s.leader !== undefined && s.leader !== victim) ? performance.now() : undefined;
        },
        { timeout: 30_000, interval: 50, message: 'every cluster bucket has a leader on a live server' },
      ),
      waitFor(async () => ((await roundOk()) ? performance.now() : undefined), {
        timeout: 30_000,
        interval: 50,
        message: 'every node gets an answer from every instance',
      }),
      waitFor(
        async () => {
          try {
            await registry.put('config.probe', probe);
            return performance.now();
          } catch (err) {
            if (!(err instanceof KvUnavailableError)) throw err;
            return undefined;
          }
        },
        { timeout: 30_000, interval: 20, message: 'the registry bucket takes writes again' },
      ),
      cluster.waitFormed(),
    ]);
    phase = 'after';
    await waitFor(() => asks.after.ok >= 300, { timeout: 30_000, message: '300 asks answered after recovery' });
    const landed = await serverOf();
    expect(landed[moved]).not.toBe(victim);
    expect(Object.keys(landed).sort()).toEqual(['a', 'b', 'c']);

    // Every decision recorded before the kill is still in the store, unchanged.
    const afterKill = await readDecisions(a);
    const byKey = new Map(afterKill.map((d) => [decisionKey(d), d]));
    for (const d of before) expect(byKey.get(decisionKey(d))).toEqual(d);

    // The server comes back: routed again, a current JetStream peer, a copy of every bucket current again.
    const restartAt = performance.now();
    await cluster.restart(k);
    await waitFor(
      async () => {
        const streams = (await cluster.streams()).filter((s) => s.name.startsWith(`KV_${prefix}-`));
        return (
          streams.length === 4 &&
          streams.every((s) => s.hostedOn.includes(victim) && (s.leader === victim || s.replicas.some((r) => r.name === victim && r.current)))
        );
      },
      { timeout: 30_000, message: `every cluster bucket current on ${victim} again` },
    );
    const rejoinedMs = performance.now() - restartAt;
    // The nodes keep working: answers everywhere, a new instance starts, the decisions are all there.
    const afterCount = asks.after.ok;
    await waitFor(() => asks.after.ok >= afterCount + 100, { timeout: 30_000, message: '100 more asks answered after the restart' });
    expect(await roundOk()).toBe(true);
    const fresh = await all[k]!.cluster!.start({ name: 'w10', type: 'counter', placement: 'any' });
    await expect(all[(k + 1) % 3]!.ref('w10').ask({ type: 'GET' }, { timeout: 5000 })).resolves.toBe(0);
    const finalDecisions = new Map((await readDecisions(all[(k + 1) % 3]!)).map((d) => [decisionKey(d), d]));
    for (const d of before) expect(finalDecisions.get(decisionKey(d))).toEqual(d);

    loading = false;
    await Promise.all(load);
    sampling = false;
    await Promise.all([viewSampler, kvSampler]);
    watch.stop();
    await watching;
    await observer.close();

    const ms = (t: number | undefined) => (t === undefined ? '-' : `${Math.round(t - killedAt)} ms`);
    console.log(
      `[nats cluster] killed ${victim} (registry stream leader; node ${moved} was on it); after the kill: ` +
        `${moved} disconnected ${ms(disconnectedAt.get(moved))}, reconnected ${ms(reconnectedAt.get(moved))} (to ${landed[moved]}), ` +
        `last failed ask ${ms(lastFailureAt)}, a full round of asks answered ${ms(answeredAt)}, the registry bucket took a write ${ms(writableAt)}, monitoring showed every bucket led from a live server ${ms(placedAt)}; restarted ${victim} current again in ${Math.round(rejoinedMs)} ms\n` +
        `[nats cluster] asks ${JSON.stringify(asks)}; tell errors ${JSON.stringify(tellErrors)}; first failures ${JSON.stringify(failures)}\n` +
        `[nats cluster] decisions before ${before.length}, after the kill ${afterKill.length}, at the end ${finalDecisions.size} (lost ${before.filter((d) => !finalDecisions.has(decisionKey(d))).length}; KV listings that timed out and were retried: ${unavailableReads}); ` +
        `ownership: ${own.viewSamples} view samples, ${own.kvSamples} KV samples (${own.claimEvents} claim changes watched, ${claims.size} claims at the end), duplicates ${own.viewDuplicates.length + own.kvDuplicates.length}; w10 on ${fresh.node}`,
    );

    expect(untyped).toEqual([]);
    for (const p of ['before', 'outage', 'after'] as const) for (const name of Object.keys(asks[p].failed)) expect(TRANSIENT, `${p}: ${name}`).toContain(name);
    expect(asks.before.failed).toEqual({});
    expect(own.viewDuplicates).toEqual([]);
    expect(own.kvDuplicates).toEqual([]);
    expect(own.kvSamples).toBeGreaterThan(0);
    // The watch saw every claim: the eleven instances and w10, and the three restarts' new epochs.
    expect(claims.size).toBe(12);
  }, 180_000);
});
