/**
 * supervision - the OTP supervisor API (start/terminate/restart/delete,
 * which/count children), simple_one_for_one, auto shutdown, and the
 * supervisor as an actor (Check, Status, stopped or killed from outside).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { LocalActorRef } from '../src/actors/types.js';
import { ActorNotRunningError, AlreadyStartedError, ChildRunningError, ErrorCode, NoSuchChildError, SupervisorError } from '../src/errors.js';
import type { Supervisor } from '../src/supervision/types.js';
import { CRASH, FINISH, PING, graceful, harness, settle, worker } from './support/supervision.js';

function ref(sup: Supervisor, id: string): LocalActorRef {
  const r = sup.whichChildren().find((c) => c.id === id)?.ref;
  if (!r) throw new Error(`no running child ${id}`);
  return r;
}

describe('supervision - start_child / terminate_child / restart_child / delete_child', () => {
  it('supervision - startChild appends in start order and answers which/count children', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    const b = await sup.startChild({ id: 'b', start: { logic: worker, input: { port: 7 } } });
    const s = await sup.startChild({ id: 's', type: 'supervisor', start: { children: [{ id: 'x', start: worker }] } });
    expect(await b.ask({ type: 'INPUT' })).toEqual({ port: 7 });
    expect(sup.whichChildren().map((c) => [c.id, c.type, c.restart, c.status])).toEqual([
      ['a', 'worker', 'permanent', 'running'],
      ['b', 'worker', 'permanent', 'running'],
      ['s', 'supervisor', 'permanent', 'running'],
    ]);
    expect(sup.childSupervisor('s')?.ref).toBe(s);
    expect(sup.countChildren()).toEqual({ specs: 3, active: 3, supervisors: 1, workers: 2 });
    await sup.stop();
  });

  it('supervision - whichChildren prints as plain data, not actor internals', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }, { id: 'b', start: worker }] });
    await sup.terminateChild('b');
    const [a, b] = sup.whichChildren();
    const addr = a!.ref!.address !== '' ? a!.ref!.address : a!.ref!.id;
    expect(JSON.parse(JSON.stringify([a, b]))).toEqual([
      { id: 'a', type: 'worker', restart: 'permanent', status: 'running' },
      { id: 'b', type: 'worker', restart: 'permanent', status: 'terminated' },
    ]);
    expect(Object.keys(a!)).toEqual(['id', 'type', 'restart', 'status']);
    expect(inspect(a, { depth: 10 })).toBe(inspect({ id: 'a', type: 'worker', restart: 'permanent', status: 'running', ref: addr }));
    expect(inspect(b)).toBe(inspect({ id: 'b', type: 'worker', restart: 'permanent', status: 'terminated', ref: undefined }));
    // The handle is still there to act on.
    expect(await a!.ref!.ask(PING)).toBe('pong');
    await sup.stop();
  });

  it('supervision - an id in use: already_started when running, already_present when not', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    const err1 = await sup.startChild({ id: 'a', start: worker }).catch((e) => e);
    expect(err1).toBeInstanceOf(AlreadyStartedError);
    expect(err1).toMatchObject({ code: ErrorCode.AlreadyStarted, reason: 'already_started', ref: ref(sup, 'a') });
    await sup.terminateChild('a');
    const err2 = await sup.startChild({ id: 'a', start: worker }).catch((e) => e);
    expect(err2).toMatchObject({ code: ErrorCode.AlreadyStarted, reason: 'already_present', ref: undefined });
    await sup.stop();
  });

  it('supervision - terminateChild keeps the spec (deletes a temporary one) and is never reported as a failure', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'p', start: worker }, { id: 't', start: worker, restart: 'temporary' }] });
    const p = ref(sup, 'p');
    await sup.terminateChild('p');
    await sup.terminateChild(ref(sup, 't'));
    await settle(sup);
    expect(p.exit?.reason).toBe('shutdown');
    expect(sup.whichChildren()).toEqual([{ id: 'p', ref: undefined, type: 'worker', restart: 'permanent', status: 'terminated' }]);
    expect(supervision.coordinator.decisions()).toEqual([]);
    await sup.terminateChild('p'); // already terminated: ok, as OTP
    await expect(sup.terminateChild('t')).rejects.toBeInstanceOf(NoSuchChildError);
    await sup.stop();
  });

  it('supervision - restartChild starts a terminated child; running and unknown children are errors', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    await expect(sup.restartChild('a')).rejects.toMatchObject({ code: ErrorCode.ChildRunning, state: 'running' });
    await expect(sup.restartChild('zz')).rejects.toMatchObject({ code: ErrorCode.NoSuchChild, childId: 'zz' });
    await sup.terminateChild('a');
    const a2 = await sup.restartChild('a');
    expect(await a2.ask(PING)).toBe('pong');
    expect(sup.whichChildren()[0]).toMatchObject({ ref: a2, status: 'running' });
    await sup.stop();
  });

  it('supervision - deleteChild removes a terminated spec only', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }, { id: 'b', start: worker }] });
    await expect(sup.deleteChild('a')).rejects.toBeInstanceOf(ChildRunningError);
    await sup.terminateChild('a');
    await sup.deleteChild('a');
    await expect(sup.deleteChild('a')).rejects.toBeInstanceOf(NoSuchChildError);
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['b']);
    await sup.stop();
  });

  it('supervision - a restarting child cannot be restarted or deleted (OTP {error, restarting})', async () => {
    const { supervision, clock } = harness({ rules: [{ name: 'later', decide: () => ({ type: 'restart-after', ms: 100 }) }] });
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    ref(sup, 'a').tell(CRASH);
    await settle(sup);
    await expect(sup.restartChild('a')).rejects.toMatchObject({ state: 'restarting' });
    await expect(sup.deleteChild('a')).rejects.toMatchObject({ state: 'restarting' });
    clock.advance(100);
    await settle(sup);
    expect(sup.whichChildren()[0]!.status).toBe('running');
    await sup.stop();
  });

  it('supervision - calls issued without waiting take effect in call order', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: graceful }] });
    const results = await Promise.allSettled([
      sup.terminateChild('a'),
      sup.restartChild('a'),
      sup.deleteChild('a'),
      sup.terminateChild('a'),
      sup.deleteChild('a'),
      sup.startChild({ id: 'a', start: worker }),
    ]);
    expect(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code: string }).code))).toEqual([
      'ok',
      'ok',
      ErrorCode.ChildRunning,
      'ok',
      'ok',
      'ok',
    ]);
    await sup.stop();
  });

  it('supervision - after the supervisor stopped, calls reject with ActorNotRunningError', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    await sup.stop();
    await expect(sup.startChild({ id: 'b', start: worker })).rejects.toBeInstanceOf(ActorNotRunningError);
    await expect(sup.terminateChild('a')).rejects.toBeInstanceOf(ActorNotRunningError);
    expect(await sup.stop()).toEqual({ reason: 'shutdown' });
    expect(sup.whichChildren()).toEqual([]);
  });
});

describe('supervision - simple_one_for_one', () => {
  it('supervision - startChild(input) adds instances of the template with generated ids; each restarts alone with its input', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise(
      { strategy: 'simple_one_for_one', intensity: 10, children: [{ id: 'conn', start: { logic: worker, input: 'default' } }] },
      { name: 'pool' },
    );
    expect(sup.whichChildren()).toEqual([]);
    expect(sup.countChildren()).toEqual({ specs: 1, active: 0, supervisors: 0, workers: 0 });
    const c1 = await sup.startChild({ port: 1 });
    const c2 = await sup.startChild({ port: 2 });
    const c3 = await sup.startChild();
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['conn-1', 'conn-2', 'conn-3']);
    expect(await c3.ask({ type: 'INPUT' })).toBe('default');
    c2.tell(CRASH);
    await settle(sup);
    const [i1, i2, i3] = sup.whichChildren();
    expect([i1!.ref, i3!.ref]).toEqual([c1, c3]);
    expect(i2!.ref).not.toBe(c2);
    expect(await i2!.ref!.ask({ type: 'INPUT' })).toEqual({ port: 2 });
    expect(sup.countChildren()).toEqual({ specs: 1, active: 3, supervisors: 0, workers: 3 });
    await sup.stop();
    expect(system.size).toBe(baseline);
  });

  it('supervision - instances are removed when they end for good or are terminated (by ref or id)', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ strategy: 'simple_one_for_one', children: [{ id: 't', start: worker, restart: 'transient' }] });
    const a = await sup.startChild();
    const b = await sup.startChild();
    const c = await sup.startChild();
    a.tell(FINISH);
    await settle(sup);
    await sup.terminateChild(b);
    await sup.terminateChild('t-3');
    expect(c.exit?.reason).toBe('shutdown');
    expect(sup.whichChildren()).toEqual([]);
    await expect(sup.terminateChild(b)).rejects.toBeInstanceOf(NoSuchChildError);
    await sup.stop();
  });

  it('supervision - restartChild and deleteChild are rejected as OTP does ({error, simple_one_for_one})', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ strategy: 'simple_one_for_one', children: [{ id: 't', start: worker }] });
    await sup.startChild();
    for (const call of [sup.restartChild('t-1'), sup.deleteChild('t-1')]) {
      const err = await call.catch((e) => e);
      expect(err).toBeInstanceOf(SupervisorError);
      expect(err).toMatchObject({ code: ErrorCode.Supervisor, reason: 'simple_one_for_one' });
    }
    await sup.stop();
  });

  it('supervision - on shutdown all instances are stopped at once', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise({ strategy: 'simple_one_for_one', children: [{ id: 't', start: graceful }] });
    for (let i = 0; i < 50; i++) await sup.startChild();
    expect(system.size).toBe(baseline + 51);
    expect(await sup.stop()).toEqual({ reason: 'shutdown' });
    expect(system.size).toBe(baseline);
  });
});

describe('supervision - auto shutdown (significant children, OTP 24+)', () => {
  it('supervision - any_significant: a significant transient child ending normally ends the supervisor', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise({
      autoShutdown: 'any_significant',
      children: [{ id: 'keep', start: worker }, { id: 'job', start: worker, restart: 'transient', significant: true }],
    });
    ref(sup, 'job').tell(CRASH); // abnormal: restarted, no shutdown
    await settle(sup);
    expect(sup.phase).toBe('running');
    ref(sup, 'job').tell(FINISH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
    expect(system.size).toBe(baseline);
  });

  it('supervision - any_significant: a temporary significant child that crashes ends the supervisor', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ autoShutdown: 'any_significant', children: [{ id: 't', start: worker, restart: 'temporary', significant: true }] });
    ref(sup, 't').tell(CRASH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
  });

  it('supervision - all_significant: only the last significant child ending ends the supervisor', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({
      autoShutdown: 'all_significant',
      children: [
        { id: 's1', start: worker, restart: 'transient', significant: true },
        { id: 'n', start: worker, restart: 'transient' },
        { id: 's2', start: worker, restart: 'temporary', significant: true },
      ],
    });
    ref(sup, 's1').tell(FINISH);
    ref(sup, 'n').tell(FINISH);
    await settle(sup);
    expect(sup.phase).toBe('running');
    ref(sup, 's2').tell(FINISH);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
  });

  it('supervision - terminating a significant child does not trigger auto shutdown', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ autoShutdown: 'any_significant', children: [{ id: 's', start: worker, restart: 'transient', significant: true }] });
    await sup.terminateChild('s');
    await settle(sup);
    expect(sup.phase).toBe('running');
    await sup.stop();
  });
});

describe('supervision - the supervisor is an actor', () => {
  it('supervision - it answers Check and Status; Status lists its children', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker, name: 'a' }] }, { name: 'app' });
    expect((await sup.ref.check(0)).label).toBe('OCF_SUCCESS');
    const status = await sup.ref.status();
    expect(status.actor).toBe('app');
    expect(status.supervisor).toMatchObject({ strategy: 'one_for_one', intensity: 1, period: 5000, phase: 'running' });
    expect(status.children).toEqual([{ id: 'a', actor: ref(sup, 'a').id, name: 'a', type: 'worker', restart: 'permanent', status: 'running' }]);
    await sup.stop();
  });

  it('supervision - stopping its actor from outside stops the children first, in reverse order', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise({ children: ['a', 'b', 'c'].map((id) => ({ id, start: graceful, name: id })) }, { name: 'app' });
    const order: string[] = [];
    system.onExit((e) => order.push(`${e.name}:${e.reason}`));
    const exit = await sup.ref.stop('infinity');
    expect(exit.reason).toBe('shutdown');
    expect(order).toEqual(['c:shutdown', 'b:shutdown', 'a:shutdown', 'app:shutdown']);
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
    expect(system.size).toBe(baseline);
  });

  it('supervision - killing its actor leaves no orphans (its children are stopped) and stopped resolves error', async () => {
    const { system, supervision } = harness();
    const baseline = system.size;
    const sup = supervision.supervise({
      children: [{ id: 'a', start: graceful }, { id: 's', type: 'supervisor', start: { children: [{ id: 'x', start: graceful }] } }],
    });
    await sup.ref.stop('brutal_kill');
    const exit = await sup.stopped;
    expect(exit).toMatchObject({ reason: 'error', error: { reason: 'killed' } });
    await settle(sup);
    expect(system.size).toBe(baseline);
  });

  it('supervision - a nested supervisor killed from outside is restarted by its parent (killed is abnormal)', async () => {
    const { supervision } = harness();
    const top = supervision.supervise({ children: [{ id: 's', type: 'supervisor', restart: 'transient', start: { children: [{ id: 'x', start: worker }] } }] }, { name: 'top' });
    const s1 = ref(top, 's');
    await s1.stop('brutal_kill');
    await settle(top);
    expect(ref(top, 's')).not.toBe(s1);
    expect(supervision.coordinator.decisions({ supervisor: 'top' }).map((d) => [d.input.reason, d.directive.type])).toEqual([['killed', 'restart']]);
    await top.stop();
  });
});
