/**
 * rule paths - enumerating recovery rules with @xstate/graph: every path a
 * rule can take over a set of failure inputs, with the answer at each step.
 * The shipped rules are checked on every path against a small model.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assign, setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { reply } from '../src/actors/reply.js';
import { InvalidArgumentError } from '../src/errors.js';
import { exponentialBackoff, giveUpAfter, machineRule, ocfClassRule, startOnFailure, wouldRestart } from '../src/supervision/index.js';
import { type RulePath, rulePaths } from '../src/supervision/policy/rulePaths.js';
import type { FailureReport } from '../src/supervision/types.js';

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
    at: 1000,
    ...over,
  };
}

const SOFT = report({ ocf: 1 });
const HARD = report({ ocf: 2 });

/** fresh --soft--> warned --soft--> tripped; hard from anywhere --> tripped. */
const ladder = setup({ guards: { hard: ({ event }) => (event as unknown as { report: FailureReport }).report.ocf === 2 } }).createMachine({
  id: 'ladder',
  initial: 'fresh',
  states: {
    fresh: {
      on: {
        'halyard.failure': [
          { guard: 'hard', target: 'tripped', actions: reply({ type: 'stop' }) },
          { target: 'warned', actions: reply({ type: 'restart-after', ms: 100 }) },
        ],
      },
    },
    warned: {
      on: {
        'halyard.failure': [
          { guard: 'hard', target: 'tripped', actions: reply({ type: 'stop' }) },
          { target: 'tripped', actions: reply({ type: 'escalate' }) },
        ],
      },
    },
    tripped: { on: { 'halyard.failure': { actions: reply({ type: 'stop' }) } } },
  },
});

/** Each path as "ocf>answer" per step, sorted, so lists compare exactly. */
function show(paths: readonly RulePath[]): string[] {
  return paths.map((p) => p.steps.map((s) => `${s.report.ocf ?? '-'}>${s.directive ? s.directive.type + ('ms' in s.directive ? s.directive.ms : '') : s.outcome}`).join(' ')).sort();
}

describe('rule paths - machine rules', () => {
  it('rule paths - every simple path of a machine rule over soft and hard failures is listed with its answers, self-loops included', () => {
    const paths = rulePaths(machineRule('ladder', ladder), [SOFT, HARD]);
    expect(show(paths)).toEqual([
      '1>restart-after100',
      '1>restart-after100 1>escalate',
      // tripped answers stop to every failure and stays tripped: listed once per failure input.
      '1>restart-after100 1>escalate 1>stop',
      '1>restart-after100 1>escalate 2>stop',
      '1>restart-after100 2>stop',
      '1>restart-after100 2>stop 1>stop',
      '1>restart-after100 2>stop 2>stop',
      '2>stop',
      '2>stop 1>stop',
      '2>stop 2>stop',
    ]);
    const longest = paths.find((p) => p.steps.length === 2 && p.steps[1]!.report.ocf === 1)!;
    expect(longest.steps.map((s) => s.state)).toEqual(['warned', 'tripped']);
  });

  it('rule paths - shortest paths give one path to each state the rule can reach', () => {
    expect(show(rulePaths(ladder, [SOFT, HARD], { paths: 'shortest' }))).toEqual(['1>restart-after100', '2>stop', '2>stop 1>stop', '2>stop 2>stop']);
  });

  it('rule paths - a machine counting in its context is walked up to maxFailures, its context after each step shown', () => {
    const threeStrikes = setup({ types: { context: {} as { n: number } } }).createMachine({
      context: { n: 0 },
      on: {
        'halyard.failure': {
          actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }: { context: { n: number } }) => (context.n >= 3 ? { type: 'stop' } : undefined))],
        },
      },
    });
    const paths = rulePaths(machineRule('three-strikes', threeStrikes), [SOFT], { maxFailures: 4 });
    expect(show(paths)).toEqual(['1>pass', '1>pass 1>pass', '1>pass 1>pass 1>stop', '1>pass 1>pass 1>stop 1>stop']);
    expect(paths.find((p) => p.steps.length === 4)!.steps.map((s) => s.context)).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
  });

  it('rule paths - a machine that does not reply, answers garbage, throws or ends is shown so, and the path ends where the actor would', () => {
    const moody = setup({}).createMachine({
      initial: 'a',
      states: {
        a: {
          on: {
            'halyard.failure': [
              { guard: ({ event }) => (event as unknown as { report: FailureReport }).report.ocf === 1, target: 'b' }, // no reply
              { guard: ({ event }) => (event as unknown as { report: FailureReport }).report.ocf === 2, target: 'c', actions: reply('reboot') },
              {
                actions: () => {
                  throw new Error('rule machine bug');
                },
              },
            ],
          },
        },
        b: { on: { 'halyard.failure': { target: 'done', actions: reply({ type: 'ignore' }) } } },
        c: {},
        done: { type: 'final' },
      },
    });
    const paths = rulePaths(moody, [SOFT, HARD, report({ ocf: 6 })], { maxFailures: 3 });
    expect(show(paths)).toEqual([
      '1>no-reply',
      '1>no-reply 1>ignore',
      '1>no-reply 2>ignore',
      '1>no-reply 6>ignore',
      '2>not-a-directive',
      // c handles no failure: the event is dropped and the ask would time out.
      '2>not-a-directive 1>no-reply',
      '2>not-a-directive 2>no-reply',
      '2>not-a-directive 6>no-reply',
      '6>threw',
    ]);
    const threw = paths.find((p) => p.steps[0]!.outcome === 'threw')!;
    expect(threw.ended).toBe(true);
    expect((threw.steps[0]!.error as Error).message).toBe('rule machine bug');
    expect(paths.find((p) => p.steps.length === 2 && p.steps[1]!.outcome === 'directive')!.ended).toBe(true); // reached done
    expect(paths.find((p) => p.steps.length === 2 && p.steps[1]!.outcome === 'no-reply')!.ended).toBe(false);
    expect(paths.find((p) => p.steps[0]!.outcome === 'not-a-directive')!.steps[0]!.value).toBe('reboot');
  });
});

describe('rule paths - the shipped rules on every path', () => {
  const ERROR_PERMANENT = report({ restart: 'permanent', reason: 'error' });
  const NORMAL_TRANSIENT = report({ restart: 'transient', reason: 'normal' });
  const ERROR_TEMPORARY = report({ restart: 'temporary', reason: 'error' });

  it('rule paths - giveUpAfter answers stop exactly at the n-th restartable failure within the window, on every path', () => {
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    const rule = giveUpAfter({ failures: 3, windowMs: 1000, then: 'stop' });
    const paths = rulePaths(rule, [ERROR_PERMANENT, NORMAL_TRANSIENT], { maxFailures: 5, stepMs: 400 });
    expect(paths).toHaveLength(2 + 4 + 8 + 16 + 32);
    for (const path of paths) {
      // The model: failures OTP would restart for, inside the window; forgotten after giving up.
      let times: number[] = [];
      for (const step of path.steps) {
        let expected = 'pass';
        if (wouldRestart(step.report)) {
          times = times.filter((t) => step.report.at - t < 1000);
          times.push(step.report.at);
          if (times.length >= 3) {
            expected = 'stop';
            times = [];
          }
        }
        expect(step.directive?.type ?? step.outcome, show([path])[0]).toBe(expected);
      }
    }
  });

  it('rule paths - exponentialBackoff delays grow by factor per consecutive failure and stop at maxMs, on every path', () => {
    const rule = exponentialBackoff({ initialMs: 10, maxMs: 40 });
    const paths = rulePaths(rule, [ERROR_PERMANENT, ERROR_TEMPORARY], { maxFailures: 5 });
    expect(paths).toHaveLength(62);
    for (const path of paths) {
      let n = 0;
      for (const step of path.steps) {
        if (!wouldRestart(step.report)) {
          expect(step.outcome).toBe('pass');
          continue;
        }
        n++;
        expect(step.directive).toEqual({ type: 'restart-after', ms: Math.min(40, 10 * 2 ** (n - 1)) });
      }
    }
  });

  it('rule paths - ocfClassRule answers by the OCF class of each failure alone, whatever came before', () => {
    const rule = ocfClassRule({ soft: 'restart', hard: 'stop', fatal: 'escalate' });
    const inputs = [report({ ocf: 1 }), report({ ocf: 5 }), report({ ocf: 6 }), report({ ocf: 0 }), report()];
    const expected = new Map<number | undefined, string>([[1, 'restart'], [5, 'stop'], [6, 'escalate'], [0, 'pass'], [undefined, 'pass']]);
    const paths = rulePaths(rule, inputs, { maxFailures: 3 });
    expect(paths).toHaveLength(5 + 25 + 125);
    for (const path of paths) for (const step of path.steps) expect(step.directive?.type ?? step.outcome).toBe(expected.get(step.report.ocf));
  });

  it('rule paths - startOnFailure is walked through its replica: it always passes and starts nothing', () => {
    let started = 0;
    const rule = startOnFailure({ start: () => void started++ });
    const paths = rulePaths(rule, [ERROR_PERMANENT, NORMAL_TRANSIENT], { maxFailures: 3 });
    expect(paths.flatMap((p) => p.steps.map((s) => s.outcome)).every((o) => o === 'pass')).toBe(true);
    expect(started).toBe(0);
  });
});

describe('rule paths - input and packaging', () => {
  it('rule paths - bad arguments get InvalidArgumentError naming the field', () => {
    const field = (f: () => unknown): unknown => {
      try {
        f();
      } catch (err) {
        expect(err).toBeInstanceOf(InvalidArgumentError);
        return (err as InvalidArgumentError).field;
      }
      return 'no error';
    };
    expect(field(() => rulePaths(ladder, []))).toBe('reports');
    expect(field(() => rulePaths(ladder, [SOFT], { maxFailures: 0 }))).toBe('maxFailures');
    expect(field(() => rulePaths(ladder, [SOFT], { stepMs: -1 }))).toBe('stepMs');
    expect(field(() => rulePaths(ladder, [SOFT], { paths: 'all' as 'simple' }))).toBe('paths');
    expect(field(() => rulePaths({ name: 'plain', decide: () => undefined }, [SOFT]))).toBe('rule');
    // A function rule that needs ctx.system, walked without one: the step shows the typed error.
    const needsSystem = { name: 'ctx', decide: (_r: FailureReport, ctx: { system: unknown }) => void ctx.system };
    const [path] = rulePaths({ ...needsSystem, replica: () => needsSystem }, [SOFT], { maxFailures: 1 });
    expect(path!.steps[0]).toMatchObject({ outcome: 'threw', error: { name: 'InvalidArgumentError', field: 'system' } });
  });

  it('rule paths - the runtime entry point never loads @xstate/graph (only halyard/rule-paths does)', () => {
    const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
    const seen = new Set<string>();
    const graphUsers: string[] = [];
    const visit = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      const src = readFileSync(file, 'utf8');
      if (/from '@xstate\/graph'/.test(src)) graphUsers.push(file);
      for (const m of src.matchAll(/(?:import|export)[^'"]*?from '(\.[^']+)'/g)) visit(join(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
    };
    visit(join(root, 'src/index.ts'));
    expect(seen.size).toBeGreaterThan(20);
    expect(graphUsers).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { import: string }>; dependencies: Record<string, string> };
    expect(pkg.exports['./rule-paths']?.import).toBe('./dist/supervision/policy/rulePaths.js');
    expect(pkg.dependencies['@xstate/graph']).toBeDefined();
  });
});
