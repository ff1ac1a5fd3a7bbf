/**
 * The cluster on createNode, in one process against a real nats-server:
 * membership through node.nodes(), service types by name, remote children,
 * locks, and failover of a remote child when its node leaves.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, LocalTransport, type Node } from '../src/index.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

async function cluster(prefix: string, names: string[]): Promise<Node[]> {
  const servers = inject('natsUrl');
  const out: Node[] = [];
  for (const name of names) {
    const n = await createNode({ name, prefix, transport: { kind: 'nats', servers }, cluster: fast });
    nodes.push(n);
    out.push(n);
  }
  await waitFor(() => out.every((n) => n.nodes().filter((m) => m.status === 'up').length === names.length), {
    timeout: 10_000,
    message: 'every node sees every node up',
  });
  return out;
}

describe('cluster - node options', () => {
  it('cluster - a hand-made Transport without a key-value store is an InvalidSpecError naming transport; bad cluster keys name the key', async () => {
    const t = new LocalTransport({ name: 'bare' });
    const bare = new Proxy(t, { get: (target, key) => (key === 'kv' ? undefined : Reflect.get(target, key, target)) });
    await expect(createNode({ name: 'solo', transport: bare, cluster: true })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'transport' });
    await t.close();
    await expect(createNode({ name: 'solo', transport: { kind: 'nats', servers: 'nats://x' }, cluster: { beat: 1 } as never })).rejects.toMatchObject({
      field: 'cluster.beat',
    });
  });

  it('cluster - child spec keys node and placement need a remote start', async () => {
    const [a] = await cluster(uniquePrefix(), ['a']);
    expect(() => a!.supervise({ children: [{ id: 'x', start: counterMachine, node: 'b' }] })).toThrow(/children\[0\]\.node/);
    expect(() => a!.supervise({ children: [{ id: 'x', start: { type: 'counter' }, placement: 'where' as never }] })).toThrow(/placement/);
  });
});

describe('cluster - nodes, types and remote children', () => {
  it('cluster - nodes() lists members; a remote child runs on its node and answers by name', async () => {
    const [a, b] = await cluster(uniquePrefix(), ['a', 'b']);
    expect(a!.nodes().map((m) => m.node).sort()).toEqual(['a', 'b']);
    expect(a!.nodes()[0]).toMatchObject({ status: 'up', incarnation: expect.any(Number), lastHeardAt: expect.any(Number) });
    b!.register('counter', counterMachine);
    await waitFor(() => a!.cluster!.nodes().length === 2 && a!.cluster!.records !== undefined, { timeout: 1000, message: 'ready' });
    await waitFor(() => a!.cluster!.typesOf('b')?.counter !== undefined, { timeout: 5000, message: "b's types reach a" });
    a!.supervise({ children: [{ id: 'c', start: { type: 'counter', input: { start: 41 } }, node: 'b', name: 'rc' }] });
    await waitFor(() => b!.whereis('rc'), { timeout: 5000, message: 'rc runs on b' });
    await b!.flush();
    a!.ref('rc').tell({ type: 'INC' });
    expect(await a!.ref('rc').ask({ type: 'GET' })).toBe(42);
    expect(b!.cluster!.instances()).toMatchObject([{ name: 'rc', type: 'counter', supervisor: 'a' }]);
  });

  it('cluster - a remote child that crashes is restarted by its supervisor (local deputy decides)', async () => {
    const [a, b] = await cluster(uniquePrefix(), ['a', 'b']);
    b!.register('counter', counterMachine);
    await waitFor(() => a!.cluster!.typesOf('b')?.counter !== undefined, { timeout: 5000, message: "b's types reach a" });
    a!.supervise({ intensity: 5, children: [{ id: 'c', start: { type: 'counter' }, node: 'b', name: 'rc' }] });
    const first = await waitFor(() => b!.whereis('rc'), { timeout: 5000, message: 'rc on b' });
    first.tell({ type: 'BOOM' });
    await waitFor(() => b!.whereis('rc') !== undefined && b!.whereis('rc') !== first, { timeout: 5000, message: 'rc restarted' });
    const d = a!.coordinator.decisions().at(-1)!;
    expect(d.input.reason).toBe('error');
    expect(d.directive.type).toBe('restart');
  });

  it('cluster - per-node lock: a second start of a per-node type on one node is a ServiceLockedError', async () => {
    const [a, b] = await cluster(uniquePrefix(), ['a', 'b']);
    b!.register('svc', counterMachine, { cardinality: 'per-node' });
    await waitFor(() => a!.cluster!.typesOf('b')?.svc !== undefined, { timeout: 5000, message: "b's types reach a" });
    await a!.cluster!.start({ name: 'svc1', type: 'svc', node: 'b' });
    // Placement refuses before asking when a's view already has svc1; otherwise b refuses with the typed lock error.
    const locked = { code: expect.stringMatching(/^(ERR_SERVICE_LOCKED|ERR_NO_NODE_AVAILABLE)$/) };
    await expect(a!.cluster!.start({ name: 'svc2', type: 'svc', node: 'b' })).rejects.toMatchObject(locked);
    a!.register('svc', counterMachine, { cardinality: 'per-node' });
    await a!.cluster!.start({ name: 'svc3', type: 'svc', node: 'a' });
    await expect(a!.cluster!.start({ name: 'svc4', type: 'svc', node: 'a' })).rejects.toMatchObject(locked);
    expect(b!.cluster!.instances().map((i) => i.name)).toEqual(['svc1']);
    expect(a!.cluster!.instances().map((i) => i.name)).toEqual(['svc3']);
  });

  it('cluster - singleton: a second instance anywhere is refused with ServiceLockedError (singleton)', async () => {
    const [a, b] = await cluster(uniquePrefix(), ['a', 'b']);
    a!.register('leader', counterMachine, { cardinality: 'singleton' });
    b!.register('leader', counterMachine, { cardinality: 'singleton' });
    await waitFor(() => a!.cluster!.typesOf('b')?.leader !== undefined && b!.cluster!.typesOf('a')?.leader !== undefined, { timeout: 5000, message: 'types seen' });
    await a!.cluster!.start({ name: 'leader1', type: 'leader', node: 'a' });
    // b's view may lag: ask b to start one by hand, bypassing placement; the KV claim refuses it.
    const err = await b!.cluster!.start({ name: 'leader2', type: 'leader', node: 'b' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: expect.stringMatching(/ERR_SERVICE_LOCKED|ERR_NO_NODE_AVAILABLE/) });
    expect(b!.cluster!.instances()).toEqual([]);
  });

  it('cluster - when a remote child’s node leaves, the supervisor reports nodedown and placement restarts it on a survivor', async () => {
    const [a, b, c] = await cluster(uniquePrefix(), ['a', 'b', 'c']);
    b!.register('counter', counterMachine);
    c!.register('counter', counterMachine);
    await waitFor(() => ['b', 'c'].every((n) => a!.cluster!.typesOf(n)?.counter !== undefined), { timeout: 5000, message: 'types reach a' });
    a!.supervise({ intensity: 5, children: [{ id: 'c', start: { type: 'counter' }, node: 'b', placement: 'any', name: 'mover' }] });
    await waitFor(() => b!.whereis('mover'), { timeout: 5000, message: 'mover on b' });
    nodes.splice(nodes.indexOf(b!), 1);
    await b!.shutdown();
    await waitFor(() => c!.whereis('mover'), { timeout: 5000, message: 'mover restarted on c' });
    const d = a!.coordinator.decisions().find((x) => x.input.reason === 'nodedown');
    expect(d?.directive.type).toBe('restart');
  });

  it('cluster - a cluster-supervised instance fails over when its node leaves (coordinator decides, decision in KV)', async () => {
    const [a, b, c] = await cluster(uniquePrefix(), ['a', 'b', 'c']);
    for (const n of [a, b, c]) n!.register('counter', counterMachine);
    await waitFor(() => [a, b, c].every((x) => ['a', 'b', 'c'].every((n) => x!.cluster!.typesOf(n)?.counter !== undefined)), {
      timeout: 5000,
      message: 'types seen everywhere',
    });
    const coordinator = [a, b, c].find((n) => n!.cluster!.isCoordinator) ?? a!;
    const victim = [a, b, c].find((n) => n !== coordinator)!;
    await coordinator.cluster!.start({ name: 'p1', type: 'counter', node: victim.name, placement: 'any', restart: 'permanent' });
    await coordinator.cluster!.start({ name: 't1', type: 'counter', node: victim.name, placement: 'any', restart: 'temporary' });
    await waitFor(() => coordinator.cluster!.records().length === 2, { timeout: 5000, message: 'records seen' });
    nodes.splice(nodes.indexOf(victim), 1);
    await victim.shutdown();
    const survivors = [a, b, c].filter((n) => n !== victim);
    await waitFor(() => survivors.some((n) => n!.whereis('p1')), { timeout: 5000, message: 'p1 restarted' });
    const decisions = await waitFor(async () => {
      const ds = await coordinator.cluster!.decisions();
      return ds.length === 2 ? ds : undefined;
    }, { timeout: 5000, message: 'two decisions' });
    expect(decisions.map((d) => [d.name, d.action, d.reason]).sort()).toEqual([
      ['p1', 'restart', 'nodedown'],
      ['t1', 'drop', 'nodedown'],
    ]);
    expect(survivors.some((n) => n!.whereis('t1'))).toBe(false);
  });
});
