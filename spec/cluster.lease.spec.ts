import { Kvm } from '@nats-io/kv';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { LeaseLostError, StaleEpochError } from '../src/errors.js';
import { bucketName, isStale, Lease, openKv } from '../src/services/cluster/index.js';
import type { NatsTransport } from '../src/transport/NatsTransport.js';
import { type Child, killAll, script, spawnChild } from './cluster/children.js';
import { connect, uniquePrefix } from './cluster/harness.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { waitFor } from './support/wait.js';

const prefix = uniquePrefix('l');
const bucket = bucketName(prefix, 'leases');
const transports: NatsTransport[] = [];
const leases: Lease[] = [];
const children: Child[] = [];
const proxies: TcpProxy[] = [];
let names = 0;

const wall = () => performance.timeOrigin + performance.now();

async function contender(holder: string, lease: string, via?: string): Promise<Lease> {
  const t = await connect(via ?? inject('natsUrl'), `${prefix}-${holder}`);
  transports.push(t);
  const l = new Lease({ kv: await openKv(t, bucket), name: lease, holder });
  leases.push(l);
  return l;
}

/** Samples `held` of each lease every 2 ms; `overlaps` counts samples where two were held at once. */
function sampler(of: Lease[]): { stop(): void; samples: number; overlaps: number } {
  const s = { samples: 0, overlaps: 0, stop: () => clearInterval(timer) };
  const timer = setInterval(() => {
    s.samples++;
    if (of.filter((l) => l.held).length > 1) s.overlaps++;
  }, 2);
  return s;
}

beforeAll(async () => {
  const t = await connect(inject('natsUrl'), `${prefix}-setup`);
  transports.push(t);
  await openKv(t, bucket);
});

afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(leases.splice(0).map((l) => l.stop()));
  for (const p of proxies.splice(0)) await p.close();
});

afterAll(async () => {
  await new Kvm(transports[0]!._connection).open(bucket).then((kv) => kv.destroy()).catch(() => {});
  await Promise.allSettled(transports.map((t) => t.close()));
});

describe('cluster - lease', () => {
  it('cluster - one of several contenders holds the lease; a release hands it over at once, with a newer epoch', async () => {
    const name = `single${++names}`;
    const ls = await Promise.all(['x', 'y', 'z'].map((h) => contender(h, name)));
    const s = sampler(ls);
    for (const l of ls) l.start();
    const first = await waitFor(() => ls.find((l) => l.held), { timeout: 5000, message: 'someone holds it' });
    const epoch1 = first.assertHeld();
    expect(ls.filter((l) => l.held)).toHaveLength(1);
    // Receivers learn the current epoch from the store.
    await expect(Lease.current(await openKv(transports[0]!, bucket), name)).resolves.toMatchObject({
      holder: first.holder,
      epoch: epoch1,
    });
    const t0 = performance.now();
    await first.release();
    expect(first.held).toBe(false);
    expect(() => first.assertHeld()).toThrow(LeaseLostError);
    const second = await waitFor(() => ls.find((l) => l.held), { timeout: 5000, message: 'handed over' });
    const took = performance.now() - t0;
    const epoch2 = second.assertHeld();
    expect(second).not.toBe(first);
    expect(isStale(epoch1, epoch2)).toBe(true);
    expect(() => second.assertFresh(epoch1)).toThrow(StaleEpochError);
    s.stop();
    expect(s.overlaps).toBe(0);
    // A release deletes the lease: the others need not wait out leaseMs, only their next poll.
    expect(took).toBeLessThan(second.leaseMs);
  });

  it('cluster - a holder cut off from NATS fences itself before anyone takes over; no sample shows two holders', async () => {
    const name = `single${++names}`;
    const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
    proxies.push(proxy);
    const a = await contender('a', name, proxy.url);
    const b = await contender('b', name);
    let aLostAt = 0;
    let bAcquiredAt = 0;
    a.on('lost', () => {
      aLostAt = wall();
    });
    b.on('acquired', () => {
      bAcquiredAt = wall();
    });
    a.start();
    await waitFor(() => a.held, { timeout: 5000, message: 'a holds it' });
    b.start();
    const s = sampler([a, b]);
    const epochA = a.assertHeld();
    proxy.blackhole();
    await waitFor(() => b.held, { timeout: 6000, message: 'b takes over' });
    expect(aLostAt).toBeGreaterThan(0);
    expect(aLostAt).toBeLessThan(bAcquiredAt);
    console.log(`[cluster] lease: cut-off holder fenced itself ${(bAcquiredAt - aLostAt).toFixed(0)} ms before the takeover`);
    proxy.heal();
    // Healed, a sees b renewing and stays out.
    const until = performance.now() + 2 * a.leaseMs;
    await waitFor(() => performance.now() >= until, { timeout: 10_000, interval: 20, message: 'a while after healing' });
    expect(a.held).toBe(false);
    expect(b.held).toBe(true);
    expect(isStale(epochA, b.assertHeld())).toBe(true);
    s.stop();
    expect(s.samples).toBeGreaterThan(100);
    expect(s.overlaps).toBe(0);
  });

  it('cluster - a holder SIGSTOPped past its lease fences itself on SIGCONT, after another node took over; never two live holders', async () => {
    const name = `single${++names}`;
    const child = spawnChild(script('leaseHolder.ts'), {
      HALYARD_NATS_URL: inject('natsUrl'),
      HALYARD_BUCKET: bucket,
      HALYARD_LEASE: name,
      HALYARD_HOLDER: 'paused',
    });
    children.push(child);
    const acquired = await child.line(/^ACQUIRED /, 30_000);
    const childEpoch = Number(acquired.split(' ')[1]);
    await child.line(/^WORK /, 5000);
    const b = await contender('b', name);
    /** b's held samples: [wall time, held]. */
    const bSamples: Array<[number, boolean]> = [];
    const timer = setInterval(() => bSamples.push([wall(), b.held]), 2);
    let bAcquiredAt = 0;
    b.on('acquired', () => {
      bAcquiredAt = wall();
    });
    b.start();

    const stoppedAt = wall();
    child.process.kill('SIGSTOP');
    await waitFor(() => b.held, { timeout: 6000, message: 'b takes over from the paused holder' });
    // Keep it paused a little longer, then wake it.
    const wakeAt = performance.now() + 300;
    await waitFor(() => performance.now() >= wakeAt, { timeout: 2000, interval: 10, message: 'b has held it a while' });
    const resumedAt = wall();
    child.process.kill('SIGCONT');
    const lost = await child.line(/^LOST /, 5000, 'the woken holder reports the lease lost');
    const lostAt = Number(lost.split(' ')[2]);
    // Let both run side by side for a while.
    const until = performance.now() + 1000;
    await waitFor(() => performance.now() >= until, { timeout: 3000, interval: 10, message: 'side by side' });
    clearInterval(timer);

    const work = child.lines.filter((l) => l.startsWith('WORK ')).map((l) => l.split(' ').map(Number) as [number, number, number]);
    // The paused holder did no work once it woke, and none after b took over.
    expect(work.filter(([, , t]) => t >= resumedAt)).toEqual([]);
    expect(work.filter(([, , t]) => t >= bAcquiredAt)).toEqual([]);
    // Sampled, there is no instant with two live holders: every instant the child worked, b did not hold.
    const bHeld = bSamples.filter(([, h]) => h).map(([t]) => t);
    const firstBHeld = Math.min(...bHeld);
    expect(work.every(([, , t]) => t < firstBHeld)).toBe(true);
    expect(b.held).toBe(true);
    expect(isStale(childEpoch, b.assertHeld())).toBe(true);
    expect(lost).toMatch(/^LOST (expired|superseded) /);
    expect(child.lines.filter((l) => l.startsWith('ACQUIRED '))).toHaveLength(1);
    const lastWork = Math.max(...work.map(([, , t]) => t));
    console.log(
      `[cluster] lease SIGSTOP: last work ${(stoppedAt - lastWork).toFixed(0)} ms before SIGSTOP; ` +
        `b took over ${(bAcquiredAt - stoppedAt).toFixed(0)} ms after SIGSTOP; ` +
        `woken holder reported "${lost.split(' ')[1]}" ${(lostAt - resumedAt).toFixed(1)} ms after SIGCONT`,
    );
  }, 45_000);
});
