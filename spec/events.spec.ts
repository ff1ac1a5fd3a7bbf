import fc from 'fast-check';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { InvalidArgumentError, InvalidSpecError } from '../src/errors.js';
import { EventType, type HalyardEvent } from '../src/events.js';
import { createLogger } from '../src/log.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { LocalBus } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown()));
  await Promise.allSettled(closers.splice(0).map((c) => c()));
});

let seq = 0;
async function open(name: string, extra: Partial<NodeOptions> = {}): Promise<Node> {
  const n = await createNode({ name, prefix: `ev${process.pid}x${++seq}`, transport: { kind: 'local', bus: new LocalBus() }, ...extra });
  nodes.push(n);
  return n;
}

/** Every event the node emits from now on. */
function record(node: Node): HalyardEvent[] {
  const seen: HalyardEvent[] = [];
  node.events.subscribe((e) => {
    seen.push(e);
  });
  return seen;
}

/** The type sequence of the supervisor's events about one child, decisions included. */
function childTrace(events: readonly HalyardEvent[], childId: string): string[] {
  return events.filter((e) => 'childId' in e && e.childId === childId).map((e) => e.type);
}

describe('events - supervision', () => {
  it('events - a crash emits the child exited, the decision and the child restarted, in that order', async () => {
    const node = await open('a');
    const seen = record(node);
    const sup = node.supervise({ intensity: 3, children: [{ id: 'counter', start: counterMachine, name: 'counter' }] }, { name: 'app' });
    const first = sup.whichChildren()[0]!.ref!;
    first.tell({ type: 'BOOM' });
    await waitFor(() => seen.some((e) => e.type === EventType.ChildRestarted), { timeout: 5000, message: 'restarted event' });

    expect(childTrace(seen, 'counter')).toEqual([EventType.ChildStarted, EventType.ChildExited, EventType.Decision, EventType.ChildRestarted]);
    const [started, exited, decision, restarted] = seen.filter((e) => 'childId' in e);
    expect(started).toMatchObject({ v: 1, node: 'a', supervisor: 'app', childId: 'counter', actor: first.id });
    expect(exited).toMatchObject({ v: 1, node: 'a', supervisor: 'app', actor: first.id, reason: 'error', error: 'boom' });
    expect(decision).toMatchObject({ v: 1, supervisor: 'app', reason: 'error', directive: 'restart', rule: 'otp-default', decision: node.coordinator.decisions()[0]!.seq });
    const now = sup.whichChildren()[0]!.ref!;
    expect(restarted).toMatchObject({ v: 1, supervisor: 'app', childId: 'counter', actor: now.id, restarts: 1 });
    expect(now.id).not.toBe(first.id);
    // seq numbers the node's events in emission order.
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => seen[0]!.seq + i));
  });

  it('events - a supervisor past its intensity emits supervisor gave up after the escalate decision', async () => {
    const node = await open('a');
    const seen = record(node);
    const sup = node.supervise({ intensity: 0, children: [{ id: 'w', start: counterMachine }] }, { name: 'app' });
    sup.whichChildren()[0]!.ref!.tell({ type: 'BOOM' });
    await sup.stopped;
    const gaveUp = seen.find((e) => e.type === EventType.SupervisorGaveUp);
    expect(gaveUp).toMatchObject({ v: 1, node: 'a', supervisor: 'app', reason: 'reached_max_restart_intensity' });
    const decision = seen.find((e) => e.type === EventType.Decision);
    expect(decision).toMatchObject({ directive: 'escalate' });
    expect(decision!.seq).toBeLessThan(gaveUp!.seq);
  });

  it('events - events for one child arrive in causal order over any number of crashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), async (crashes) => {
        const node = await open('a');
        try {
          const seen = record(node);
          const sup = node.supervise({ intensity: 10, children: [{ id: 'c', start: counterMachine }] }, { name: 'app' });
          for (let i = 1; i <= crashes; i++) {
            sup.whichChildren()[0]!.ref!.tell({ type: 'BOOM' });
            await waitFor(() => seen.filter((e) => e.type === EventType.ChildRestarted).length === i, { timeout: 5000, message: `restart ${i}` });
          }
          const expected: string[] = [EventType.ChildStarted];
          for (let i = 0; i < crashes; i++) expected.push(EventType.ChildExited, EventType.Decision, EventType.ChildRestarted);
          expect(childTrace(seen, 'c')).toEqual(expected);
          const restarts = seen.flatMap((e) => (e.type === EventType.ChildRestarted ? [e.restarts] : []));
          expect(restarts).toEqual(Array.from({ length: crashes }, (_, i) => i + 1));
          // Each exit names the incarnation the previous start reported.
          const starts = seen.filter((e) => e.type === EventType.ChildStarted || e.type === EventType.ChildRestarted);
          const exits = seen.filter((e) => e.type === EventType.ChildExited);
          for (const [i, x] of exits.entries()) expect((x as { actor: string }).actor).toBe((starts[i] as { actor: string }).actor);
        } finally {
          await node.shutdown();
        }
      }),
      { numRuns: 8 },
    );
  });
});

describe('events - dead letters', () => {
  it('events - a dead letter is an event with its target, reason and count, never the payload', async () => {
    const node = await open('a');
    const seen = record(node);
    const ref = node.spawn(counterMachine, { name: 'gone' });
    await node.stop(ref);
    ref.tell({ type: 'INC', secret: 's3cr3t-payload' } as never);
    ref.tell({ type: 'INC' });
    const letters = seen.filter((e) => e.type === EventType.DeadLetter);
    expect(letters).toHaveLength(2);
    expect(letters[0]).toMatchObject({ v: 1, node: 'a', reason: 'actor-stopped', eventType: 'INC', count: 1 });
    expect(letters[1]).toMatchObject({ reason: 'actor-stopped', count: 2 });
    expect(letters[0]!.type === EventType.DeadLetter && letters[0]!.target).toBeTruthy();
    expect(JSON.stringify(seen)).not.toContain('s3cr3t');
    expect(node.deadLetters.count('actor-stopped')).toBe(2);
  });
});

describe('events - subscriptions', () => {
  it('events - unsubscribe stops delivery', async () => {
    const node = await open('a');
    const seen: HalyardEvent[] = [];
    const off = node.events.subscribe((e) => {
      seen.push(e);
    });
    const ref = node.spawn(counterMachine);
    await node.stop(ref);
    ref.tell({ type: 'INC' });
    expect(seen).toHaveLength(1);
    off();
    ref.tell({ type: 'INC' });
    expect(seen).toHaveLength(1);
    expect(node.deadLetters.total).toBe(2);
  });

  it('events - an event caused by a listener reaches every listener after the one being delivered', async () => {
    const node = await open('a');
    const stale = node.spawn(counterMachine);
    await node.stop(stale);
    // The first listener causes a dead letter while the exit is being delivered.
    node.events.subscribe(() => stale.tell({ type: 'INC' }), { types: [EventType.ChildExited] });
    const seen = record(node);
    const sup = node.supervise({ intensity: 3, children: [{ id: 'w', start: counterMachine }] }, { name: 'app' });
    sup.whichChildren()[0]!.ref!.tell({ type: 'BOOM' });
    await waitFor(() => seen.some((e) => e.type === EventType.ChildRestarted), { timeout: 5000, message: 'restarted event' });
    expect(seen.map((e) => e.type)).toEqual([EventType.ChildStarted, EventType.ChildExited, EventType.DeadLetter, EventType.Decision, EventType.ChildRestarted]);
    expect(seen.map((e) => e.seq)).toEqual([...seen.map((e) => e.seq)].sort((x, y) => x - y));
  });

  it('events - a subscription with types gets only those types', async () => {
    const node = await open('a');
    const seen: HalyardEvent[] = [];
    node.events.subscribe((e) => void seen.push(e), { types: [EventType.ChildRestarted] });
    const sup = node.supervise({ intensity: 3, children: [{ id: 'w', start: counterMachine }] }, { name: 'app' });
    sup.whichChildren()[0]!.ref!.tell({ type: 'BOOM' });
    await waitFor(() => seen.length > 0, { timeout: 5000, message: 'restarted event' });
    expect(seen.map((e) => e.type)).toEqual([EventType.ChildRestarted]);
  });

  it('events - a bad listener or an unknown type is refused, naming the field', async () => {
    const node = await open('a');
    expect(() => node.events.subscribe(42 as never)).toThrow(InvalidArgumentError);
    expect(() => node.events.subscribe(() => {}, { types: ['supervisor.child.started', 'nope' as never] })).toThrow(
      expect.objectContaining({ field: 'options.types[1]' }),
    );
  });

  it('events - a throwing listener is logged, and neither the node nor the other listeners stop', async () => {
    const lines: string[] = [];
    const logger = createLogger({ level: 'error' }, { write: (line: string) => void lines.push(line) });
    const node = await open('a', { logger });
    node.events.subscribe(() => {
      throw new Error('listener broke');
    });
    node.events.subscribe(() => Promise.reject(new Error('async listener broke')));
    const seen = record(node);
    const sup = node.supervise({ intensity: 3, children: [{ id: 'counter', start: counterMachine, name: 'counter' }] }, { name: 'app' });
    sup.whichChildren()[0]!.ref!.tell({ type: 'BOOM' });
    await waitFor(() => seen.some((e) => e.type === EventType.ChildRestarted), { timeout: 5000, message: 'restarted event' });
    // The restarted child works: the throw did not stop the supervisor's step.
    await expect(node.ref('counter').ask({ type: 'GET' })).resolves.toBe(0);
    await waitFor(() => lines.some((l) => l.includes('async listener broke')), { timeout: 5000, message: 'async failure logged' });
    expect(lines.some((l) => l.includes('event listener threw') && l.includes('listener broke'))).toBe(true);
  });
});

describe('events - options', () => {
  it('events - events.publish must be a boolean and events takes no other key', async () => {
    await expect(createNode({ name: 'a', events: { publish: 'yes' as never } })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'events.publish' });
    await expect(createNode({ name: 'a', events: { pubish: true } as never })).rejects.toBeInstanceOf(InvalidSpecError);
  });

  it('events - with publish the events reach <prefix>.events.<node> as JSON over NATS', async () => {
    const prefix = `evp${process.pid}x${++seq}`;
    const tap = await NatsTransport.connect({ servers: inject('natsUrl'), name: 'tap' });
    closers.push(() => tap.close());
    const got: HalyardEvent[] = [];
    tap.subscribe(`${prefix}.events.a`, (msg) => void got.push(JSON.parse(new TextDecoder().decode(msg.data)) as HalyardEvent));
    await tap.flush();
    const node = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers: inject('natsUrl') }, events: { publish: true } });
    nodes.push(node);
    const ref = node.spawn(counterMachine);
    await node.stop(ref);
    ref.tell({ type: 'INC' });
    await node.flush();
    await waitFor(() => got.length > 0, { timeout: 5000, message: 'published event' });
    expect(got[0]).toMatchObject({ v: 1, type: 'dead_letter', node: 'a', reason: 'actor-stopped' });
  });
});

describe('events - publishing is off by default', () => {
  it('events - without publish nothing goes to <prefix>.events.<node>', async () => {
    const prefix = `evq${process.pid}x${++seq}`;
    const tap = await NatsTransport.connect({ servers: inject('natsUrl'), name: 'tap' });
    closers.push(() => tap.close());
    const got: string[] = [];
    tap.subscribe(`${prefix}.events.a`, () => void got.push('event'));
    tap.subscribe(`${prefix}.marker`, () => void got.push('marker'));
    await tap.flush();
    const node = await createNode({ name: 'a', prefix, transport: { kind: 'nats', servers: inject('natsUrl') } });
    nodes.push(node);
    const seen = record(node);
    const ref = node.spawn(counterMachine);
    await node.stop(ref);
    ref.tell({ type: 'INC' });
    expect(seen).toHaveLength(1);
    // One connection's messages arrive in order: had the event been published, it would come before the marker.
    node.transport.publish(`${prefix}.marker`, new Uint8Array());
    await waitFor(() => got.includes('marker'), { timeout: 5000, message: 'marker' });
    expect(got).toEqual(['marker']);
  });
});

describe('events - cluster', () => {
  const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 } as const;

  it('events - a member leaving the local-transport cluster is a member event on the others', async () => {
    const prefix = `evc${process.pid}x${++seq}`;
    const bus = new LocalBus();
    const a = await createNode({ name: 'a', prefix, transport: { kind: 'local', bus }, cluster: fast });
    nodes.push(a);
    const seen = record(a);
    const b = await createNode({ name: 'b', prefix, transport: { kind: 'local', bus }, cluster: fast });
    await waitFor(() => seen.some((e) => e.type === EventType.Member && e.member === 'b' && e.change === 'join'), { timeout: 10_000, message: 'b joins' });
    await b.shutdown();
    const left = await waitFor(() => seen.find((e) => e.type === EventType.Member && e.member === 'b' && e.change === 'leave'), {
      timeout: 10_000,
      message: 'b leaves',
    });
    expect(left).toMatchObject({ v: 1, node: 'a', type: 'cluster.member', change: 'leave', member: 'b' });
    expect(typeof (left as { incarnation: unknown }).incarnation).toBe('number');
  });

  it('events - the cluster giving up on an instance is a cluster gave up event, after its recovery decision', async () => {
    const prefix = `evg${process.pid}x${++seq}`;
    const a = await createNode({ name: 'a', prefix, transport: { kind: 'local', bus: new LocalBus() }, cluster: { ...fast, failureTimeoutMs: 60_000 } });
    nodes.push(a);
    await waitFor(() => a.cluster!.isCoordinator, { timeout: 10_000, message: 'a is the coordinator' });
    a.register('counter', counterMachine);
    const seen = record(a);
    await a.cluster!.start({ name: 'g1', type: 'counter', node: 'a', intensity: 0, period: 60_000 });
    const ref = await waitFor(() => a.whereis('g1'), { timeout: 5000, message: 'g1 runs on a' });
    ref.tell({ type: 'BOOM' });
    const gaveUp = await waitFor(() => seen.find((e) => e.type === EventType.ClusterGaveUp), { timeout: 10_000, message: 'cluster gave up event' });
    expect(gaveUp).toMatchObject({ v: 1, node: 'a', name: 'g1', reason: 'reached_max_restart_intensity', endedWith: 'error' });
    expect(typeof (gaveUp as { bannedUntil?: unknown }).bannedUntil).toBe('number');
    // One recovery path: the cluster's decision is the node coordinator's, and it comes first.
    const decision = seen.find((e) => e.type === EventType.Decision);
    expect(decision).toMatchObject({ directive: 'escalate', reason: 'error' });
    expect(decision!.seq).toBeLessThan(gaveUp.seq);
  });
});
