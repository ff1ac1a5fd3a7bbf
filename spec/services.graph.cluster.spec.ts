/**
 * Cluster service handles complete (services/cluster/clusterServices.ts):
 * `reconfigure(config)` checked against the schema first, then applied by
 * the owning host; `dependants()` from the graph. Real nats-server, nodes in
 * this process.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { InvalidArgumentError, InvalidConfigError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { ClusterInstance } from '../src/services/cluster/clusterServices.js';
import { serviceInputOf } from '../src/services/cluster/clusterServices.js';
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
  states: { ready: { tags: ['ready'], on: { ADD: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] } } } },
});
const config = v.object({ start: v.number() });
// A default config: a dependency started for a cluster placement gets none (the start's `configs` do not travel).
const counter = defineService({ name: 'counter', version: '1.0.0', config: v.optional(config, { start: 0 }), logic: counterLogic, ready: 'ready' });
const api = defineService({ name: 'api', version: '1.0.0', config, logic: counterLogic, ready: 'ready', dependsOn: ['counter'] });

async function cluster(names: string[]): Promise<Node[]> {
  const prefix = uniquePrefix('g');
  const out: Node[] = [];
  for (const name of names) {
    const n = await createNode({ name, prefix, transport: { kind: 'nats', servers: inject('natsUrl') }, cluster: fast, services: [counter, api] });
    nodes.push(n);
    out.push(n);
  }
  await waitFor(() => out.every((n) => names.every((m) => n.cluster!.typesOf(m)?.counter !== undefined && n.nodes().some((x) => x.node === m && x.status === 'up'))), {
    timeout: 10_000,
    message: 'every node sees every node up, with its types',
  });
  return out;
}

/** The cluster handle of `id` as `viewer` sees it (an instance another node runs). */
async function handleOn(viewer: Node, id: string): Promise<ClusterInstance> {
  const h = await waitFor(() => viewer.services.find().byId(id).list()[0], { timeout: 5000, message: `${viewer.name} sees ${id}` });
  expect(h).toBeInstanceOf(ClusterInstance);
  return h as ClusterInstance;
}

describe('services - cluster handles complete', () => {
  it('services cluster - a cluster handle reconfigures its instance on the owning host, after checking the config against the schema; the record keeps the new config', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const started = await b!.services.start('counter', { config: { start: 5 }, lifetime: 'cluster', id: 'rc' });
    const viewer = started.node === 'a' ? b! : a!;
    const h = await handleOn(viewer, 'rc');
    expect(h.node).not.toBe(viewer.name);
    await expect(h.ask({ type: 'ADD' })).resolves.toBe(6);

    // A config its schema refuses: a typed error naming the path, nothing sent, the instance untouched.
    const bad = await h.reconfigure({ start: 'x' }).catch((err: unknown) => err);
    expect(bad).toBeInstanceOf(InvalidConfigError);
    expect(String((bad as Error).message)).toContain('start');
    await expect(h.ask({ type: 'ADD' })).resolves.toBe(7);

    await h.reconfigure({ start: 100 });
    await expect(h.ask({ type: 'ADD' })).resolves.toBe(101);
    await waitFor(() => (h.config as { start?: number }).start === 100, { timeout: 5000, message: 'the handle reads the new config from the record' });
    const owner = started.node === 'a' ? a! : b!;
    expect(serviceInputOf(owner.cluster!._record('rc')?.input)?.config).toEqual({ start: 100 });
  });

  it('services cluster - dependants() of a cluster handle answers from the graph: live dependants on any node', async () => {
    const [a, b] = await cluster(['a', 'b']);
    await a!.services.start('counter', { config: { start: 0 }, lifetime: 'cluster', id: 'dc' });
    await b!.services.start('api', { config: { start: 0 }, lifetime: 'cluster', id: 'da' });
    for (const viewer of [a!, b!]) {
      await waitFor(() => viewer.services.find().byId('da').alive().size === 1, { timeout: 5000, message: `${viewer.name} sees da` });
      const dc = viewer.services.find().byId('dc').list();
      expect(dc.length).toBeGreaterThan(0);
      for (const h of dc) expect(h.dependants().map((d) => d.id)).toContain('da');
    }
    // The query filter reads the same graph: dc has a live dependant, da has none.
    expect(a!.services.find().byId('dc').noAliveDependants().size).toBe(0);
    expect(a!.services.find().byId('da').noAliveDependants().size).toBe(1);
  });

  it('services cluster - the reports of instances on other nodes are visible from any node (started, config-changed), filtered like a local query', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const here = await a!.services.start('counter', { config: { start: 1 }, id: 'ra' });
    const far = await b!.services.start('counter', { config: { start: 1 }, id: 'rb' });
    await far.reconfigure({ start: 2 });
    expect(here.node).toBe('a');

    const all = await a!.cluster!.reports({ service: 'counter' });
    expect(all.unreachable).toEqual([]);
    expect(all.truncated).toEqual([]);
    const seen = all.reports.map((r) => [r.node, r.instance, r.kind]);
    expect(seen).toContainEqual(['a', 'ra', 'started']);
    expect(seen).toContainEqual(['b', 'rb', 'started']);
    expect(seen).toContainEqual(['b', 'rb', 'config-changed']);

    const changed = await a!.cluster!.reports({ kind: 'config-changed' });
    expect(changed.reports.map((r) => [r.node, r.instance, r.config])).toEqual([['b', 'rb', { start: 2 }]]);
    const onlyB = await a!.cluster!.reports({ node: 'b', instance: 'rb' });
    expect(onlyB.reports.every((r) => r.node === 'b' && r.instance === 'rb')).toBe(true);
    expect(onlyB.reports.map((r) => r.kind)).toEqual(['started', 'config-changed']);
    await expect(a!.cluster!.reports(null as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
