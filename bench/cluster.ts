/**
 * Cluster cases: membership, the registry and failure detection, on a
 * nats-server with JetStream started for this group, every member in this
 * process on its own NATS connection.
 *
 * | case                                  | Halyard                                                        | baseline (same run, or a formula)                  | target |
 * |---------------------------------------|----------------------------------------------------------------|----------------------------------------------------|--------|
 * | heartbeat msgs/s, N = 3, 10, 50       | heartbeats published + delivered per second, all members, counted by a wrapper around each member's transport, in steady state | all-to-all heartbeating: N·(N−1) / interval | none |
 * | registry claim/release, sequential    | `claim(name)` then `release(name, epoch)` on one name, one connection; op = a claim or a release | `kv.put` on one key, same bucket, same connection | none |
 * | registry claim/release, 8 connections | the same on 8 connections at once, one name each               | `kv.put`, 8 connections, one key each              | none |
 * | failure detection p50 / p99, heartbeat 100, 250, 500 ms | transport closed (no leave) → `down` seen by every survivor | the configured `downAfterMs` (the silence threshold) | none |
 *
 * ## Heartbeats
 * Each member publishes one heartbeat per interval to its own subject; its
 * k = 2 ring successors and itself (the echo that proves its own link)
 * receive it: (k + 2)·N = 4N messages per interval, against N·(N−1)
 * deliveries for all-to-all (publishes not even counted there). At N = 3
 * the ring costs more than all-to-all (12 vs 6 per interval): with k = 2,
 * every node already watches every other, and the echo is extra. Other
 * cluster traffic in the same window (events, probes) is printed to stderr.
 *
 * ## Registry
 * A claim of a name that was released is, in `@nats-io/kv`, a `create` that
 * fails on the delete marker, then a read and an `update`: three round trips
 * where the `kv.put` baseline makes one; a release is one. So a claim/release
 * cycle is four round trips for two operations.
 *
 * ## Failure detection
 * A cluster of three survivors and one victim per trial (a fresh name each
 * time, so no trial inherits another's state). The victim's transport is
 * closed while its Membership runs on: its heartbeats stop and nobody hears a
 * leave. The clock starts when `close()` is called, at a random phase of the
 * heartbeat period, and stops when the last survivor sees `down`. Expected:
 * `downAfterMs` minus the time since the victim's last heartbeat (0 to one
 * period), plus a tick (period / 5) and one KV write.
 */
import { Kvm } from '@nats-io/kv';
import { startNatsServer } from '../spec/support/natsServer.js';
import { CountingTransport, type Counts, zeroCounts } from '../spec/cluster/countingTransport.js';
import { bucketName, type KV, Membership, type MembershipOptions, openKv, Registry } from '../src/services/cluster/index.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type BenchOptions, type BenchResult, interleave, pairedResult, percentile, progress, selected } from './harness.js';

const GROUP = 'cluster';
const WORKERS = 8;
const DETECTION_INTERVALS = [100, 250, 500] as const;
const SWARM_SIZES = [3, 10, 50] as const;

const CASES = {
  heartbeat: (n: number) => `heartbeat msgs/s, N=${n} (published + delivered)`,
  registrySeq: 'registry claim/release, sequential',
  registryPar: `registry claim/release, ${WORKERS} connections`,
  detectP50: (hb: number) => `failure detection p50, heartbeat ${hb} ms`,
  detectP99: (hb: number) => `failure detection p99, heartbeat ${hb} ms`,
} as const;

interface Sizes {
  /** Steady-state window over which heartbeats are counted, ms. */
  readonly window: number;
  readonly rounds: number;
  /** Claim/release cycles per run (sequential), per worker (8 connections). */
  readonly cycles: number;
  readonly trials: number;
}

function sizes(quick: boolean): Sizes {
  return quick ? { window: 1000, rounds: 3, cycles: 200, trials: 4 } : { window: 3000, rounds: 5, cycles: 600, trials: 10 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms: ${what}`);
    await sleep(5);
  }
}

let prefixes = 0;
const newPrefix = (tag: string) => `bench${process.pid}${tag}${++prefixes}`;

// ─── Members ─────────────────────────────────────────────────────────────────

interface BenchMember {
  readonly node: string;
  readonly transport: NatsTransport;
  readonly counting: CountingTransport;
  readonly membership: Membership;
}

async function connect(servers: string, name: string): Promise<NatsTransport> {
  return NatsTransport.connect({ servers, name, reconnectTimeWait: 100 });
}

/** A Membership on its own connection, its transport wrapped to count heartbeats. */
async function startMember(
  servers: string,
  prefix: string,
  node: string,
  options: Partial<Omit<MembershipOptions, 'node' | 'transport' | 'kv' | 'prefix'>> = {},
): Promise<BenchMember> {
  const transport = await connect(servers, `${prefix}-${node}`);
  const counting = new CountingTransport(transport, prefix);
  const kv = await openKv(transport, bucketName(prefix, 'members'));
  const membership = await Membership.start({ ...options, node, transport: counting, kv, prefix });
  return { node, transport, counting, membership };
}

function upCount(m: Membership): number {
  return m.members().filter((x) => x.status === 'up').length;
}

async function stopMembers(members: readonly BenchMember[], prefix: string): Promise<void> {
  await Promise.allSettled(members.map((m) => m.membership.stop()));
  const live = members.find((m) => !m.transport.isClosed && m.transport.isConnected);
  if (live !== undefined) {
    await new Kvm(live.transport._connection).open(bucketName(prefix, 'members')).then((kv) => kv.destroy()).catch(() => {});
  }
  await Promise.allSettled(members.map((m) => m.transport.close()));
}

// ─── (a) Heartbeat traffic ───────────────────────────────────────────────────

async function heartbeatRate(servers: string, n: number, windowMs: number): Promise<BenchResult> {
  const prefix = newPrefix('h');
  const names = Array.from({ length: n }, (_, i) => `n${String(i).padStart(2, '0')}`);
  const members: BenchMember[] = [];
  try {
    // In batches: 50 joins at once would all be new together.
    for (let i = 0; i < n; i += 10) {
      members.push(...(await Promise.all(names.slice(i, i + 10).map((name) => startMember(servers, prefix, name)))));
    }
    await until(() => members.every((m) => upCount(m.membership) === n), 30_000, `all ${n} see all ${n} up`);
    await until(() => members.every((m) => m.membership.watching.length === Math.min(2, n - 1)), 10_000, 'every ring settled');
    const intervalMs = members[0]!.membership.heartbeatMs;
    for (const m of members) m.counting.counts = zeroCounts();
    const start = performance.now();
    await sleep(windowMs);
    const elapsed = performance.now() - start;
    const total = zeroCounts();
    for (const m of members) for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += m.counting.counts[k];
    const perSecond = (x: number) => (x * 1000) / elapsed;
    const value = perSecond(total.hbPublished + total.hbDelivered);
    const allToAll = (n * (n - 1) * 1000) / intervalMs;
    const notUp = members.filter((m) => upCount(m.membership) !== n).length;
    progress(
      `  N=${n}: heartbeats published ${perSecond(total.hbPublished).toFixed(0)}/s, delivered ${perSecond(total.hbDelivered).toFixed(0)}/s ` +
        `(expected ${((4 * n * 1000) / intervalMs).toFixed(0)}/s in all); events ${perSecond(total.eventsPublished + total.eventsDelivered).toFixed(1)}/s, ` +
        `probe traffic ${perSecond(total.probeTraffic).toFixed(1)}/s; all-to-all would deliver ${allToAll.toFixed(0)}/s` +
        (notUp > 0 ? `; WARNING: ${notUp} members do not see everyone up` : ''),
    );
    return {
      group: GROUP,
      name: CASES.heartbeat(n),
      value,
      unit: 'msg/s',
      baseline: `all-to-all, N·(N−1)/interval (interval ${intervalMs} ms)`,
      baselineValue: allToAll,
      ratio: value / allToAll,
      target: null,
      met: null,
    };
  } finally {
    await stopMembers(members, prefix);
  }
}

// ─── (b) Registry ────────────────────────────────────────────────────────────

interface RegistryWorker {
  readonly transport: NatsTransport;
  readonly kv: KV;
  readonly registry: Registry;
  readonly name: string;
}

/** `cycles` claim/release cycles on the worker's name; returns operations (claims + releases). */
async function claimRelease(w: RegistryWorker, cycles: number): Promise<number> {
  for (let i = 0; i < cycles; i++) {
    const claim = await w.registry.claim(w.name, { node: w.name });
    if (!claim.ok) throw new Error(`claim ${w.name} lost a race nobody runs`);
    if (!(await w.registry.release(w.name, claim.epoch))) throw new Error(`release ${w.name} failed`);
  }
  return 2 * cycles;
}

const PUT_VALUE = new TextEncoder().encode(JSON.stringify({ type: 'halyard.registry.v1.owner', node: 'w0', incarnation: 0, at: Date.now() }));

async function rawPuts(w: RegistryWorker, ops: number): Promise<number> {
  for (let i = 0; i < ops; i++) await w.kv.put(`raw.${w.name}`, PUT_VALUE);
  return ops;
}

/** Informational: mean latency of each step of a cycle, and of a claim on a name never claimed before. */
async function breakdown(w: RegistryWorker, n: number): Promise<string> {
  const spent = { fresh: 0, again: 0, release: 0 };
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    const fresh = await w.registry.claim(`${w.name}.fresh${i}`, { node: w.name });
    spent.fresh += performance.now() - t;
    if (fresh.ok) await w.registry.release(`${w.name}.fresh${i}`, fresh.epoch);
    t = performance.now();
    const again = await w.registry.claim(w.name, { node: w.name });
    spent.again += performance.now() - t;
    if (!again.ok) throw new Error(`claim ${w.name} lost a race nobody runs`);
    t = performance.now();
    await w.registry.release(w.name, again.epoch);
    spent.release += performance.now() - t;
  }
  const us = (ms: number) => `${((ms * 1000) / n).toFixed(0)} µs`;
  return `  registry step latency (mean of ${n}): claim of a new name ${us(spent.fresh)}, claim of a released name ${us(spent.again)}, release ${us(spent.release)}`;
}

async function opsPerSecond(workers: readonly RegistryWorker[], run: (w: RegistryWorker) => Promise<number>): Promise<number> {
  const start = performance.now();
  const ops = await Promise.all(workers.map(run));
  return (ops.reduce((s, x) => s + x, 0) * 1000) / (performance.now() - start);
}

async function benchRegistry(servers: string, options: BenchOptions, s: Sizes): Promise<BenchResult[]> {
  const wantSeq = selected(options, GROUP, CASES.registrySeq);
  const wantPar = selected(options, GROUP, CASES.registryPar);
  if (!wantSeq && !wantPar) return [];
  const prefix = newPrefix('r');
  const bucket = bucketName(prefix, 'registry');
  const workers: RegistryWorker[] = [];
  const results: BenchResult[] = [];
  try {
    for (let i = 0; i < WORKERS; i++) {
      const transport = await connect(servers, `${prefix}-w${i}`);
      const kv = await openKv(transport, bucket);
      workers.push({ transport, kv, registry: new Registry({ kv }), name: `w${i}` });
    }
    const baseline = 'raw kv.put, same bucket and connections';
    if (wantSeq) {
      const one = [workers[0]!];
      progress(`cluster registry sequential: ${s.cycles} cycles x ${s.rounds} rounds`);
      const r = await interleave('registry x1', {
        baseline: () => opsPerSecond(one, (w) => rawPuts(w, 2 * s.cycles)),
        halyard: () => opsPerSecond(one, (w) => claimRelease(w, s.cycles)),
      }, s.rounds);
      results.push(pairedResult(GROUP, CASES.registrySeq, 'op/s', baseline, r.halyard, r.baseline, undefined));
      progress(await breakdown(workers[0]!, s.cycles));
    }
    if (wantPar) {
      const perWorker = Math.max(50, Math.round(s.cycles / 2));
      progress(`cluster registry ${WORKERS} connections: ${perWorker} cycles each x ${s.rounds} rounds`);
      const r = await interleave(`registry x${WORKERS}`, {
        baseline: () => opsPerSecond(workers, (w) => rawPuts(w, 2 * perWorker)),
        halyard: () => opsPerSecond(workers, (w) => claimRelease(w, perWorker)),
      }, s.rounds);
      results.push(pairedResult(GROUP, CASES.registryPar, 'op/s', baseline, r.halyard, r.baseline, undefined));
    }
  } finally {
    if (workers[0] !== undefined) await new Kvm(workers[0].transport._connection).open(bucket).then((kv) => kv.destroy()).catch(() => {});
    await Promise.allSettled(workers.map((w) => w.transport.close()));
  }
  return results;
}

// ─── (c) Failure detection ───────────────────────────────────────────────────

interface Detection {
  /** ms from close() to the first survivor's `down`. */
  readonly first: number;
  /** ms from close() to the last survivor's `down`. */
  readonly all: number;
}

async function detectionTimes(servers: string, heartbeatMs: number, trials: number): Promise<{ times: Detection[]; downAfterMs: number; falseDowns: number }> {
  const prefix = newPrefix('d');
  const survivors: BenchMember[] = [];
  const victims: BenchMember[] = [];
  const times: Detection[] = [];
  let falseDowns = 0;
  try {
    for (const name of ['s1', 's2', 's3']) survivors.push(await startMember(servers, prefix, name, { heartbeatMs }));
    const downAfterMs = survivors[0]!.membership.downAfterMs;
    const seenDown = new Map<string, number[]>();
    for (const s of survivors) {
      s.membership.on('change', (c) => {
        if (c.type !== 'down') return;
        if (!c.member.node.startsWith('v')) falseDowns++;
        const at = seenDown.get(c.member.node) ?? [];
        at.push(performance.now());
        seenDown.set(c.member.node, at);
      });
    }
    for (let t = 0; t < trials; t++) {
      const name = `v${t}`;
      const victim = await startMember(servers, prefix, name, { heartbeatMs });
      victims.push(victim);
      await until(() => survivors.every((s) => upCount(s.membership) === survivors.length + 1), 10_000, `${name} up on every survivor`);
      await until(
        () => survivors.filter((s) => s.membership.watching.includes(name)).length === 2,
        10_000,
        `${name} watched by its two ring successors`,
      );
      // Settle into steady heartbeats, then strike at a random phase of the period.
      await sleep(2 * heartbeatMs + Math.random() * heartbeatMs);
      const t0 = performance.now();
      void victim.transport.close();
      await until(() => (seenDown.get(name)?.length ?? 0) >= survivors.length, 10 * downAfterMs + 5000, `${name} down on every survivor`);
      const at = seenDown.get(name)!;
      times.push({ first: Math.min(...at) - t0, all: Math.max(...at) - t0 });
      // Its Membership was left running on a closed connection: stop its timers.
      await victim.membership.stop();
    }
    return { times, downAfterMs, falseDowns };
  } finally {
    await stopMembers([...survivors, ...victims], prefix);
  }
}

async function benchDetection(servers: string, options: BenchOptions, s: Sizes): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const hb of DETECTION_INTERVALS) {
    const wantP50 = selected(options, GROUP, CASES.detectP50(hb));
    const wantP99 = selected(options, GROUP, CASES.detectP99(hb));
    if (!wantP50 && !wantP99) continue;
    progress(`cluster failure detection, heartbeat ${hb} ms: ${s.trials} trials`);
    const { times, downAfterMs, falseDowns } = await detectionTimes(servers, hb, s.trials);
    const all = times.map((x) => x.all);
    const first = times.map((x) => x.first);
    progress(
      `  heartbeat ${hb} ms (downAfterMs ${downAfterMs}): first verdict p50 ${percentile(first, 50).toFixed(0)} ms; ` +
        `down on every survivor p50 ${percentile(all, 50).toFixed(0)} ms, p99 ${percentile(all, 99).toFixed(0)} ms, ` +
        `min ${Math.min(...all).toFixed(0)}, max ${Math.max(...all).toFixed(0)}` +
        (falseDowns > 0 ? `; WARNING: ${falseDowns} survivors declared down` : ''),
    );
    const baseline = `configured downAfterMs (${downAfterMs} ms)`;
    for (const [want, name, p] of [
      [wantP50, CASES.detectP50(hb), 50],
      [wantP99, CASES.detectP99(hb), 99],
    ] as const) {
      if (!want) continue;
      const value = percentile(all, p);
      results.push({ group: GROUP, name, value, unit: 'ms', baseline, baselineValue: downAfterMs, ratio: value / downAfterMs, target: null, met: null });
    }
  }
  return results;
}

// ─── The group ───────────────────────────────────────────────────────────────

export async function benchCluster(options: BenchOptions): Promise<BenchResult[]> {
  const heartbeatSizes = SWARM_SIZES.filter((n) => selected(options, GROUP, CASES.heartbeat(n)));
  const anyDetection = DETECTION_INTERVALS.some(
    (hb) => selected(options, GROUP, CASES.detectP50(hb)) || selected(options, GROUP, CASES.detectP99(hb)),
  );
  const anyRegistry = selected(options, GROUP, CASES.registrySeq) || selected(options, GROUP, CASES.registryPar);
  if (heartbeatSizes.length === 0 && !anyDetection && !anyRegistry) return [];
  const s = sizes(options.quick);
  const results: BenchResult[] = [];

  progress('cluster: starting nats-server with JetStream');
  const server = await startNatsServer({ jetstream: true });
  try {
    for (const n of heartbeatSizes) {
      progress(`cluster heartbeats: N=${n}, counted over ${s.window} ms`);
      results.push(await heartbeatRate(server.url, n, s.window));
    }
    results.push(...(await benchRegistry(server.url, options, s)));
    results.push(...(await benchDetection(server.url, options, s)));
  } finally {
    await server.stop();
    progress('cluster: server stopped');
  }
  return results;
}
