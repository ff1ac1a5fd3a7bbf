import { afterEach, describe, expect, inject, it } from 'vitest';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { waitFor } from './support/wait.js';
import { TestCluster } from './cluster/harness.js';

const clusters: TestCluster[] = [];
const proxies: TcpProxy[] = [];
const servers: NatsServerHandle[] = [];

afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
  for (const p of proxies.splice(0)) await p.close();
  for (const s of servers.splice(0)) await s.stop();
});

function cluster(url = inject('natsUrl')): TestCluster {
  const c = new TestCluster(url);
  clusters.push(c);
  return c;
}

describe('cluster - membership', () => {
  it('cluster - nodes join and see each other up', async () => {
    const c = cluster();
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const n of names) await c.start(n);
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all five see all five up' });
    const a = c.members.get('a')!.membership;
    expect(a.members().map((m) => m.node)).toEqual(names);
    // Ring of five, k = 2: a watches its two predecessors d and e.
    expect(a.watching).toEqual(['d', 'e']);
    expect(c.members.get('c')!.membership.watching).toEqual(['a', 'b']);
    for (const m of a.members()) expect(m.incarnation).toBeGreaterThan(0);
  });

  it('cluster - a graceful stop is seen as a leave, at once, not as down', async () => {
    const c = cluster();
    const names = ['a', 'b', 'c', 'd'];
    for (const n of names) await c.start(n);
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all four up' });
    const t0 = performance.now();
    await c.members.get('b')!.membership.stop();
    const rest = ['a', 'c', 'd'];
    await waitFor(() => rest.every((n) => c.members.get(n)!.membership.member('b') === undefined), {
      timeout: 2000,
      message: 'b forgotten by the others',
    });
    const took = performance.now() - t0;
    for (const n of rest) {
      const seen = c.members.get(n)!.changes.filter((x) => x.member.node === 'b').map((x) => x.type);
      expect(seen).toContain('leave');
      expect(seen).not.toContain('down');
      expect(seen).not.toContain('suspect');
    }
    console.log(`[cluster] leave seen by all in ${took.toFixed(0)} ms`);
  });

  it('cluster - a partitioned node goes suspect then down; it judges nobody; healed, it rejoins with a higher incarnation', async () => {
    const c = cluster();
    const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
    proxies.push(proxy);
    const names = ['a', 'b', 'c', 'p'];
    await c.start('a');
    await c.start('b');
    await c.start('c');
    const p = await c.start('p', { via: proxy.url });
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all four up' });
    const oldIncarnation = p.membership.incarnation;

    proxy.blackhole();
    const cut = performance.now();
    const survivors = ['a', 'b', 'c'];
    await waitFor(() => survivors.every((n) => c.members.get(n)!.statusOf('p') === 'down'), {
      timeout: 5000,
      message: 'p down on a, b and c',
    });
    console.log(`[cluster] partitioned node down on all survivors after ${(performance.now() - cut).toFixed(0)} ms`);
    for (const n of survivors) {
      const seen = c.members.get(n)!.changes.filter((x) => x.member.node === 'p' && x.member.incarnation === oldIncarnation);
      const types = seen.map((x) => x.type);
      expect(types.indexOf('down')).toBeGreaterThan(-1);
      // Its watchers suspected it first; the third heard the suspicion broadcast, or only the verdict.
      if (c.members.get(n)!.membership.watching.includes('p')) expect(types.indexOf('suspect')).toBeLessThan(types.indexOf('down'));
    }
    expect(p.membership.isolated).toBe(true);
    // Stay cut off a while longer: the partitioned node must not judge anyone.
    await waitFor(() => performance.now() - cut > 2500, { timeout: 5000, interval: 50, message: 'partition held 2.5 s' });
    expect(p.changes.filter((x) => x.type === 'down' && x.member.node !== 'p')).toEqual([]);
    for (const n of survivors) expect(p.statusOf(n)).not.toBe('down');

    proxy.heal();
    await waitFor(() => p.membership.incarnation > oldIncarnation, { timeout: 5000, message: 'p rejoined with a new incarnation' });
    await waitFor(
      () => survivors.every((n) => {
        const m = c.members.get(n)!.membership.member('p');
        return m?.status === 'up' && m.incarnation === p.membership.incarnation;
      }),
      { timeout: 5000, message: 'p up again on a, b and c with its new incarnation' },
    );
    // p saw its own down verdict, then its own rejoin.
    const own = p.changes.filter((x) => x.member.node === 'p').map((x) => x.type);
    expect(own).toEqual(['down', 'join']);
    expect(p.changes.filter((x) => x.type === 'down' && x.member.node !== 'p')).toEqual([]);
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all four up again' });
  });

  it('cluster - a node whose connection drops judges nobody, and after reconnecting gets a grace period', async () => {
    const c = cluster();
    const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
    proxies.push(proxy);
    const names = ['a', 'b', 'c', 'p'];
    for (const n of ['a', 'b', 'c']) await c.start(n);
    const p = await c.start('p', { via: proxy.url });
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all four up' });
    const oldIncarnation = p.membership.incarnation;
    const statuses: string[] = [];
    p.transport.onStatus((s) => statuses.push(s.type));
    // Break the connection and keep it broken: the client knows it is disconnected and keeps redialling.
    proxy.blackhole();
    proxy.reset();
    await waitFor(() => statuses.includes('disconnected'), { timeout: 5000, message: 'p disconnected' });
    await waitFor(() => ['a', 'b', 'c'].every((n) => c.members.get(n)!.statusOf('p') === 'down'), { timeout: 5000, message: 'p down on the others' });
    expect(p.membership.isolated).toBe(true);
    proxy.heal();
    await waitFor(() => statuses.includes('reconnected'), { timeout: 10_000, message: 'p reconnected' });
    await waitFor(() => p.membership.incarnation > oldIncarnation, { timeout: 5000, message: 'p rejoined' });
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all four up again' });
    // Throughout, p suspected and judged nobody, not even while its view was stale right after reconnecting.
    expect(p.changes.filter((x) => x.member.node !== 'p' && (x.type === 'suspect' || x.type === 'down'))).toEqual([]);
  });

  it('cluster - a nats-server restart (everyone disconnected at once) declares nobody down', async () => {
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    const c = cluster(server.url);
    const names = ['a', 'b', 'c'];
    for (const n of names) await c.start(n);
    await waitFor(() => c.allSee(names, names), { timeout: 5000, message: 'all three up' });
    await server.restart();
    await waitFor(() => names.every((n) => c.members.get(n)!.transport.isConnected), { timeout: 10_000, message: 'everyone reconnected' });
    // Past the grace period and then some: a verdict would have come by now.
    const until = performance.now() + 2 * c.members.get('a')!.membership.downAfterMs + 500;
    await waitFor(() => performance.now() >= until, { timeout: 10_000, interval: 20, message: 'after the grace period' });
    for (const n of names) {
      expect(c.members.get(n)!.changes.filter((x) => x.type === 'down' || x.type === 'suspect')).toEqual([]);
    }
    expect(c.allSee(names, names)).toBe(true);
    // And failure detection still works afterwards.
    await c.members.get('c')!.transport.close();
    await waitFor(() => ['a', 'b'].every((n) => c.members.get(n)!.statusOf('c') === 'down'), { timeout: 5000, message: 'c down after restart' });
  });
});
