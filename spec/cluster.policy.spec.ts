/**
 * One recovery path: instances started with `cluster.start()` are decided by
 * supervision's policy (the rules added with `coordinator.addRule`, then
 * OTP's default, intensity applied to every restart), and each decision is
 * the node coordinator's decision record as well as the cluster's.
 *
 * Nodes run in this process on a real nats-server; `a` is the cluster
 * coordinator (started first), instances run on `b`.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { type ClusterOptions, createNode, exponentialBackoff, type GaveUpEvent, giveUpAfter, type Node } from '../src/index.js';
import { resolveClusterOptions } from '../src/services/cluster/options.js';
import { banOf, DEFAULT_FAILURE_TIMEOUT_MS, MAX_INTENSITY_REASON } from '../src/services/cluster/restarts.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown(100)));
});

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 };

/** `a` (the cluster coordinator) and `b` (registers `counter`), both seeing each other and b's types. */
async function pair(cluster: ClusterOptions = fast): Promise<[Node, Node]> {
  const prefix = uniquePrefix('pol');
  const servers = inject('natsUrl');
  const a = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers }, cluster });
  nodes.push(a);
  await waitFor(() => a.cluster!.isCoordinator, { timeout: 10_000, message: 'a is the coordinator' });
  const b = await createNode({ name: 'b', prefix, transport: { kind: 'nats', servers }, cluster });
  nodes.push(b);
  b.register('counter', counterMachine);
  await waitFor(() => a.cluster!.typesOf('b')?.counter !== undefined && a.nodes().filter((m) => m.status === 'up').length === 2, {
    timeout: 10_000,
    message: 'a sees b and its types',
  });
  return [a, b];
}

/** Crash the instance `name` on `host` and wait for the coordinator's `n`-th decision. */
async function crash(viewer: Node, host: Node, name: string, n: number): Promise<void> {
  const ref = await waitFor(() => host.whereis(name), { timeout: 5000, message: `${name} runs on ${host.name}` });
  ref.tell({ type: 'BOOM' });
  await waitFor(async () => (await viewer.cluster!.decisions()).length >= n, { timeout: 5000, message: `decision ${n}` });
}

function live(n: Node, name: string): boolean {
  const ref = n.whereis(name);
  return ref !== undefined && ref.exit === undefined;
}

async function afterSweeps(n: Node, count = 3): Promise<void> {
  const start = n.cluster!.sweeps;
  await waitFor(() => n.cluster!.sweeps >= start + count, { timeout: 10_000, message: `${count} coordinator sweeps` });
}

describe('cluster - one recovery path (supervision policy and rules)', () => {
  it('cluster - a giveUpAfter rule added with addRule gives up on a cluster.start instance before its intensity would', async () => {
    const [a, b] = await pair();
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    a.coordinator.addRule(giveUpAfter({ failures: 2, windowMs: 60_000, then: 'stop' }));
    await a.cluster!.start({ name: 'boom1', type: 'counter', node: 'b', intensity: 10, period: 60_000 });
    await crash(a, b, 'boom1', 1);
    await crash(a, b, 'boom1', 2);
    const ds = await a.cluster!.decisions();
    expect(ds.map((d) => [d.name, d.reason, d.action, d.rule, d.directive?.type])).toEqual([
      ['boom1', 'error', 'restart', 'otp-default', 'restart'],
      ['boom1', 'error', 'stop', 'give-up-after', 'stop'],
    ]);
    expect(ds[0]!.limits).toEqual({ intensity: 'within' });
    expect(ds[1]!.input).toMatchObject({ type: 'halyard.supervision.failure.v1', supervisor: 'cluster', childId: 'boom1', restart: 'permanent', reason: 'error' });
    // The same decisions are the node coordinator's records: one decision log, whichever coordinator decided.
    const local = a.coordinator.decisions({ supervisor: 'cluster', childId: 'boom1' });
    expect(local.map((d) => [d.rule, d.directive.type])).toEqual([
      ['otp-default', 'restart'],
      ['give-up-after', 'stop'],
    ]);
    await waitFor(() => a.cluster!.records().find((r) => r.name === 'boom1')?.gaveUp, { timeout: 5000, message: 'record given up' });
    await afterSweeps(a);
    expect(live(b, 'boom1')).toBe(false);
    expect(await a.cluster!.decisions()).toHaveLength(2);
  });

  it('cluster - an exponentialBackoff rule added with addRule restarts a cluster.start instance after its delay (restart-after)', async () => {
    const [a, b] = await pair();
    a.coordinator.addRule(exponentialBackoff({ initialMs: 200, maxMs: 1000 }));
    const first = await a.cluster!.start({ name: 'slow1', type: 'counter', node: 'b' });
    await crash(a, b, 'slow1', 1);
    const [d] = await a.cluster!.decisions();
    expect(d).toMatchObject({ name: 'slow1', action: 'restart', rule: 'exponential-backoff', directive: { type: 'restart-after', ms: 200 } });
    expect(d!.notBefore).toBe(d!.at + 200);
    expect(d!.epoch).toBeGreaterThan(first.epoch);
    const again = await waitFor(() => b.whereis('slow1'), { timeout: 5000, message: 'slow1 runs again' });
    expect(again.exit).toBeUndefined();
  });

  it('cluster - an ignore answer from a rule drops a permanent cluster instance (record removed, decision drop)', async () => {
    const [a, b] = await pair();
    a.coordinator.addRule({ name: 'let-it-go', decide: (r) => (r.supervisor === 'cluster' ? { type: 'ignore' } : undefined) });
    await a.cluster!.start({ name: 'gone1', type: 'counter', node: 'b', restart: 'permanent' });
    await crash(a, b, 'gone1', 1);
    const ds = await a.cluster!.decisions();
    expect(ds.map((d) => [d.name, d.action, d.rule])).toEqual([['gone1', 'drop', 'let-it-go']]);
    await waitFor(() => a.cluster!.records().every((r) => r.name !== 'gone1'), { timeout: 5000, message: 'record removed' });
  });
});

describe('cluster - past the limit: banned for the failure timeout, then tried again', () => {
  it('cluster - ban of a given-up instance at a given wall-clock time (table)', () => {
    expect(DEFAULT_FAILURE_TIMEOUT_MS).toBe(60_000);
    const table: Array<[{ gaveUp?: boolean; bannedUntil?: unknown }, number, string]> = [
      [{}, 0, 'none'],
      [{ gaveUp: false, bannedUntil: 10 }, 0, 'none'],
      [{ gaveUp: true }, 1e12, 'forever'],
      [{ gaveUp: true, bannedUntil: 'soon' }, 0, 'forever'],
      [{ gaveUp: true, bannedUntil: 60_000 }, 59_999, 'banned'],
      [{ gaveUp: true, bannedUntil: 60_000 }, 60_000, 'ended'],
      [{ gaveUp: true, bannedUntil: 60_000 }, 90_000, 'ended'],
    ];
    for (const [rec, now, ban] of table) expect([rec, now, banOf(rec, now)]).toEqual([rec, now, ban]);
  });

  it('cluster - failureTimeoutMs is validated, naming the field', () => {
    expect(resolveClusterOptions({ failureTimeoutMs: 5000 })).toMatchObject({ failureTimeoutMs: 5000 });
    for (const bad of [0, -1, Number.NaN, '60s']) {
      expect(() => resolveClusterOptions({ failureTimeoutMs: bad })).toThrow(expect.objectContaining({ name: 'InvalidSpecError', field: 'cluster.failureTimeoutMs' }));
    }
  });

  it('cluster - past its intensity a permanent instance is banned (an event on every node), then tried again with a fresh history', async () => {
    const [a, b] = await pair({ ...fast, failureTimeoutMs: 300 });
    const seen: GaveUpEvent[] = [];
    b.cluster!.on('gave-up', (e) => seen.push(e));
    const started = await a.cluster!.start({ name: 'ban1', type: 'counter', node: 'b', intensity: 1, period: 60_000 });
    await crash(a, b, 'ban1', 1);
    const first = await waitFor(
      () => (b.cluster!.instances().find((i) => i.name === 'ban1' && i.epoch > started.epoch) ? b.whereis('ban1') : undefined),
      { timeout: 5000, message: 'ban1 restarted once' },
    );
    first.tell({ type: 'BOOM' });
    const gaveUp = await waitFor(() => seen[0], { timeout: 5000, message: 'the give-up is seen on b' });
    const stop = (await a.cluster!.decisions())[1];
    expect(stop).toMatchObject({ name: 'ban1', action: 'stop', reason: 'error', detail: MAX_INTENSITY_REASON, limits: { intensity: 'exceeded' } });
    expect(stop!.bannedUntil).toBe(stop!.at + 300);
    expect(gaveUp).toEqual({ type: 'halyard.cluster.v1.gave_up', name: 'ban1', reason: MAX_INTENSITY_REASON, endedWith: 'error', bannedUntil: stop!.bannedUntil });
    // The ban ends: decided again as a fresh failure (history cleared), so intensity 1 allows a restart again.
    const again = await waitFor(() => {
      const ref = b.whereis('ban1');
      return ref !== undefined && ref !== first && ref.exit === undefined ? ref : undefined;
    }, { timeout: 10_000, message: 'ban1 runs again after its ban' });
    expect(again.exit).toBeUndefined();
    const ds = await waitFor(async () => {
      const all = await a.cluster!.decisions();
      return all.length === 3 && all[2]!.epoch !== undefined ? all : undefined;
    }, { timeout: 5000, message: 'the retry decided and carried out' });
    expect(ds.map((d) => [d.action, d.reason, d.retry, d.history?.length])).toEqual([
      ['restart', 'error', undefined, 1],
      ['stop', 'error', undefined, 2],
      ['restart', 'error', 1, 1],
    ]);
    expect(a.cluster!.records().find((r) => r.name === 'ban1')).toMatchObject({ state: 'running', owner: 'b' });
  });
});

describe('cluster - a singleton lost with its node past its intensity', () => {
  it('cluster - a permanent singleton given up after node losses is banned, then started again on a survivor', async () => {
    const prefix = uniquePrefix('polban');
    const servers = inject('natsUrl');
    const cluster = { ...fast, failureTimeoutMs: 300 };
    const start = async (name: string) => {
      const n = await createNode({ name, prefix, transport: { kind: 'nats', servers }, cluster });
      nodes.push(n);
      return n;
    };
    const a = await start('a');
    await waitFor(() => a.cluster!.isCoordinator, { timeout: 10_000, message: 'a is the coordinator' });
    const b = await start('b');
    const c = await start('c');
    const d = await start('d');
    for (const n of [b, c, d]) n.register('single', counterMachine, { cardinality: 'singleton' });
    await waitFor(() => ['b', 'c', 'd'].every((n) => a.cluster!.typesOf(n)?.single !== undefined), { timeout: 10_000, message: 'a sees the type on b, c, d' });
    const seen: GaveUpEvent[] = [];
    d.cluster!.on('gave-up', (e) => seen.push(e));
    // Intensity 1: the second node loss is past the limit (as the 4th within 30 s is with the defaults).
    await a.cluster!.start({ name: 'solo', type: 'single', node: 'b', placement: 'any', intensity: 1, period: 60_000 });
    await waitFor(() => live(b, 'solo') && a.cluster!.records().some((r) => r.name === 'solo'), { timeout: 5000, message: 'solo on b' });
    const leave = async (n: Node) => {
      nodes.splice(nodes.indexOf(n), 1);
      await n.shutdown(100);
    };
    await leave(b);
    await waitFor(() => live(c, 'solo'), { timeout: 10_000, message: 'solo moves to c' });
    await leave(c);
    const gaveUp = await waitFor(() => seen[0], { timeout: 10_000, message: 'the give-up is seen on d' });
    expect(gaveUp).toMatchObject({ name: 'solo', reason: MAX_INTENSITY_REASON, endedWith: 'nodedown' });
    // Not forever: once the ban ends it is decided again with a fresh history, and the survivor d runs it.
    await waitFor(() => live(d, 'solo'), { timeout: 10_000, message: 'solo runs on the survivor d after its ban' });
    const ds = await waitFor(async () => {
      const all = await a.cluster!.decisions();
      return all.length === 3 && all[2]!.epoch !== undefined ? all : undefined;
    }, { timeout: 5000, message: 'the retry decided and carried out' });
    expect(ds.map((x) => [x.action, x.reason, x.from, x.to, x.retry])).toEqual([
      ['restart', 'nodedown', 'b', 'c', undefined],
      ['stop', 'nodedown', 'c', undefined, undefined],
      ['restart', 'nodedown', 'c', 'd', 1],
    ]);
    expect(ds[1]).toMatchObject({ detail: MAX_INTENSITY_REASON, bannedUntil: gaveUp.bannedUntil });
  });
});
