/**
 * The cluster Recovery Coordinator survives its node: SIGKILL a node hosting
 * cluster-supervised instances, then SIGKILL the coordinator's node while its
 * recoveries are pending. A new coordinator is elected through the KV lease,
 * finishes the pending decisions from KV, and every instance runs again.
 * Prints decisions lost (target 0).
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { listAll } from './cluster/owners.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const observers: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(observers.splice(0).map((n) => n.shutdown()));
});

const fast = { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 400 };

describe('cluster - coordinator failover', () => {
  it('cluster - kill the coordinator’s node mid-recovery: a new coordinator finishes every pending decision', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('k');
    const env = clusterNodeEnv(servers, prefix, fast);
    const p1 = spawnChild(script('clusterNode.ts'), env('p1'));
    children.push(p1);
    await p1.line(/^LEADER p1/, 30_000, 'p1 becomes coordinator');
    const p2 = spawnChild(script('clusterNode.ts'), env('p2'));
    const p3 = spawnChild(script('clusterNode.ts'), env('p3'));
    children.push(p2, p3);
    await p2.line(/^READY /, 30_000);
    await p3.line(/^READY /, 30_000);
    const obs = await createNode({ name: 'obs', prefix, transport: { kind: 'nats', servers }, cluster: fast });
    observers.push(obs);
    await waitFor(() => obs.nodes().filter((m) => m.status === 'up').length === 4, { timeout: 10_000, message: 'four up' });
    await waitFor(() => ['p1', 'p2', 'p3'].every((n) => obs.cluster!.typesOf(n)?.counter !== undefined), { timeout: 10_000, message: 'types reach obs' });
    const names = Array.from({ length: 6 }, (_, i) => `job${i}`);
    for (const name of names) await obs.cluster!.start({ name, type: 'counter', node: 'p2', placement: 'any', restart: 'permanent' });
    await obs.cluster!.start({ name: 'tmp', type: 'counter', node: 'p2', placement: 'any', restart: 'temporary' });

    const killedAt = performance.now();
    p2.process.kill('SIGKILL');
    // Kill the coordinator as soon as it has a recovery pending (or, if it is too quick to catch, right after the verdict).
    let sawPending = false;
    await waitFor(
      async () => {
        if ((await obs.cluster!.pending()).length > 0) sawPending = true;
        return sawPending || obs.nodes().some((m) => m.node === 'p2' && m.status === 'down');
      },
      { timeout: 10_000, interval: 1, message: 'recovery begun' },
    );
    p1.process.kill('SIGKILL');
    const coordKilledAt = performance.now();
    const leader = await waitFor(
      async () => (await listAll(obs, prefix, ['p3', 'obs'])).find((l) => l.coordinator)?.node ?? (obs.cluster!.isCoordinator ? 'obs' : undefined),
      { timeout: 10_000, message: 'a new coordinator' },
    );
    const electedMs = performance.now() - coordKilledAt;
    const answering = async (n: string) => obs.ref(n).ask({ type: 'GET' }, { timeout: 200 }).then(() => true, () => false);
    await waitFor(async () => (await Promise.all(names.map(answering))).every(Boolean), { timeout: 15_000, message: 'every job runs again' }).catch(() => {});
    const running = (await Promise.all(names.map(answering))).filter(Boolean).length;
    const allDoneMs = performance.now() - killedAt;
    const pendingLeft = await waitFor(async () => {
      const p = await obs.cluster!.pending();
      return p.length === 0 ? p : undefined;
    }, { timeout: 5000, message: 'no pending decisions left' }).catch(() => ['(timeout)']);
    const decisions = await obs.cluster!.decisions();
    const tmpRuns = await answering('tmp');
    console.log(
      `[cluster] coordinator killed ${sawPending ? 'with a recovery pending' : 'right after the down verdict'}: new coordinator ${leader} after ${electedMs.toFixed(0)} ms; ` +
        `jobs running again ${running}/${names.length} (${allDoneMs.toFixed(0)} ms after the first kill); decisions lost ${names.length - running}; ` +
        `pending left ${pendingLeft.length}; decisions in KV ${decisions.length} (by ${[...new Set(decisions.map((d) => d.coordinator))].join(', ')}); temporary restarted: ${tmpRuns}`,
    );
    expect(running).toBe(names.length);
    expect(pendingLeft).toEqual([]);
    expect(tmpRuns).toBe(false);
  }, 60_000);
});
