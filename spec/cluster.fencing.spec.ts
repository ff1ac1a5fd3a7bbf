/**
 * Fencing across real OS processes: SIGSTOP a node that hosts a singleton and
 * a per-node-locked instance past its lease, let them fail over, then SIGCONT
 * it. The woken node fences itself before serving anything; ownership is
 * sampled throughout (duplicate owners printed, target 0), and a request
 * carrying a stale coordinator epoch is rejected.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { listAll, sampleOwnership } from './cluster/owners.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const observers: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(observers.splice(0).map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 400 };

describe('cluster - fencing', () => {
  it('cluster - a node SIGSTOPped past its lease fences itself on SIGCONT; never two owners', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('g');
    const env = clusterNodeEnv(servers, prefix, fast);
    // v first, and coordinator before s1 starts: s1's coordinator epoch must
    // end up newer than the first one, which the stale request below uses.
    const v = spawnChild(script('clusterNode.ts'), env('v'));
    children.push(v);
    await v.line(/^LEADER v/, 30_000, 'v becomes coordinator');
    const s1 = spawnChild(script('clusterNode.ts'), env('s1'));
    children.push(s1);
    await s1.line(/^READY /, 30_000);
    const obs = await createNode({ name: 'obs', prefix, transport: { kind: 'nats', servers }, cluster: fast });
    observers.push(obs);
    await waitFor(() => obs.nodes().filter((m) => m.status === 'up').length === 3, { timeout: 10_000, message: 'three up' });
    await waitFor(() => ['v', 's1'].every((n) => obs.cluster!.typesOf(n)?.single !== undefined), { timeout: 10_000, message: 'types reach obs' });
    await obs.cluster!.start({ name: 'solo', type: 'single', node: 'v', placement: 'any' });
    await obs.cluster!.start({ name: 'lk', type: 'locked', node: 'v', placement: 'any' });
    const sampler = sampleOwnership(obs, prefix, () => ['v', 's1'], 10);
    const stoppedAt = performance.now();
    v.process.kill('SIGSTOP');
    await waitFor(
      async () => {
        const l = await listAll(obs, prefix, ['s1']);
        const names = l[0]?.instances.map((i) => i.name) ?? [];
        return names.includes('solo') && names.includes('lk');
      },
      { timeout: 10_000, message: 'solo and lk fail over to s1' },
    );
    // The takeover itself waits out v's lease, so v is now stopped past it.
    const failedOverMs = performance.now() - stoppedAt;
    v.process.kill('SIGCONT');
    await v.line(/^FENCED /, 5000, 'v fences itself');
    await waitFor(() => obs.nodes().some((m) => m.node === 'v' && m.status === 'up'), { timeout: 10_000, message: 'v rejoins' });
    // Keep sampling ownership for a while after v is back.
    const seen = sampler.result.samples;
    await waitFor(() => sampler.result.samples >= seen + 15, { timeout: 10_000, message: 'samples after rejoin' });
    const sampled = await sampler.stop();
    const after = await listAll(obs, prefix, ['v', 's1'], 1000);
    const onV = after.find((l) => l.node === 'v')?.instances ?? [];

    // A request carrying a coordinator epoch older than the one s1 has seen is refused.
    const enc = new TextEncoder();
    const stale = await obs.transport.request(
      `${prefix}.clrpc.s1`,
      enc.encode(JSON.stringify({ op: 'spawn', name: 'late', stype: 'counter', restart: 'permanent', placement: 'any', origin: 'obs', supervisor: 'cluster', e: 1 })),
      { timeout: 1000 },
    );
    const staleAnswer = JSON.parse(new TextDecoder().decode(stale.data));
    console.log(
      `[cluster] SIGSTOP past the lease (heartbeat 100, down 400, lease 350 ms): failover to s1 after ${failedOverMs.toFixed(0)} ms; ` +
        `v fenced on wake, instances left on v: ${onV.length}; ownership samples ${sampled.samples}, duplicate owners ${sampled.duplicates.length}; ` +
        `stale-epoch request answered ${staleAnswer.error?.code ?? 'ok'}`,
    );
    expect(onV).toEqual([]);
    expect(sampled.duplicates).toEqual([]);
    expect(staleAnswer.error?.code).toBe('ERR_STALE_EPOCH');
  }, 60_000);
});
