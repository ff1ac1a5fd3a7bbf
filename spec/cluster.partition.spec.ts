/**
 * One member of three cut off from NATS by a TCP proxy, with a lease for a
 * singleton-like name held by that member.
 *
 * - blackhole: the minority (the cut-off node) fences itself (its lease is
 *   lost and `held` is false) before the majority takes the lease over; the
 *   majority declares it down; it declares nobody down; healed, it rejoins
 *   with a new incarnation.
 * - delay below the suspicion threshold: no down verdicts, the holder keeps its lease.
 * - reset: the client reconnects; nobody is declared down.
 *
 * Throughout, a sampler reads every lease's `held` every 2 ms: no sample may
 * show two holders.
 */
import { Kvm } from '@nats-io/kv';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { bucketName, isStale, Lease, type LostReason, openKv } from '../src/services/cluster/index.js';
import type { TransportStatusType } from '../src/transport/Transport.js';
import { TestCluster, type TestMember } from './cluster/harness.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { waitFor } from './support/wait.js';

const LEASE = 'singleton';
const NAMES = ['a', 'b', 'p'] as const;

const clusters: TestCluster[] = [];
const proxies: TcpProxy[] = [];
const leases: Lease[] = [];
const samplers: Sampler[] = [];
const buckets: Array<{ cluster: TestCluster; bucket: string }> = [];

afterEach(async () => {
  for (const s of samplers.splice(0)) s.stop();
  await Promise.allSettled(leases.splice(0).map((l) => l.stop()));
  for (const { cluster, bucket } of buckets.splice(0)) {
    const t = [...cluster.members.values()].map((m) => m.transport).find((x) => !x.isClosed && x.isConnected);
    if (t !== undefined) await new Kvm(t._connection).open(bucket).then((kv) => kv.destroy()).catch(() => {});
  }
  for (const c of clusters.splice(0)) await c.close();
  for (const p of proxies.splice(0)) await p.close();
});

interface Sampler {
  samples: number;
  overlaps: number;
  stop(): void;
}

/** Reads `held` of every lease every 2 ms; `overlaps` counts samples with two holders at once. */
function sample(of: readonly Lease[]): Sampler {
  const s: Sampler = { samples: 0, overlaps: 0, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    s.samples++;
    if (of.filter((l) => l.held).length > 1) s.overlaps++;
  }, 2);
  samplers.push(s);
  return s;
}

interface Fixture {
  readonly cluster: TestCluster;
  readonly proxy: TcpProxy;
  readonly members: Record<(typeof NAMES)[number], TestMember>;
  readonly leases: Record<(typeof NAMES)[number], Lease>;
  /** Events on the leases, with the time they happened. */
  readonly log: Array<{ holder: string; event: 'acquired' | 'lost'; detail: number | LostReason; at: number; othersHeld: string[] }>;
  readonly sampler: Sampler;
  /** Transport status events of p's connection. */
  readonly pStatus: TransportStatusType[];
}

/** a and b connect directly, p through the proxy; p takes the lease first, then a and b contend for it. */
async function setup(): Promise<Fixture> {
  const cluster = new TestCluster(inject('natsUrl'));
  clusters.push(cluster);
  const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
  proxies.push(proxy);
  const members = {
    a: await cluster.start('a'),
    b: await cluster.start('b'),
    p: await cluster.start('p', { via: proxy.url }),
  };
  await waitFor(() => cluster.allSee(NAMES, NAMES), { timeout: 5000, message: 'a, b and p up everywhere' });
  const bucket = bucketName(cluster.prefix, 'leases');
  buckets.push({ cluster, bucket });
  const log: Fixture['log'] = [];
  const made = {} as Record<(typeof NAMES)[number], Lease>;
  for (const name of NAMES) {
    const m = members[name];
    const lease = new Lease({ kv: await openKv(m.transport, bucket), name: LEASE, holder: name, incarnation: m.membership.incarnation });
    // Who else holds it at the very moment of each event (the sampler only sees every 2 ms).
    const othersHeld = () => NAMES.filter((n) => n !== name && made[n]?.held);
    lease.on('acquired', (epoch) => log.push({ holder: name, event: 'acquired', detail: epoch, at: performance.now(), othersHeld: othersHeld() }));
    lease.on('lost', (reason) => log.push({ holder: name, event: 'lost', detail: reason, at: performance.now(), othersHeld: othersHeld() }));
    leases.push(lease);
    made[name] = lease;
  }
  made.p.start();
  await waitFor(() => made.p.held, { timeout: 5000, message: 'p holds the lease' });
  made.a.start();
  made.b.start();
  const sampler = sample([made.a, made.b, made.p]);
  const pStatus: TransportStatusType[] = [];
  members.p.transport.onStatus((s) => pStatus.push(s.type));
  return { cluster, proxy, members, leases: made, log, sampler, pStatus };
}

/** Every `down` any member saw. */
function downs(f: Fixture): Array<{ by: string; node: string; incarnation: number }> {
  return NAMES.flatMap((n) =>
    f.members[n].changes.filter((x) => x.type === 'down').map((x) => ({ by: n, node: x.member.node, incarnation: x.member.incarnation })),
  );
}

function suspects(f: Fixture): number {
  return NAMES.reduce((s, n) => s + f.members[n].changes.filter((x) => x.type === 'suspect').length, 0);
}

/** Let `ms` pass, polling (a window in which something must *not* happen). */
async function hold(ms: number, message: string): Promise<void> {
  const until = performance.now() + ms;
  await waitFor(() => performance.now() >= until, { timeout: ms + 5000, interval: 20, message });
}

describe('cluster - partition', () => {
  it('cluster - blackholed, the minority fences itself before the majority takes over; it is declared down, judges nobody, and rejoins when healed', async () => {
    const f = await setup();
    const { a, b, p } = f.leases;
    const pm = f.members.p;
    const oldIncarnation = pm.membership.incarnation;
    const epochP = p.assertHeld();

    f.proxy.blackhole();
    const cut = performance.now();
    const newHolder = await waitFor(() => [a, b].find((l) => l.held), { timeout: 8000, message: 'a or b takes the lease over' });
    const takeover = f.log.find((e) => e.event === 'acquired' && e.holder !== 'p')!;
    const takeoverAt = takeover.at;
    // At the instant the majority acquired it, nobody else held it: p's `held` was already false.
    expect(takeover.othersHeld).toEqual([]);
    await waitFor(() => (['a', 'b'] as const).every((n) => f.members[n].statusOf('p') === 'down'), {
      timeout: 5000,
      message: 'p down on a and b',
    });
    const downAt = performance.now();

    // The minority fenced itself first: lost (expired, it could not renew), and not held, before anyone took over.
    const pLost = f.log.find((e) => e.holder === 'p' && e.event === 'lost');
    expect(pLost?.detail).toBe('expired');
    expect(pLost!.at).toBeLessThan(takeoverAt);
    expect(p.held).toBe(false);
    expect(isStale(epochP, newHolder.assertHeld())).toBe(true);
    // p has been cut off for longer than any verdict needs, and it judged nobody.
    expect(performance.now() - cut).toBeGreaterThan(pm.membership.downAfterMs);
    expect(pm.membership.isolated).toBe(true);
    expect(downs(f).filter((d) => d.by === 'p' && d.node !== 'p')).toEqual([]);
    for (const n of ['a', 'b']) expect(pm.statusOf(n)).not.toBe('down');
    console.log(
      `[cluster] partition: p fenced itself ${(pLost!.at - cut).toFixed(0)} ms after the cut, ` +
        `${(takeoverAt - pLost!.at).toFixed(0)} ms before ${newHolder.holder} took over (${(takeoverAt - cut).toFixed(0)} ms after the cut); ` +
        `p down on a and b by ${(downAt - cut).toFixed(0)} ms`,
    );

    f.proxy.heal();
    await waitFor(() => pm.membership.incarnation > oldIncarnation, { timeout: 5000, message: 'p rejoined with a new incarnation' });
    await waitFor(
      () =>
        (['a', 'b'] as const).every((n) => {
          const seen = f.members[n].membership.member('p');
          return seen?.status === 'up' && seen.incarnation === pm.membership.incarnation;
        }),
      { timeout: 5000, message: 'p up again on a and b with its new incarnation' },
    );
    await waitFor(() => f.cluster.allSee(NAMES, NAMES), { timeout: 5000, message: 'all three up everywhere' });
    // p saw its own down verdict, then its own rejoin; it never judged anyone.
    expect(pm.changes.filter((x) => x.member.node === 'p').map((x) => x.type)).toEqual(['down', 'join']);
    expect(downs(f).filter((d) => d.node !== 'p')).toEqual([]);

    // Healed, p sees the new holder renew and stays out.
    await hold(2 * p.leaseMs, 'two lease periods after healing');
    expect(p.held).toBe(false);
    expect(newHolder.held).toBe(true);
    expect([a, b, p].filter((l) => l.held)).toHaveLength(1);
    expect(f.log.filter((e) => e.event === 'acquired' && e.othersHeld.length > 0)).toEqual([]);
    f.sampler.stop();
    expect(f.sampler.samples).toBeGreaterThan(500);
    expect(f.sampler.overlaps).toBe(0);
  }, 30_000);

  it('cluster - a moderate delay (below the suspicion threshold) gives no down verdicts; the holder keeps its lease', async () => {
    const f = await setup();
    const pm = f.members.p;
    const oldIncarnation = pm.membership.incarnation;
    // One way: heartbeat period + delay stays below suspectAfterMs (250 + 150 < 500).
    const delayMs = 150;
    expect(pm.membership.heartbeatMs + delayMs).toBeLessThan(pm.membership.suspectAfterMs);
    f.proxy.delay(delayMs);
    await hold(4 * pm.membership.downAfterMs, 'the delay held for four verdict periods');
    // Heartbeats kept coming through the delay: p's watchers heard it within a suspicion period of now.
    const healAt = performance.now();
    const watchers = (['a', 'b'] as const).filter((n) => f.members[n].membership.watching.includes('p'));
    expect(watchers.length).toBeGreaterThan(0);
    for (const n of watchers) expect(healAt - f.members[n].membership.member('p')!.lastHeardAt).toBeLessThan(pm.membership.suspectAfterMs);
    f.proxy.heal();
    await waitFor(() => f.cluster.allSee(NAMES, NAMES), { timeout: 5000, message: 'all three up everywhere' });

    expect(downs(f)).toEqual([]);
    expect(pm.membership.incarnation).toBe(oldIncarnation);
    expect(f.leases.p.held).toBe(true);
    expect(f.log.filter((e) => e.holder !== 'p' || e.event === 'lost')).toEqual([]);
    f.sampler.stop();
    expect(f.sampler.overlaps).toBe(0);
    console.log(`[cluster] partition: ${delayMs} ms delay each way for ${(4 * pm.membership.downAfterMs).toFixed(0)} ms: 0 down verdicts, ${suspects(f)} suspicions`);
  }, 30_000);

  it('cluster - a reset connection reconnects; nobody is declared down; never two holders', async () => {
    const f = await setup();
    const pm = f.members.p;
    const oldIncarnation = pm.membership.incarnation;
    const resetAt = performance.now();
    f.proxy.reset();
    await waitFor(() => f.pStatus.includes('disconnected') && f.pStatus.includes('reconnected'), {
      timeout: 5000,
      message: 'p disconnected and reconnected',
    });
    const reconnectedMs = performance.now() - resetAt;
    // Past p's grace period and every watcher's verdict time: a verdict would have come by now.
    await hold(2 * pm.membership.downAfterMs + 500, 'after the grace period');
    await waitFor(() => f.cluster.allSee(NAMES, NAMES) && !pm.membership.isolated, { timeout: 5000, message: 'all three up everywhere' });

    expect(downs(f)).toEqual([]);
    expect(pm.membership.incarnation).toBe(oldIncarnation);
    expect([f.leases.a, f.leases.b, f.leases.p].filter((l) => l.held)).toHaveLength(1);
    f.sampler.stop();
    expect(f.sampler.overlaps).toBe(0);
    expect(f.log.filter((e) => e.event === 'acquired' && e.othersHeld.length > 0)).toEqual([]);
    const events = f.log.map((e) => `${e.holder}:${e.event}:${e.detail}`);
    console.log(
      `[cluster] partition: reset, p reconnected in ${reconnectedMs.toFixed(0)} ms; 0 down verdicts, ${suspects(f)} suspicions; ` +
        `lease events ${JSON.stringify(events)}; p still holds: ${f.leases.p.held}`,
    );
  }, 30_000);
});
