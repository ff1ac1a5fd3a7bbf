/**
 * The Recovery Coordinator: supervisors detect and report, the coordinator
 * decides.
 *
 * Every child exit that its supervisor did not cause becomes a
 * {@link FailureReport} handed to the node's coordinator, which answers a
 * {@link Directive} that the supervisor carries out. The call is a direct
 * method call (no transport, no mailbox): `decide()` returns the directive
 * synchronously unless a rule answers with a promise, so a local restart
 * never waits for a microtask it does not need.
 *
 * ## Rules
 * Rules are consulted in the order they were added, all ahead of the OTP
 * default policy (otpPolicy.ts). A rule answers a directive, or `undefined` to
 * pass. A rule that throws, rejects, times out (`ruleTimeout` on the node's
 * clock) or answers something that is not a directive is logged, recorded as
 * `fallback` on the decision, and the default policy decides: a broken rule
 * never crashes a supervisor and never leaves a child undecided.
 *
 * ## Limits
 * Intensity bounds every restart, whichever rule chose it: after a rule (or
 * the default policy) answers `restart` or `restart-after`, a restart that
 * would exceed the supervisor's intensity within its period becomes OTP's
 * outcome, `escalate`, and the supervisor gives up (otpPolicy.ts
 * `limitIntensity`, the one place this is decided). Without this, a rule
 * that always restarts would loop a crashing child forever. A rule that owns
 * the bound itself (a backoff paired with `giveUpAfter`) opts out per answer
 * with `{ type: 'restart', bypassIntensity: true }`; such a restart is also
 * left out of the supervisor's restart history, so it does not use up the
 * intensity of the restarts that are bounded.
 *
 * ## Decision log
 * Every decision is recorded `{ seq, at, input, directive, rule }` in a ring
 * of `decisionLogSize` entries (default 10 000) and can be queried with
 * `decisions({ since, childId, supervisor })`. A restart answer also records
 * `limits: { intensity: 'within' | 'exceeded' | 'bypassed' }`, and when a
 * limit replaced the answer, `overridden` holds what the rule answered.
 *
 * ## As an actor
 * The coordinator is also an actor on the node, named `_coordinator`, so it
 * answers Check and Status like any other; its Status carries the rule names
 * and decision counts.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/ActorSystem.js';
import { type LocalActorRef, SHUTDOWN_EVENT } from '../actors/types.js';
import type { TimerHandle } from '../clock.js';
import { InvalidArgumentError, TimeoutError, describe, toLogError, toWireError } from '../errors.js';
import type { Logger } from '../log.js';
import { DecisionLog, DEFAULT_DECISION_LOG_SIZE } from './DecisionLog.js';
import { DIRECTIVE_TYPES, toDirective } from './policy/directive.js';
import { DEFAULT_RULE, limitIntensity, otpAnswer } from './policy/otpPolicy.js';
import type {
  DecisionLimits,
  DecisionQuery,
  DecisionRecord,
  DecisionStats,
  Directive,
  DirectiveType,
  FailureReport,
  IntensityLimit,
  Rule,
  RuleAnswer,
  RuleContext,
} from './types.js';

export const COORDINATOR_NAME = '_coordinator';
export const DEFAULT_RULE_TIMEOUT = 5000;

export interface CoordinatorOptions {
  /** Rules consulted ahead of the default policy, in order. */
  readonly rules?: readonly Rule[];
  /** Decisions kept in the log. Default 10 000. */
  readonly decisionLogSize?: number;
  /** How long an asynchronous rule may take before the default decides, in ms. Default 5000. */
  readonly ruleTimeout?: number;
  /** Name of the coordinator's actor. Default `_coordinator`. */
  readonly name?: string;
}

const coordinatorLogic = setup({}).createMachine({
  id: 'halyard.coordinator',
  initial: 'running',
  states: {
    running: { on: { [SHUTDOWN_EVENT]: 'stopped' } },
    stopped: { type: 'final' },
  },
});

// Shared and frozen: one per outcome rather than one object per decision.
const LIMITS: Readonly<Record<IntensityLimit, DecisionLimits>> = {
  within: Object.freeze({ intensity: 'within' }),
  exceeded: Object.freeze({ intensity: 'exceeded' }),
  bypassed: Object.freeze({ intensity: 'bypassed' }),
};

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export class RecoveryCoordinator {
  /** The coordinator's actor (Check/Status). */
  readonly ref: LocalActorRef;
  private readonly system: ActorSystem;
  private readonly log: Logger;
  private readonly ruleList: Rule[] = [];
  private readonly decisionLog: DecisionLog;
  private readonly ruleTimeout: number;
  private readonly byDirective: Record<DirectiveType, number> = { restart: 0, 'restart-after': 0, stop: 0, escalate: 0, ignore: 0 };
  private readonly byRule = new Map<string, number>();
  private ruleErrors = 0;

  constructor(system: ActorSystem, options: CoordinatorOptions = {}) {
    const size = options.decisionLogSize ?? DEFAULT_DECISION_LOG_SIZE;
    if (!Number.isSafeInteger(size) || size < 1) throw new InvalidArgumentError('decisionLogSize', 'must be a positive integer');
    const timeout = options.ruleTimeout ?? DEFAULT_RULE_TIMEOUT;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidArgumentError('ruleTimeout', 'must be a positive number of ms');
    }
    this.system = system;
    this.decisionLog = new DecisionLog(size);
    this.ruleTimeout = timeout;
    this.log = system.logger.child({ node: system.node, component: 'coordinator' });
    for (const rule of options.rules ?? []) this.addRule(rule);
    this.ref = system.spawn(coordinatorLogic, {
      name: options.name ?? COORDINATOR_NAME,
      statusExtra: () => ({ rules: this.rules(), decisions: this.stats() }),
    });
  }

  /** Add a rule after the ones already added (all run ahead of the default policy). */
  addRule(rule: Rule): void {
    if (typeof rule !== 'object' || rule === null) throw new InvalidArgumentError('rule', 'must be an object { name, decide }');
    if (typeof rule.name !== 'string' || rule.name.length === 0) throw new InvalidArgumentError('rule.name', 'must be a non-empty string');
    if (typeof rule.decide !== 'function') throw new InvalidArgumentError('rule.decide', 'must be a function');
    if (rule.name === DEFAULT_RULE || this.ruleList.some((r) => r.name === rule.name)) {
      throw new InvalidArgumentError('rule.name', `a rule named ${rule.name} is already installed`);
    }
    this.ruleList.push(rule);
  }

  /** Remove the rule named `name` (and release it). Returns false if there was none. */
  async removeRule(name: string): Promise<boolean> {
    const i = this.ruleList.findIndex((r) => r.name === name);
    if (i < 0) return false;
    const [rule] = this.ruleList.splice(i, 1);
    await this.closeRule(rule!);
    return true;
  }

  /** Rule names in the order they are consulted, ending with the default policy. */
  rules(): string[] {
    return [...this.ruleList.map((r) => r.name), DEFAULT_RULE];
  }

  /**
   * Decide what to do with a failure. Synchronous while every rule consulted
   * answers synchronously. Never throws, never rejects.
   */
  decide(report: FailureReport): Directive | Promise<Directive> {
    const rules = this.ruleList;
    if (rules.length === 0) return this.record(report, otpAnswer(report), DEFAULT_RULE, undefined);
    // A snapshot: a rule added or removed while an async rule is pending
    // does not shift which rule is consulted next.
    return this.consult(report, rules.slice(), 0, undefined);
  }

  /** Recorded decisions matching `query`, oldest first. */
  decisions(query?: DecisionQuery): DecisionRecord[] {
    return this.decisionLog.query(query);
  }

  stats(): DecisionStats {
    let total = 0;
    for (const t of DIRECTIVE_TYPES) total += this.byDirective[t];
    return {
      total,
      byDirective: { ...this.byDirective },
      byRule: Object.fromEntries(this.byRule),
      ruleErrors: this.ruleErrors,
      logged: this.decisionLog.size,
      logCapacity: this.decisionLog.capacity,
    };
  }

  /** Release every rule and stop the coordinator's actor. Decisions still work afterwards (default policy and rules left). */
  async close(): Promise<void> {
    const rules = this.ruleList.splice(0);
    for (const rule of rules) await this.closeRule(rule);
    await this.ref.stop();
  }

  private context(): RuleContext {
    return { system: this.system, now: this.system.clock.now(), logger: this.log };
  }

  private consult(report: FailureReport, rules: readonly Rule[], from: number, ctx: RuleContext | undefined): Directive | Promise<Directive> {
    for (let i = from; i < rules.length; i++) {
      const rule = rules[i]!;
      ctx ??= this.context();
      let answer: RuleAnswer | Promise<RuleAnswer>;
      try {
        answer = rule.decide(report, ctx);
      } catch (err) {
        return this.fallback(report, rule, err);
      }
      if (isThenable(answer)) return this.awaitRule(report, rules, i, ctx, answer);
      if (answer === undefined) continue;
      const directive = toDirective(answer);
      if (!directive) return this.fallback(report, rule, notADirective(rule, answer));
      return this.record(report, directive, rule.name, undefined);
    }
    return this.record(report, otpAnswer(report), DEFAULT_RULE, undefined);
  }

  private async awaitRule(
    report: FailureReport,
    rules: readonly Rule[],
    i: number,
    ctx: RuleContext,
    pending: PromiseLike<RuleAnswer>,
  ): Promise<Directive> {
    const rule = rules[i]!;
    let answer: unknown;
    try {
      answer = await this.withTimeout(rule, pending);
    } catch (err) {
      return this.fallback(report, rule, err);
    }
    if (answer === undefined) return this.consult(report, rules, i + 1, ctx);
    const directive = toDirective(answer);
    if (!directive) return this.fallback(report, rule, notADirective(rule, answer));
    return this.record(report, directive, rule.name, undefined);
  }

  private withTimeout<T>(rule: Rule, pending: PromiseLike<T>): Promise<T> {
    const clock = this.system.clock;
    return new Promise<T>((resolve, reject) => {
      let timer: TimerHandle | undefined = clock.setTimer(() => {
        timer = undefined;
        reject(new TimeoutError(`rule ${rule.name}`, this.ruleTimeout));
      }, this.ruleTimeout);
      const done = (): void => {
        if (timer !== undefined) clock.clearTimer(timer);
        timer = undefined;
      };
      pending.then(
        (v) => {
          done();
          resolve(v);
        },
        (err) => {
          done();
          reject(err);
        },
      );
    });
  }

  private fallback(report: FailureReport, rule: Rule, err: unknown): Directive {
    this.ruleErrors++;
    const error = toWireError(err);
    this.log.error({ rule: rule.name, err: error, report: { supervisor: report.supervisor, childId: report.childId } }, 'rule failed; default policy decides');
    return this.record(report, otpAnswer(report), DEFAULT_RULE, { rule: rule.name, error });
  }

  /** Apply the limits to `answer`, log the decision and return what the supervisor is to do. */
  private record(report: FailureReport, answer: Directive, rule: string, fallback: DecisionRecord['fallback']): Directive {
    const { directive, intensity } = limitIntensity(report, answer);
    const seq = this.decisionLog.nextSeq;
    const at = this.system.clock.now();
    const entry: { -readonly [K in keyof DecisionRecord]: DecisionRecord[K] } = { seq, at, input: report, directive, rule };
    if (fallback !== undefined) entry.fallback = fallback;
    if (intensity !== undefined) entry.limits = LIMITS[intensity];
    if (directive !== answer) entry.overridden = answer;
    this.decisionLog.append(entry);
    this.byDirective[directive.type]++;
    this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1);
    return directive;
  }

  private async closeRule(rule: Rule): Promise<void> {
    try {
      await rule.close?.();
    } catch (err) {
      this.log.error({ rule: rule.name, err: toLogError(err) }, 'rule close failed');
    }
  }
}

function notADirective(rule: Rule, answer: unknown): InvalidArgumentError {
  let shown: string;
  try {
    shown = JSON.stringify(answer) ?? describe(answer);
  } catch {
    shown = describe(answer);
  }
  return new InvalidArgumentError('directive', `rule ${rule.name} answered ${shown.slice(0, 200)}, which is not a directive`);
}
