/**
 * Persisted service instances in a cluster (issue 8, part 9): the node of a
 * persisted instance is SIGKILLed (a real child process) and the instance
 * fails over to a survivor, which restores it from the JetStream KV record
 * (after a crash only with `restoreAfterCrash`).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { KvStateStore } from '../src/services/state/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { crashFreshCounter, persistedCounter } from './cluster/persistDefs.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(nodes.splice(0).map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

/** A child node `a0` and an in-process survivor `z`, both up and seeing each other's types. */
async function pair(prefix: string): Promise<{ victim: Child; z: Node }> {
  const servers = inject('natsUrl');
  const victim = spawnChild(script('persistNode.ts'), clusterNodeEnv(servers, prefix, fast)('a0'));
  children.push(victim);
  await victim.line(/^READY a0/, 30_000);
  const z = await createNode({ name: 'z', prefix, transport: { kind: 'nats', servers }, cluster: fast, services: [persistedCounter, crashFreshCounter] });
  nodes.push(z);
  await waitFor(() => z.cluster!.typesOf('a0')?.pcounter !== undefined && z.nodes().filter((m) => m.status === 'up').length === 2, {
    timeout: 10_000,
    message: 'z sees a0 up with its types',
  });
  return { victim, z };
}

function savedCount(store: KvStateStore, key: string): Promise<number | undefined> {
  return store.load(key).then((r) => (r?.snapshot as { snapshot?: { context?: { n?: number } } } | undefined)?.snapshot?.context?.n);
}

function savedEpoch(store: KvStateStore, key: string): Promise<number | undefined> {
  return store.load(key).then((r) => (r?.snapshot as { epoch?: number } | undefined)?.epoch);
}

describe('services in a cluster - persisted state', () => {
  it('persist cluster - SIGKILL the node of a persisted counter: the instance comes back on a survivor with its count', async () => {
    const prefix = uniquePrefix('pk');
    const { victim, z } = await pair(prefix);
    // The state bucket is shared by every test on the server: the id is this test's own.
    const id = `kept-${prefix}`;
    const h = await z.services.start('pcounter', { config: { start: 40 }, lifetime: 'cluster', id });
    // Both idle: placement takes the first by name, the child process.
    expect(h.node).toBe('a0');
    for (let i = 0; i < 3; i++) await h.ask({ type: 'ADD' });
    const store = new KvStateStore({ kv: z.transport.kv() });
    await waitFor(async () => (await savedCount(store, `svc.pcounter.${id}`)) === 43, { timeout: 5000, message: 'the count of 43 saved' });
    const before = await savedEpoch(store, `svc.pcounter.${id}`);
    expect(before).toBeGreaterThan(0);
    victim.process.kill('SIGKILL');
    await waitFor(() => h.node === 'z' && h.state === 'running', { timeout: 15_000, message: `${id} runs on z` });
    await waitFor(async () => (await h.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: `${id} answers Check on z` });
    // Restored from the state it had when its node died, not from its config (40).
    expect(await h.ask<number>({ type: 'READ' })).toBe(43);
    expect(await h.ask<number>({ type: 'ADD' })).toBe(44);
    await waitFor(async () => (await savedCount(store, `svc.pcounter.${id}`)) === 44, { timeout: 5000, message: 'the survivor saves on' });
    // The survivor writes under its own, newer owner epoch: the dead owner's writes would be refused.
    expect(await savedEpoch(store, `svc.pcounter.${id}`)).toBeGreaterThan(before as number);
    await h.stop();
  });

  it('persist cluster - without restoreAfterCrash a failed-over counter starts again from its config', async () => {
    const prefix = uniquePrefix('pf');
    const { victim, z } = await pair(prefix);
    const id = `fresh-${prefix}`;
    const h = await z.services.start('pcounterfresh', { config: { start: 10 }, lifetime: 'cluster', id });
    expect(h.node).toBe('a0');
    for (let i = 0; i < 2; i++) await h.ask({ type: 'ADD' });
    const store = new KvStateStore({ kv: z.transport.kv() });
    await waitFor(async () => (await savedCount(store, `svc.pcounterfresh.${id}`)) === 12, { timeout: 5000, message: 'the count of 12 saved' });
    victim.process.kill('SIGKILL');
    await waitFor(() => h.node === 'z' && h.state === 'running', { timeout: 15_000, message: `${id} runs on z` });
    await waitFor(async () => (await h.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: `${id} answers Check on z` });
    // The state may be what crashed its node: not brought back.
    expect(await h.ask<number>({ type: 'READ' })).toBe(10);
    await h.stop();
  });

  it('persist cluster - a persisted counter whose node shuts down comes back on a survivor with its count, even without restoreAfterCrash', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('pg');
    const make = async (name: string) => {
      const n = await createNode({ name, prefix, transport: { kind: 'nats', servers }, cluster: fast, services: [persistedCounter, crashFreshCounter] });
      nodes.push(n);
      return n;
    };
    const a = await make('a0');
    const z = await make('z');
    await waitFor(() => z.nodes().filter((m) => m.status === 'up').length === 2 && z.cluster!.typesOf('a0')?.pcounterfresh !== undefined, {
      timeout: 10_000,
      message: 'z sees a0 up with its types',
    });
    const id = `left-${prefix}`;
    const h = await z.services.start('pcounterfresh', { config: { start: 10 }, lifetime: 'cluster', id });
    expect(h.node).toBe('a0');
    for (let i = 0; i < 2; i++) await h.ask({ type: 'ADD' });
    // A graceful end: its state is saved marked clean, which a survivor restores whatever restoreAfterCrash says.
    await a.shutdown();
    await waitFor(() => h.node === 'z' && h.state === 'running', { timeout: 15_000, message: `${id} runs on z` });
    await waitFor(async () => (await h.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: `${id} answers Check on z` });
    expect(await h.ask<number>({ type: 'READ' })).toBe(12);
    await h.stop();
  });
});
