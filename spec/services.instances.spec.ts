/**
 * Service instances on one node (inline container): start only when ready,
 * stop dependants first, cardinality, lifetimes, queries, Check and Status.
 * Names follow issue 8's seeds.
 */
import { Writable } from 'node:stream';
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { restartAfter } from '../src/supervision/index.js';
import {
  DependantsAliveError,
  InvalidConfigError,
  InvalidSpecError,
  ServiceLockedError,
  ServiceNotInstalledError,
  ServiceStartError,
  TimeoutError,
  UnknownDependencyError,
  UnknownServiceTypeError,
} from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { defineService } from '../src/services/catalog/index.js';
import { ServiceEventType } from '../src/services/instances/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});
async function node(options: Omit<Parameters<typeof createNode>[0], 'name'> & { name?: string } = {}): Promise<Node> {
  const n = await createNode({ name: `n${nodes.length + 1}`, ...options });
  nodes.push(n);
  return n;
}

/** A machine that is `ready` once it has seen GO (or at once when `startReady`), counts CHARGEs and answers them. */
function counter(startReady = true) {
  return createMachine({
    types: {} as { context: { n: number } },
    context: { n: 0 },
    initial: startReady ? 'ready' : 'warming',
    states: {
      warming: { on: { GO: 'ready' } },
      ready: {
        tags: ['ready'],
        on: {
          CHARGE: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] },
          CRASH: { actions: () => { throw new Error('boom'); } },
          FINISH: 'finished',
        },
      },
      finished: { type: 'final' },
    },
  });
}

/** Records setup and teardown order across services. */
function recorder() {
  const log: string[] = [];
  const def = (name: string, extra: Record<string, unknown> = {}) =>
    defineService({
      name,
      version: '1.0.0',
      logic: counter(),
      ready: 'ready',
      setup: ({ instance }) => {
        log.push(`setup ${instance.service}`);
        return name;
      },
      teardown: (r) => {
        log.push(`teardown ${String(r)}`);
      },
      ...extra,
    });
  return { log, def };
}

describe('services - start and stop', () => {
  it('services - start resolves only once setup is done and the ready tag is reached', async () => {
    const svc = defineService({ name: 'warm', version: '1.0.0', logic: counter(false), ready: 'ready' });
    const n = await node({ services: [svc] });
    let resolved = false;
    const starting = n.services.start('warm').then((p) => {
      resolved = true;
      return p;
    });
    // The instance exists and is starting; it is ready only after GO.
    await n.flush();
    const inst = n.services.find().byType('warm').list()[0];
    expect(inst?.state).toBe('starting');
    expect(resolved).toBe(false);
    n.whereis('warm')!.tell({ type: 'GO' });
    const p = await starting;
    expect(p.state).toBe('running');
    expect(p.isAlive()).toBe(true);
    await expect(p.ask({ type: 'CHARGE' })).resolves.toBe(1);
  });

  it('services - a start that is not ready within its deadline is a ServiceStartError, and nothing is left running', async () => {
    const { log, def } = recorder();
    const svc = def('slow', { logic: counter(false) });
    const n = await node({ services: [svc] });
    const err = await n.services.start('slow', { timeout: 50 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as ServiceStartError).cause).toBeInstanceOf(TimeoutError);
    expect(n.whereis('slow')).toBeUndefined();
    expect(log).toEqual(['setup slow', 'teardown slow']);
    expect(n.services.events().map((e) => e.type)).toContain(ServiceEventType.CouldNotStart);
  });

  it('services - start is idempotent for the same instance id, stop and kill are idempotent', async () => {
    const { log, def } = recorder();
    const n = await node({ services: [def('a')] });
    const p = await n.services.start('a', { id: 'a-main' });
    expect(await n.services.start('a', { id: 'a-main' })).toBe(p);
    await Promise.all([p.stop(), p.stop()]);
    await p.kill();
    expect(p.state).toBe('stopped');
    expect(log).toEqual(['setup a', 'teardown a']);
    await p.waitTillStopped(10);
  });

  it('services - waitTillStopped rejects with TimeoutError while the instance runs', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')] });
    const p = await n.services.start('a');
    await expect(p.waitTillStopped(20)).rejects.toBeInstanceOf(TimeoutError);
    await expect(p.waitTillStopped('5s' as never)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'ms' });
  });

  it('services - cleanup forgets a stopped instance and refuses a live one', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')] });
    const p = await n.services.start('a');
    await expect(p.cleanup()).rejects.toMatchObject({ code: 'ERR_SERVICE_RUNNING' });
    await p.stop();
    await p.cleanup();
    expect(n.services.find().list()).toEqual([]);
  });

  it('services - the instance is reachable by its NATS name like any actor', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')] });
    await n.services.start('a');
    await expect(n.ref('a').ask({ type: 'CHARGE' })).resolves.toBe(1);
  });

  it('services - a crash is restarted by its supervisor through the coordinator, and the instance stays running', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')] });
    const p = await n.services.start('a');
    const restarted = new Promise<void>((resolve) => {
      n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    expect(p.state).toBe('running');
    expect(p.incarnation).toBe(2);
    expect(n.coordinator.decisions().some((d) => d.input.childId === p.id && d.directive.type === 'restart')).toBe(true);
    expect(n.services.events().map((e) => e.type)).toContain(ServiceEventType.Failed);
  });

  it('services - a delayed restart (restart-after from a rule) brings the instance back on its new incarnation', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')], supervision: { rules: [{ name: 'later', decide: () => restartAfter(20) }] } });
    const p = await n.services.start('a');
    const restarted = new Promise<void>((resolve) => {
      n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    expect(p.incarnation).toBe(2);
    await expect(p.ask({ type: 'CHARGE' })).resolves.toBe(1);
  });

  it('services - a setup that throws is could-not-start, and the logic never runs', async () => {
    const svc = defineService({
      name: 'broken',
      version: '1.0.0',
      logic: counter(),
      setup: () => {
        throw new Error('no database');
      },
    });
    const n = await node({ services: [svc] });
    const err = await n.services.start('broken').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as Error).message).toContain('setup failed: no database');
    expect(n.whereis('broken')).toBeUndefined();
    expect(n.services.find().byType('broken').list()[0]?.state).toBe('failed');
  });

  it('services - stop runs the logic shutdown then teardown; kill skips the shutdown', async () => {
    const seen: string[] = [];
    const graceful = createMachine({
      initial: 'ready',
      states: {
        ready: { tags: ['ready'], on: { 'halyard.shutdown': { target: 'done', actions: () => seen.push('shutdown handled') } } },
        done: { type: 'final' },
      },
    });
    const svc = defineService({ name: 'g', version: '1.0.0', logic: graceful, ready: 'ready', setup: () => 'r', teardown: () => void seen.push('teardown') });
    const n = await node({ services: [svc] });
    await (await n.services.start('g')).stop();
    expect(seen).toEqual(['shutdown handled', 'teardown']);
    seen.length = 0;
    const k = await n.services.start('g');
    await k.kill();
    expect(seen).toEqual(['teardown']);
    expect(n.services.events().at(-1)).toMatchObject({ type: ServiceEventType.Exited, instance: k.id, reason: 'killed' });
    // The kill was the instance's own end, not a failure for the coordinator to decide.
    expect(n.coordinator.decisions().filter((d) => d.input.childId === k.id)).toEqual([]);
  });

  it('services - a logic reaching a final state ends the instance, exited normal', async () => {
    const { log, def } = recorder();
    const n = await node({ services: [def('a')] });
    const p = await n.services.start('a');
    p.tell({ type: 'FINISH' });
    await p.waitTillStopped(5000);
    expect(p.state).toBe('stopped');
    expect(log).toEqual(['setup a', 'teardown a']);
    expect(n.services.events().at(-1)).toMatchObject({ type: ServiceEventType.Exited, reason: 'normal' });
  });
});

describe('services - dependencies', () => {
  it('dependants stop first', async () => {
    const { log, def } = recorder();
    const ledger = def('ledger');
    const payments = def('payments', { dependsOn: ['ledger'] });
    const web = def('web', { dependsOn: ['payments'] });
    const n = await node({ services: [web, payments, ledger] });
    await n.services.start('web');
    expect(log).toEqual(['setup ledger', 'setup payments', 'setup web']);
    const l = n.services.find().byType('ledger').list()[0]!;
    expect(l.dependants().map((d) => d.service)).toEqual(['payments']);
    await l.stop();
    expect(log.slice(3)).toEqual(['teardown web', 'teardown payments', 'teardown ledger']);
  });

  it('services - two dependants starting at once share one start of their dependency', async () => {
    const { log, def } = recorder();
    const n = await node({ services: [def('ledger'), def('payments', { dependsOn: ['ledger'] }), def('audit', { dependsOn: ['ledger'] })] });
    await Promise.all([n.services.start('payments'), n.services.start('audit')]);
    expect(log.filter((l) => l === 'setup ledger')).toHaveLength(1);
    expect(n.services.find().byType('ledger').size).toBe(1);
  });

  it('services - stopping with { dependants: refuse } is a DependantsAliveError while dependants live', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('ledger'), def('payments', { dependsOn: ['ledger'] })] });
    const p = await n.services.start('payments');
    const l = n.services.find().byType('ledger').list()[0]!;
    await expect(l.stop({ dependants: 'refuse' })).rejects.toBeInstanceOf(DependantsAliveError);
    expect(l.state).toBe('running');
    await p.stop();
    await l.stop({ dependants: 'refuse' });
    expect(l.state).toBe('stopped');
  });

  it('services - a node with an unknown dependency or a cycle is refused, naming it', async () => {
    const a = defineService({ name: 'a', version: '1.0.0', logic: counter(), dependsOn: ['b'] });
    const b = defineService({ name: 'b', version: '1.0.0', logic: counter(), dependsOn: ['a'] });
    await expect(createNode({ name: 'bad1', services: [a] })).rejects.toBeInstanceOf(UnknownDependencyError);
    const err = await createNode({ name: 'bad2', services: [a, b] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidSpecError);
    expect((err as Error).message).toMatch(/cycle (a -> b -> a|b -> a -> b)/);
  });
});

describe('services - cardinality and names', () => {
  it('only one instance of a service type on a node', async () => {
    const svc = defineService({ name: 'db', version: '1.0.0', logic: counter(), cardinality: 'per-node', config: v.object({ port: v.number() }) });
    const n = await node({ services: [svc] });
    const p = await n.services.start('db', { config: { port: 1 } });
    expect(await n.services.start('db', { config: { port: 1 } })).toBe(p);
    await expect(n.services.start('db', { config: { port: 2 } })).rejects.toBeInstanceOf(ServiceLockedError);
    expect(n.services.find().byType('db').alive().size).toBe(1);
  });

  it('a service cannot start while another holds its service name', async () => {
    const svc = defineService({ name: 'db', version: '1.0.0', logic: counter(), cardinality: 'per-node' });
    const n = await node({ services: [svc] });
    n.spawn(counter(), { name: 'db' });
    const err = await n.services.start('db').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceLockedError);
    expect(err).toMatchObject({ lock: 'name' });
  });

  it('services - many instances of a many type each get an id, the first holds the service name', async () => {
    const svc = defineService({ name: 'w', version: '1.0.0', logic: counter() });
    const n = await node({ services: [svc] });
    const [a, b] = [await n.services.start('w'), await n.services.start('w')];
    expect(a.actorName).toBe('w');
    expect(b.actorName).toBe(b.id);
    expect(a.id).not.toBe(b.id);
  });
});

describe('services - bad input at start', () => {
  it('services - an invalid config is an InvalidConfigError naming each path, reported could-not-start with OCF 6, nothing started', async () => {
    const { log, def } = recorder();
    const n = await node({ services: [def('p', { config: v.object({ currency: v.string(), limit: v.pipe(v.number(), v.minValue(1)) }) })] });
    const err = await n.services.start('p', { config: { currency: 1, limit: 0 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as InvalidConfigError).issues.map((i) => i.path).sort()).toEqual(['currency', 'limit']);
    expect(log).toEqual([]);
    expect(n.services.find().list()).toEqual([]);
    expect(n.services.events().at(-1)).toMatchObject({ type: ServiceEventType.CouldNotStart, ocf: 6 });
  });

  it('services - a node lacking required labels answers ERR_INSTALLED (OCF 5)', async () => {
    const svc = defineService({ name: 'gpu', version: '1.0.0', logic: counter(), requires: ['gpu'] });
    const plain = await node({ services: [svc] });
    const err = await plain.services.start('gpu').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceNotInstalledError);
    expect(err).toMatchObject({ ocf: 5, missing: ['gpu'] });
    const labelled = await node({ services: [svc], labels: ['gpu'] });
    expect((await labelled.services.start('gpu')).state).toBe('running');
  });

  it('services - an unknown service, bad start options and bad node labels are typed errors naming the field', async () => {
    const n = await node({ services: [] });
    await expect(n.services.start('nope')).rejects.toBeInstanceOf(UnknownServiceTypeError);
    const svc = defineService({ name: 'a', version: '1.0.0', logic: counter() });
    const m = await node({ services: [svc] });
    await expect(m.services.start('a', { lifetime: 'forever' as never })).rejects.toMatchObject({ field: 'options.lifetime' });
    await expect(m.services.start('a', { confg: {} } as never)).rejects.toMatchObject({ field: 'options.confg' });
    await expect(createNode({ name: 'bad3', labels: ['a b'] })).rejects.toMatchObject({ field: 'labels.0' });
    await expect(createNode({ name: 'bad4', services: [{ name: 'x' }] as never })).rejects.toMatchObject({ field: 'services.0' });
  });
});

describe('services - lifetimes', () => {
  it('stopped automatically when the test / node ends', async () => {
    const { log, def } = recorder();
    const n = await createNode({ name: 'life', services: [def('ledger'), def('payments', { dependsOn: ['ledger'] })] });
    {
      await using scratch = await n.services.start('ledger', { id: 'scratch', lifetime: 'scope' });
      expect(scratch.isAlive()).toBe(true);
    }
    expect(n.services.get('scratch')?.state).toBe('stopped');
    const p = await n.services.start('payments', { lifetime: 'node' });
    await n.shutdown();
    expect(p.state).toBe('stopped');
    expect(n.services.find().alive().size).toBe(0);
    // The node's end stops dependants first.
    expect(log.slice(-2)).toEqual(['teardown payments', 'teardown ledger']);
  });

  it('services - an instance bound to an owner ends with it', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('owner'), def('child')] });
    const owner = await n.services.start('owner');
    const child = await n.services.start('child', { lifetime: { owner } });
    await owner.stop();
    await child.waitTillStopped(5000);
    expect(child.state).toBe('stopped');
  });
});

describe('services - queries', () => {
  it('services - find().byName matches service names, byId matches instance ids', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a'), def('b')] });
    const [a1, a2, b] = [await n.services.start('a'), await n.services.start('a', { id: 'second' }), await n.services.start('b')];
    expect(n.services.find().byName('a').list()).toEqual([a1, a2]);
    expect(n.services.find().byName('b').list()).toEqual([b]);
    expect(n.services.find().byId('second').list()).toEqual([a2]);
    expect(n.services.find().byName('second').list()).toEqual([]);
  });

  it('services - generated instance ids are unique across nodes', async () => {
    const { def } = recorder();
    const one = await node({ name: 'idn1', services: [def('a')] });
    const two = await node({ name: 'idn2', services: [def('a')] });
    const [x, y] = [await one.services.start('a'), await two.services.start('a')];
    expect(x.id).not.toBe(y.id);
    expect(x.id).toContain('idn1');
  });

  it('services - a restart keeps the instance id, and the node lists that id once, running', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a')] });
    const first = await n.services.start('a');
    const again = await n.services.restart(first);
    expect(again.id).toBe(first.id);
    expect(again).not.toBe(first);
    expect(n.services.find().byId(first.id).list()).toEqual([again]);
    expect(n.services.get(first.id)).toBe(again);
    expect(again.state).toBe('running');
  });

  it("find_by_tags('core').alive().kill()", async () => {
    const { def } = recorder();
    const n = await node({ services: [def('a', { tags: ['core'] }), def('b'), def('c', { tags: ['core'] })] });
    const [a, b, c] = [await n.services.start('a'), await n.services.start('b'), await n.services.start('c', { tags: ['eu'] })];
    const results = await n.services.find().byTag('core').alive().kill();
    expect(results.map((r) => [r.instance, r.ok]).sort()).toEqual([
      [a.id, true],
      [c.id, true],
    ]);
    expect([a.state, b.state, c.state]).toEqual(['stopped', 'running', 'stopped']);
    expect(n.services.find().byTag('core', 'eu').dead().list()).toEqual([c]);
  });

  it('services - graph() lists types, instances, owners and dependencies', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('ledger'), def('payments', { dependsOn: ['ledger'] })] });
    const p = await n.services.start('payments', { tags: ['eu'] });
    const l = n.services.find().byType('ledger').list()[0]!;
    const child = await n.services.start('ledger', { lifetime: { owner: p } });
    const g = n.services.graph();
    expect(g.services).toEqual([
      { name: 'ledger', version: '1.0.0', dependsOn: [], cardinality: 'many' },
      { name: 'payments', version: '1.0.0', dependsOn: ['ledger'], cardinality: 'many' },
    ]);
    expect(g.instances.map((i) => [i.instance, i.state, i.owner])).toEqual([
      [l.id, 'running', undefined],
      [p.id, 'running', undefined],
      [child.id, 'running', p.id],
    ]);
    expect(g.instances[1]).toMatchObject({ tags: ['eu'], dependsOn: ['ledger'], node: n.name });
  });

  it('find_no_alive_dependants', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('ledger'), def('payments', { dependsOn: ['ledger'] }), def('audit')] });
    await n.services.start('payments');
    await n.services.start('audit');
    const leaves = n.services.find().alive().noAliveDependants().list().map((i) => i.service).sort();
    expect(leaves).toEqual(['audit', 'payments']);
  });

  it('services - query actions answer one typed result per instance, keeping partial failures', async () => {
    const { def } = recorder();
    const n = await node({ services: [def('ledger'), def('payments', { dependsOn: ['ledger'] })] });
    await n.services.start('payments');
    const waits = await n.services.find().alive().waitTillStopped(10);
    expect(waits).toHaveLength(2);
    expect(waits.every((r) => !r.ok && r.error.code === 'ERR_TIMEOUT')).toBe(true);
    const restarted = await n.services.find().byType('ledger').restart();
    expect(restarted[0]).toMatchObject({ ok: true, service: 'ledger' });
  });
});

describe('services - logs', () => {
  it('services - each instance logs through a child with node, service, instance and incarnation', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const { def } = recorder();
    const n = await node({ name: 'logs', services: [def('a')], logger: createLogger({ level: 'info' }, sink) });
    const p = await n.services.start('a');
    const restarted = new Promise<void>((resolve) => n.services.onEvent((e) => e.type === ServiceEventType.Started && resolve()));
    p.tell({ type: 'CRASH' });
    await restarted;
    const mine = lines.filter((l) => l.service === 'a' && typeof l.msg === 'string' && l.msg.startsWith('service '));
    expect(mine.map((l) => [l.msg, l.node, l.instance, l.incarnation])).toEqual([
      ['service started', 'logs', p.id, 1],
      ['service restarted by its supervisor', 'logs', p.id, 2],
    ]);
  });
});

describe('services - health', () => {
  it('Check answers health, Status logs status now', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const { def } = recorder();
    const n = await node({ services: [def('a')], logger: createLogger({ level: 'info' }, sink) });
    const p = await n.services.start('a');
    await expect(p.check(0)).resolves.toMatchObject({ code: 0, label: 'OCF_SUCCESS', actor: 'a' });
    const before = lines.length;
    const report = await p.status();
    expect(report).toMatchObject({ service: 'a', instance: p.id, instanceState: 'running', lifecycle: 'running' });
    expect(lines.slice(before).some((l) => l.msg === 'status')).toBe(true);
    const checks = await n.services.find().check(10);
    expect(checks[0]).toMatchObject({ ok: true, value: { code: 0 } });
    await p.stop();
    await expect(p.check(0)).resolves.toMatchObject({ code: 7, label: 'OCF_NOT_RUNNING' });
  });
});
