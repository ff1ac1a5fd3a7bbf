/**
 * What the cluster refuses, and how it says so: a second singleton or a
 * second per-node instance is a `ServiceLockedError` naming the lock and its
 * holder; a host request or exit report of an unknown newer wire version is
 * answered with a typed error (or counted as a dead letter), never misread.
 *
 * Nodes run in this process on a real nats-server; `a` is the cluster
 * coordinator, `b` hosts.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node, ServiceLockedError } from '../src/index.js';
import { HostClient } from '../src/services/cluster/hostClient.js';
import { lockHolder, type NodeView } from '../src/services/cluster/placement.js';
import { ClusterSubjects } from '../src/services/cluster/subjects.js';
import type { NatsTransport } from '../src/transport/NatsTransport.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown(100)));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 };
const enc = new TextEncoder();
const dec = new TextDecoder();

async function pair(): Promise<{ a: Node; b: Node; prefix: string }> {
  const prefix = uniquePrefix('ref');
  const servers = inject('natsUrl');
  const a = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers }, cluster: fast });
  nodes.push(a);
  await waitFor(() => a.cluster!.isCoordinator, { timeout: 10_000, message: 'a is the coordinator' });
  const b = await createNode({ name: 'b', prefix, transport: { kind: 'nats', servers }, cluster: fast });
  nodes.push(b);
  b.register('counter', counterMachine);
  b.register('single', counterMachine, { cardinality: 'singleton' });
  b.register('locked', counterMachine, { cardinality: 'per-node' });
  await waitFor(() => a.cluster!.typesOf('b')?.locked !== undefined && a.nodes().filter((m) => m.status === 'up').length === 2, {
    timeout: 10_000,
    message: 'a sees b and its types',
  });
  return { a, b, prefix };
}

async function recordSeen(n: Node, name: string): Promise<void> {
  await waitFor(() => n.cluster!.records().some((r) => r.name === name && r.state === 'running'), { timeout: 5000, message: `${name} seen by ${n.name}` });
}

describe('cluster - locks', () => {
  it('cluster - lockHolder names the lock and its holder only when a lock is what keeps a start out (table)', () => {
    const up = (node: string, types: string[]): [string, NodeView] => [node, { node, status: 'up', types }];
    const nodes = new Map<string, NodeView>([up('a', ['s', 'p']), up('b', ['s', 'p'])]);
    const single = { name: 'two', type: 's', cardinality: 'singleton', placement: 'any' } as const;
    const perNode = { name: 'p2', type: 'p', cardinality: 'per-node', placement: 'pinned', node: 'a' } as const;
    const placedS = [{ name: 'one', type: 's', cardinality: 'singleton', node: 'b' }] as const;
    const placedP = [{ name: 'p1', type: 'p', cardinality: 'per-node', node: 'a' }] as const;
    expect(lockHolder(single, nodes, placedS)).toEqual({ lock: 'singleton', holder: 'b' });
    expect(lockHolder(single, nodes, [])).toBeUndefined();
    expect(lockHolder(perNode, nodes, placedP)).toEqual({ lock: 'per-node', holder: 'a' });
    // Not pinned: b has a free per-node slot, so no lock keeps it out.
    expect(lockHolder({ ...perNode, placement: 'any' }, nodes, placedP)).toBeUndefined();
    // No node has the type: not a lock.
    expect(lockHolder({ ...single, type: 'x' }, nodes, placedS)).toBeUndefined();
    // The holder's node is down and fenced: its slot is free again.
    const fenced = new Map<string, NodeView>([...nodes, ['b', { node: 'b', status: 'down', types: ['s'], fenced: true }]]);
    expect(lockHolder(single, fenced, placedS)).toBeUndefined();
  });

  it('cluster - a second singleton is refused with ServiceLockedError saying the singleton lock is held by its node', async () => {
    const { a, b } = await pair();
    await a.cluster!.start({ name: 'one', type: 'single' });
    await recordSeen(a, 'one');
    const err = await a.cluster!.start({ name: 'two', type: 'single' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceLockedError);
    expect(err).toMatchObject({ name: 'ServiceLockedError', code: 'ERR_SERVICE_LOCKED', type: 'single', lock: 'singleton', holder: 'b' });
    expect((err as Error).message).toBe('single: singleton lock held by b');
    expect(b.cluster!.instances().map((i) => i.name)).toEqual(['one']);
  });

  it('cluster - a second per-node instance on the same node is refused with ServiceLockedError naming that node', async () => {
    const { a, b } = await pair();
    await a.cluster!.start({ name: 'l1', type: 'locked', node: 'b' });
    await recordSeen(a, 'l1');
    await expect(a.cluster!.start({ name: 'l2', type: 'locked', node: 'b' })).rejects.toMatchObject({
      name: 'ServiceLockedError',
      lock: 'per-node',
      holder: 'b',
    });
    expect(b.cluster!.instances().map((i) => i.name)).toEqual(['l1']);
  });

  it('cluster - a host refusing a second singleton answers a ServiceLockedError the caller gets as that class (lock and holder), not a RemoteError', async () => {
    const { a, b, prefix } = await pair();
    await a.cluster!.start({ name: 'one', type: 'single' });
    // Straight to the host, as a caller whose view has not seen `one` yet would (the host's own check decides).
    const hosts = new HostClient(a.transport as NatsTransport, new ClusterSubjects(prefix));
    const err = await hosts
      .spawn('b', { op: 'spawn', name: 'two', stype: 'single', restart: 'permanent', placement: 'any', origin: 'a', supervisor: 'cluster' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceLockedError);
    expect(err).toMatchObject({ type: 'single', lock: 'singleton', holder: 'b', message: 'single: singleton lock held by b' });
    expect(b.cluster!.instances().map((i) => i.name)).toEqual(['one']);
  });

  it('cluster - a type no live node has registered is still NoNodeAvailableError (no lock involved)', async () => {
    const { a } = await pair();
    await expect(a.cluster!.start({ name: 'x', type: 'nowhere' })).rejects.toMatchObject({ name: 'NoNodeAvailableError' });
  });
});

describe('cluster - wire versions of host frames', () => {
  it('cluster - a host request of a newer version is answered with DecodeError (unsupported-version), not misread; version 1 is served', async () => {
    const { a, b, prefix } = await pair();
    const ask = async (frame: object) => JSON.parse(dec.decode((await a.transport.request(`${prefix}.clrpc.b`, enc.encode(JSON.stringify(frame)), { timeout: 2000 })).data));
    const newer = await ask({ v: 2, op: 'spawn', name: 'n2', stype: 'counter', restart: 'permanent', placement: 'any', origin: 'a', supervisor: 'cluster' });
    expect(newer).toMatchObject({ v: 1, ok: false, error: { name: 'DecodeError', code: 'ERR_DECODE' } });
    expect(newer.error.message).toContain('cluster request version 2, expected 1');
    expect(b.cluster!.instances()).toEqual([]);
    expect(await ask({ v: 1, op: 'list' })).toMatchObject({ v: 1, ok: true, node: 'b', instances: [] });
  });

  it('cluster - an exit report of a newer version does not end a remote child: it is a decode-error dead letter', async () => {
    const { a, b, prefix } = await pair();
    const sup = a.supervise({ intensity: 5, children: [{ id: 'w', start: { type: 'counter' }, node: 'b', name: 'rc1' }] });
    const hosted = await waitFor(() => b.cluster!.instances().find((i) => i.name === 'rc1'), { timeout: 5000, message: 'rc1 on b' });
    const report = (v: number) => enc.encode(JSON.stringify({ v, name: 'rc1', epoch: hosted.epoch, reason: 'error' }));
    const before = a.deadLetters.count('decode-error');
    a.transport.publish(`${prefix}.clexit.a`, report(2));
    await waitFor(() => a.deadLetters.count('decode-error') === before + 1, { timeout: 5000, message: 'the newer report is a dead letter' });
    expect(a.coordinator.decisions({ supervisor: sup.label })).toEqual([]);
    expect(sup.whichChildren().map((c) => c.status)).toEqual(['running']);
    // The same report at version 1 is read: the child ends with `error` and is decided on.
    a.transport.publish(`${prefix}.clexit.a`, report(1));
    await waitFor(() => a.coordinator.decisions({ supervisor: sup.label }).length === 1, { timeout: 5000, message: 'the version 1 report is read' });
    expect(a.coordinator.decisions({ supervisor: sup.label })[0]!.input.reason).toBe('error');
  });
});
