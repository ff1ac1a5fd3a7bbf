/**
 * Halyard on a real 3-server nats-server cluster (issue 7, "On a real NATS
 * cluster"): the harness first, then nodes spread over the servers while one
 * server is killed and restarted under load.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { uniquePrefix } from './cluster/harness.js';
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
