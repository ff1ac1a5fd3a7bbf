/**
 * A cluster-lifetime service instance survives the SIGKILL of its node's
 * process: the cluster coordinator restarts it on a survivor from its record
 * (config and all), and the handle follows it there.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { clusterCounter } from './cluster/serviceDefs.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const nodes: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(nodes.splice(0).map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

describe('services in a cluster - SIGKILL', () => {
  it('services cluster - a cluster instance comes back on a survivor after its node process is SIGKILLed', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('k');
    const victim = spawnChild(script('serviceNode.ts'), clusterNodeEnv(servers, prefix, fast)('a0'));
    children.push(victim);
    await victim.line(/^READY a0/, 30_000);
    const z = await createNode({ name: 'z', prefix, transport: { kind: 'nats', servers }, cluster: fast, services: [clusterCounter] });
    nodes.push(z);
    await waitFor(() => z.cluster!.typesOf('a0')?.ccounter !== undefined && z.nodes().filter((m) => m.status === 'up').length === 2, {
      timeout: 10_000,
      message: 'z sees a0 up with its types',
    });
    // Both idle: placement takes the first by name, the child process.
    const h = await z.services.start('ccounter', { config: { start: 40 }, lifetime: 'cluster', id: 'kept' });
    expect(h.node).toBe('a0');
    expect(await h.ask<number>({ type: 'ADD' })).toBe(41);
    victim.process.kill('SIGKILL');
    await waitFor(() => h.node === 'z' && h.state === 'running', { timeout: 15_000, message: 'kept runs on z' });
    await waitFor(async () => (await h.check().catch(() => undefined))?.code === 0, { timeout: 10_000, message: 'kept answers Check on z' });
    // Not persisted: it starts again from the config in its record.
    expect(await h.ask<number>({ type: 'ADD' })).toBe(41);
    expect(z.services.find().byId('kept').onNode('z').alive().size).toBe(1);
  });
});
