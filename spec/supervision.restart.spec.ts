/**
 * supervision - restarts over time: intensity and period on a ManualClock,
 * escalation through nested trees, `restart-after`, and children that fail
 * to start (at init and during restarts).
 */
import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { LocalActorRef } from '../src/actors/types.js';
import { ErrorCode, SupervisorError } from '../src/errors.js';
import type { RestartType, Supervisor } from '../src/supervision/types.js';
import { CRASH, PING, broken, graceful, harness, settle, worker } from './support/supervision.js';

function ref(sup: Supervisor, id: string): LocalActorRef {
  const r = sup.whichChildren().find((c) => c.id === id)?.ref;
  if (!r) throw new Error(`no running child ${id}`);
  return r;
}

async function crash(sup: Supervisor, id: string): Promise<void> {
  ref(sup, id).tell(CRASH);
  await settle(sup);
}

/** Starts fine the first time; every later start throws from its entry. */
function startsOnce() {
  const box = { starts: 0 };
  const logic = setup({ types: { context: {} as { box: { starts: number } }, input: {} as { starts: number } } }).createMachine({
    context: ({ input }) => ({ box: input }),
    entry: assign(({ context }) => {
      context.box.starts++;
      if (context.box.starts > 1) throw new Error(`start ${context.box.starts} refused`);
      return {};
    }),
    on: { CRASH: { actions: () => { throw new Error('crash'); } } },
  });
  return { box, logic };
}

describe('supervision - restart intensity and period (ManualClock)', () => {
  it('supervision - more than intensity restarts within period: children stop in reverse order, supervisor ends shutdown', async () => {
    const { system, supervision, clock } = harness();
    const baseline = system.size;
    const sup = supervision.supervise(
      {
        strategy: 'one_for_one',
        intensity: 2,
        period: 1000,
        children: ['a', 'b', 'c', 'd'].map((id) => ({ id, start: worker, name: id })),
      },
      { name: 'sup' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));

    await crash(sup, 'b');
    clock.advance(100);
    await crash(sup, 'b');
    clock.advance(100);
    expect(sup.phase).toBe('running');
    ref(sup, 'b').tell(CRASH);
    const exit = await sup.stopped;

    expect(exit).toEqual({ reason: 'shutdown' });
    // b's own crashes, then the supervisor stops d, c, a (b is already dead), then its actor.
    expect(order).toEqual(['b:error', 'b:error', 'b:error', 'd:shutdown', 'c:shutdown', 'a:shutdown', 'sup:shutdown']);
    expect(supervision.coordinator.decisions().map((d) => [d.directive.type, d.input.history.length])).toEqual([
      ['restart', 0],
      ['restart', 1],
      ['escalate', 2],
    ]);
    expect(system.size).toBe(baseline);
    expect(clock.pendingTimers).toBe(0);
  });

  it('supervision - restarts spaced by more than a period never add up', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ intensity: 1, period: 1000, children: [{ id: 'w', start: worker }] });
    for (let i = 0; i < 5; i++) {
      await crash(sup, 'w');
      clock.advance(1001);
    }
    expect(sup.phase).toBe('running');
    expect(supervision.coordinator.decisions().every((d) => d.directive.type === 'restart')).toBe(true);
    await sup.stop();
  });

  it('supervision - a second restart exactly one period later still escalates, as in OTP', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ intensity: 1, period: 1000, children: [{ id: 'w', start: worker }] });
    await crash(sup, 'w');
    clock.advance(1000);
    ref(sup, 'w').tell(CRASH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
  });

  it('supervision - intensity 0 gives up on the first failure', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ intensity: 0, children: [{ id: 'w', start: worker }] });
    ref(sup, 'w').tell(CRASH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
  });

  it('supervision - the failure report carries the in-period history, oldest first', async () => {
    const { supervision, clock } = harness();
    const sup = supervision.supervise({ intensity: 10, period: 1000, children: [{ id: 'w', start: worker }] }, { name: 'h' });
    const t0 = clock.now();
    await crash(sup, 'w');
    clock.advance(300);
    await crash(sup, 'w');
    clock.advance(800);
    await crash(sup, 'w');
    const histories = supervision.coordinator.decisions({ supervisor: 'h' }).map((d) => d.input.history);
    expect(histories).toEqual([[], [t0], [t0 + 300]]);
    await sup.stop();
  });
});

describe('supervision - nested trees: a child supervisor that gives up', () => {
  // biome-ignore format: the table reads as a table
  const CASES: { restart: RestartType; jobs: 'restarted' | 'terminated' | 'removed'; directive: string }[] = [
    { restart: 'permanent', jobs: 'restarted',  directive: 'restart' },
    { restart: 'transient', jobs: 'terminated', directive: 'ignore' },
    { restart: 'temporary', jobs: 'removed',    directive: 'ignore' },
  ];
  for (const c of CASES) {
    it(`supervision - ${c.restart} child supervisor reaching its intensity ends shutdown; the parent ${c.jobs === 'restarted' ? 'restarts it' : c.jobs === 'terminated' ? 'keeps its spec terminated' : 'deletes its spec'}`, async () => {
      const { system, supervision } = harness();
      const baseline = system.size;
      const top = supervision.supervise(
        {
          intensity: 5,
          children: [
            { id: 'before', start: worker, name: 'before' },
            {
              id: 'jobs',
              type: 'supervisor',
              restart: c.restart,
              name: 'jobs',
              start: { intensity: 1, period: 5000, children: [{ id: 'j1', start: worker, name: 'j1' }, { id: 'j2', start: worker, name: 'j2' }] },
            },
            { id: 'after', start: worker, name: 'after' },
          ],
        },
        { name: 'top' },
      );
      const jobs = top.childSupervisor('jobs')!;
      expect(jobs.label).toBe('jobs');
      const firstJobsRef = ref(top, 'jobs');
      const order: string[] = [];
      system.onExit((e) => order.push(`${e.name}:${e.reason}`));

      await crash(jobs, 'j1');
      ref(jobs, 'j1').tell(CRASH);
      expect(await jobs.stopped).toEqual({ reason: 'shutdown' });
      await settle(top);

      expect(order.slice(0, 4)).toEqual(['j1:error', 'j1:error', 'j2:shutdown', 'jobs:shutdown']);
      const info = top.whichChildren().find((x) => x.id === 'jobs');
      if (c.jobs === 'removed') expect(info).toBeUndefined();
      else if (c.jobs === 'terminated') expect(info).toMatchObject({ ref: undefined, status: 'terminated' });
      else {
        expect(info?.status).toBe('running');
        expect(info?.ref).not.toBe(firstJobsRef);
        const jobs2 = top.childSupervisor('jobs')!;
        expect(await ref(jobs2, 'j1').ask(PING)).toBe('pong');
      }
      const topDecisions = supervision.coordinator.decisions({ supervisor: 'top' });
      expect(topDecisions.map((d) => [d.input.childId, d.input.childType, d.input.reason, d.directive.type])).toEqual([
        ['jobs', 'supervisor', 'shutdown', c.directive],
      ]);
      // Siblings were not touched (one_for_one).
      expect(top.whichChildren().filter((x) => x.id !== 'jobs').every((x) => x.status === 'running')).toBe(true);
      await top.stop();
      expect(system.size).toBe(baseline);
    });
  }

  it('supervision - an unnamed nested supervisor reports as <parent>/<childId>', async () => {
    const { supervision } = harness();
    const top = supervision.supervise(
      { children: [{ id: 'jobs', type: 'supervisor', start: { children: [{ id: 'w', start: worker }] } }] },
      { name: 'app' },
    );
    const jobs = top.childSupervisor('jobs')!;
    expect(jobs.label).toBe('app/jobs');
    await crash(jobs, 'w');
    expect(supervision.coordinator.decisions({ supervisor: 'app/jobs' })).toHaveLength(1);
    expect(supervision.get(jobs.ref)).toBe(jobs);
    await top.stop();
    expect(supervision.get(jobs.ref)).toBeUndefined();
  });

  it('supervision - stopping the parent stops the tree bottom-up, last started first', async () => {
    const { system, supervision } = harness();
    const top = supervision.supervise(
      {
        children: [
          { id: 'a', start: worker, name: 'a' },
          { id: 's', type: 'supervisor', name: 's', start: { children: [{ id: 's1', start: worker, name: 's1' }, { id: 's2', start: worker, name: 's2' }] } },
          { id: 'z', start: worker, name: 'z' },
        ],
      },
      { name: 'top' },
    );
    const order: string[] = [];
    system.onExit((e) => order.push(e.name ?? e.id));
    expect(await top.stop()).toEqual({ reason: 'shutdown' });
    expect(order).toEqual(['z', 's2', 's1', 's', 'a', 'top']);
  });
});

describe('supervision - restart-after (injected clock)', () => {
  it('supervision - the child is restarting until the timer fires on the clock', async () => {
    const { supervision, clock } = harness({ rules: [{ name: 'slow', decide: () => ({ type: 'restart-after', ms: 500 }) }] });
    const sup = supervision.supervise({ children: [{ id: 'w', start: worker }] });
    const timersBefore = clock.pendingTimers;
    await crash(sup, 'w');
    expect(sup.whichChildren()[0]).toMatchObject({ id: 'w', ref: undefined, status: 'restarting' });
    expect(clock.pendingTimers).toBe(timersBefore + 1);
    expect((await sup.ref.check(10)).code).toBe(190);
    clock.advance(499);
    await settle(sup);
    expect(sup.whichChildren()[0]!.status).toBe('restarting');
    clock.advance(1);
    await settle(sup);
    expect(sup.whichChildren()[0]!.status).toBe('running');
    expect(await ref(sup, 'w').ask(PING)).toBe('pong');
    expect(clock.pendingTimers).toBe(timersBefore);
    await sup.stop();
  });

  it('supervision - terminateChild and stop cancel a pending delayed restart', async () => {
    const { system, supervision, clock } = harness({ rules: [{ name: 'slow', decide: () => ({ type: 'restart-after', ms: 500 }) }] });
    const baseline = system.size;
    // Two restarts at one instant: intensity 2 lets both through (a rule's restarts count toward it).
    const sup = supervision.supervise({ intensity: 2, children: [{ id: 'a', start: worker }, { id: 'b', start: worker }] });
    await crash(sup, 'a');
    await crash(sup, 'b');
    expect(clock.pendingTimers).toBe(2);
    await sup.terminateChild('a');
    expect(sup.whichChildren()[0]).toMatchObject({ status: 'terminated' });
    expect(clock.pendingTimers).toBe(1);
    await sup.stop();
    expect(clock.pendingTimers).toBe(0);
    clock.advance(10_000);
    await settle(sup);
    expect(system.size).toBe(baseline);
  });
});

describe('supervision - children that fail to start', () => {
  it('supervision - at init: started children are stopped in reverse order, later ones never start, stopped resolves error', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    const sup = supervision.supervise(
      {
        children: [
          { id: 'a', start: worker, name: 'a' },
          { id: 'b', start: worker, name: 'b' },
          { id: 'bad', start: broken, name: 'bad' },
          { id: 'never', start: worker, name: 'never' },
        ],
      },
      { name: 'sup' },
    );
    const exit = await sup.stopped;
    expect(exit.reason).toBe('error');
    expect(exit.error).toBeInstanceOf(SupervisorError);
    expect(exit.error).toMatchObject({ code: ErrorCode.Supervisor, reason: 'failed_to_start_child', childId: 'bad' });
    expect(order).toEqual(['bad:error', 'b:shutdown', 'a:shutdown', 'sup:error']);
    expect(system.size).toBe(baseline);
  });

  it('supervision - a nested supervisor that fails to start fails its parent', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise({
      children: [
        { id: 'a', start: worker },
        { id: 's', type: 'supervisor', start: { children: [{ id: 'ok', start: worker }, { id: 'bad', start: broken }] } },
      ],
    });
    const exit = await sup.stopped;
    expect(exit).toMatchObject({ reason: 'error', error: { reason: 'failed_to_start_child', childId: 's' } });
    await settle(sup);
    expect(system.size).toBe(baseline);
  });

  it('supervision - a failed nested start returns only after the nested supervisor stopped what it started (OTP start_link)', async () => {
    const { system, supervision } = harness();
    const sup = supervision.supervise({ children: [] }, { name: 'top' });
    const trace: string[] = [];
    system.onSpawn((cell) => trace.push(`start ${cell.name}`));
    system.onExit((e) => trace.push(`exit ${e.name}:${e.reason}`));
    const nested = (n: number) => ({
      id: `s${n}`,
      type: 'supervisor' as const,
      start: { children: [{ id: 'ok', start: graceful, name: `ok${n}` }, { id: 'bad', start: broken, name: `bad${n}` }] },
    });
    const [r1, r2] = await Promise.allSettled([sup.startChild(nested(1)), sup.startChild(nested(2))]);
    expect([r1.status, r2.status]).toEqual(['rejected', 'rejected']);
    // The first call's tree is gone before the second call starts anything.
    const actors = trace.filter((t) => /ok|bad/.test(t));
    expect(actors).toEqual([
      'start ok1', 'start bad1', 'exit bad1:error', 'exit ok1:shutdown',
      'start ok2', 'start bad2', 'exit bad2:error', 'exit ok2:shutdown',
    ]);
    await sup.stop();
  });

  it('supervision - during a restart: retried as OTP try_again_restart, each retry counting toward intensity', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const { box, logic } = startsOnce();
    const sup = supervision.supervise({ intensity: 3, children: [{ id: 'f', start: { logic, input: box } }] }, { name: 'sup' });
    ref(sup, 'f').tell(CRASH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
    const ds = supervision.coordinator.decisions({ supervisor: 'sup' }).map((d) => [d.input.reason, d.directive.type]);
    expect(ds).toEqual([
      ['error', 'restart'],
      ['error', 'restart'],
      ['error', 'restart'],
      ['error', 'escalate'],
    ]);
    expect(box.starts).toBe(4);
    expect(system.size).toBe(baseline);
  });

  it('supervision - startChild and restartChild report a failed start and keep the tree as it was', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    await expect(sup.startChild({ id: 'bad', start: broken })).rejects.toMatchObject({ code: ErrorCode.Supervisor, reason: 'failed_to_start_child' });
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['a']);
    const { box, logic } = startsOnce();
    await sup.startChild({ id: 'once', start: { logic, input: box }, restart: 'transient' });
    await sup.terminateChild('once');
    await expect(sup.restartChild('once')).rejects.toMatchObject({ reason: 'failed_to_start_child', childId: 'once' });
    expect(sup.whichChildren().find((c) => c.id === 'once')).toMatchObject({ status: 'terminated', ref: undefined });
    expect(sup.phase).toBe('running');
    await sup.stop();
  });
});
