/**
 * supervision - the Recovery Coordinator: OTP's default policy, rules ahead
 * of it (functions and machines), the shipped rule factories, the decision
 * log, and the fallback when a rule misbehaves.
 */
import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { reply } from '../src/actors/reply.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { ErrorCode, InvalidArgumentError } from '../src/errors.js';
import {
  exponentialBackoff,
  giveUpAfter,
  machineRule,
  ocfClassRule,
  otpPolicy,
  startOnFailure,
} from '../src/supervision/index.js';
import type { ExitReason } from '../src/actors/types.js';
import type { Directive, FailureReport, RestartType, Rule, Supervisor } from '../src/supervision/types.js';
import { harness, settle, turns, within } from './support/supervision.js';

function report(over: Partial<FailureReport> = {}): FailureReport {
  return {
    type: 'halyard.supervision.failure.v1',
    node: 'n1',
    supervisor: 'sup',
    strategy: 'one_for_one',
    childId: 'c',
    childType: 'worker',
    restart: 'permanent',
    significant: false,
    reason: 'error',
    history: [],
    intensity: 1,
    period: 5000,
    at: 10_000,
    ...over,
  };
}

/** A worker that fails with an error carrying `ocf` when asked to. */
const ocfWorker = setup({}).createMachine({
  on: {
    FAIL: {
      actions: ({ event }) => {
        throw Object.assign(new Error('resource agent failed'), { ocf: (event as unknown as { ocf: number }).ocf });
      },
    },
    CRASH: {
      actions: () => {
        throw new Error('plain crash');
      },
    },
  },
});

function ref(sup: Supervisor, id: string): LocalActorRef {
  const r = sup.whichChildren().find((c) => c.id === id)?.ref;
  if (!r) throw new Error(`no running child ${id}`);
  return r;
}

describe('supervision - default policy (OTP do_restart/3 + add_restart/3)', () => {
  // biome-ignore format: the table reads as a table
  const ROWS: { restart: RestartType; reason: ExitReason; history: number[]; directive: string }[] = [
    { restart: 'permanent', reason: 'normal',   history: [],     directive: 'restart' },
    { restart: 'permanent', reason: 'shutdown', history: [],     directive: 'restart' },
    { restart: 'permanent', reason: 'error',    history: [],     directive: 'restart' },
    { restart: 'permanent', reason: 'killed',   history: [],     directive: 'restart' },
    { restart: 'permanent', reason: 'error',    history: [9000], directive: 'escalate' },
    { restart: 'permanent', reason: 'error',    history: [5000], directive: 'escalate' },
    { restart: 'permanent', reason: 'error',    history: [4999], directive: 'restart' },
    { restart: 'transient', reason: 'normal',   history: [],     directive: 'ignore' },
    { restart: 'transient', reason: 'shutdown', history: [9000], directive: 'ignore' },
    { restart: 'transient', reason: 'error',    history: [],     directive: 'restart' },
    { restart: 'transient', reason: 'killed',   history: [],     directive: 'restart' },
    { restart: 'transient', reason: 'killed',   history: [9999], directive: 'escalate' },
    { restart: 'temporary', reason: 'error',    history: [],     directive: 'ignore' },
    { restart: 'temporary', reason: 'killed',   history: [9000], directive: 'ignore' },
    { restart: 'temporary', reason: 'normal',   history: [],     directive: 'ignore' },
  ];
  for (const r of ROWS) {
    it(`supervision - ${r.restart} exiting ${r.reason} with history [${r.history}] (intensity 1, 5 s, at 10 s) -> ${r.directive}`, () => {
      expect(otpPolicy(report({ restart: r.restart, reason: r.reason, history: r.history })).type).toBe(r.directive);
    });
  }

  it('supervision - with no rules the coordinator answers synchronously (no promise on the restart path)', () => {
    const { supervision } = harness();
    const d = supervision.coordinator.decide(report());
    expect(d).toEqual({ type: 'restart' });
    expect(supervision.coordinator.decisions()).toMatchObject([{ seq: 1, rule: 'otp-default', directive: { type: 'restart' } }]);
  });
});

describe('supervision - rules ahead of the default', () => {
  it('supervision - rules run in order; undefined passes; the first answer wins', () => {
    const seen: string[] = [];
    const rules: Rule[] = [
      { name: 'watcher', decide: () => void seen.push('watcher') },
      { name: 'db-only', decide: (r) => (r.childId === 'db' ? { type: 'stop' } : undefined) },
      { name: 'never', decide: () => ({ type: 'escalate' }) },
    ];
    const { supervision } = harness({ rules: rules.slice(0, 2) });
    const c = supervision.coordinator;
    expect(c.decide(report({ childId: 'db' }))).toEqual({ type: 'stop' });
    expect(c.decide(report({ childId: 'api' }))).toEqual({ type: 'restart' });
    c.addRule(rules[2]!);
    expect(c.decide(report({ childId: 'api' }))).toEqual({ type: 'escalate' });
    expect(seen).toEqual(['watcher', 'watcher', 'watcher']);
    expect(c.decisions().map((d) => d.rule)).toEqual(['db-only', 'otp-default', 'never']);
    expect(c.rules()).toEqual(['watcher', 'db-only', 'never', 'otp-default']);
    expect(() => c.addRule({ name: 'never', decide: () => undefined })).toThrow(InvalidArgumentError);
  });

  it('supervision - a rule may answer a bare directive type', () => {
    const { supervision } = harness({ rules: [{ name: 'bare', decide: () => 'ignore' as never }] });
    expect(supervision.coordinator.decide(report())).toEqual({ type: 'ignore' });
  });

  it('supervision - a rule that throws: logged, recorded, the default decides, the supervisor carries on', async () => {
    const { supervision } = harness({
      rules: [
        {
          name: 'buggy',
          decide: () => {
            throw new Error('rule bug');
          },
        },
      ],
    });
    const sup = supervision.supervise({ children: [{ id: 'w', start: ocfWorker }] }, { name: 's' });
    ref(sup, 'w').tell({ type: 'CRASH' });
    await settle(sup);
    const [d] = supervision.coordinator.decisions();
    expect(d).toMatchObject({ rule: 'otp-default', directive: { type: 'restart' }, fallback: { rule: 'buggy', error: { message: 'rule bug' } } });
    expect(sup.whichChildren()[0]!.status).toBe('running');
    expect(supervision.coordinator.stats().ruleErrors).toBe(1);
    await sup.stop();
  });

  it('supervision - a rule that answers garbage or rejects falls back the same way', async () => {
    const { supervision } = harness({
      rules: [
        { name: 'garbage', decide: (r) => (r.childId === 'g' ? ({ type: 'restart-after', ms: -5 } as never) : undefined) },
        { name: 'rejects', decide: (r) => (r.childId === 'r' ? Promise.reject(new Error('nope')) : undefined) },
      ],
    });
    const c = supervision.coordinator;
    expect(c.decide(report({ childId: 'g' }))).toEqual({ type: 'restart' });
    expect(await c.decide(report({ childId: 'r' }))).toEqual({ type: 'restart' });
    expect(c.decisions().map((d) => [d.fallback?.rule, d.fallback?.error.code])).toEqual([
      ['garbage', ErrorCode.InvalidArgument],
      ['rejects', ErrorCode.Remote],
    ]);
  });

  it('supervision - an async rule that never answers times out on the clock and the default decides', async () => {
    const { supervision, clock } = harness({ ruleTimeout: 250, rules: [{ name: 'hang', decide: () => new Promise(() => {}) }] });
    const pending = supervision.coordinator.decide(report());
    expect(pending).toBeInstanceOf(Promise);
    clock.advance(250);
    expect(await within(pending as Promise<unknown>, 'decision after rule timeout')).toEqual({ type: 'restart' });
    expect(supervision.coordinator.decisions()[0]).toMatchObject({ fallback: { rule: 'hang', error: { code: ErrorCode.Timeout } } });
    expect(clock.pendingTimers).toBe(0);
  });

  it('supervision - a rule written as a machine: asked with halyard.failure, answers with reply(); its state persists', async () => {
    const strikes = setup({ types: { context: {} as { n: number } } }).createMachine({
      context: { n: 0 },
      on: {
        'halyard.failure': {
          actions: [
            assign({ n: ({ context }) => context.n + 1 }),
            reply(({ context }: { context: { n: number } }) => (context.n >= 3 ? { type: 'stop' } : undefined)),
          ],
        },
      },
    });
    const { system, supervision } = harness();
    const baseline = system.size;
    supervision.coordinator.addRule(machineRule('three-strikes', strikes));
    const sup = supervision.supervise({ intensity: 10, children: [{ id: 'w', start: ocfWorker }] }, { name: 's' });
    for (let i = 0; i < 3; i++) {
      ref(sup, 'w').tell({ type: 'CRASH' });
      await settle(sup);
    }
    expect(supervision.coordinator.decisions().map((d) => [d.rule, d.directive.type])).toEqual([
      ['otp-default', 'restart'],
      ['otp-default', 'restart'],
      ['three-strikes', 'stop'],
    ]);
    expect(sup.whichChildren()[0]).toMatchObject({ status: 'terminated', ref: undefined });
    expect(system.size).toBe(baseline + 2); // the supervisor and the rule's actor
    await sup.stop();
    expect(await supervision.coordinator.removeRule('three-strikes')).toBe(true);
    expect(system.size).toBe(baseline);
  });
});

describe('supervision - intensity bounds every restart, whichever rule chose it', () => {
  it("supervision - a rule's restart still stops at intensity: the supervisor gives up", async () => {
    const { supervision } = harness({ rules: [{ name: 'always', decide: () => ({ type: 'restart' }) }] });
    const sup = supervision.supervise({ intensity: 1, period: 5000, children: [{ id: 'w', start: ocfWorker }] });
    ref(sup, 'w').tell({ type: 'CRASH' });
    await settle(sup);
    expect(sup.whichChildren()[0]!.status).toBe('running');
    ref(sup, 'w').tell({ type: 'CRASH' });
    expect(await within(sup.stopped, 'the supervisor gives up')).toEqual({ reason: 'shutdown' });
    const [first, second] = supervision.coordinator.decisions();
    expect(first).toMatchObject({ rule: 'always', directive: { type: 'restart' }, limits: { intensity: 'within' } });
    expect(first!.overridden).toBeUndefined();
    expect(second).toMatchObject({
      rule: 'always',
      directive: { type: 'escalate' },
      limits: { intensity: 'exceeded' },
      overridden: { type: 'restart' },
    });
    // restart-after is bounded the same way, and the default policy's own restart is logged alike.
    const later = harness({ rules: [{ name: 'later', decide: () => ({ type: 'restart-after', ms: 50 }) }] }).supervision.coordinator;
    expect(later.decide(report({ history: [9000] }))).toEqual({ type: 'escalate' });
    expect(later.decisions()[0]).toMatchObject({ rule: 'later', limits: { intensity: 'exceeded' }, overridden: { type: 'restart-after', ms: 50 } });
    const plain = harness().supervision.coordinator;
    plain.decide(report({ history: [9000] }));
    expect(plain.decisions()[0]).toMatchObject({ rule: 'otp-default', directive: { type: 'escalate' }, limits: { intensity: 'exceeded' } });
  });

  it('supervision - a rule that opts out with bypassIntensity restarts past intensity, and the decision log says so', async () => {
    const { supervision } = harness({
      rules: [{ name: 'own-bound', decide: (r) => (r.childId === 'w' ? { type: 'restart', bypassIntensity: true } : undefined) }],
    });
    const sup = supervision.supervise({ intensity: 1, period: 5000, children: [{ id: 'w', start: ocfWorker }, { id: 'x', start: ocfWorker }] });
    for (let i = 0; i < 5; i++) {
      ref(sup, 'w').tell({ type: 'CRASH' });
      await settle(sup);
      expect(sup.phase).toBe('running');
      expect(sup.whichChildren()[0]!.status).toBe('running');
    }
    const bypassed = supervision.coordinator.decisions();
    expect(bypassed).toHaveLength(5);
    for (const d of bypassed) {
      expect(d).toMatchObject({ rule: 'own-bound', directive: { type: 'restart', bypassIntensity: true }, limits: { intensity: 'bypassed' } });
      expect(d.overridden).toBeUndefined();
      // Bypassed restarts are not in the history intensity is checked against.
      expect(d.input.history).toEqual([]);
    }
    // So the sibling still has its one restart, and the next is one too many.
    ref(sup, 'x').tell({ type: 'CRASH' });
    await settle(sup);
    expect(supervision.coordinator.decisions().at(-1)).toMatchObject({ input: { childId: 'x' }, rule: 'otp-default', directive: { type: 'restart' }, limits: { intensity: 'within' } });
    ref(sup, 'x').tell({ type: 'CRASH' });
    expect(await within(sup.stopped, 'the supervisor gives up on x')).toEqual({ reason: 'shutdown' });
    expect(supervision.coordinator.decisions().at(-1)).toMatchObject({ directive: { type: 'escalate' }, limits: { intensity: 'exceeded' } });
  });

  it('supervision - bypassIntensity must be a boolean; exponentialBackoff passes it on its restart-after', () => {
    const { supervision } = harness({ rules: [{ name: 'sloppy', decide: () => ({ type: 'restart', bypassIntensity: 'yes' }) as never }] });
    expect(supervision.coordinator.decide(report())).toEqual({ type: 'restart' });
    expect(supervision.coordinator.decisions()[0]).toMatchObject({ rule: 'otp-default', fallback: { rule: 'sloppy', error: { code: ErrorCode.InvalidArgument } } });
    expect(() => exponentialBackoff({ initialMs: 1, maxMs: 2, bypassIntensity: 1 as never })).toThrow(InvalidArgumentError);
    const backoff = exponentialBackoff({ initialMs: 100, maxMs: 1000, bypassIntensity: true });
    const c = harness({ rules: [backoff] }).supervision.coordinator;
    expect(c.decide(report({ history: [9000] }))).toEqual({ type: 'restart-after', ms: 100, bypassIntensity: true });
    expect(c.decisions()[0]).toMatchObject({ limits: { intensity: 'bypassed' } });
  });
});

describe('supervision - rule factories', () => {
  it('supervision - exponentialBackoff: delays really grow by factor per consecutive failure, capped, reset after a quiet period', () => {
    const rule = exponentialBackoff({ initialMs: 100, maxMs: 1000, factor: 2, resetAfterMs: 5000 });
    const ctx = {} as never;
    let at = 0;
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      const d = rule.decide(report({ at }), ctx) as { type: string; ms: number };
      expect(d.type).toBe('restart-after');
      delays.push(d.ms);
      at += d.ms + 10; // the restarted child fails again 10 ms after starting
    }
    expect(delays).toEqual([100, 200, 400, 800, 1000, 1000]);
    // Another child has its own count.
    expect(rule.decide(report({ at, childId: 'other' }), ctx)).toEqual({ type: 'restart-after', ms: 100 });
    // Ran 5 s after its last restart: starts over.
    at += 5000;
    expect(rule.decide(report({ at }), ctx)).toEqual({ type: 'restart-after', ms: 100 });
    // OTP would not restart: the rule passes.
    expect(rule.decide(report({ restart: 'temporary' }), ctx)).toBeUndefined();
    expect(rule.decide(report({ restart: 'transient', reason: 'normal' }), ctx)).toBeUndefined();
    expect(() => exponentialBackoff({ initialMs: 100, maxMs: 1000, factor: 1 })).toThrow(expect.objectContaining({ field: 'factor' }));
  });

  it('supervision - exponentialBackoff in a tree: the child waits longer each time, on the clock', async () => {
    const { supervision, clock } = harness({ rules: [exponentialBackoff({ initialMs: 100, maxMs: 10_000, factor: 3 })] });
    // Three restarts within 1.3 s: intensity 3 lets them through (a rule's restarts count toward it).
    const sup = supervision.supervise({ intensity: 3, children: [{ id: 'w', start: ocfWorker }] });
    for (const expected of [100, 300, 900]) {
      ref(sup, 'w').tell({ type: 'CRASH' });
      await settle(sup);
      expect(sup.whichChildren()[0]!.status).toBe('restarting');
      clock.advance(expected - 1);
      await settle(sup);
      expect(sup.whichChildren()[0]!.status).toBe('restarting');
      clock.advance(1);
      await settle(sup);
      expect(sup.whichChildren()[0]!.status).toBe('running');
    }
    await sup.stop();
  });

  it('supervision - giveUpAfter: the n-th failure within the window gives up; older failures expire', () => {
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    const rule = giveUpAfter({ failures: 3, windowMs: 1000, then: 'stop' });
    const ctx = {} as never;
    expect(rule.decide(report({ at: 0 }), ctx)).toBeUndefined();
    expect(rule.decide(report({ at: 500 }), ctx)).toBeUndefined();
    expect(rule.decide(report({ at: 1200 }), ctx)).toBeUndefined(); // the one at 0 expired
    expect(rule.decide(report({ at: 1400 }), ctx)).toEqual({ type: 'stop' });
    expect(rule.decide(report({ at: 1500 }), ctx)).toBeUndefined(); // forgotten after giving up
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    const esc = giveUpAfter({ failures: 1, windowMs: 10, then: 'escalate' });
    expect(esc.decide(report(), ctx)).toEqual({ type: 'escalate' });
    expect(esc.decide(report({ restart: 'temporary' }), ctx)).toBeUndefined();
  });

  it('supervision - giveUpAfter with escalate ends the supervisor', async () => {
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    const { supervision } = harness({ rules: [giveUpAfter({ failures: 2, windowMs: 60_000, then: 'escalate' })] });
    const sup = supervision.supervise({ intensity: 100, children: [{ id: 'w', start: ocfWorker }] });
    ref(sup, 'w').tell({ type: 'CRASH' });
    await settle(sup);
    ref(sup, 'w').tell({ type: 'CRASH' });
    expect(await sup.stopped).toEqual({ reason: 'shutdown' });
  });

  it('supervision - ocfClassRule maps soft/hard/fatal OCF codes to directives', async () => {
    const { supervision } = harness({ rules: [ocfClassRule({ soft: 'restart', hard: 'stop', fatal: 'escalate' })] });
    const c = supervision.coordinator;
    expect(c.decide(report({ ocf: 1 }))).toEqual({ type: 'restart' });
    expect(c.decide(report({ ocf: 5 }))).toEqual({ type: 'stop' });
    expect(c.decide(report({ ocf: 6 }))).toEqual({ type: 'escalate' });
    expect((c.decide(report({ ocf: 0, history: [9000] })) as Directive).type).toBe('escalate'); // success class passes to the default
    expect(c.decisions().map((d) => d.rule)).toEqual(['ocf-class', 'ocf-class', 'ocf-class', 'otp-default']);

    const sup = supervision.supervise({ children: [{ id: 'w', start: ocfWorker }] });
    ref(sup, 'w').tell({ type: 'FAIL', ocf: 4 } as never);
    await settle(sup);
    expect(sup.whichChildren()[0]!.status).toBe('terminated');
    expect(c.decisions().at(-1)!.input).toMatchObject({ ocf: 4, error: { message: 'resource agent failed' } });
    await sup.stop();
  });

  it('supervision - startOnFailure starts another service (awaited), then passes to the default', async () => {
    const started: string[] = [];
    const { supervision, system } = harness({
      rules: [
        startOnFailure({
          start: async (r) => {
            await Promise.resolve();
            started.push(r.childId);
          },
        }),
      ],
    });
    const sup = supervision.supervise({ children: [{ id: 'w', start: ocfWorker }] });
    ref(sup, 'w').tell({ type: 'CRASH' });
    await settle(sup);
    expect(started).toEqual(['w']);
    expect(supervision.coordinator.decisions().map((d) => [d.rule, d.directive.type])).toEqual([['otp-default', 'restart']]);
    // Only abnormal exits trigger it by default.
    await supervision.coordinator.decide(report({ reason: 'normal', restart: 'transient' }));
    expect(started).toEqual(['w']);
    await sup.stop();
    expect(system.size).toBe(1);
  });
});

describe('supervision - decision log', () => {
  it('supervision - every decision is recorded { seq, at, input, directive, rule } and queryable', () => {
    const { supervision, clock } = harness();
    const c = supervision.coordinator;
    c.decide(report({ supervisor: 'a', childId: 'x' }));
    clock.advance(5);
    c.decide(report({ supervisor: 'b', childId: 'x' }));
    c.decide(report({ supervisor: 'a', childId: 'y' }));
    const all = c.decisions();
    expect(all.map((d) => [d.seq, d.at, d.input.supervisor, d.input.childId, d.directive.type, d.rule])).toEqual([
      [1, 1000, 'a', 'x', 'restart', 'otp-default'],
      [2, 1005, 'b', 'x', 'restart', 'otp-default'],
      [3, 1005, 'a', 'y', 'restart', 'otp-default'],
    ]);
    expect(c.decisions({ since: 1 }).map((d) => d.seq)).toEqual([2, 3]);
    expect(c.decisions({ childId: 'x' }).map((d) => d.seq)).toEqual([1, 2]);
    expect(c.decisions({ supervisor: 'a', childId: 'y' }).map((d) => d.seq)).toEqual([3]);
    expect(c.decisions({ since: 3 })).toEqual([]);
  });

  it('supervision - the log is a bounded ring: the oldest entries go, seq keeps counting', () => {
    const { supervision } = harness({ decisionLogSize: 3 });
    const c = supervision.coordinator;
    for (let i = 0; i < 10; i++) c.decide(report({ childId: `c${i}` }));
    expect(c.decisions().map((d) => [d.seq, d.input.childId])).toEqual([
      [8, 'c7'],
      [9, 'c8'],
      [10, 'c9'],
    ]);
    expect(c.decisions({ since: 2 }).map((d) => d.seq)).toEqual([8, 9, 10]);
    expect(c.stats()).toMatchObject({ total: 10, logged: 3, logCapacity: 3 });
  });

  it('supervision - the coordinator is an actor named _coordinator; its Status carries rules and decision counts', async () => {
    const { system, supervision } = harness({ rules: [ocfClassRule({ hard: 'stop' })] });
    const c = supervision.coordinator;
    c.decide(report({ ocf: 2 }));
    c.decide(report());
    expect(system.lookup('_coordinator')).toBe(c.ref);
    expect((await c.ref.check(0)).label).toBe('OCF_SUCCESS');
    const status = await c.ref.status();
    expect(status.rules).toEqual(['ocf-class', 'otp-default']);
    expect(status.decisions).toMatchObject({
      total: 2,
      byDirective: { restart: 1, stop: 1, 'restart-after': 0, escalate: 0, ignore: 0 },
      byRule: { 'ocf-class': 1, 'otp-default': 1 },
      ruleErrors: 0,
    });
    await turns();
  });
});
