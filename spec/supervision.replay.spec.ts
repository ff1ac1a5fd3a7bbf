/**
 * decision log - replay (Pacemaker's crm_simulate on saved inputs) and the
 * JSON-lines export that carries a node's decisions elsewhere.
 */
import fc from 'fast-check';
import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { reply } from '../src/actors/reply.js';
import { DecisionLineError } from '../src/errors.js';
import {
  exponentialBackoff,
  giveUpAfter,
  machineRule,
  ocfClassRule,
  parseDecisionLine,
  parseDecisionLines,
  startOnFailure,
} from '../src/supervision/index.js';
import type { FailureReport, Rule } from '../src/supervision/types.js';
import { CRASH, harness, settle, worker, within } from './support/supervision.js';

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
    intensity: 3,
    period: 5000,
    at: 1000,
    ...over,
  };
}

/** The rules a node might run: a give-up threshold, then a backoff, then OCF classes. */
function liveRules(threshold = 3): Rule[] {
  return [
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    giveUpAfter({ failures: threshold, windowMs: 10_000, then: 'stop' }),
    ocfClassRule({ hard: 'stop', fatal: 'escalate' }),
    exponentialBackoff({ initialMs: 10, maxMs: 100 }),
  ];
}

describe('decision log - replay', () => {
  it('decision log - replay with the same rules returns nothing, and leaves the live rules as they were', async () => {
    const { supervision, clock } = harness({ rules: liveRules() });
    const c = supervision.coordinator;
    const sup = supervision.supervise({ intensity: 10, period: 5000, children: [{ id: 'w', start: worker }] }, { name: 'app' });
    // Real failures through a tree: the backoff delays, then the third failure gives up.
    for (let i = 0; i < 3; i++) {
      const ref = sup.whichChildren()[0]!.ref;
      if (ref === undefined) {
        clock.advance(100);
        await settle(sup);
      }
      sup.whichChildren()[0]!.ref!.tell(CRASH);
      await settle(sup);
    }
    c.decide(report({ childId: 'x', ocf: 2 }));
    c.decide(report({ childId: 'y', ocf: 6, history: [900, 950, 990] }));
    const logged = c.decisions();
    expect(logged.map((d) => [d.input.childId, d.directive.type, d.rule])).toEqual([
      ['w', 'restart-after', 'exponential-backoff'],
      ['w', 'restart-after', 'exponential-backoff'],
      ['w', 'stop', 'give-up-after'],
      ['x', 'stop', 'ocf-class'],
      ['y', 'escalate', 'ocf-class'],
    ]);

    expect(await within(c.replay(logged), 'replay')).toEqual([]);
    expect(await within(c.replay(logged), 'a second replay')).toEqual([]);
    // Live giveUpAfter has seen x once. Had the replays counted into it, this
    // would be x's third failure and give up; it is the second, so it passes to the backoff.
    expect(c.decide(report({ childId: 'x', at: 1500 }))).toEqual({ type: 'restart-after', ms: 10 });
    await sup.stop();
  });

  it('decision log - replay with a changed rule returns exactly the decisions that differ, with the new answer', async () => {
    const { supervision } = harness({ rules: liveRules() });
    const c = supervision.coordinator;
    c.decide(report({ childId: 'a', ocf: 1 })); // soft: backoff
    c.decide(report({ childId: 'b', ocf: 2 })); // hard: stop
    c.decide(report({ childId: 'c', ocf: 5 })); // hard: stop
    c.decide(report({ childId: 'd', ocf: 6 })); // fatal: escalate
    c.decide(report({ childId: 'e', restart: 'temporary' })); // default: ignore
    const logged = c.decisions();

    const changed = [
      // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
      giveUpAfter({ failures: 3, windowMs: 10_000, then: 'stop' }),
      ocfClassRule({ hard: 'restart', fatal: 'escalate' }),
      exponentialBackoff({ initialMs: 10, maxMs: 100 }),
    ];
    const diff = await within(c.replay(logged, changed), 'replay');
    expect(diff.map((d) => [d.decision.seq, d.decision.input.childId, d.decision.directive, d.directive, d.rule, d.limits])).toEqual([
      [2, 'b', { type: 'stop' }, { type: 'restart' }, 'ocf-class', { intensity: 'within' }],
      [3, 'c', { type: 'stop' }, { type: 'restart' }, 'ocf-class', { intensity: 'within' }],
    ]);
  });

  it('decision log - replay applies intensity from the logged window: a restart that would have been one too many is escalate', async () => {
    const { supervision } = harness(); // default policy only
    const c = supervision.coordinator;
    c.decide(report({ childId: 'a', intensity: 1, history: [900] })); // escalate
    c.decide(report({ childId: 'b', intensity: 1, history: [] })); // restart
    const restartAlways: Rule = { name: 'always-restart', decide: () => ({ type: 'restart' }) };
    const diff = await within(c.replay(c.decisions(), [restartAlways]), 'replay');
    expect(diff).toEqual([]);
    const bypass: Rule = { name: 'bypass', decide: () => ({ type: 'restart', bypassIntensity: true }) };
    const diff2 = await within(c.replay(c.decisions(), [bypass]), 'replay');
    expect(diff2.map((d) => [d.decision.input.childId, d.directive, d.limits])).toEqual([
      ['a', { type: 'restart', bypassIntensity: true }, { intensity: 'bypassed' }],
      ['b', { type: 'restart', bypassIntensity: true }, { intensity: 'bypassed' }],
    ]);
  });

  it("decision log - replay gives rules the logged 'now', not the clock at replay time", async () => {
    const { supervision, clock } = harness();
    const stale: Rule = { name: 'stale-report', decide: (r, ctx) => (ctx.now - r.at > 100 ? { type: 'stop' } : undefined) };
    const c = supervision.coordinator;
    c.addRule(stale);
    c.decide(report({ childId: 'old', at: 500 })); // clock at 1000: stale, stop
    c.decide(report({ childId: 'new', at: 1000 })); // fresh: default restart
    expect(c.decisions().map((d) => [d.directive.type, d.now])).toEqual([
      ['stop', 1000],
      ['restart', undefined],
    ]);
    clock.advance(60_000);
    expect(await within(c.replay(c.decisions()), 'replay')).toEqual([]);
  });

  it("decision log - replay of a machine rule starts from a fresh actor and leaves the live machine's count alone", async () => {
    const threeStrikes = setup({ types: { context: {} as { n: number } } }).createMachine({
      context: { n: 0 },
      on: {
        'halyard.failure': {
          actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }: { context: { n: number } }) => (context.n >= 3 ? { type: 'stop' } : undefined))],
        },
      },
    });
    const { supervision } = harness({ rules: [machineRule('three-strikes', threeStrikes)] });
    const c = supervision.coordinator;
    for (let i = 0; i < 3; i++) await within(Promise.resolve(c.decide(report({ at: 1000 + i }))), 'decide');
    expect(c.decisions().map((d) => d.directive.type)).toEqual(['restart', 'restart', 'stop']);
    expect(await within(c.replay(c.decisions()), 'replay')).toEqual([]);
    // Live machine: 4th failure, still counting from its own 3.
    expect(await within(Promise.resolve(c.decide(report({ at: 2000 }))), 'decide')).toEqual({ type: 'stop' });
    await c.close();
  });

  it('decision log - replay does not repeat startOnFailure side effects', async () => {
    let started = 0;
    const { supervision } = harness({ rules: [startOnFailure({ start: () => void started++ })] });
    const c = supervision.coordinator;
    c.decide(report());
    c.decide(report({ childId: 'd' }));
    expect(started).toBe(2);
    expect(await within(c.replay(c.decisions()), 'replay')).toEqual([]);
    expect(started).toBe(2);
  });

  it('decision log - replay of random failure sequences with the same rules returns nothing (property)', async () => {
    const arbReport = fc.record({
      childId: fc.constantFrom('a', 'b', 'c'),
      restart: fc.constantFrom('permanent', 'transient', 'temporary') as fc.Arbitrary<FailureReport['restart']>,
      reason: fc.constantFrom('normal', 'error', 'shutdown', 'killed', 'nodedown') as fc.Arbitrary<FailureReport['reason']>,
      ocf: fc.option(fc.constantFrom(0, 1, 2, 5, 6, 7, 190), { nil: undefined }),
      history: fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 4 }),
      step: fc.integer({ min: 0, max: 3000 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(arbReport, { maxLength: 30 }), fc.integer({ min: 1, max: 4 }), async (items, threshold) => {
        const { supervision } = harness({ rules: liveRules(threshold) });
        const c = supervision.coordinator;
        let at = 1000;
        for (const it of items) {
          at += it.step;
          const history = [...it.history].sort((x, y) => x - y).map((d) => at - 100 + d);
          c.decide(report({ childId: it.childId, restart: it.restart, reason: it.reason, ocf: it.ocf, history, at }));
        }
        expect(await c.replay(c.decisions())).toEqual([]);
        // Through the JSON lines too.
        expect(await c.replay(parseDecisionLines(c.exportDecisions()))).toEqual([]);
      }),
      { numRuns: 60, verbose: 1 },
    );
  });

  it('decision log - replay refuses a rules argument that is not rules', async () => {
    const { supervision } = harness();
    await expect(supervision.coordinator.replay([], [{ name: 'x' } as unknown as Rule])).rejects.toMatchObject({
      name: 'InvalidArgumentError',
      field: 'rules[0]',
    });
  });
});

describe('decision log - JSON lines', () => {
  it('decision log - decisions export as JSON lines and read back equal', () => {
    const { supervision } = harness({ rules: [ocfClassRule({ hard: 'stop' }), { name: 'boom', decide: () => { throw new Error('rule bug'); } }] });
    const c = supervision.coordinator;
    c.decide(report({ ocf: 2 }));
    c.decide(report({ reason: 'killed', history: [10, 20] }));
    c.decide(report({ intensity: 0 }));
    c.decide(report({ reason: 'degraded', check: { level: 10, code: 190, reason: 'OCF_DEGRADED: slow' } }));
    const text = c.exportDecisions();
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[1]!)).toMatchObject({ seq: 2, rule: 'otp-default', fallback: { rule: 'boom' } });
    expect(parseDecisionLines(text)).toEqual(c.decisions());
    expect(c.exportDecisions({ since: 2 }).trimEnd().split('\n')).toHaveLength(2);
  });

  it('decision log - a malformed JSON line gets a DecisionLineError naming the line and the field', () => {
    const { supervision } = harness();
    const c = supervision.coordinator;
    c.decide(report({ history: [900] }));
    const good = JSON.parse(c.exportDecisions()) as Record<string, unknown>;
    const input = good.input as Record<string, unknown>;
    const cases: [string, string][] = [
      ['{"seq": 1,', '(line)'],
      ['[1, 2]', '(line)'],
      [JSON.stringify({ ...good, seq: 0 }), 'seq'],
      [JSON.stringify({ ...good, input: undefined }), 'input'],
      [JSON.stringify({ ...good, input: { ...input, history: [900, '950'] } }), 'input.history[1]'],
      [JSON.stringify({ ...good, input: { ...input, reason: 'exploded' } }), 'input.reason'],
      [JSON.stringify({ ...good, input: { ...input, type: 'other.v1' } }), 'input.type'],
      [JSON.stringify({ ...good, input: { ...input, period: 0 } }), 'input.period'],
      [JSON.stringify({ ...good, input: { ...input, error: { name: 'E', code: 'X' } } }), 'input.error.message'],
      [JSON.stringify({ ...good, directive: { type: 'reboot' } }), 'directive.type'],
      [JSON.stringify({ ...good, directive: { type: 'restart-after' } }), 'directive.ms'],
      [JSON.stringify({ ...good, directive: { type: 'restart', bypassIntensity: 'yes' } }), 'directive.bypassIntensity'],
      [JSON.stringify({ ...good, limits: { intensity: 'maybe' } }), 'limits.intensity'],
      [JSON.stringify({ ...good, rule: '' }), 'rule'],
      [JSON.stringify({ ...good, input: { ...input, check: { level: '10', reason: 'x' } } }), 'input.check.level'],
    ];
    for (const [line, field] of cases) {
      let caught: unknown;
      try {
        parseDecisionLines(`${JSON.stringify(good)}\n\n${line}\n`);
      } catch (err) {
        caught = err;
      }
      expect(caught, line).toBeInstanceOf(DecisionLineError);
      expect(caught, line).toMatchObject({ name: 'DecisionLineError', code: 'ERR_DECISION_LINE', line: 3, field });
      expect((caught as Error).message, line).toContain(`line 3: ${field}:`);
    }
    expect(() => parseDecisionLine('{}', 7)).toThrow(/line 7: seq:/);
  });
});
