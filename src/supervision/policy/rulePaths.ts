/**
 * Enumerate a recovery rule: every path it can take over a set of failure
 * inputs, walked with `@xstate/graph` (`getSimplePaths`, or
 * `getShortestPaths`). Import it from `halyard/rule-paths`: this is the only
 * module that loads `@xstate/graph`, so the runtime does not pay for it.
 *
 * ```ts
 * import { rulePaths } from 'halyard/rule-paths';
 * for (const path of rulePaths(machineRule('three-strikes', threeStrikes), [soft, hard])) {
 *   console.log(path.steps.map((s) => `${s.report.ocf} -> ${s.directive?.type ?? s.outcome}`).join(', '));
 * }
 * ```
 *
 * ## What is walked
 * - **A rule written as an XState machine** (`machineRule(name, machine)`, or
 *   the machine itself): its states are the machine's snapshots (state
 *   value and context), and each failure is the event the coordinator sends
 *   it, `{ type: 'halyard.failure', report }`. Simple paths visit no
 *   snapshot twice, so a machine with finite states has finitely many; a
 *   machine that counts in its context is bounded by `maxFailures`. Each
 *   path is also listed once more for every failure its last state answers
 *   without moving (a self-loop), so no answer the rule can give is missed.
 * - **Any other rule with `replica()`** (every shipped rule): its state
 *   lives in closures the walker cannot see, so its state is taken to be
 *   the failures it has seen, and the paths are every sequence of inputs up
 *   to `maxFailures` long, each decided by a fresh replica.
 *
 * The answer at each step is computed by running the step for real (the
 * machine's actions executed, `reply` captured): `@xstate/graph` itself
 * does not execute actions, so its snapshots alone cannot say what a rule
 * answered.
 *
 * ## Outcomes
 * | outcome           | the rule ...                              | live, the coordinator ... |
 * |-------------------|-------------------------------------------|---------------------------|
 * | `directive`       | answered a directive (`step.directive`)   | applies limits, carries it out |
 * | `pass`            | answered `undefined`                       | asks the next rule        |
 * | `no-reply`        | (machine) handled the event without `reply` | times out, default decides |
 * | `not-a-directive` | answered something else (`step.value`)     | falls back to the default |
 * | `threw`           | threw (`step.error`); a machine then ends   | falls back to the default |
 * | `async`           | (function rule) answered a promise         | waits; not enumerable here |
 *
 * A path ends early where a machine reaches a final state or throws: live,
 * the next failure goes to a fresh actor from the initial state.
 *
 * ## Time
 * The k-th failure of a path (k from 0) is its input with `at` moved by
 * `k * stepMs` (default 0), so rules with windows can be walked across time.
 */
import { getShortestPaths, getSimplePaths } from '@xstate/graph';
import { type AnyActorLogic, type AnyActorScope, type AnyEventObject, type Snapshot, createEmptyActor, fromTransition } from 'xstate';
import { REPLY, type ReplyHandle } from '../../actors/reply.js';
import { InvalidArgumentError } from '../../errors.js';
import { nullLogger } from '../../log.js';
import { isActorLogic } from '../childSpec.js';
import { toDirective } from './directive.js';
import { FAILURE_EVENT } from './machineRule.js';
import type { Directive, FailureReport, Rule, RuleAnswer, RuleContext } from '../types.js';

export type RuleStepOutcome = 'directive' | 'pass' | 'no-reply' | 'not-a-directive' | 'threw' | 'async';

export interface RuleStep {
  /** The failure the rule was given (with `at` moved by `stepMs`). */
  readonly report: FailureReport;
  readonly outcome: RuleStepOutcome;
  /** Set when `outcome` is `directive`. */
  readonly directive?: Directive;
  /** What was answered, when `outcome` is `not-a-directive`. */
  readonly value?: unknown;
  /** What was thrown, when `outcome` is `threw`. */
  readonly error?: unknown;
  /** A machine rule's state value after the step. */
  readonly state?: unknown;
  /** A machine rule's context after the step. */
  readonly context?: unknown;
}

export interface RulePath {
  readonly steps: readonly RuleStep[];
  /** A machine rule reached a final state or threw: its actor would be spawned afresh. */
  readonly ended: boolean;
}

export interface RulePathOptions {
  /** `simple` (default): every path that repeats no state. `shortest`: one shortest path to each reachable state. */
  readonly paths?: 'simple' | 'shortest';
  /** Longest run of failures walked. Default 4. */
  readonly maxFailures?: number;
  /** Clock ms between consecutive failures of a path. Default 0. */
  readonly stepMs?: number;
  /** A machine rule's input. */
  readonly input?: unknown;
  /** Given to function rules as `ctx.system`, for the few that need one. */
  readonly system?: RuleContext['system'];
}

const DEFAULT_MAX_FAILURES = 4;

/** Every path `rule` can take over `reports` (see the module comment). Paths of at least one step, in traversal order. */
export function rulePaths(rule: Rule | AnyActorLogic, reports: readonly FailureReport[], options: RulePathOptions = {}): RulePath[] {
  if (!Array.isArray(reports) || reports.length === 0) throw new InvalidArgumentError('reports', 'must be a non-empty array of failure reports');
  const maxFailures = options.maxFailures ?? DEFAULT_MAX_FAILURES;
  if (!Number.isSafeInteger(maxFailures) || maxFailures < 1) throw new InvalidArgumentError('maxFailures', 'must be an integer >= 1');
  const stepMs = options.stepMs ?? 0;
  if (typeof stepMs !== 'number' || !Number.isFinite(stepMs) || stepMs < 0) throw new InvalidArgumentError('stepMs', 'must be a number >= 0');
  const mode = options.paths ?? 'simple';
  if (mode !== 'simple' && mode !== 'shortest') throw new InvalidArgumentError('paths', "must be 'simple' or 'shortest'");
  const at = (r: FailureReport, k: number): FailureReport => (stepMs === 0 ? r : { ...r, at: r.at + k * stepMs });

  const logic = machineOf(rule);
  if (logic !== undefined) return machinePaths(logic, reports, { mode, maxFailures, at, input: options.input });
  const r = rule as Rule;
  if (typeof r !== 'object' || r === null || typeof r.decide !== 'function') {
    throw new InvalidArgumentError('rule', 'must be a rule { name, decide } or XState actor logic');
  }
  if (typeof r.replica !== 'function') {
    throw new InvalidArgumentError('rule', `rule ${r.name} has no replica(): each path must start from a fresh rule`);
  }
  return functionPaths(r, reports, { mode, maxFailures, at, system: options.system });
}

function machineOf(rule: Rule | AnyActorLogic): AnyActorLogic | undefined {
  if (isActorLogic(rule)) return rule;
  const logic = (rule as { logic?: unknown } | null)?.logic;
  return isActorLogic(logic) ? logic : undefined;
}

interface Walk {
  readonly mode: 'simple' | 'shortest';
  readonly maxFailures: number;
  readonly at: (r: FailureReport, k: number) => FailureReport;
}

function traverse<L extends AnyActorLogic>(logic: L, walk: Walk, options: Record<string, unknown>): { events: AnyEventObject[]; end: unknown }[] {
  const found = walk.mode === 'simple' ? getSimplePaths(logic, options) : getShortestPaths(logic, options);
  return found.map((p) => ({ events: p.steps.map((s) => s.event as AnyEventObject).filter((e) => e !== undefined && e.type !== 'xstate.init'), end: p.state }));
}

// ── machine rules ─────────────────────────────────────────────────────────

type AnySnapshot = Snapshot<unknown> & { value?: unknown; context?: unknown };

function machinePaths(logic: AnyActorLogic, reports: readonly FailureReport[], walk: Walk & { input: unknown }): RulePath[] {
  const serialize = (s: AnySnapshot): string => JSON.stringify({ status: s.status, value: s.value, context: s.context });
  // Depth of each snapshot the traversal reaches, so the walk stops at maxFailures.
  const depth = new WeakMap<object, number>();
  // Events that leave a state as it was. Simple paths never take them (they
  // revisit the state), yet what the rule answers there counts: a state that
  // answers `restart` to every failure is the rule's most important path.
  const loops = new Map<string, AnyEventObject[]>();
  const bounded = Object.create(logic, {
    transition: {
      value: (s: AnySnapshot, e: AnyEventObject, scope: AnyActorScope) => {
        const next = logic.transition(s, e, scope) as AnySnapshot;
        if (!depth.has(next)) depth.set(next, (depth.get(s) ?? 0) + 1);
        const from = serialize(s);
        if (serialize(next) === from) {
          const list = loops.get(from) ?? [];
          list.push(e);
          loops.set(from, list);
        }
        return next;
      },
    },
  }) as AnyActorLogic;
  const found = traverse(bounded, walk, {
    input: walk.input,
    events: (s: AnySnapshot) => {
      const k = depth.get(s) ?? 0;
      return reports.map((r) => ({ type: FAILURE_EVENT, report: walk.at(r, k) }));
    },
    stopWhen: (s: AnySnapshot) => s.status !== 'active' || (depth.get(s) ?? 0) >= walk.maxFailures,
    serializeState: serialize,
  });
  const eventsPaths: AnyEventObject[][] = [];
  for (const { events, end } of found) {
    if (events.length > 0) eventsPaths.push(events);
    for (const e of loops.get(serialize(end as AnySnapshot)) ?? []) eventsPaths.push([...events, e]);
  }
  const seen = new Set<string>();
  const out: RulePath[] = [];
  for (const events of eventsPaths) {
    const path = runMachine(logic, events, walk.input);
    // A throw cuts a path short, so several walked paths can end in the same run.
    const key = JSON.stringify(path.steps.map((s) => [s.report, s.outcome, s.directive, s.state, s.context]));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(path);
  }
  return out;
}

/** Run the events for real, actions executed, capturing each reply. */
function runMachine(logic: AnyActorLogic, events: readonly AnyEventObject[], input: unknown): RulePath {
  const scope = executingScope();
  let snapshot = logic.getInitialSnapshot(scope, input) as AnySnapshot;
  const steps: RuleStep[] = [];
  for (const e of events) {
    const report = (e as unknown as { report: FailureReport }).report;
    let answered = false;
    let value: unknown;
    let rejected: { error: unknown } | undefined;
    const handle: ReplyHandle = {
      resolve(v) {
        if (answered) return;
        answered = true;
        value = v;
      },
      reject(err) {
        if (answered) return;
        answered = true;
        rejected = { error: err };
      },
    };
    let next: AnySnapshot;
    try {
      next = logic.transition(snapshot, { ...e, [REPLY]: handle }, scope) as AnySnapshot;
    } catch (err) {
      steps.push({ report, outcome: 'threw', error: err });
      return { steps, ended: true };
    }
    if (next.status === 'error') {
      steps.push({ report, outcome: 'threw', error: (next as { error?: unknown }).error });
      return { steps, ended: true };
    }
    const after = { state: next.value, context: next.context };
    if (rejected !== undefined) steps.push({ report, outcome: 'threw', error: rejected.error, ...after });
    else if (!answered) steps.push({ report, outcome: 'no-reply', ...after });
    else steps.push({ report, ...classify(value), ...after });
    snapshot = next;
    if (next.status !== 'active') return { steps, ended: true };
  }
  return { steps, ended: false };
}

/** An actor scope that executes the user's actions (so `reply` runs) and skips XState's own (sends, spawns). */
function executingScope(): AnyActorScope {
  const self = createEmptyActor();
  return {
    self,
    system: self.system,
    id: '',
    sessionId: 'halyard.rule-paths',
    logger: () => {},
    defer: () => {},
    emit: () => {},
    stopChild: () => {},
    actionExecutor: (action: { type: string; info: unknown; params: unknown; exec?: (info: unknown, params: unknown) => void }) => {
      if (action.exec === undefined || action.type.startsWith('xstate.')) return;
      action.exec(action.info, action.params);
    },
  } as unknown as AnyActorScope;
}

// ── function rules ────────────────────────────────────────────────────────

function functionPaths(rule: Rule, reports: readonly FailureReport[], walk: Walk & { system: RuleContext['system'] | undefined }): RulePath[] {
  // The state of a function rule, as far as the walker can know it: which inputs it has seen, in order.
  const seenLogic = fromTransition((seen: readonly number[], e: { type: string; index: number }) => [...seen, e.index], [] as readonly number[]);
  const indexEvents = reports.map((_, index) => ({ type: FAILURE_EVENT, index }));
  const sequences = traverse(seenLogic, walk, {
    events: indexEvents,
    stopWhen: (s: { context: readonly number[] }) => s.context.length >= walk.maxFailures,
    serializeState: (s: { context: readonly number[] }) => s.context.join(','),
  });
  return sequences.filter((p) => p.events.length > 0).map(({ events }) => runFunction(rule, events.map((e) => (e as unknown as { index: number }).index), reports, walk));
}

function runFunction(rule: Rule, indices: readonly number[], reports: readonly FailureReport[], walk: Walk & { system: RuleContext['system'] | undefined }): RulePath {
  const replica = rule.replica!();
  const steps: RuleStep[] = [];
  indices.forEach((index, k) => {
    const report = walk.at(reports[index]!, k);
    const ctx = contextFor(report.at, walk.system);
    let answer: RuleAnswer | Promise<RuleAnswer>;
    try {
      answer = replica.decide(report, ctx);
    } catch (err) {
      steps.push({ report, outcome: 'threw', error: err });
      return;
    }
    if (typeof (answer as { then?: unknown } | undefined)?.then === 'function') steps.push({ report, outcome: 'async' });
    else steps.push({ report, ...classify(answer) });
  });
  void replica.close?.();
  return { steps, ended: false };
}

function contextFor(now: number, system: RuleContext['system'] | undefined): RuleContext {
  return {
    now,
    logger: nullLogger(),
    get system(): RuleContext['system'] {
      if (system === undefined) throw new InvalidArgumentError('system', 'this rule uses ctx.system: pass rulePaths(rule, reports, { system })');
      return system;
    },
  };
}

function classify(value: unknown): Pick<RuleStep, 'outcome' | 'directive' | 'value'> {
  if (value === undefined) return { outcome: 'pass' };
  const directive = toDirective(value);
  return directive === undefined ? { outcome: 'not-a-directive', value } : { outcome: 'directive', directive };
}
