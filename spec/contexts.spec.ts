/**
 * Contexts on one node: the seed's four-service example, each trigger kind,
 * restarts under a new transaction, stop order, the machine export.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createActor, createMachine } from 'xstate';
import { getSimplePaths } from '@xstate/graph';
import { reply } from '../src/actors/reply.js';
import { defineService } from '../src/services/catalog/index.js';
import { type Context, ContextEventType, buildContextMachine, defineContext, NOTIFY_EVENT } from '../src/services/contexts/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { waitFor } from './support/wait.js';

const FIXTURES = new URL('./fixtures/contexts/', import.meta.url).pathname;
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

/** A service that counts notifications, moves to `stepped` on STEP, ends on DONE and throws on CRASH. */
function step(name: string, log: string[]) {
  return defineService({
    name,
    version: '1.0.0',
    logic: createMachine({
      types: {} as { context: { notified: number } },
      context: { notified: 0 },
      initial: 'ready',
      states: {
        ready: {
          tags: ['ready'],
          on: {
            STEP: 'stepped',
            DONE: 'done',
            CRASH: { actions: () => { throw new Error(`${name} tripped`); } },
            [NOTIFY_EVENT]: { actions: assign({ notified: ({ context }) => context.notified + 1 }) },
            COUNT: { actions: reply(({ context }) => context.notified) },
          },
        },
        stepped: { tags: ['ready'], on: { STEP: 'ready', DONE: 'done' } },
        done: { type: 'final' },
      },
    }),
    ready: 'ready',
    setup: () => {
      log.push(`setup ${name}`);
      return name;
    },
    teardown: () => {
      log.push(`teardown ${name}`);
    },
  });
}

async function seedNode(): Promise<{ n: Node; log: string[] }> {
  const log: string[] = [];
  const n = await createNode({ name: `c${nodes.length + 1}`, services: ['stand', 'walk', 'coffee', 'run'].map((s) => step(s, log)) });
  nodes.push(n);
  return { n, log };
}

const running = (ctx: Context, id: string) => ctx.services().find((i) => i.id.startsWith(`${id}-`));
const until = <T>(what: string, f: () => T) => waitFor(f, { timeout: 5000, message: what });

describe('contexts - the seed example', () => {
  it('contexts - the four-service example runs stand, walk, coffee and run in turn, and the last one stops the context', async () => {
    const { n, log } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    expect(ctx.transaction).toMatch(/^[A-Z2-7]{20}$/);
    expect(ctx.state).toBe('running');
    // on_start of stand starts walk.
    const walk = await until('walk started by stand', () => running(ctx, 'walk'));
    expect(ctx.services().map((i) => i.service)).toEqual(['stand', 'walk']);
    // walk's end starts coffee, coffee's starts run, run's stops the context.
    walk.tell({ type: 'DONE' });
    const coffee = await until('coffee started by walk', () => running(ctx, 'coffee'));
    coffee.tell({ type: 'DONE' });
    const run = await until('run started by coffee', () => running(ctx, 'run'));
    run.tell({ type: 'DONE' });
    await until('context stopped by run', () => ctx.state === 'stopped');
    expect(ctx.services()).toEqual([]);
    expect(log).toEqual(['setup stand', 'setup walk', 'teardown walk', 'setup coffee', 'teardown coffee', 'setup run', 'teardown run', 'teardown stand']);
    expect(n.contexts.find({ transaction: ctx.transaction })).toBe(ctx);
  });
});

describe('contexts - in-process events', () => {
  it('contexts - subscribe hears the state and service events the context publishes, and stops hearing after unsubscribe', async () => {
    const { n } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    const heard: string[] = [];
    const off = ctx.subscribe((e) => {
      if (e.type === ContextEventType.State) heard.push(`state ${e.state}`);
      if (e.type === ContextEventType.Service) heard.push(`${e.id} ${e.event}`);
    });
    const walk = await until('walk started by stand', () => running(ctx, 'walk'));
    walk.tell({ type: 'DONE' });
    await until('coffee started by walk', () => running(ctx, 'coffee'));
    expect(heard).toContain('walk halyard.service.exited.v1');
    expect(heard).toContain('coffee halyard.service.started.v1');
    expect(heard.indexOf('walk halyard.service.exited.v1')).toBeLessThan(heard.indexOf('coffee halyard.service.started.v1'));
    off();
    const count = heard.length;
    await ctx.stop();
    expect(ctx.state).toBe('stopped');
    expect(heard.length).toBe(count);
  });
});

describe('contexts - triggers', () => {
  it('contexts - on_update sends the named service an event when a service changes state', async () => {
    const { n } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    const walk = await until('walk', () => running(ctx, 'walk'));
    const stand = running(ctx, 'stand')!;
    walk.tell({ type: 'STEP' });
    walk.tell({ type: 'STEP' });
    await until('two notifications', async () => (await stand.ask<number>({ type: 'COUNT' })) === 2);
  });

  it('contexts - on_fail runs after supervision restarted the service, and adds its own restart', async () => {
    const { n } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    const walk = await until('walk', () => running(ctx, 'walk'));
    walk.tell({ type: 'CRASH' });
    // The coordinator restarted it first (a new incarnation); then on_fail "restart walk" replaced the instance.
    const again = await until('walk replaced by on_fail', () => {
      const w = running(ctx, 'walk');
      return w !== undefined && w !== walk ? w : undefined;
    });
    expect(n.coordinator.decisions().some((d) => d.input.childId === walk.id && d.directive.type === 'restart')).toBe(true);
    expect(walk.state).toBe('stopped');
    expect(again.state).toBe('running');
  });

  it('contexts - when supervision stops a crashed service, on_fail runs as its end', async () => {
    const log: string[] = [];
    const n = await createNode({
      name: `c${nodes.length + 1}`,
      services: ['stand', 'walk', 'coffee'].map((s) => step(s, log)),
      // The coordinator's answer for walk: stop it, no restart.
      supervision: { rules: [{ name: 'walk-stops', decide: (r) => (r.childId.startsWith('walk-') ? { type: 'stop' } : undefined) }] },
    });
    nodes.push(n);
    const ctx = await n.contexts.start(defineContext({ context: 'giveup', services: [{ id: 'stand', service: 'stand', on_start: 'start walk' }, { id: 'walk', service: 'walk', on_fail: 'start coffee' }, { id: 'coffee', service: 'coffee' }] }));
    const walk = await until('walk', () => running(ctx, 'walk'));
    walk.tell({ type: 'CRASH' });
    await until('coffee started by on_fail', () => running(ctx, 'coffee'));
    expect(walk.state).toBe('failed');
    expect(n.coordinator.decisions().some((d) => d.input.childId === walk.id && d.directive.type === 'stop')).toBe(true);
    expect((ctx.machineState as { active: Record<string, string> }).active.walk).toBe('failed');
  });

  it('contexts - on_start, stop and restart actions act on services of the context', async () => {
    const { n, log } = await seedNode();
    const ctx = await n.contexts.start(
      defineContext({
        context: 'actions',
        services: [
          { id: 'stand', service: 'stand', on_start: ['start walk', 'restart coffee'] },
          { id: 'walk', service: 'walk', on_exit: 'stop coffee' },
          { id: 'coffee', service: 'coffee' },
        ],
      }),
    );
    await until('walk and coffee started', () => running(ctx, 'walk') && running(ctx, 'coffee'));
    running(ctx, 'walk')!.tell({ type: 'DONE' });
    await until('coffee stopped by walk', () => running(ctx, 'coffee') === undefined);
    expect(ctx.state).toBe('running');
    // coffee started with the context, restart replaced it, walk's end stopped it.
    expect(log.filter((l) => l.includes('coffee'))).toEqual(['setup coffee', 'teardown coffee', 'setup coffee', 'teardown coffee']);
  });

  it('contexts - an action that cannot be done is published as action-failed, not lost', async () => {
    const { n } = await seedNode();
    const seen: unknown[] = [];
    const sub = n.transport.subscribe('halyard.context.*.events', (m) => seen.push(JSON.parse(new TextDecoder().decode(m.data))));
    const ok = await n.contexts.start(
      // walk waits for coffee's end, so stand's on_start finds no walk to notify.
      defineContext({
        context: 'late',
        services: [
          { id: 'stand', service: 'stand', on_start: 'notify walk' },
          { id: 'walk', service: 'walk' },
          { id: 'coffee', service: 'coffee', on_exit: 'start walk' },
        ],
      }),
    );
    await until('action-failed published', () => seen.some((e) => (e as { type: string }).type === ContextEventType.ActionFailed));
    expect(seen.find((e) => (e as { type: string }).type === ContextEventType.ActionFailed)).toMatchObject({ transaction: ok.transaction, action: 'stand.on_start: notify walk' });
    sub.unsubscribe();
  });
});

describe('contexts - lifecycle', () => {
  it('contexts - restart gives the context a new transaction id and new service instances', async () => {
    const { n } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    const first = ctx.transaction;
    const stand = running(ctx, 'stand')!;
    await ctx.restart();
    expect(ctx.transaction).not.toBe(first);
    expect(ctx.transaction).toMatch(/^[A-Z2-7]{20}$/);
    expect(stand.state).toBe('stopped');
    expect(running(ctx, 'stand')?.id).toBe(`stand-${ctx.transaction}`);
    expect(n.contexts.find({ transaction: ctx.transaction })).toBe(ctx);
    expect(n.contexts.find({ transaction: first })).toBeUndefined();
  });

  it('contexts - stop stops the services newest first, and a node shutdown stops its contexts', async () => {
    const { n, log } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    await until('walk', () => running(ctx, 'walk'));
    await ctx.stop();
    expect(ctx.state).toBe('stopped');
    expect(log).toEqual(['setup stand', 'setup walk', 'teardown walk', 'teardown stand']);
    const other = await n.contexts.start(`${FIXTURES}echo.json`);
    await until('walk', () => running(other, 'walk'));
    await n.shutdown();
    expect(other.state).toBe('stopped');
  });

  it('contexts - a stop while a trigger is starting a service leaves nothing running', async () => {
    const { n, log } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    // stand's on_start "start walk" is under way now.
    await ctx.stop();
    expect(n.services.find().alive().list()).toEqual([]);
    expect(log.filter((l) => l.startsWith('setup')).length).toBe(log.filter((l) => l.startsWith('teardown')).length);
  });

  it('contexts - transaction ids are unique', async () => {
    const { n } = await seedNode();
    const ids = new Set<string>();
    for (let i = 0; i < 5; i++) ids.add((await n.contexts.start(`${FIXTURES}echo.json`)).transaction);
    expect(ids.size).toBe(5);
  });
});

describe('contexts - the machine', () => {
  it('contexts - the context is one machine, exported as XState JSON and as Mermaid', async () => {
    const { n } = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.yaml`);
    const json = ctx.toJSON() as { id: string; states: Record<string, { type: string; states: Record<string, unknown> }> };
    expect(json.id).toBe('echo');
    expect(Object.keys(json.states)).toEqual(['active', 'stopping', 'stopped']);
    expect(Object.keys(json.states.active!.states)).toEqual(['stand', 'walk', 'coffee', 'run']);
    expect(JSON.stringify(json)).toContain('"verb":"restart","target":"walk"');
    const mermaid = ctx.toMermaid();
    expect(mermaid.startsWith('stateDiagram-v2\n')).toBe(true);
    expect(mermaid).toContain('echo_active_walk_running --> echo_active_walk_exited : walk.exited');
    expect(mermaid).toContain('echo_active --> echo_stopping : context.stop');
  });

  it('contexts - @xstate/graph enumerates the paths of a context machine, each ending stopped', () => {
    const def = defineContext({ context: 'pair', services: [{ id: 'a', service: 'stand', on_start: 'start b' }, { id: 'b', service: 'walk', on_exit: 'stop context' }] });
    const fired: string[] = [];
    const machine = buildContextMachine(def, (a) => fired.push(`${a.from}:${a.verb} ${a.target}`));
    const events = ['a.started', 'b.started', 'b.exited', 'context.stop', 'context.stopped'].map((type) => ({ type }));
    const paths = getSimplePaths(machine, { events, toState: (s) => s.status === 'done' });
    expect(paths.length).toBeGreaterThan(0);
    for (const p of paths) expect(p.state.value).toBe('stopped');
    expect(paths.some((p) => p.steps.map((s) => s.event.type).join(' ') === 'xstate.init a.started b.started b.exited context.stop context.stopped')).toBe(true);
    // Every path that stops comes through context.stop; the triggers are the machine's actions.
    expect(paths.every((p) => p.steps.some((s) => s.event.type === 'context.stop'))).toBe(true);
    // Graph traversal is pure; replaying a path on an actor runs its triggers.
    const actor = createActor(machine).start();
    for (const type of ['a.started', 'b.started', 'b.exited']) actor.send({ type });
    expect(fired).toEqual(['a:start b', 'b:stop context']);
  });
});
