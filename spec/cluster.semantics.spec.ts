/**
 * Cluster semantics that match OTP's, end to end on a real nats-server:
 *
 * - remote exit reasons: a remote child's stand-in ends with its instance's
 *   own exit reason, so restart types apply as for a local child;
 * - cluster restart intensity: the cluster Recovery Coordinator applies
 *   `add_restart/3` per instance, gives up past it (decision `stop`), and a
 *   new coordinator carries the history on;
 * - the long outage path: a node cut off from NATS past its lease fences
 *   itself, and once back restarts (through its supervisor) what is still its
 *   own, or leaves alone what was taken over; never two live owners.
 *
 * Nodes run in this process, so ownership is sampled exactly (each node's
 * live actors read directly, every 2 ms), not through the network.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { setup } from 'xstate';
import { createNode, type Node, ServiceLockedError } from '../src/index.js';
import { recover } from '../src/services/cluster/placement.js';
import {
  DEFAULT_CLUSTER_INTENSITY,
  DEFAULT_CLUSTER_PERIOD_MS,
  intensityStep,
  MAX_INTENSITY_REASON,
  resolveIntensity,
} from '../src/services/cluster/restarts.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { waitFor, withDeadline } from './support/wait.js';

const nodes: Node[] = [];
const proxies: TcpProxy[] = [];
const timers: Array<ReturnType<typeof setInterval>> = [];
afterEach(async () => {
  for (const t of timers.splice(0)) clearInterval(t);
  for (const p of proxies) p.heal();
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown(100)));
  for (const p of proxies.splice(0)) await p.close();
});

type ClusterOpts = { heartbeatMs: number; suspectAfterMs: number; downAfterMs: number; leaseMs?: number };
const fast: ClusterOpts = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 };

/** Nodes started in order (the first becomes the cluster coordinator); `via` maps a node to a proxy URL. */
async function cluster(names: string[], options: ClusterOpts = fast, via: Record<string, string> = {}): Promise<Node[]> {
  const prefix = uniquePrefix('s');
  const out: Node[] = [];
  for (const name of names) {
    const servers = via[name] ?? inject('natsUrl');
    const n = await createNode({ name, prefix, transport: { kind: 'nats', servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 }, cluster: options });
    nodes.push(n);
    out.push(n);
    if (out.length === 1) await waitFor(() => n.cluster!.isCoordinator, { timeout: 10_000, message: `${name} is the coordinator` });
  }
  await waitFor(() => out.every((n) => n.nodes().filter((m) => m.status === 'up').length === names.length), {
    timeout: 10_000,
    message: 'every node sees every node up',
  });
  return out;
}

/** Wait until `viewer` sees `type` registered on `host` (placement reads that view). */
async function typeSeen(viewer: Node, host: string, type: string): Promise<void> {
  await waitFor(() => viewer.cluster!.typesOf(host)?.[type] !== undefined, { timeout: 5000, message: `${type} on ${host} seen by ${viewer.name}` });
}

/**
 * For checks that something does NOT happen: wait until the cluster
 * coordinator (whichever node it is) has run `n` more recovery sweeps, each of
 * which would have restarted anything it meant to restart.
 */
async function afterSweeps(all: Node[], n = 3): Promise<void> {
  const start = new Map(all.map((x) => [x, x.cluster!.sweeps]));
  await waitFor(() => all.some((x) => x.cluster!.sweeps >= start.get(x)! + n), { timeout: 10_000, message: `${n} coordinator sweeps` });
}

function live(n: Node, name: string): boolean {
  const ref = n.whereis(name);
  return ref !== undefined && ref.exit === undefined;
}

/** A service type whose logic throws as it starts; `starts` counts its starts. */
function crashAtStart() {
  const counter = { starts: 0 };
  const logic = setup({}).createMachine({
    entry: () => {
      counter.starts++;
      throw new Error('cannot start');
    },
  });
  return { counter, logic };
}

describe('cluster - remote exit reasons', () => {
  it('cluster - a transient remote child: normal and shutdown on its host are not restarted; killed and error are (as for a local child)', async () => {
    const [a, b] = await cluster(['a', 'b']);
    b!.register('counter', counterMachine);
    await typeSeen(a!, 'b', 'counter');
    const ids = ['n', 's', 'k', 'e'] as const;
    const sup = a!.supervise({
      intensity: 10,
      children: ids.map((id) => ({ id, start: { type: 'counter' }, node: 'b', restart: 'transient' as const, name: `t-${id}` })),
    });
    const first = Object.fromEntries(
      await Promise.all(ids.map(async (id) => [id, await waitFor(() => b!.whereis(`t-${id}`), { timeout: 5000, message: `t-${id} on b` })] as const)),
    );
    first.n!.tell({ type: 'FINISH' }); // final state: normal
    await b!.stop('t-s'); // stopped from outside, in time: shutdown
    await b!.stop('t-k', 'brutal_kill'); // killed from outside
    first.e!.tell({ type: 'BOOM' }); // throws: error

    const decided = await waitFor(
      () => {
        const ds = a!.coordinator.decisions({ supervisor: sup.label });
        return ids.every((id) => ds.some((d) => d.input.childId === id)) ? ds : undefined;
      },
      { timeout: 5000, message: 'a decision for each child' },
    );
    const byChild = Object.fromEntries(decided.map((d) => [d.input.childId, [d.input.reason, d.directive.type]]));
    expect(byChild).toEqual({ n: ['normal', 'ignore'], s: ['shutdown', 'ignore'], k: ['killed', 'restart'], e: ['error', 'restart'] });
    expect(decided).toHaveLength(4);

    // Killed and crashed: running again on b, a new actor. Normal and shutdown: terminated, and stay so.
    for (const id of ['k', 'e'] as const) {
      await waitFor(() => live(b!, `t-${id}`) && b!.whereis(`t-${id}`) !== first[id], { timeout: 5000, message: `t-${id} restarted` });
    }
    await afterSweeps([a!, b!]);
    expect(live(b!, 't-n') || live(b!, 't-s')).toBe(false);
    const status = Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.status]));
    expect(status).toEqual({ n: 'terminated', s: 'terminated', k: 'running', e: 'running' });
    expect(a!.coordinator.decisions({ supervisor: sup.label })).toHaveLength(4);
  });

  it('cluster - a remote child that fails as it starts is reported error every time, and its supervisor reaches its intensity', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const crash = crashAtStart();
    b!.register('crashy', crash.logic);
    await typeSeen(a!, 'b', 'crashy');
    // The host reports such an end before it answers the spawn: the stand-in must still see it.
    const sup = a!.supervise({ intensity: 2, period: 60_000, children: [{ id: 'c', start: { type: 'crashy' }, node: 'b', name: 'rc' }] });
    await expect(withDeadline(sup.stopped, 5000, 'supervisor gives up')).resolves.toEqual({ reason: 'shutdown' });
    const ds = a!.coordinator.decisions({ childId: 'c' });
    expect(ds.map((d) => [d.input.reason, d.directive.type])).toEqual([
      ['error', 'restart'],
      ['error', 'restart'],
      ['error', 'escalate'],
    ]);
    expect(crash.counter.starts).toBe(3);
  });
});

describe('cluster - restart intensity of the cluster coordinator', () => {
  it('cluster - intensity step: OTP add_restart/3 per ended tenure, counted once (table)', () => {
    expect(resolveIntensity({})).toEqual({ intensity: DEFAULT_CLUSTER_INTENSITY, period: DEFAULT_CLUSTER_PERIOD_MS });
    expect([DEFAULT_CLUSTER_INTENSITY, DEFAULT_CLUSTER_PERIOD_MS]).toEqual([3, 30_000]);
    const table: Array<[number, number, { history: number[]; from: number } | undefined, number, number, unknown]> = [
      // intensity, period, stored, ended epoch, now, step
      [3, 30_000, undefined, 7, 0, { kind: 'restart', history: [0], counted: true }],
      [3, 30_000, { history: [0, 10, 20], from: 9 }, 11, 30, { kind: 'stop', history: [0, 10, 20, 30] }],
      [3, 30_000, { history: [0, 10, 20], from: 9 }, 11, 30_000, { kind: 'stop', history: [0, 10, 20, 30_000] }],
      [3, 30_000, { history: [0, 10, 20], from: 9 }, 11, 30_011, { kind: 'restart', history: [20, 30_011], counted: true }],
      [3, 30_000, { history: [0, 10, 20], from: 11 }, 11, 40, { kind: 'restart', history: [0, 10, 20], counted: false }],
      [0, 5000, undefined, 1, 0, { kind: 'stop', history: [0] }],
      [1, 5000, { history: [0], from: 1 }, 2, 5000, { kind: 'stop', history: [0, 5000] }],
      [1, 5000, { history: [0], from: 1 }, 2, 5001, { kind: 'restart', history: [5001], counted: true }],
    ];
    for (const [intensity, period, stored, epoch, now, step] of table) {
      expect(intensityStep(stored, epoch, now, intensity, period)).toEqual(step);
    }
  });

  it('cluster - recover: an instance given up stays down; the same record not given up is restarted', () => {
    const nodes = new Map([['a', { node: 'a', status: 'up' as const, types: ['counter'] }]]);
    const inst = { name: 'x', type: 'counter', cardinality: 'many', placement: 'any', restart: 'permanent', owner: 'a', state: 'exited', reason: MAX_INTENSITY_REASON } as const;
    expect(recover({ ...inst, gaveUp: true }, nodes, [])).toEqual({ kind: 'none' });
    expect(recover(inst, nodes, [])).toEqual({ kind: 'restart', node: 'a', reason: MAX_INTENSITY_REASON });
  });

  it('cluster - start validates intensity and period, naming the field', async () => {
    const [a] = await cluster(['a']);
    a!.register('counter', counterMachine);
    await expect(a!.cluster!.start({ name: 'x', type: 'counter', intensity: -1 })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'intensity' });
    await expect(a!.cluster!.start({ name: 'x', type: 'counter', period: 0 })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'period' });
    expect(a!.cluster!.instances()).toEqual([]);
  });

  it('cluster - an instance that throws as it starts is restarted up to its intensity, then given up (decision stop, record exited)', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const crash = crashAtStart();
    b!.register('crashy', crash.logic);
    await typeSeen(a!, 'b', 'crashy');
    await a!.cluster!.start({ name: 'crashy1', type: 'crashy', node: 'b', intensity: 2, period: 60_000 });
    const ds = await waitFor(
      async () => {
        const all = await a!.cluster!.decisions();
        return all.some((d) => d.action === 'stop') ? all : undefined;
      },
      { timeout: 10_000, message: 'the coordinator gives up' },
    );
    expect(ds.map((d) => [d.name, d.action, d.reason])).toEqual([
      ['crashy1', 'restart', 'error'],
      ['crashy1', 'restart', 'error'],
      ['crashy1', 'stop', 'error'],
    ]);
    const stop = ds[2]!;
    expect(stop.detail).toBe(MAX_INTENSITY_REASON);
    expect(stop.history).toHaveLength(3);
    expect(ds.map((d) => d.history?.length)).toEqual([1, 2, 3]);
    await waitFor(() => a!.cluster!.records().find((r) => r.name === 'crashy1')?.gaveUp, { timeout: 5000, message: 'record given up' });
    expect(a!.cluster!.records().find((r) => r.name === 'crashy1')).toMatchObject({ state: 'exited', reason: MAX_INTENSITY_REASON, gaveUp: true });
    // Given up for good: several sweeps later nothing has started it again, and the history is gone from KV.
    await afterSweeps([a!, b!]);
    expect(crash.counter.starts).toBe(3);
    expect(live(b!, 'crashy1')).toBe(false);
    expect(await a!.cluster!.decisions()).toHaveLength(3);
    expect(await a!.cluster!.pending()).toEqual([]);
  });

  it('cluster - starting a name that already runs as that type returns the running instance; as another type it is refused (ServiceLockedError)', async () => {
    const [a, b] = await cluster(['a', 'b']);
    b!.register('counter', counterMachine);
    b!.register('other', counterMachine);
    await typeSeen(a!, 'b', 'other');
    const first = await a!.cluster!.start({ name: 'again1', type: 'counter' });
    await waitFor(() => a!.cluster!.records().some((r) => r.name === 'again1'), { timeout: 5000, message: 'record seen' });
    // The application's start code run a second time (as after a restart) gets the same instance, not a lock error.
    expect(await a!.cluster!.start({ name: 'again1', type: 'counter' })).toEqual(first);
    await expect(a!.cluster!.start({ name: 'again1', type: 'other' })).rejects.toBeInstanceOf(ServiceLockedError);
    expect(b!.cluster!.instances().filter((i) => i.name === 'again1')).toHaveLength(1);
  });

  it('cluster - stopInstance of an instance the coordinator gave up on removes its record and says true; asked again it says false', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const crash = crashAtStart();
    b!.register('crashy', crash.logic);
    await typeSeen(a!, 'b', 'crashy');
    await a!.cluster!.start({ name: 'crashy2', type: 'crashy', node: 'b', intensity: 0, period: 60_000 });
    await waitFor(() => a!.cluster!.records().find((r) => r.name === 'crashy2')?.gaveUp, { timeout: 10_000, message: 'record given up' });
    // Its owner is up but hosts nothing: there is no one to stop, the record itself goes.
    expect(await a!.cluster!.stopInstance('crashy2')).toBe(true);
    await waitFor(() => b!.cluster!.records().every((r) => r.name !== 'crashy2'), { timeout: 5000, message: 'record removed' });
    expect(await a!.cluster!.stopInstance('crashy2')).toBe(false);
  });

  it('cluster - a new coordinator carries on the restart history (crash, coordinator leaves, crash, crash: given up)', async () => {
    const [a, b, c] = await cluster(['a', 'b', 'c']);
    for (const n of [b, c]) n!.register('counter', counterMachine);
    await typeSeen(a!, 'c', 'counter');
    expect(a!.cluster!.isCoordinator).toBe(true);
    await a!.cluster!.start({ name: 'boomer', type: 'counter', node: 'c', placement: 'pinned', intensity: 2, period: 60_000 });
    const crash = async (n: number) => {
      const before = await waitFor(() => c!.whereis('boomer'), { timeout: 5000, message: 'boomer on c' });
      before.tell({ type: 'BOOM' });
      await waitFor(async () => (await b!.cluster!.decisions()).length === n, { timeout: 5000, message: `decision ${n}` });
    };
    await crash(1);
    // The coordinator leaves; b or c takes the lease over and must continue a's history.
    nodes.splice(nodes.indexOf(a!), 1);
    await a!.shutdown(100);
    await waitFor(() => b!.cluster!.isCoordinator || c!.cluster!.isCoordinator, { timeout: 5000, message: 'a new coordinator' });
    await crash(2);
    await crash(3);
    const ds = await b!.cluster!.decisions();
    expect(ds.map((d) => [d.action, d.coordinator === 'a', d.history?.length])).toEqual([
      ['restart', true, 1],
      ['restart', false, 2],
      ['stop', false, 3],
    ]);
    await afterSweeps([b!, c!]);
    expect(live(c!, 'boomer')).toBe(false);
  });
});

/** Every 2 ms: which nodes run each name (live actor under that name), and when. */
function sampleOwners(of: Node[], names: readonly string[]) {
  const out = {
    samples: 0,
    /** When each sample was taken: what a test checks to know the sampler covered the window it asserts on. */
    times: [] as number[],
    duplicates: [] as Array<{ name: string; on: string[]; at: number }>,
    onNode: new Map<string, Array<{ at: number; names: string[] }>>(),
  };
  const timer = setInterval(() => {
    const at = performance.now();
    out.samples++;
    out.times.push(at);
    for (const name of names) {
      const on = of.filter((n) => live(n, name)).map((n) => n.name);
      if (on.length > 1) out.duplicates.push({ name, on, at });
    }
    for (const n of of) {
      const here = names.filter((name) => live(n, name));
      if (here.length > 0) {
        const list = out.onNode.get(n.name) ?? [];
        list.push({ at, names: here });
        out.onNode.set(n.name, list);
      }
    }
  }, 2);
  timers.push(timer);
  return out;
}

const PERMANENT = ['p1', 'p2', 'solo', 'lk'] as const;
const ALL = [...PERMANENT, 'tmp'] as const;

/** a and b direct, p through a proxy; permanent instances (many, singleton, per-node) and a temporary one, all on p. */
async function outageFixture(options: ClusterOpts) {
  const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
  proxies.push(proxy);
  const [a, b, p] = (await cluster(['a', 'b', 'p'], options, { p: proxy.url })) as [Node, Node, Node];
  for (const n of [a, b, p]) {
    n.register('counter', counterMachine);
    n.register('single', counterMachine, { cardinality: 'singleton' });
    n.register('locked', counterMachine, { cardinality: 'per-node' });
  }
  await typeSeen(a, 'p', 'locked');
  const types = { p1: 'counter', p2: 'counter', solo: 'single', lk: 'locked', tmp: 'counter' } as const;
  for (const name of ALL) {
    await a.cluster!.start({ name, type: types[name], node: 'p', placement: 'any', restart: name === 'tmp' ? 'temporary' : 'permanent' });
  }
  await waitFor(() => ALL.every((n) => live(p, n)), { timeout: 5000, message: 'every instance runs on p' });
  await waitFor(() => a.cluster!.records().length === ALL.length, { timeout: 5000, message: 'records seen by the coordinator' });
  const sampler = sampleOwners([a, b, p], ALL);
  return { proxy, a, b, p, sampler };
}

/** After the outage: each permanent instance runs on exactly one node (and keeps doing so), the temporary one nowhere. */
async function settledOnce(all: Node[]): Promise<Record<string, string[]>> {
  const where = () => Object.fromEntries(ALL.map((name) => [name, all.filter((n) => live(n, name)).map((n) => n.name)]));
  await waitFor(() => PERMANENT.every((name) => where()[name]!.length === 1), { timeout: 10_000, message: 'every permanent instance runs again' });
  await afterSweeps(all); // nothing more may start
  return where();
}

describe('cluster - long outage (cut off from NATS past the lease)', () => {
  it('cluster - cut off past its lease but not declared down: the node fences itself, and back, its instances (claims still its own) are restarted once', async () => {
    // A down verdict needs 3 s of silence; the lease is 200 ms: an 800 ms cut fences without a verdict.
    const { proxy, a, b, p, sampler } = await outageFixture({ heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 3000, leaseMs: 200 });
    const incarnation = p.cluster!.membership.incarnation;
    const leaseMs = p.cluster!.leaseMs;
    proxy.blackhole();
    const cut = performance.now();
    // Held until p has fenced itself (well before any down verdict).
    await waitFor(() => p.cluster!.fences >= 1, { timeout: 2500, message: 'p fences itself' });
    expect(p.cluster!.fences).toBeGreaterThanOrEqual(1);
    expect(p.cluster!.instances()).toEqual([]);
    expect(ALL.filter((n) => live(p, n))).toEqual([]);
    proxy.heal();
    const healedAt = performance.now();

    const where = await settledOnce([a, b, p]);
    timers.splice(0).forEach(clearInterval);
    expect(where.tmp).toEqual([]);
    // Fenced within the lease (plus a tick and timer slack), and nothing ran on p from then until the heal.
    const lateOnP = (sampler.onNode.get('p') ?? []).filter((s) => s.at - cut > leaseMs + 150 && s.at < healedAt);
    expect(lateOnP).toEqual([]);
    expect(sampler.duplicates).toEqual([]);
    // The sampler watched while p was cut off and after the heal (its density depends on the machine's
    // load, so it is not counted).
    expect([sampler.times.some((t) => t > cut && t < healedAt), sampler.times.some((t) => t > healedAt)]).toEqual([true, true]);
    // Never declared down: p kept its incarnation, and its instances ended `killed` on p (their claims were still p's).
    expect(p.cluster!.membership.incarnation).toBe(incarnation);
    const ds = await a.cluster!.decisions();
    expect(ds.map((d) => [d.name, d.from, d.reason, d.action]).sort()).toEqual(
      [...PERMANENT.map((n) => [n, 'p', 'killed', 'restart']), ['tmp', 'p', 'killed', 'drop']].sort(),
    );
    console.log(
      `[cluster] outage 800 ms, lease ${leaseMs} ms, no down verdict: p fenced ${p.cluster!.fences}x, last instance seen on p ` +
        `${(Math.max(0, ...(sampler.onNode.get('p') ?? []).filter((s) => s.at < healedAt).map((s) => s.at)) - cut).toFixed(0)} ms after the cut; ` +
        `afterwards ${JSON.stringify(where)}; ${sampler.samples} samples, 0 with two owners`,
    );
  });

  it('cluster - cut off past its down verdict: the node fences itself, its instances are taken over once, and back it restarts nothing', async () => {
    const { proxy, a, b, p, sampler } = await outageFixture(fast);
    const incarnation = p.cluster!.membership.incarnation;
    const leaseMs = p.cluster!.leaseMs;
    proxy.blackhole();
    const cut = performance.now();
    // Taken over on a or b while p is still cut off.
    await waitFor(() => PERMANENT.every((n) => live(a, n) || live(b, n)), { timeout: 10_000, message: 'taken over by a or b' });
    const takenOverMs = performance.now() - cut;
    await afterSweeps([a, b]);
    expect(ALL.filter((n) => live(p, n))).toEqual([]);
    proxy.heal();
    const healedAt = performance.now();
    await waitFor(() => p.cluster!.membership.incarnation > incarnation && a.nodes().find((m) => m.node === 'p')?.status === 'up', {
      timeout: 10_000,
      message: 'p rejoins with a new incarnation',
    });

    const where = await settledOnce([a, b, p]);
    timers.splice(0).forEach(clearInterval);
    expect(where.tmp).toEqual([]);
    for (const name of PERMANENT) expect(where[name]).not.toEqual(['p']);
    const lateOnP = (sampler.onNode.get('p') ?? []).filter((s) => s.at - cut > leaseMs + 150);
    expect(lateOnP).toEqual([]);
    expect(sampler.duplicates).toEqual([]);
    // One decision per instance, for the node loss; p's fenced ends were not turned into restarts.
    const ds = await a.cluster!.decisions();
    expect(ds.map((d) => [d.name, d.reason, d.action]).sort()).toEqual([...PERMANENT.map((n) => [n, 'nodedown', 'restart']), ['tmp', 'nodedown', 'drop']].sort());
    console.log(
      `[cluster] outage past the down verdict (lease ${leaseMs} ms): taken over ${takenOverMs.toFixed(0)} ms after the cut, healed after ` +
        `${(healedAt - cut).toFixed(0)} ms; afterwards ${JSON.stringify(where)}; ${sampler.samples} samples, 0 with two owners`,
    );
  });
});
