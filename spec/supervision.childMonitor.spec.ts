/**
 * supervision - a child's recurring Check (Pacemaker's recurring monitor):
 * `monitor: { every, level, timeout? }` in the child spec. A 190 answer
 * reaches the coordinator as `degraded`; a failure code or no answer by the
 * deadline is a failure of the child. All on a ManualClock.
 */
import fc from 'fast-check';
import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { CheckContext } from '../src/actors/ocf.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { CheckFailedError, InvalidSpecError } from '../src/errors.js';
import { ocfClassRule, validateSupervisorSpec } from '../src/supervision/index.js';
import type { ChildSpec, Rule, Supervisor } from '../src/supervision/types.js';
import { harness, settle, turns, within } from './support/supervision.js';

type Mode = 'ok' | 'degraded' | 'hard' | 'hang';

/** A worker whose Check answers by its mode: SET { mode } changes it. */
const service = setup({ types: { context: {} as { mode: Mode }, events: {} as { type: 'SET'; mode: Mode } } }).createMachine({
  context: { mode: 'ok' },
  on: { SET: { actions: assign({ mode: ({ event }) => event.mode }) } },
});

function serviceCheck({ snapshot }: CheckContext<{ context: { mode: Mode } }>): number | Promise<number> {
  switch (snapshot.context.mode) {
    case 'degraded':
      return 190;
    case 'hard':
      return 5; // OCF_ERR_INSTALLED: a hard failure
    case 'hang':
      return new Promise<number>(() => {});
    default:
      return 0;
  }
}

function child(over: Partial<ChildSpec> = {}): ChildSpec {
  return { id: 'svc', start: service, check: serviceCheck, monitor: { every: 1000, level: 10 }, ...over };
}

function ref(sup: Supervisor): LocalActorRef {
  const r = sup.whichChildren()[0]?.ref;
  if (!r) throw new Error('no running child');
  return r;
}

/** Let events already told land, advance the clock by `ms`, then let checks answer and the supervisor act on them. */
async function tick(h: ReturnType<typeof harness>, sup: Supervisor, ms: number): Promise<void> {
  await settle(sup);
  h.clock.advance(ms);
  await turns();
  await settle(sup);
}

describe('supervision - child monitor spec', () => {
  it('supervision - a monitor with an unknown key is refused with InvalidSpecError naming it and the valid keys', () => {
    const cases: [unknown, string, RegExp][] = [
      [{ every: 100, levl: 10 }, 'children[0].monitor.levl', /valid keys are every, level, timeout/],
      [{ level: 10 }, 'children[0].monitor.every', /required/],
      [{ every: 0 }, 'children[0].monitor.every', /integer >= 1/],
      [{ every: 100, level: 5 }, 'children[0].monitor.level', /0, 10, 20/],
      [{ every: 100, timeout: -1 }, 'children[0].monitor.timeout', /integer >= 1/],
      ['every second', 'children[0].monitor', /must be an object/],
    ];
    for (const [monitor, field, message] of cases) {
      let caught: unknown;
      try {
        validateSupervisorSpec({ children: [{ id: 'svc', start: service, monitor }] });
      } catch (err) {
        caught = err;
      }
      expect(caught, JSON.stringify(monitor)).toBeInstanceOf(InvalidSpecError);
      expect((caught as InvalidSpecError).field).toBe(field);
      expect((caught as Error).message).toMatch(message);
    }
    expect(() => validateSupervisorSpec({ children: [{ id: 'svc', start: service, check: 190 as never }] })).toThrow(/children\[0\]\.check/);
    expect(validateSupervisorSpec({ children: [child({ monitor: { every: 250 } })] }).children[0]!.monitor).toEqual({ every: 250, level: 0, timeout: 250 });
  });
});

describe('supervision - a degraded Check reaches the coordinator', () => {
  it('supervision - a 190 answer is reported as degraded once per episode; by default it is only logged and the child keeps running', async () => {
    const h = harness();
    const sup = h.supervision.supervise({ children: [child()] }, { name: 'app' });
    const first = ref(sup);
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toEqual([]);

    first.tell({ type: 'SET', mode: 'degraded' });
    await tick(h, sup, 1000);
    const [d] = h.supervision.coordinator.decisions();
    expect(d).toMatchObject({
      rule: 'otp-default',
      directive: { type: 'ignore' },
      input: { reason: 'degraded', childId: 'svc', supervisor: 'app', check: { level: 10, code: 190 } },
    });
    expect(d!.input.ocf).toBeUndefined();
    expect(ref(sup)).toBe(first);

    // Still degraded: the same episode, not reported again.
    await tick(h, sup, 1000);
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toHaveLength(1);

    // Healthy again, then degraded again: a second episode.
    first.tell({ type: 'SET', mode: 'ok' });
    await tick(h, sup, 1000);
    first.tell({ type: 'SET', mode: 'degraded' });
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions().map((x) => x.input.reason)).toEqual(['degraded', 'degraded']);
    expect(ref(sup)).toBe(first);
    expect(first.exit).toBeUndefined();
    await sup.stop();
  });

  it('supervision - a rule may decide otherwise on a degraded report: restart replaces the child', async () => {
    const drain: Rule = { name: 'restart-degraded', decide: (r) => (r.reason === 'degraded' ? { type: 'restart' } : undefined) };
    const h = harness({ rules: [drain] });
    const sup = h.supervision.supervise({ intensity: 5, children: [child()] }, { name: 'app' });
    const first = ref(sup);
    first.tell({ type: 'SET', mode: 'degraded' });
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toMatchObject([{ rule: 'restart-degraded', directive: { type: 'restart' }, input: { reason: 'degraded' } }]);
    const second = ref(sup);
    expect(second).not.toBe(first);
    expect(first.exit?.reason).toBe('shutdown');
    // The replacement starts healthy (fresh context) and is monitored in its turn.
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toHaveLength(1);
    await sup.stop();
  });

  it('supervision - the shipped rules pass on degraded reports: ocfClassRule and the backoff do not restart a running child', async () => {
    const h = harness({ rules: [ocfClassRule({ soft: 'restart', hard: 'stop' })] });
    const sup = h.supervision.supervise({ children: [child()] }, { name: 'app' });
    const first = ref(sup);
    first.tell({ type: 'SET', mode: 'degraded' });
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toMatchObject([{ rule: 'otp-default', directive: { type: 'ignore' } }]);
    expect(ref(sup)).toBe(first);
    await sup.stop();
  });
});

describe('supervision - a failed Check is a failure of the child', () => {
  it('supervision - a check answering an OCF failure code stops the child and reports an error carrying the code; the default restarts it', async () => {
    const h = harness();
    const sup = h.supervision.supervise({ children: [child()] }, { name: 'app' });
    const first = ref(sup);
    first.tell({ type: 'SET', mode: 'hard' });
    await tick(h, sup, 1000);
    const [d] = h.supervision.coordinator.decisions();
    expect(d).toMatchObject({
      directive: { type: 'restart' },
      input: { reason: 'error', ocf: 5, check: { level: 10, code: 5 }, error: { name: 'CheckFailedError', code: 'ERR_CHECK_FAILED' } },
    });
    expect(d!.input.error!.message).toContain('OCF_ERR_INSTALLED');
    expect(first.exit?.reason).toBe('shutdown');
    const second = ref(sup);
    expect(second).not.toBe(first);
    // The new incarnation is healthy and monitored: no further decisions.
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toHaveLength(1);
    await sup.stop();
  });

  it('supervision - an OCF-class rule applies to monitor failures (hard: stop leaves the child terminated)', async () => {
    const h = harness({ rules: [ocfClassRule({ hard: 'stop' })] });
    const sup = h.supervision.supervise({ children: [child()] }, { name: 'app' });
    ref(sup).tell({ type: 'SET', mode: 'hard' });
    await tick(h, sup, 1000);
    expect(h.supervision.coordinator.decisions()).toMatchObject([{ rule: 'ocf-class', directive: { type: 'stop' } }]);
    expect(sup.whichChildren()).toMatchObject([{ id: 'svc', status: 'terminated', ref: undefined }]);
    await sup.stop();
  });

  it('supervision - a check with no answer by the deadline counts as failed', async () => {
    const h = harness();
    const sup = h.supervision.supervise({ children: [child({ monitor: { every: 1000, level: 0, timeout: 300 } })] }, { name: 'app' });
    const first = ref(sup);
    first.tell({ type: 'SET', mode: 'hang' });
    await tick(h, sup, 1000); // the check is asked, and hangs
    expect(h.supervision.coordinator.decisions()).toEqual([]);
    await tick(h, sup, 299);
    expect(h.supervision.coordinator.decisions()).toEqual([]);
    await tick(h, sup, 1);
    const [d] = h.supervision.coordinator.decisions();
    expect(d).toMatchObject({ directive: { type: 'restart' }, input: { reason: 'error', check: { level: 0, timedOut: true } } });
    expect(d!.input.ocf).toBeUndefined();
    expect(d!.input.error?.message).toMatch(/no answer within 300 ms/);
    expect(ref(sup)).not.toBe(first);
    await sup.stop();
  });

  it('supervision - a check that answered is not failed by its deadline firing in the same clock step', async () => {
    const h = harness();
    const sup = h.supervision.supervise({ children: [child({ monitor: { every: 1000, level: 10, timeout: 300 } })] }, { name: 'app' });
    const first = ref(sup);
    await tick(h, sup, 5000); // check at +1000 and its deadline at +1300 both fall inside this step
    expect(h.supervision.coordinator.decisions()).toEqual([]);
    expect(ref(sup)).toBe(first);
    await sup.stop();
  });

  it('supervision - the monitor ends with its incarnation: after a crash or a stop no check of the old child runs and no timer is left', async () => {
    const h = harness();
    const sup = h.supervision.supervise({ intensity: 5, children: [child()] }, { name: 'app' });
    const first = ref(sup);
    // One monitor timer per running child.
    expect(h.clock.pendingTimers).toBe(1);
    await within(sup.terminateChild('svc'), 'terminate');
    expect(h.clock.pendingTimers).toBe(0);
    await within(sup.restartChild('svc'), 'restart');
    expect(h.clock.pendingTimers).toBe(1);
    expect(ref(sup)).not.toBe(first);
    await sup.stop();
    expect(h.clock.pendingTimers).toBe(0);
    expect(h.supervision.coordinator.decisions()).toEqual([]);
    expect(new CheckFailedError('x', 0, 1, 'y')).toMatchObject({ name: 'CheckFailedError', code: 'ERR_CHECK_FAILED', ocf: 1 });
  });
});

describe('supervision - child monitor model', () => {
  it('supervision - over random mode changes and clock steps, decisions match a model of the recurring monitor (property)', async () => {
    const EVERY = 1000;
    const TIMEOUT = 300;
    type Op = { kind: 'set'; mode: Mode } | { kind: 'advance'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), mode: fc.constantFrom<Mode>('ok', 'degraded', 'hard', 'hang') }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(100, 300, 700, 1000) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const h = harness();
        const sup = h.supervision.supervise({ intensity: 1000, children: [child({ monitor: { every: EVERY, level: 10, timeout: TIMEOUT } })] }, { name: 'app' });
        // The model. A check's answer is handled after the clock step that asked it, so what follows is timed from the end of that step.
        let now = h.clock.now();
        let mode: Mode = 'ok';
        let episode = false;
        let next = now + EVERY;
        let deadline: number | undefined;
        const expected: string[] = [];
        const restart = (): void => {
          expected.push('error>restart');
          mode = 'ok';
          episode = false;
          deadline = undefined;
          next = now + EVERY;
        };
        for (const o of ops) {
          if (o.kind === 'set') {
            ref(sup).tell({ type: 'SET', mode: o.mode });
            mode = o.mode;
            continue;
          }
          const end = now + o.ms;
          await tick(h, sup, o.ms);
          now = end;
          if (deadline === undefined && next <= end) {
            if (mode === 'hang') {
              deadline = next + TIMEOUT;
            } else if (mode === 'hard') {
              restart();
              continue;
            } else {
              if (mode === 'degraded' && !episode) expected.push('degraded>ignore');
              episode = mode === 'degraded';
              next = end + EVERY;
            }
          }
          if (deadline !== undefined && deadline <= end) restart();
        }
        const got = h.supervision.coordinator.decisions().map((d) => `${d.input.reason}>${d.directive.type}`);
        expect(got).toEqual(expected);
        expect(new Set(h.supervision.coordinator.decisions().map((d) => d.input.childId))).toEqual(new Set(expected.length > 0 ? ['svc'] : []));
        expect(sup.whichChildren()[0]!.status).toBe('running');
        await sup.stop();
        expect(h.clock.pendingTimers).toBe(0);
      }),
      { numRuns: 40, verbose: 1 },
    );
  });
});
