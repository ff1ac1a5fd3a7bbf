/**
 * Cluster cases: membership, the registry, failure detection and failover, on
 * a nats-server with JetStream started for this group. Heartbeats, registry
 * and detection run every member in this process on its own NATS connection;
 * failover runs cluster nodes in their own OS processes (bench/clusterNode.ts)
 * and SIGKILLs them.
 *
 * | case                                  | Halyard                                                        | baseline (same run, or a formula)                  | target |
 * |---------------------------------------|----------------------------------------------------------------|----------------------------------------------------|--------|
 * | heartbeat msgs/s, N = 3, 10, 50       | heartbeats published + delivered per second, all members, counted by a wrapper around each member's transport, in steady state | all-to-all heartbeating: N·(N−1) / interval | none |
 * | registry claim/release, sequential    | `claim(name)` then `release(name, epoch)` on one name, one connection; op = a claim or a release | `kv.put` on one key, same bucket, same connection | none |
 * | registry claim/release, 8 connections | the same on 8 connections at once, one name each               | `kv.put`, 8 connections, one key each              | none |
 * | failure detection p50 / p99, heartbeat 100, 250, 500 ms | transport closed (no leave) → `down` seen by every survivor | the configured `downAfterMs` (the silence threshold) | none |
 * | failover p99 after SIGKILL, heartbeat 250 ms (defaults) | SIGKILL of the node hosting a cluster-supervised instance → an ask to its name answered from a survivor, a survivor at ~90% CPU | the 1.5 s | <= 1x |
 * | failover p50 after SIGKILL; p50 / p99 at heartbeat 100, 500 ms | the same | 1.5 s | none |
 * | failover detection p50 / p99 (kill → down), each interval | SIGKILL → `down` for the victim seen by the observer | the configured `downAfterMs` | none |
 * | failover false down verdicts, each interval | `down` verdicts of nodes nobody killed (the busy one included), over the whole run | 0 | <= 0 (defaults) |
 * | failover names with two owners, each interval | names listed by two nodes at once in any ownership sample | 0 | none |
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
 *
 * ## Failover
 * One run per heartbeat interval (100, 250 and 500 ms: the run at 250 uses
 * `cluster: true`, every default; the others set only `heartbeatMs`, so
 * suspect, down and lease follow from it), each a fresh cluster under its own
 * prefix: `s2` starts first, takes the cluster coordinator lease and then
 * burns ~90% of a core (9 ms spinning, a 1 ms timer) for the whole run, so
 * every recovery decision is taken on the busy node; `s1` is a healthy idle
 * survivor; `obs`, the observer, is a node in this process (no service types,
 * so it hosts nothing). Victims start in batches of up to 5, one process
 * after another (five loading at once starve a small machine long enough for
 * the coordinator's lease to lapse); start-up is not measured. A trial
 * starts `inst<k>` with `cluster.start({ type: 'counter', node: victim,
 * placement: 'any', restart: 'permanent' })`, waits until it answers, waits
 * two heartbeat periods plus a random fraction of one (the ring settles after
 * the previous kill; the kill lands at a random phase), SIGKILLs the victim
 * and measures
 * - detection: kill → the observer's `down` for the victim;
 * - failover: kill → the first answer to an ask for `inst<k>`. A new ask goes
 *   out every 5 ms (each with a 250 ms deadline; while nobody serves the name,
 *   NATS answers "no responders" at once), so the figure is within ~5 ms of
 *   the moment the new instance serves. Only a survivor can answer: the dead
 *   process's subscriptions went with its socket.
 * Then the coordinator's pending entry is awaited and the instance stopped,
 * so every kill moves exactly one instance. Over the whole run the observer
 * counts `down` verdicts of nodes that were not killed (false downs; target
 * 0), and `sampleOwnership` (spec/cluster/owners.ts) lists every live node's
 * instances every 20 ms: a name listed by two nodes in the same sample has
 * two owners. Stderr also shows where each instance restarted, suspicions of
 * healthy nodes, and the burner's real CPU use and event loop delay. Not
 * covered: a kill of the coordinator's own node (its lease must lapse first),
 * and nodes on other machines.
 *
 * Every node process is SIGKILLed when its run ends, when the bench exits,
 * and on SIGINT / SIGTERM during the group. `HALYARD_BENCH_LOG=<pino level>`
 * makes the nodes log to stderr (JSON lines), to see what the coordinator
 * did in a slow trial.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import { type NatsServerHandle, startNatsServer } from '../spec/support/natsServer.js';
import { CountingTransport, type Counts, zeroCounts } from '../spec/cluster/countingTransport.js';
import { sampleOwnership } from '../spec/cluster/owners.js';
import { createNode, type Node } from '../src/index.js';
import { bucketName, type KV, Membership, type MembershipOptions, openKv, Registry } from '../src/services/cluster/index.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type BenchOptions, type BenchResult, interleave, pairedResult, percentile, progress, selected } from './harness.js';

const GROUP = 'cluster';
const WORKERS = 8;
const DETECTION_INTERVALS = [100, 250, 500] as const;
const SWARM_SIZES = [3, 10, 50] as const;

const FAILOVER_INTERVALS = [100, 250, 500] as const;
/** The default heartbeat: its failover run uses `cluster: true` (every default), the others only set `heartbeatMs`. */
const DEFAULT_HEARTBEAT_MS = 250;
/** The target for the failover p99 with the default settings. */
const FAILOVER_TARGET_MS = 1500;
/** The healthy survivor's burner: 9 ms spinning, then a 1 ms timer (~90% of a core). */
const BURN = { busyMs: 9, idleMs: 1 } as const;

const settings = (hb: number) => (hb === DEFAULT_HEARTBEAT_MS ? `heartbeat ${hb} ms (defaults)` : `heartbeat ${hb} ms`);

const CASES = {
  heartbeat: (n: number) => `heartbeat msgs/s, N=${n} (published + delivered)`,
  registrySeq: 'registry claim/release, sequential',
  registryPar: `registry claim/release, ${WORKERS} connections`,
  detectP50: (hb: number) => `failure detection p50, heartbeat ${hb} ms`,
  detectP99: (hb: number) => `failure detection p99, heartbeat ${hb} ms`,
  failoverP50: (hb: number) => `failover p50 after SIGKILL, ${settings(hb)}`,
  failoverP99: (hb: number) => `failover p99 after SIGKILL, ${settings(hb)}`,
  failoverDetectP50: (hb: number) => `failover detection p50 (kill → down), ${settings(hb)}`,
  failoverDetectP99: (hb: number) => `failover detection p99 (kill → down), ${settings(hb)}`,
  falseDowns: (hb: number) => `failover false down verdicts, ${settings(hb)}, a survivor at 90% CPU`,
  twoOwners: (hb: number) => `failover names with two owners, ${settings(hb)}`,
} as const;

const failoverCases = (hb: number) =>
  [CASES.failoverP50, CASES.failoverP99, CASES.failoverDetectP50, CASES.failoverDetectP99, CASES.falseDowns, CASES.twoOwners].map((c) => c(hb));

interface Sizes {
  /** Steady-state window over which heartbeats are counted, ms. */
  readonly window: number;
  readonly rounds: number;
  /** Claim/release cycles per run (sequential), per worker (8 connections). */
  readonly cycles: number;
  readonly trials: number;
  /** SIGKILL trials per failover run, by heartbeat interval. */
  readonly failoverTrials: (hb: number) => number;
}

function sizes(quick: boolean): Sizes {
  return quick
    ? { window: 1000, rounds: 3, cycles: 200, trials: 4, failoverTrials: (hb) => (hb === DEFAULT_HEARTBEAT_MS ? 5 : 3) }
    : { window: 3000, rounds: 5, cycles: 600, trials: 10, failoverTrials: (hb) => (hb === DEFAULT_HEARTBEAT_MS ? 20 : 8) };
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

// ─── (d) Failover across processes ───────────────────────────────────────────

const NODE_SCRIPT = fileURLToPath(new URL('./clusterNode.ts', import.meta.url));
/** The bench's own TypeScript loader (see register.mjs), so children run code as the bench does. */
const REGISTER = new URL('./register.mjs', import.meta.url).href;
/** At most this many victims are started together (their start-up is not measured). */
const MAX_BATCH = 5;

/** Every child process still running: SIGKILLed when the bench exits, however it exits. */
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function killChildren(): void {
  for (const c of liveChildren) {
    c.kill('SIGCONT');
    c.kill('SIGKILL');
  }
}

interface NodeProcess {
  readonly node: string;
  readonly child: ChildProcess;
  readonly lines: string[];
  readonly exited: Promise<void>;
  /** The first stdout line matching `pattern` (waiting up to `timeout` ms). */
  line(pattern: RegExp, timeout: number): Promise<string>;
  write(line: string): void;
}

function spawnNode(node: string, env: Record<string, string>): NodeProcess {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killChildren);
  }
  const child = spawn(process.execPath, ['--import', REGISTER, NODE_SCRIPT], {
    env: { ...process.env, ...env, HALYARD_NODE: node },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  liveChildren.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      liveChildren.delete(child);
      resolve();
    });
    child.once('error', (err) => {
      progress(`  WARNING: ${node}: ${err.message}`);
      liveChildren.delete(child);
      resolve();
    });
  });
  // Writing to a node that just died must not take the bench down.
  child.stdin!.on('error', () => {});
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d) => {
    partial += String(d);
    for (let nl = partial.indexOf('\n'); nl !== -1; nl = partial.indexOf('\n')) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    node,
    child,
    lines,
    exited,
    async line(pattern, timeout) {
      let found: string | undefined;
      await until(
        () => {
          found = lines.find((l) => pattern.test(l));
          if (found === undefined && gone()) throw new Error(`${node} exited (${child.exitCode ?? child.signalCode}) before ${pattern}: ${lines.join(' | ')}`);
          return found !== undefined;
        },
        timeout,
        `${node}: ${pattern}`,
      );
      return found!;
    },
    write(line) {
      if (!gone()) child.stdin!.write(`${line}\n`);
    },
  };
}

/** `LEADER` or `FOLLOWER`: the last coordinator role the node reported. */
function lastRole(p: NodeProcess): string | undefined {
  return p.lines.filter((l) => /^(LEADER|FOLLOWER) /.test(l)).at(-1)?.split(' ')[0];
}

async function killNodes(procs: readonly NodeProcess[]): Promise<void> {
  for (const p of procs) {
    p.child.kill('SIGCONT');
    p.child.kill('SIGKILL');
  }
  await Promise.all(procs.map((p) => p.exited));
}

/** Resolves true once `name` answers an ask, false after `timeout` ms. */
async function answers(obs: Node, name: string, timeout: number): Promise<boolean> {
  const deadline = performance.now() + timeout;
  while (performance.now() < deadline) {
    if (await obs.ref(name).ask({ type: 'GET' }, { timeout: 200 }).then(() => true, () => false)) return true;
    await sleep(5);
  }
  return false;
}

/**
 * The time at which an ask to `name` is first answered: a new ask every 5 ms
 * (each with its own 250 ms deadline), so one ask stuck on a dead route does
 * not hide an answer. While nobody serves the name, an ask fails at once
 * (NATS "no responders").
 */
function firstAnswer(obs: Node, name: string, timeout: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + timeout;
    let done = false;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      f();
    };
    const fire = () => {
      if (done) return;
      if (performance.now() > deadline) {
        finish(() => reject(new Error(`timed out after ${timeout} ms: ${name} answers again`)));
        return;
      }
      obs
        .ref(name)
        .ask({ type: 'GET' }, { timeout: 250 })
        .then(
          () => {
            const at = performance.now();
            finish(() => resolve(at));
          },
          () => {},
        );
    };
    const timer = setInterval(fire, 5);
    fire();
  });
}

interface BurnerStats {
  readonly cpu: number;
  readonly wallMs: number;
  readonly burnedMs: number;
  readonly loopMaxMs: number;
  readonly loopP99Ms: number;
}

interface FailoverRun {
  readonly downAfterMs: number;
  readonly leaseMs: number;
  /** ms from SIGKILL to the observer's `down` for the victim. */
  readonly detection: number[];
  /** ms from SIGKILL to the first answer from the instance's new host. */
  readonly failover: number[];
  /** The new host of each trial's instance. */
  readonly hosts: string[];
  /** Nodes declared `down` (seen by the observer) that were not killed. */
  readonly falseDowns: string[];
  /** Nodes suspected that were not killed (not a verdict; informational). */
  readonly suspects: string[];
  readonly samples: number;
  readonly duplicates: string[];
  /** Who held the cluster coordinator lease when the trials ran. */
  readonly coordinator: string;
  readonly burner: BurnerStats | undefined;
}

/**
 * One failover run at heartbeat `hb`: a fresh cluster (its own prefix), then
 * `trials` SIGKILLs of a node hosting a cluster-supervised instance.
 */
async function failoverRun(servers: string, hb: number, trials: number): Promise<FailoverRun> {
  const prefix = newPrefix('f');
  const clusterOptions = hb === DEFAULT_HEARTBEAT_MS ? undefined : { heartbeatMs: hb };
  const env = {
    HALYARD_NATS_URL: servers,
    HALYARD_PREFIX: prefix,
    HALYARD_CLUSTER: clusterOptions ? JSON.stringify(clusterOptions) : '',
    // `HALYARD_BENCH_LOG=info npm run bench`: the nodes log (pino, JSON lines) to stderr.
    HALYARD_LOG: process.env.HALYARD_BENCH_LOG ?? '',
  };
  const procs: NodeProcess[] = [];
  let obs: Node | undefined;
  let sampler: ReturnType<typeof sampleOwnership> | undefined;
  try {
    let mark = performance.now();
    /** Steps that are not measured are still timed: a slow one is noted on stderr. */
    const step = (what: string, limit: number) => {
      const ms = performance.now() - mark;
      if (ms > limit) progress(`  note: ${what} took ${ms.toFixed(0)} ms`);
      mark = performance.now();
    };
    // The burner starts first and so takes the coordinator lease: every
    // recovery decision runs on the busy node.
    const burner = spawnNode('s2', env);
    procs.push(burner);
    await burner.line(/^READY /, 30_000);
    const leader = await burner.line(/^LEADER /, 10_000).then(() => true, () => false);
    if (!leader) progress('  note: the burner did not take the coordinator lease');
    step('starting the burner', 5000);
    burner.write(`BURN ${BURN.busyMs} ${BURN.idleMs}`);
    const s1 = spawnNode('s1', env);
    procs.push(s1);
    await s1.line(/^READY /, 30_000);

    const node = await createNode({
      name: 'obs',
      prefix,
      transport: { kind: 'nats', servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 },
      cluster: clusterOptions ?? true,
    });
    obs = node;
    const cluster = node.cluster!;
    const coord = await openKv(node.transport as NatsTransport, bucketName(prefix, 'coord'));
    const { downAfterMs } = cluster.membership;
    const killed = new Set<string>();
    const downAt = new Map<string, number>();
    const falseDowns: string[] = [];
    const suspects: string[] = [];
    cluster.membership.on('change', (c) => {
      const n = c.member.node;
      if (c.type === 'down') {
        if (!killed.has(n)) falseDowns.push(n);
        else if (!downAt.has(n)) downAt.set(n, performance.now());
      } else if (c.type === 'suspect' && !killed.has(n)) suspects.push(n);
    });
    const live = new Set<string>(['s1', 's2']);
    await until(() => [...live].every((n) => node.nodes().some((m) => m.node === n && m.status === 'up')), 10_000, 's1, s2 up on the observer');
    sampler = sampleOwnership(node, prefix, () => [...live]);
    step('starting s1 and the observer', 5000);

    const detection: number[] = [];
    const failover: number[] = [];
    const hosts: string[] = [];
    const batchSize = Math.ceil(trials / Math.ceil(trials / MAX_BATCH));
    for (let trial = 0; trial < trials; ) {
      const batch = Array.from({ length: Math.min(batchSize, trials - trial) }, (_, i) => `v${trial + i}`);
      // One at a time: five processes loading at once starve the others of CPU for a second or more
      // on a small machine (the coordinator's lease lapses; heartbeats run late).
      const victims: NodeProcess[] = [];
      for (const v of batch) {
        const p = spawnNode(v, env);
        procs.push(p);
        victims.push(p);
        await p.line(/^READY /, 30_000);
      }
      for (const v of batch) live.add(v);
      await until(() => batch.every((v) => node.nodes().some((m) => m.node === v && m.status === 'up')), 10_000, 'victims up on the observer');
      step(`starting ${batch.length} victims`, 5000);
      for (const victim of victims) {
        const name = `inst${trial}`;
        // The victim's record (its types) may reach the observer a moment after its join.
        for (let attempt = 0; ; attempt++) {
          try {
            await cluster.start({ name, type: 'counter', node: victim.node, placement: 'any', restart: 'permanent' });
            break;
          } catch (err) {
            if (attempt >= 100) throw err;
            await sleep(20);
          }
        }
        if (!(await answers(node, name, 5000))) throw new Error(`${name} does not answer on ${victim.node}`);
        step(`starting ${name} on ${victim.node}`, 2000);
        // Two periods for the ring to settle after the last kill, then strike at a random phase of the period.
        await sleep(2 * hb + Math.random() * hb);
        mark = performance.now();
        const killedAt = performance.now();
        killed.add(victim.node);
        live.delete(victim.node);
        victim.child.kill('SIGKILL');
        const answeredAt = await firstAnswer(node, name, 10 * downAfterMs + 10_000);
        failover.push(answeredAt - killedAt);
        await until(() => downAt.has(victim.node), 10 * downAfterMs + 5000, `${victim.node} down on the observer`);
        detection.push(downAt.get(victim.node)! - killedAt);
        let host: string | undefined;
        await until(
          () => {
            host = cluster.records().find((r) => r.name === name && r.owner !== victim.node && r.state === 'running')?.owner;
            return host !== undefined;
          },
          5000,
          `${name}'s new owner on the observer`,
        );
        hosts.push(host!);
        // Each trial's instance leaves before the next kill, so every kill moves exactly one. Let the
        // coordinator finish its decision first.
        // A get, not cluster.pending(): its KV keys() listing now and then takes 30 s to end.
        for (let i = 0; i < 100 && (await coord.get(`pending.${name}`))?.operation === 'PUT'; i++) await sleep(20);
        await cluster.stopInstance(name);
        step(`trial ${trial} after the kill`, 10 * downAfterMs + 2000);
        trial++;
      }
    }
    const { samples, duplicates } = await sampler.stop();
    sampler = undefined;
    burner.write('STATS');
    const stats = await burner.line(/^STATS /, 5000).then(
      (l) => JSON.parse(l.slice('STATS '.length)) as BurnerStats,
      () => undefined,
    );
    const holder = procs.find((p) => !killed.has(p.node) && lastRole(p) === 'LEADER');
    const elections = procs.reduce((n, p) => n + p.lines.filter((l) => l.startsWith('LEADER ')).length, 0);
    const coordinator = (cluster.isCoordinator ? 'obs' : (holder?.node ?? '?')) + (elections > 1 ? ` at the end, after ${elections} elections` : '');
    return {
      downAfterMs,
      leaseMs: cluster.leaseMs,
      detection,
      failover,
      hosts,
      falseDowns,
      suspects,
      samples,
      duplicates,
      coordinator,
      burner: stats,
    };
  } finally {
    await sampler?.stop().catch(() => {});
    if (obs !== undefined) {
      const shutdown = obs.shutdown().catch(() => {});
      await Promise.race([shutdown, sleep(5000)]);
    }
    await killNodes(procs);
  }
}

const fmtMs = (xs: readonly number[]) =>
  `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

async function benchFailover(servers: string, options: BenchOptions, s: Sizes): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const hb of FAILOVER_INTERVALS) {
    const wanted = failoverCases(hb).filter((name) => selected(options, GROUP, name));
    if (wanted.length === 0) continue;
    const trials = s.failoverTrials(hb);
    progress(`cluster failover after SIGKILL, ${settings(hb)}: ${trials} trials, nodes in their own processes, s2 at ~90% CPU`);
    const r = await failoverRun(servers, hb, trials);
    const onBurner = r.failover.filter((_, i) => r.hosts[i] === 's2');
    // What the failover adds to the observer's verdict: the coordinator's decision, the spawn, the first answer.
    const takeover = r.failover.map((f, i) => f - r.detection[i]!);
    const slowest = r.failover
      .map((f, i) => ({ f, i }))
      .sort((a, b) => b.f - a.f)
      .slice(0, 3)
      .map(({ f, i }) => `#${i} ${f.toFixed(0)} ms (down at ${r.detection[i]!.toFixed(0)}, to ${r.hosts[i]})`)
      .join(', ');
    const b = r.burner;
    progress(
      `  ${settings(hb)} (downAfterMs ${r.downAfterMs}, leaseMs ${r.leaseMs}; coordinator on ${r.coordinator}):\n` +
        `    detection (kill → down on the observer): ${fmtMs(r.detection)}\n` +
        `    failover  (kill → the instance answers on a survivor): ${fmtMs(r.failover)}` +
        (onBurner.length > 0 ? `; ${onBurner.length} of ${r.failover.length} restarted on the busy node (${fmtMs(onBurner)})` : '') +
        `\n    takeover  (down on the observer → answers): ${fmtMs(takeover)}; slowest failovers: ${slowest}` +
        `\n    ownership samples ${r.samples}, names with two owners ${r.duplicates.length}` +
        (r.duplicates.length > 0 ? ` (WARNING: ${[...new Set(r.duplicates)].join(', ')})` : '') +
        `; false down verdicts ${r.falseDowns.length}` +
        (r.falseDowns.length > 0 ? ` (WARNING: ${r.falseDowns.join(', ')})` : '') +
        `; healthy nodes suspected ${r.suspects.length}` +
        (r.suspects.length > 0 ? ` (${r.suspects.join(', ')})` : '') +
        (b === undefined
          ? '\n    burner: no figures'
          : `\n    burner s2: CPU ${(100 * b.cpu).toFixed(0)}% of a core over ${(b.wallMs / 1000).toFixed(1)} s ` +
            `(spinning ${((100 * b.burnedMs) / b.wallMs).toFixed(0)}%), event loop delay p99 ${b.loopP99Ms.toFixed(1)} ms, max ${b.loopMaxMs.toFixed(1)} ms`),
    );
    const isDefault = hb === DEFAULT_HEARTBEAT_MS;
    const targetBaseline = `${FAILOVER_TARGET_MS / 1000} s target`;
    const downBaseline = `configured downAfterMs (${r.downAfterMs} ms)`;
    const rows: BenchResult[] = [
      {
        group: GROUP,
        name: CASES.failoverP50(hb),
        value: percentile(r.failover, 50),
        unit: 'ms',
        baseline: targetBaseline,
        baselineValue: FAILOVER_TARGET_MS,
        ratio: percentile(r.failover, 50) / FAILOVER_TARGET_MS,
        target: null,
        met: null,
      },
      {
        group: GROUP,
        name: CASES.failoverP99(hb),
        value: percentile(r.failover, 99),
        unit: 'ms',
        baseline: targetBaseline,
        baselineValue: FAILOVER_TARGET_MS,
        ratio: percentile(r.failover, 99) / FAILOVER_TARGET_MS,
        // The target is for the defaults; the other intervals are informational.
        target: isDefault ? '<= 1' : null,
        met: isDefault ? percentile(r.failover, 99) <= FAILOVER_TARGET_MS : null,
      },
      ...([
        [CASES.failoverDetectP50(hb), 50],
        [CASES.failoverDetectP99(hb), 99],
      ] as const).map(([name, p]) => ({
        group: GROUP,
        name,
        value: percentile(r.detection, p),
        unit: 'ms',
        baseline: downBaseline,
        baselineValue: r.downAfterMs,
        ratio: percentile(r.detection, p) / r.downAfterMs,
        target: null,
        met: null,
      })),
      // Counts against a target of 0: the ratio is the count itself (no quotient by 0).
      {
        group: GROUP,
        name: CASES.falseDowns(hb),
        value: r.falseDowns.length,
        unit: 'verdicts',
        baseline: '0 target',
        baselineValue: 0,
        ratio: r.falseDowns.length,
        target: isDefault ? '<= 0' : null,
        met: isDefault ? r.falseDowns.length === 0 : null,
      },
      {
        group: GROUP,
        name: CASES.twoOwners(hb),
        value: new Set(r.duplicates).size,
        unit: 'names',
        baseline: `0 (${r.samples} ownership samples)`,
        baselineValue: 0,
        ratio: new Set(r.duplicates).size,
        target: null,
        met: null,
      },
    ];
    results.push(...rows.filter((row) => wanted.includes(row.name)));
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
  const anyFailover = FAILOVER_INTERVALS.some((hb) => failoverCases(hb).some((name) => selected(options, GROUP, name)));
  if (heartbeatSizes.length === 0 && !anyDetection && !anyRegistry && !anyFailover) return [];
  const s = sizes(options.quick);
  const results: BenchResult[] = [];

  let server: NatsServerHandle | undefined;
  // Interrupted: kill the node processes, stop the server (its store goes with it), exit. Should that
  // hang, the exit hooks still SIGKILL the server (natsServer.ts) and every node process (above).
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`cluster: ${signal}, killing the nodes and the server`);
    killChildren();
    const exit = () => process.exit(signal === 'SIGINT' ? 130 : 143);
    setTimeout(exit, 3000);
    void (server?.stop() ?? Promise.resolve()).finally(exit);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    progress('cluster: starting nats-server with JetStream');
    server = await startNatsServer({ jetstream: true });
    for (const n of heartbeatSizes) {
      progress(`cluster heartbeats: N=${n}, counted over ${s.window} ms`);
      results.push(await heartbeatRate(server.url, n, s.window));
    }
    results.push(...(await benchRegistry(server.url, options, s)));
    results.push(...(await benchDetection(server.url, options, s)));
    results.push(...(await benchFailover(server.url, options, s)));
  } finally {
    killChildren();
    await server?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress('cluster: server stopped');
  }
  return results;
}
