/**
 * The Recovery Coordinator: supervisors detect and report, the coordinator
 * decides.
 *
 * Every child exit that its supervisor did not cause becomes a
 * {@link FailureReport} handed to the node's coordinator, which answers a
 * {@link Directive} that the supervisor carries out. The call is a direct
 * method call (no transport, no mailbox): `decide()` returns the directive
 * synchronously unless a rule answers with a promise (or a before-restart
 * hook is installed for the supervisor, below), so a local restart never
 * waits for a microtask it does not need.
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
 * The log is replayable (Pacemaker's `crm_simulate`): a decision keeps its
 * whole input (the report, which carries the restart history inside the
 * window, intensity, period and clock time; and the rules' `now` when it was
 * not the report's), so `replay(decisions, rules?)` runs rules again on it
 * and returns the decisions that would differ (replay.ts).
 * `exportDecisions(query?)` writes the log as JSON lines and
 * `parseDecisionLines` reads them back, validating each field
 * (decisionLines.ts).
 *
 * ## Service reports
 * Every service instance reports its lifecycle here, as Halon's services
 * report to theirs: `started` (with its config), `could-not-start` (reason
 * and OCF code), `failed`, `exited` and `config-changed`. `report()` keeps
 * each one `{ seq, kind, service, instance, node, at, config?, reason?,
 * ocf? }` in a ring of the last `serviceReportLogSize` (default 10 000) and
 * emits it as a `service.*` event (src/events.ts); `reports({ since,
 * service, instance, kind })` reads them back, oldest first. A config is
 * kept with the value of every key named like a secret (password, secret,
 * token, key, credential) replaced by `[redacted]`, so neither the log nor
 * the Status of the coordinator can leak one. Reports inform; they decide
 * nothing: restarts are still decided on failure reports, above.
 *
 * ## Before a restart
 * `_beforeRestart(supervisor, hook)` (internal; the services layer's) runs
 * `hook(report)` after a `restart` or `restart-after` decision for that
 * supervisor and before the supervisor carries it out: a service instance
 * tears its resource down and sets it up again there, so each incarnation
 * has its own. The decision is logged as decided; a hook that answers
 * `false` (setup failed) or throws turns it into `stop` for the supervisor,
 * and the logged decision gets `outcome: { type: 'restart-failed', at,
 * directive: stop, reason }`, so the log does not claim a restart that
 * never happened.
 *
 * ## As an actor
 * The coordinator is also an actor on the node, named `_coordinator`, so it
 * answers Check and Status like any other; its Status carries the rule names
 * and decision counts.
 */
import { setup } from 'xstate';
import type { ActorSystem } from '../actors/ActorSystem.js';
import { type LocalActorRef, SHUTDOWN_EVENT } from '../actors/types.js';
import { InvalidArgumentError, toLogError, toWireError } from '../errors.js';
import { type EventBody, type EventSink, EventType } from '../events.js';
import type { Logger } from '../log.js';
import { DecisionLog, DEFAULT_DECISION_LOG_SIZE } from './DecisionLog.js';
import { type ServiceReport, type ServiceReportInput, type ServiceReportQuery, redactConfig } from './reports.js';
import { toDecisionLines } from './decisionLines.js';
import { DIRECTIVE_TYPES } from './policy/directive.js';
import { DEFAULT_RULE, limitIntensity } from './policy/otpPolicy.js';
import { replayDecisions } from './replay.js';
import { type ChainEnv, type Verdict, runChain } from './policy/ruleChain.js';
import type {
  DecisionLimits,
  DecisionOutcome,
  DecisionQuery,
  DecisionRecord,
  DecisionStats,
  Directive,
  DirectiveType,
  FailureReport,
  IntensityLimit,
  ReplayDifference,
  Rule,
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
  /** Service reports kept (`reports()`). Default 10 000. */
  readonly serviceReportLogSize?: number;
  /** Name of the coordinator's actor. Default `_coordinator`. */
  readonly name?: string;
  /** @internal The node's event stream: each decision becomes a `recovery.decision` event (src/events.ts). */
  readonly events?: EventSink;
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

const SERVICE_EVENT = {
  started: EventType.ServiceStarted,
  'could-not-start': EventType.ServiceCouldNotStart,
  failed: EventType.ServiceFailed,
  exited: EventType.ServiceExited,
  'config-changed': EventType.ServiceConfigChanged,
} as const;

const STOP: Directive = Object.freeze({ type: 'stop' });

const NO_RULES: readonly Rule[] = Object.freeze([]);

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
  private readonly chain: ChainEnv;
  private readonly events: EventSink | undefined;
  private readonly serviceReports: ServiceReport[] = [];
  private readonly serviceReportLogSize: number;
  private serviceReportSeq = 0;
  private readonly restartHooks = new Map<string, (report: FailureReport) => Promise<boolean>>();

  constructor(system: ActorSystem, options: CoordinatorOptions = {}) {
    const size = options.decisionLogSize ?? DEFAULT_DECISION_LOG_SIZE;
    if (!Number.isSafeInteger(size) || size < 1) throw new InvalidArgumentError('decisionLogSize', 'must be a positive integer');
    const timeout = options.ruleTimeout ?? DEFAULT_RULE_TIMEOUT;
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new InvalidArgumentError('ruleTimeout', 'must be a positive number of ms');
    }
    const reportSize = options.serviceReportLogSize ?? DEFAULT_DECISION_LOG_SIZE;
    if (!Number.isSafeInteger(reportSize) || reportSize < 1) throw new InvalidArgumentError('serviceReportLogSize', 'must be a positive integer');
    this.serviceReportLogSize = reportSize;
    this.system = system;
    this.decisionLog = new DecisionLog(size);
    this.events = options.events;
    this.ruleTimeout = timeout;
    this.log = system.logger.child({ node: system.node, component: 'coordinator' });
    this.chain = { clock: system.clock, timeout, context: () => this.context() };
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
    // A snapshot: a rule added or removed while an async rule is pending
    // does not shift which rule is consulted next.
    const verdict = runChain(report, this.ruleList.length === 0 ? NO_RULES : this.ruleList.slice(), this.chain);
    const recorded = verdict instanceof Promise ? verdict.then((v) => this.record(report, v)) : this.record(report, verdict as Verdict);
    const hook = this.restartHooks.size === 0 ? undefined : this.restartHooks.get(report.supervisor);
    if (hook === undefined) return recorded instanceof Promise ? recorded.then((e) => e.directive) : recorded.directive;
    return Promise.resolve(recorded).then(async (entry) => {
      const d = entry.directive;
      if (d.type !== 'restart' && d.type !== 'restart-after') return d;
      let ok = false;
      let reason = 'the setup for the next incarnation failed';
      try {
        ok = await hook(report);
      } catch (err) {
        reason = `the before-restart hook threw: ${toLogError(err).message}`;
        this.log.error({ err: toLogError(err), supervisor: report.supervisor }, 'before-restart hook threw');
      }
      if (ok) return d;
      // The entry is the log's own record: readers of the log see what became of the restart.
      (entry as { outcome?: DecisionOutcome }).outcome = { type: 'restart-failed', at: this.system.clock.now(), directive: STOP, reason };
      return STOP;
    });
  }

  /** @internal Run `hook` before each restart this coordinator decides for `supervisor` (module comment). Returns its removal. */
  _beforeRestart(supervisor: string, hook: (report: FailureReport) => Promise<boolean>): () => void {
    this.restartHooks.set(supervisor, hook);
    return () => {
      if (this.restartHooks.get(supervisor) === hook) this.restartHooks.delete(supervisor);
    };
  }

  /**
   * Run rules again on the inputs of logged `decisions` (oldest first, as
   * {@link decisions} or `parseDecisionLines` give them) and return each
   * decision whose directive comes out differently, with the new answer.
   * `rules` defaults to the rules installed now; the default policy and the
   * intensity limit always apply, as they did live. Stateful rules decide
   * through their `replica()`, so a replay leaves the live rules as they
   * were (replay.ts). An empty result: these rules would have decided
   * exactly as logged.
   */
  replay(decisions: readonly DecisionRecord[], rules: readonly Rule[] = this.ruleList): Promise<ReplayDifference[]> {
    if (!Array.isArray(decisions)) return Promise.reject(new InvalidArgumentError('decisions', 'must be an array of decision records'));
    if (!Array.isArray(rules)) return Promise.reject(new InvalidArgumentError('rules', 'must be an array of rules { name, decide }'));
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i] as Partial<Rule> | null;
      if (typeof r !== 'object' || r === null || typeof r.name !== 'string' || typeof r.decide !== 'function') {
        return Promise.reject(new InvalidArgumentError(`rules[${i}]`, 'must be a rule { name, decide }'));
      }
    }
    const log = this.log.child({ replay: true });
    return replayDecisions(decisions, rules.slice(), {
      clock: this.system.clock,
      timeout: this.ruleTimeout,
      logger: log,
      context: (now) => ({ system: this.system, now, logger: log }),
    });
  }

  /** The decisions matching `query` as JSON lines, one record per line (read back with `parseDecisionLines`). */
  exportDecisions(query?: DecisionQuery): string {
    return toDecisionLines(this.decisionLog.query(query));
  }

  /** Recorded decisions matching `query`, oldest first. */
  decisions(query?: DecisionQuery): DecisionRecord[] {
    return this.decisionLog.query(query);
  }

  /** Record a service instance's report (module comment, "Service reports") and emit it as a `service.*` event. */
  report(input: ServiceReportInput): ServiceReport {
    const entry: ServiceReport = {
      seq: ++this.serviceReportSeq,
      kind: input.kind,
      service: input.service,
      instance: input.instance,
      node: input.node,
      at: input.at,
      ...(input.config === undefined ? {} : { config: redactConfig(input.config) }),
      ...(input.reason === undefined ? {} : { reason: input.reason }),
      ...(input.ocf === undefined ? {} : { ocf: input.ocf }),
    };
    this.serviceReports.push(entry);
    if (this.serviceReports.length > this.serviceReportLogSize) this.serviceReports.shift();
    this.events?.({
      type: SERVICE_EVENT[entry.kind],
      report: entry.seq,
      service: entry.service,
      instance: entry.instance,
      ...(entry.reason === undefined ? {} : { reason: entry.reason }),
      ...(entry.ocf === undefined ? {} : { ocf: entry.ocf }),
    } as EventBody);
    return entry;
  }

  /** Kept service reports matching `query`, oldest first. */
  reports(query: ServiceReportQuery = {}): ServiceReport[] {
    if (typeof query !== 'object' || query === null) throw new InvalidArgumentError('query', 'must be { since?, service?, instance?, kind? }');
    return this.serviceReports.filter(
      (r) =>
        (query.since === undefined || r.seq > query.since) &&
        (query.service === undefined || r.service === query.service) &&
        (query.instance === undefined || r.instance === query.instance) &&
        (query.kind === undefined || r.kind === query.kind),
    );
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

  /** Apply the limits to the chain's verdict, log the decision and return it (its directive: what the supervisor is to do). */
  private record(report: FailureReport, verdict: Verdict): DecisionRecord {
    const { answer, rule, failed } = verdict;
    let fallback: DecisionRecord['fallback'];
    if (failed !== undefined) {
      this.ruleErrors++;
      const error = toWireError(failed.error);
      this.log.error({ rule: failed.rule, err: error, report: { supervisor: report.supervisor, childId: report.childId } }, 'rule failed; default policy decides');
      fallback = { rule: failed.rule, error };
    }
    const { directive, intensity } = limitIntensity(report, answer);
    const seq = this.decisionLog.nextSeq;
    const at = this.system.clock.now();
    const entry: { -readonly [K in keyof DecisionRecord]: DecisionRecord[K] } = { seq, at, input: report, directive, rule };
    if (fallback !== undefined) entry.fallback = fallback;
    if (intensity !== undefined) entry.limits = LIMITS[intensity];
    if (directive !== answer) entry.overridden = answer;
    // Rules read `now` from their context; kept only when it is not the report's own time, so replay gives them the same.
    if (verdict.now !== undefined && verdict.now !== report.at) entry.now = verdict.now;
    this.decisionLog.append(entry);
    this.events?.({
      type: 'recovery.decision',
      decision: seq,
      supervisor: report.supervisor,
      childId: report.childId,
      reason: report.reason,
      directive: directive.type,
      rule,
    });
    this.byDirective[directive.type]++;
    this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1);
    return entry;
  }

  private async closeRule(rule: Rule): Promise<void> {
    try {
      await rule.close?.();
    } catch (err) {
      this.log.error({ rule: rule.name, err: toLogError(err) }, 'rule close failed');
    }
  }
}
