/**
 * Defined services in the cluster, several nodes in one process against a
 * real nats-server: the node's `defineService` types are the cluster's,
 * `lifetime: 'cluster'` places the instance through the cluster (labels
 * honoured), the handle has one interface wherever the instance runs,
 * find() and graph() cover the cluster, and a node's loss fails it over.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { InvalidConfigError, ServiceLockedError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { uniquePrefix } from './cluster/harness.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

const counterLogic = createMachine({
  types: {} as { context: { n: number }; input: { config: { start: number } } },
  context: ({ input }) => ({ n: input.config.start }),
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: { ADD: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] }, FINISH: 'done' },
    },
    done: { type: 'final' },
  },
});

const config = v.object({ start: v.number() });
const counter = defineService({ name: 'counter', version: '1.0.0', config, logic: counterLogic, ready: 'ready', tags: ['core'] });
const gpuCounter = defineService({ name: 'gpucounter', version: '1.0.0', config, logic: counterLogic, ready: 'ready', requires: ['gpu'] });
const leader = defineService({ name: 'leader', version: '1.0.0', config, logic: counterLogic, ready: 'ready', cardinality: 'singleton' });
const services = [counter, gpuCounter, leader];

async function cluster(names: Array<{ name: string; labels?: string[] }>): Promise<Node[]> {
  const servers = inject('natsUrl');
  const prefix = uniquePrefix('s');
  const out: Node[] = [];
  for (const { name, labels } of names) {
    const n = await createNode({ name, prefix, transport: { kind: 'nats', servers }, cluster: fast, services, ...(labels ? { labels } : {}) });
    nodes.push(n);
    out.push(n);
  }
  await waitFor(
    () =>
      out.every(
        (n) => n.nodes().filter((m) => m.status === 'up').length === names.length && names.every((m) => n.cluster!.typesOf(m.name)?.counter !== undefined),
      ),
    { timeout: 10_000, message: "every node sees every node up, with its types" },
  );
  return out;
}

describe('services in a cluster', () => {
  it('services cluster - a node’s defined service types are in the cluster catalogue, with their cardinality', async () => {
    const [a] = await cluster([{ name: 'a' }, { name: 'b' }]);
    expect(a!.cluster!.typesOf('b')).toEqual({ counter: 'many', gpucounter: 'many', leader: 'singleton' });
  });

  it('services cluster - a cluster instance lands on a node with the required labels and answers through the same handle', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b', labels: ['gpu'] }]);
    // `a` is the first candidate (no load, first by name) and lacks `gpu`: it answers OCF 5 and placement moves on.
    const h = await a!.services.start('gpucounter', { config: { start: 10 }, lifetime: 'cluster' });
    expect(h.node).toBe('b');
    expect(h.state).toBe('running');
    expect(h.isAlive()).toBe(true);
    expect(await h.ask({ type: 'ADD' })).toBe(11);
    h.tell({ type: 'ADD' });
    expect(await h.ask({ type: 'ADD' })).toBe(13);
    expect(await h.check()).toMatchObject({ code: 0 });
    expect(await h.status()).toMatchObject({ node: 'b', lifecycle: 'running' });
    expect(b!.services.find().byType('gpucounter').onNode('b').size).toBe(1);
    await h.stop();
    expect(h.state).toBe('stopped');
    await h.waitTillStopped(5000);
    await waitFor(() => b!.services.find().byType('gpucounter').alive().size === 0, { timeout: 5000, message: 'b no longer runs it' });
  });

  it('services cluster - a config that fails its schema is an InvalidConfigError before anything is placed', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b' }]);
    await expect(a!.services.start('counter', { config: { start: 'x' }, lifetime: 'cluster' })).rejects.toBeInstanceOf(InvalidConfigError);
    expect(a!.cluster!.records()).toEqual([]);
    expect(b!.services.find().size).toBe(0);
  });

  it('services cluster - find() lists local and cluster instances; actions answer one result per instance, remote ones too', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b' }]);
    const local = await a!.services.start('counter', { config: { start: 0 } });
    const far = await b!.services.start('counter', { config: { start: 5 }, lifetime: 'cluster', id: 'far' });
    expect(['a', 'b']).toContain(far.node);
    await waitFor(() => a!.services.find().byId('far').size === 1, { timeout: 5000, message: 'a sees the cluster instance' });
    const all = a!.services.find().byType('counter').alive();
    expect(all.list().map((i) => i.id).sort()).toEqual([local.id, 'far'].sort());
    expect(a!.services.find().byId('far').onNode(far.node).size).toBe(1);
    const checks = await all.check();
    expect(checks.map((r) => [r.instance, r.ok]).sort()).toEqual([
      [local.id, true],
      ['far', true],
    ].sort());
    const stopped = await a!.services.find().byId('far').stop();
    expect(stopped).toEqual([{ ok: true, service: 'counter', instance: 'far', node: far.node, value: undefined }]);
    await waitFor(() => b!.services.find().byId('far').alive().size === 0, { timeout: 5000, message: 'far is gone everywhere' });
  });

  it('services cluster - graph() lists services, instances with their configs, nodes and owners across the cluster', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b' }]);
    await b!.services.start('counter', { config: { start: 7 }, lifetime: 'cluster', id: 'g1', tags: ['eu'] });
    await waitFor(() => a!.services.find().byId('g1').size === 1, { timeout: 5000, message: 'a sees g1' });
    const g = a!.services.graph();
    expect(g.v).toBe(1);
    expect(g.nodes.map((n) => n.node).sort()).toEqual(['a', 'b']);
    expect(g.services.map((s) => s.name)).toEqual(['counter', 'gpucounter', 'leader']);
    expect(g.instances.find((i) => i.instance === 'g1')).toMatchObject({
      service: 'counter',
      config: { start: 7 },
      lifetime: 'cluster',
      tags: ['core', 'eu'],
      state: 'running',
      owner: undefined,
    });
  });

  it('services cluster - a singleton type is cluster-wide: a second node cannot start it while the first holds it', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b' }]);
    const one = await a!.services.start('leader', { config: { start: 0 } });
    expect(one.node).toBe('a');
    expect(await one.ask({ type: 'ADD' })).toBe(1);
    await waitFor(() => a!.cluster!.records().some((r) => r.name === 'leader'), { timeout: 5000, message: 'a sees its record' });
    // Listed once, though it is both this node's instance and a cluster record.
    expect(a!.services.find().byType('leader').list()).toEqual([one]);
    await waitFor(() => b!.cluster!.records().some((r) => r.name === 'leader'), { timeout: 5000, message: 'b sees the singleton' });
    await expect(b!.services.start('leader', { config: { start: 0 } })).rejects.toMatchObject({ name: 'ServiceLockedError', lock: 'singleton', holder: 'a' });
    await expect(b!.services.start('leader', { config: { start: 0 }, id: 'other' })).rejects.toBeInstanceOf(ServiceLockedError);
  });

  it('services cluster - a cluster instance survives the loss of its node by failover', async () => {
    const [a, b, c] = await cluster([{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
    const h = await a!.services.start('counter', { config: { start: 100 }, lifetime: 'cluster', id: 'survivor' });
    const first = h.node;
    const lost = [a, b, c].find((n) => n!.name === first)!;
    const watcher = [a, b, c].find((n) => n !== lost)!;
    const handle = watcher.services.find().byId('survivor').list()[0] ?? (await waitFor(() => watcher.services.find().byId('survivor').list()[0], { timeout: 5000, message: 'watcher sees it' }));
    await lost.shutdown();
    await waitFor(() => handle.node !== first && handle.state === 'running', { timeout: 15_000, message: 'survivor runs on another node' });
    await waitFor(async () => (await handle.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: 'survivor answers Check on its new node' });
    // Restarted from its record: the config it was placed with.
    expect(await handle.ask<number>({ type: 'ADD' })).toBe(101);
    expect(handle.isAlive()).toBe(true);
  });

  it('services cluster - failover passes over a node lacking the required labels', async () => {
    const [a, b, c] = await cluster([{ name: 'a' }, { name: 'b', labels: ['gpu'] }, { name: 'c', labels: ['gpu'] }]);
    const h = await a!.services.start('gpucounter', { config: { start: 0 }, lifetime: 'cluster', id: 'labelled' });
    expect(h.node).toBe('b');
    await b!.shutdown();
    // `a` comes first among the survivors (no load, first by name) and answers OCF 5: the coordinator moves on to `c`.
    await waitFor(() => h.node === 'c' && h.state === 'running', { timeout: 15_000, message: 'labelled runs on c' });
    await waitFor(async () => (await h.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: 'labelled answers Check on c' });
    expect(c!.services.find().byId('labelled').onNode('c').alive().size).toBe(1);
  });

  it('services cluster - a cluster instance that reaches its final state is stopped, not restarted', async () => {
    const [a, b] = await cluster([{ name: 'a' }, { name: 'b' }]);
    const h = await a!.services.start('counter', { config: { start: 0 }, lifetime: 'cluster', id: 'finite' });
    h.tell({ type: 'FINISH' });
    await h.waitTillStopped(10_000);
    expect(h.state).toBe('stopped');
    expect(h.isAlive()).toBe(false);
    // Its end reaches the other node through the registry watch; nothing brings it back.
    await waitFor(() => [a!, b!].every((n) => n.services.find().byId('finite').alive().size === 0), { timeout: 5000, message: 'no node sees finite alive' });
    expect(a!.cluster!.records().filter((r) => r.name === 'finite' && r.state === 'running')).toEqual([]);
  });
});
