/**
 * A node that fenced itself off answers what still arrives for the instances
 * it stopped, instead of dropping it in silence: a paused owner reads, on
 * waking, what NATS routed to it meanwhile. In one process against a real
 * nats-server: the owner's own heartbeats are cut (its link is never
 * confirmed, as for a process stopped past its lease), it fences, and asks
 * to the old actor address get `FencedError` at once. Across real OS
 * processes: asks by name to an owner SIGSTOPped past its lease are each
 * answered once it wakes (by the new owner, or `FencedError`), none left to
 * its deadline.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { listAll } from './cluster/owners.js';
import { decodeEnvelope, requestFrame } from '../src/services/remote/envelope.js';
import { DEFAULT_LIMITS } from '../src/services/remote/frameGuard.js';
import { ManualClock } from '../src/clock.js';
import { FencedError, fromWireError, isWireError } from '../src/errors.js';
import { nullLogger } from '../src/log.js';
import type { Membership } from '../src/services/cluster/Membership.js';
import { type Fenceable, type FencedInstance, SelfFence } from '../src/services/cluster/SelfFence.js';
import type { Transport } from '../src/transport/Transport.js';
import { connect, uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
const transports: Transport[] = [];
const children: Child[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown()));
  await Promise.allSettled(transports.splice(0).map((t) => t.close()));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

/** `inner`, except that while `cut.on` its own heartbeats are not published: its link is never confirmed. */
function cuttingHeartbeats(inner: Transport, heartbeatSubject: string, cut: { on: boolean }): Transport {
  return new Proxy(inner, {
    get(target, key) {
      if (key === 'publish') {
        return (subject: string, ...rest: unknown[]) => {
          if (cut.on && subject === heartbeatSubject) return;
          (target.publish as (...a: unknown[]) => void).call(target, subject, ...rest);
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

describe('cluster - a fencing node answers what it drops', () => {
  it('cluster - an ask or status to an instance its node stopped by fencing gets FencedError at once (not at its deadline), and is a fenced dead letter', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('fa');
    // a first: it becomes the cluster coordinator and stays valid throughout.
    const a = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers }, cluster: fast });
    nodes.push(a);
    a.register('counter', counterMachine);
    await waitFor(() => a.cluster!.isCoordinator, { timeout: 10_000, message: 'a becomes coordinator' });

    const cut = { on: false };
    const raw = await connect(servers, `${prefix}-h`);
    transports.push(raw);
    const h = await createNode({ name: 'h', prefix, transport: cuttingHeartbeats(raw, `${prefix}.hb.h`, cut), cluster: fast });
    nodes.push(h);
    h.register('counter', counterMachine);
    await waitFor(() => a.nodes().filter((m) => m.status === 'up').length === 2, { timeout: 10_000, message: 'a sees h up' });
    await waitFor(() => a.cluster!.typesOf('h')?.counter !== undefined, { timeout: 10_000, message: "h's types reach a" });

    await a.cluster!.start({ name: 'solo', type: 'counter', node: 'h', placement: 'any' });
    await waitFor(() => h.whereis('solo') !== undefined, { timeout: 10_000, message: 'solo runs on h' });
    const old = h.whereis('solo')!;
    const oldEpoch = h.cluster!.instances().find((i) => i.name === 'solo')!.epoch;
    const address = `${prefix}.actor.h.${old.id}`;

    cut.on = true;
    await waitFor(() => h.cluster!.fences >= 1 && h.whereis('solo') === undefined, { timeout: 10_000, message: 'h fences itself' });

    // A Halyard ask (msgpack) by the old actor address: the error comes back over the wire keeping its code.
    const asked = await a.transport.request(address, requestFrame('ask', old.id, 'c1', { type: 'GET' }), { timeout: 5000 });
    const env = decodeEnvelope(asked.data, DEFAULT_LIMITS);
    expect(env.k).toBe('error');
    expect(env.e).toBeUndefined();
    expect(isWireError(env.b)).toBe(true);
    const err = fromWireError(env.b as Parameters<typeof fromWireError>[0]);
    expect({ name: err.name, remoteName: err.remoteName, code: err.code }).toEqual({ name: 'RemoteError', remoteName: 'FencedError', code: 'ERR_FENCED' });
    expect(err.message).toBe(`node h is fenced off: instance solo (epoch ${oldEpoch}) was stopped here`);

    // A plain JSON client asking for status by the same address gets the same refusal.
    const status = await a.transport.request(address, new Uint8Array(), {
      timeout: 5000,
      headers: { 'content-type': 'application/json', 'halyard-op': 'status' },
    });
    expect(status.headers?.get('halyard-error')).toBe('1');
    expect(JSON.parse(new TextDecoder().decode(status.data))).toMatchObject({ name: 'FencedError', code: 'ERR_FENCED' });

    expect(h.system.deadLetters.byReason().fenced).toBe(2);
  }, 60_000);
});

describe('cluster - self-fence refusals (no runtime)', () => {
  /** A SelfFence over a fake host and link: the link was confirmed at 0, the lease is 100 ms. */
  function fenceOver(hosted: FencedInstance[], owners: Map<string, { node: string; epoch: number }>) {
    const clock = new ManualClock(0);
    const target: Fenceable = {
      get size() {
        return hosted.length;
      },
      killAll: () => hosted.splice(0),
      settleFenced: () => {},
    };
    const membership = { linkConfirmedAt: 0, heartbeatMs: 50 } as unknown as Membership;
    const fence = new SelfFence({ membership, clock, leaseMs: 100, logger: nullLogger(), target: () => target, node: 'h', ownerOf: (n) => owners.get(n) });
    return { fence, clock };
  }

  it('cluster - a fenced instance is refused by name and by actor id with its epoch, and with its new owner once one with a newer epoch is known', () => {
    const owners = new Map<string, { node: string; epoch: number }>();
    const { fence, clock } = fenceOver([{ name: 'solo', id: 'x7', epoch: 3 }], owners);
    expect(fence.refusal('solo')).toBeUndefined();
    clock.advance(100);
    expect(fence.guard()).toBe(false);

    const byName = fence.refusal('solo');
    expect(byName).toBeInstanceOf(FencedError);
    expect(byName).toMatchObject({ code: 'ERR_FENCED', node: 'h', instance: { name: 'solo', epoch: 3 } });
    expect(fence.refusal('x7')?.message).toBe('node h is fenced off: instance solo (epoch 3) was stopped here');
    // Its own old record is no move.
    owners.set('solo', { node: 'h', epoch: 3 });
    expect((fence.refusal('solo') as FencedError).instance?.movedTo).toBeUndefined();
    owners.set('solo', { node: 'a', epoch: 4 });
    expect(fence.refusal('x7')).toMatchObject({ instance: { name: 'solo', epoch: 3, movedTo: { node: 'a', epoch: 4 } } });
    expect(fence.refusal('x7')?.message).toBe('node h is fenced off: instance solo (epoch 3) was stopped here; moved to node a at epoch 4');
    // Anything this fence did not stop is no business of it.
    expect(fence.refusal('other')).toBeUndefined();
  });
});

describe('cluster - a paused owner answers on waking', () => {
  it('cluster - asks by name to an owner SIGSTOPped past its lease are all answered once it wakes, by the new owner or FencedError, none at its deadline', async () => {
    const servers = inject('natsUrl');
    const prefix = uniquePrefix('fp');
    const env = clusterNodeEnv(servers, prefix, { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 400 });
    const v = spawnChild(script('clusterNode.ts'), env('v'));
    children.push(v);
    await v.line(/^LEADER v/, 30_000, 'v becomes coordinator');
    const s1 = spawnChild(script('clusterNode.ts'), env('s1'));
    children.push(s1);
    await s1.line(/^READY /, 30_000);
    const obs = await createNode({ name: 'obs', prefix, transport: { kind: 'nats', servers }, cluster: { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 400 } });
    nodes.push(obs);
    await waitFor(() => obs.nodes().filter((m) => m.status === 'up').length === 3, { timeout: 10_000, message: 'three up' });
    await waitFor(() => ['v', 's1'].every((n) => obs.cluster!.typesOf(n)?.single !== undefined), { timeout: 10_000, message: 'types reach obs' });
    await obs.cluster!.start({ name: 'solo', type: 'single', node: 'v', placement: 'any' });
    expect(await obs.ref('solo').ask({ type: 'GET' })).toBe(0);

    v.process.kill('SIGSTOP');
    const outcomes: string[] = [];
    const asks: Promise<void>[] = [];
    const fire = (n: number): void => {
      for (let i = 0; i < n; i++) {
        const ask = obs.ref('solo').ask({ type: 'GET' }, { timeout: 10_000 });
        asks.push(ask.then(() => void outcomes.push('answered'), (e: { code?: string }) => void outcomes.push(e.code ?? 'uncoded')));
      }
    };
    // While v is the only subscriber, then while NATS splits the queue group between the frozen v and s1.
    fire(40);
    await waitFor(async () => ((await listAll(obs, prefix, ['s1']))[0]?.instances ?? []).some((i) => i.name === 'solo'), {
      timeout: 10_000,
      message: 'solo fails over to s1',
    });
    fire(40);
    // The server has routed every ask (to v's socket or to s1) once it answers the flush.
    await obs.flush();
    v.process.kill('SIGCONT');
    await v.line(/^FENCED /, 10_000, 'v fences itself on waking');
    await Promise.all(asks);

    const count: Record<string, number> = {};
    for (const o of outcomes) count[o] = (count[o] ?? 0) + 1;
    console.log(`[cluster] 80 asks by name across a SIGSTOP of their owner past its lease: ${JSON.stringify(count)}`);
    expect(Object.keys(count).filter((k) => k !== 'answered' && k !== 'ERR_FENCED')).toEqual([]);
    // The asks sent while v was the only subscriber reached v: its refusals prove the fenced path answered them.
    expect(count.ERR_FENCED).toBeGreaterThanOrEqual(40);
  }, 90_000);
});
