/**
 * Watched-set adoption (Halon, src/services/cluster/Adoption.ts): a
 * supervisor with `lifetime: 'cluster'` runs in a child process; SIGKILL it,
 * and a survivor adopts its running instances. Survivors run in this
 * process, so their actors are compared by identity.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, InvalidSpecError, type Node, ServiceLockedError } from '../src/index.js';
import { type Child, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const fast = { heartbeatMs: 50, suspectAfterMs: 100, downAfterMs: 200 };
const nodes: Node[] = [];
const children: Child[] = [];

afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(nodes.splice(0).reverse().map((n) => n.shutdown(100)));
});

async function survivors(prefix: string, names: string[]): Promise<Node[]> {
  const out: Node[] = [];
  for (const name of names) {
    const n = await createNode({
      name,
      prefix,
      transport: { kind: 'nats', servers: inject('natsUrl'), reconnectTimeWait: 100, maxReconnectAttempts: -1 },
      cluster: fast,
    });
    n.register('counter', counterMachine);
    nodes.push(n);
    out.push(n);
    if (out.length === 1) await waitFor(() => n.cluster!.isCoordinator, { timeout: 10_000, message: `${name} is the coordinator` });
  }
  return out;
}

/** A supervisor node `a` in its own process, supervising one counter on `b` and one on `c`. */
async function supervisorProcess(prefix: string, all: Node[], options: object): Promise<Child> {
  const a = spawnChild(script('adoptionNode.ts'), {
    HALYARD_NATS_URL: inject('natsUrl'),
    HALYARD_NODE: 'a',
    HALYARD_PREFIX: prefix,
    HALYARD_CLUSTER: JSON.stringify(fast),
  });
  children.push(a);
  await a.line(/^READY a/, 30_000);
  await waitFor(() => all.every((n) => n.nodes().filter((m) => m.status === 'up').length === 3), { timeout: 10_000, message: 'three nodes up' });
  await waitFor(() => all.every((n) => ['b', 'c'].every((h) => n.cluster!.typesOf(h)?.counter !== undefined)), { timeout: 5000, message: 'types seen' });
  const spec = {
    intensity: 3,
    period: 600_000,
    children: [
      { id: 'w1', start: { type: 'counter' }, node: 'b' },
      { id: 'w2', start: { type: 'counter' }, node: 'c' },
    ],
  };
  a.write(`SUPERVISE ${JSON.stringify({ spec, options })}`);
  await a.line(/^SUPERVISED jobs/, 10_000);
  return a;
}

function epochOn(n: Node, name: string): number | undefined {
  return n.cluster!.instances().find((i) => i.name === name)?.epoch;
}

describe('services - watched-set adoption', () => {
  it("services - a supervisor with lifetime 'cluster' lost with its node is adopted on a survivor: its instances keep running at their epoch, restart counts carried, a later crash restarted by the replacement", async () => {
    const prefix = uniquePrefix('ad');
    const [b, c] = await survivors(prefix, ['b', 'c']);
    const a = await supervisorProcess(prefix, [b!, c!], { name: 'jobs', lifetime: 'cluster', graceMs: 20_000 });
    const linked = () => {
      const w = b!.cluster!.watchedSets().find((s) => s.name === 'jobs');
      return w !== undefined && w.children.length === 2 && w.children.every((ch) => ch.epoch !== undefined) ? w : undefined;
    };
    const first = await waitFor(linked, { timeout: 10_000, message: 'watched set in the graph with both epochs' });
    expect(first.node).toBe('a');
    expect(first.children.map((ch) => ch.name).sort()).toEqual(['jobs-w1', 'jobs-w2']);

    // One restart on a's supervisor before it dies: it must count after adoption.
    const crashed = b!.whereis('jobs-w1')!;
    crashed.tell({ type: 'BOOM' });
    const afterCrash = await waitFor(
      () => {
        const w = linked();
        const e = w?.children.find((ch) => ch.id === 'w1')?.epoch;
        return w !== undefined && e !== undefined && e !== first.children.find((ch) => ch.id === 'w1')!.epoch && w.restarts.length === 1 ? w : undefined;
      },
      { timeout: 10_000, message: 'w1 restarted by a, recorded with its restart' },
    );
    const w1 = await waitFor(() => (b!.whereis('jobs-w1') !== crashed ? b!.whereis('jobs-w1') : undefined), { timeout: 5000, message: 'w1 again on b' });
    const w2 = c!.whereis('jobs-w2')!;
    for (let i = 0; i < 3; i++) w2.tell({ type: 'INC' });
    await expect(w2.ask({ type: 'GET' })).resolves.toBe(3);
    const epochs = { w1: epochOn(b!, 'jobs-w1'), w2: epochOn(c!, 'jobs-w2') };
    expect(epochs).toEqual({
      w1: afterCrash.children.find((ch) => ch.id === 'w1')!.epoch,
      w2: afterCrash.children.find((ch) => ch.id === 'w2')!.epoch,
    });

    a.process.kill('SIGKILL');
    const adopter = await waitFor(() => [b!, c!].find((n) => n.cluster!.supervisor('jobs') !== undefined), {
      timeout: 15_000,
      message: 'a survivor runs the replacement supervisor',
    });
    const adopted = await waitFor(
      () => {
        const w = adopter.cluster!.watchedSets().find((s) => s.name === 'jobs');
        return w?.node === adopter.name && w.adoptions === 1 && w.children.every((ch) => ch.epoch !== undefined) ? w : undefined;
      },
      { timeout: 10_000, message: 'watched set moved to the adopter' },
    );
    // The hosts report to the adopter once its stand-ins have adopted their instances.
    const supervisorOf = (n: Node, name: string) => n.cluster!.instances().find((i) => i.name === name)?.supervisor;
    await waitFor(() => supervisorOf(b!, 'jobs-w1') === adopter.name && supervisorOf(c!, 'jobs-w2') === adopter.name, {
      timeout: 10_000,
      message: 'both instances adopted by the replacement',
    });
    // No restart: the same actors, the same epochs, the same state.
    expect(b!.whereis('jobs-w1')).toBe(w1);
    expect(c!.whereis('jobs-w2')).toBe(w2);
    expect(w1.exit).toBeUndefined();
    expect({ w1: epochOn(b!, 'jobs-w1'), w2: epochOn(c!, 'jobs-w2') }).toEqual(epochs);
    expect(Object.fromEntries(adopted.children.map((ch) => [ch.id, ch.epoch]))).toEqual(epochs);
    await expect(w2.ask({ type: 'GET' })).resolves.toBe(3);
    const sup = adopter.cluster!.supervisor('jobs')!;
    expect(sup.whichChildren().map((ch) => [ch.id, ch.status])).toEqual([
      ['w1', 'running'],
      ['w2', 'running'],
    ]);
    expect(adopter.coordinator.decisions({ supervisor: 'jobs' })).toEqual([]);

    // A later crash of an adopted child: the replacement restarts it, with a's restart in its history.
    w1.tell({ type: 'BOOM' });
    const decision = await waitFor(() => adopter.coordinator.decisions({ supervisor: 'jobs' })[0], { timeout: 10_000, message: 'the replacement decides' });
    expect([decision.input.childId, decision.input.reason, decision.directive.type]).toEqual(['w1', 'error', 'restart']);
    expect(decision.input.history).toHaveLength(1);
    const again = await waitFor(() => {
      const r = b!.whereis('jobs-w1');
      return r !== undefined && r !== w1 && r.exit === undefined ? r : undefined;
    }, { timeout: 10_000, message: 'w1 restarted on b by the replacement' });
    expect(again).not.toBe(w1);
    await waitFor(() => (epochOn(b!, 'jobs-w1') ?? 0) > epochs.w1!, { timeout: 5000, message: 'w1 at a new epoch' });
    expect(c!.whereis('jobs-w2')).toBe(w2);
  }, 90_000);

  it("services - without lifetime 'cluster' a supervisor's death still takes its remote children with it", async () => {
    const prefix = uniquePrefix('ad');
    const [b, c] = await survivors(prefix, ['b', 'c']);
    const a = await supervisorProcess(prefix, [b!, c!], { name: 'jobs' });
    // Children of a `lifetime: 'node'` supervisor keep today's generated instance names.
    await waitFor(() => b!.cluster!.instances().length === 1 && c!.cluster!.instances().length === 1, {
      timeout: 10_000,
      message: 'both children running',
    });
    expect(b!.cluster!.watchedSets()).toEqual([]);
    a.process.kill('SIGKILL');
    await waitFor(() => b!.cluster!.instances().length === 0 && c!.cluster!.instances().length === 0, {
      timeout: 10_000,
      message: 'the hosts stopped the lost supervisor’s children',
    });
    expect([b!, c!].some((n) => n.cluster!.supervisor('jobs') !== undefined)).toBe(false);
  }, 60_000);

  it("services - cluster.supervise with lifetime 'cluster' refuses local logic, a bad graceMs and a taken name, naming the field", async () => {
    const prefix = uniquePrefix('ad');
    const [b] = await survivors(prefix, ['b']);
    const cl = b!.cluster!;
    await expect(cl.supervise({ children: [{ id: 'x', start: counterMachine }] }, { name: 'j', lifetime: 'cluster' })).rejects.toMatchObject({
      name: 'InvalidSpecError',
      field: 'children[0].start',
    });
    await expect(cl.supervise({ children: [] }, { name: 'j', lifetime: 'cluster', graceMs: -1 })).rejects.toBeInstanceOf(InvalidSpecError);
    await expect(cl.supervise({ children: [] }, { name: 'j', lifetime: 'forever' as 'cluster' })).rejects.toMatchObject({ field: 'lifetime' });
    await expect(cl.supervise({ strategy: 'simple_one_for_one', children: [] }, { name: 'j', lifetime: 'cluster' })).rejects.toMatchObject({ field: 'strategy' });
    const sup = await cl.supervise({ children: [{ id: 'w', start: { type: 'counter' }, node: 'b' }] }, { name: 'j', lifetime: 'cluster' });
    await expect(cl.supervise({ children: [] }, { name: 'j', lifetime: 'cluster' })).rejects.toBeInstanceOf(ServiceLockedError);
    // Stopped on its own node: its watched set leaves the graph with it.
    await waitFor(() => cl.watchedSets().some((w) => w.name === 'j'), { timeout: 5000, message: 'watched set seen' });
    await sup.stop();
    await waitFor(() => !cl.watchedSets().some((w) => w.name === 'j') && cl.instances().length === 0, {
      timeout: 5000,
      message: 'watched set removed, its child stopped',
    });
    expect(cl.supervisor('j')).toBeUndefined();
  }, 30_000);
});
