/**
 * Supervision for one node: the Recovery Coordinator, supervisors and
 * monitors, wired to the node's actor system.
 *
 * ```ts
 * const supervision = new Supervision(system, { rules: [exponentialBackoff({ initialMs: 100, maxMs: 30_000 })] });
 * const sup = supervision.supervise({ strategy: 'one_for_one', children: [...] }, { name: 'app' });
 * const { down } = supervision.monitor('db');
 * ```
 *
 * The node exposes these as `node.supervise`, `node.coordinator` and
 * `node.monitor`.
 */
import type { ActorSystem } from '../actors/ActorSystem.js';
import { assertName } from '../actors/names.js';
import type { ActorRef, LocalActorRef } from '../actors/types.js';
import { InvalidSpecError, describe } from '../errors.js';
import type { EventSink } from '../events.js';
import { assertFunction, assertKnownKeys, assertOptionsObject, assertPositiveInteger, assertPositiveMs, at, kindOf } from '../options.js';
import { DEFAULT_RULE } from './policy/otpPolicy.js';
import { validateSupervisorSpec } from './childSpec.js';
import { monitor } from './monitor.js';
import { type CoordinatorOptions, RecoveryCoordinator } from './RecoveryCoordinator.js';
import { type SuperviseOptions, SupervisorImpl } from './Supervisor.js';
import type { Down, MonitorHandle, RemoteStarter, Rule, Supervisor, SupervisorSpec } from './types.js';

export interface SupervisionOptions {
  /** Rules consulted ahead of the OTP default policy, in order. */
  readonly rules?: readonly Rule[];
  /** Decisions kept in the coordinator's log. Default 10 000. */
  readonly decisionLogSize?: number;
  /** How long an asynchronous rule may take, ms. Default 5000. */
  readonly ruleTimeout?: number;
}

const SUPERVISION_KEYS = ['rules', 'decisionLogSize', 'ruleTimeout'];

/**
 * Validate {@link SupervisionOptions} without building anything, so a node
 * can refuse them before it connects. Errors name the field under `path`
 * (`supervision.decisionLogSize`, `supervision.rules[1].decide`).
 */
export function assertSupervisionOptions(options: unknown, path = 'supervision'): void {
  if (options === undefined) return;
  assertOptionsObject(options, path, '{ rules?, decisionLogSize?, ruleTimeout? }');
  assertKnownKeys(options, path, SUPERVISION_KEYS);
  if (options.decisionLogSize !== undefined) assertPositiveInteger(options.decisionLogSize, at(path, 'decisionLogSize'));
  if (options.ruleTimeout !== undefined) assertPositiveMs(options.ruleTimeout, at(path, 'ruleTimeout'));
  const rules = options.rules;
  if (rules === undefined) return;
  if (!Array.isArray(rules)) throw new InvalidSpecError(at(path, 'rules'), `must be an array of rules { name, decide }, got ${kindOf(rules)}`);
  const names = new Set<string>([DEFAULT_RULE]);
  rules.forEach((rule: unknown, i) => {
    const field = at(path, `rules[${i}]`);
    assertOptionsObject(rule, field, '{ name, decide }');
    if (typeof rule.name !== 'string' || rule.name.length === 0) throw new InvalidSpecError(`${field}.name`, 'must be a non-empty string');
    if (names.has(rule.name)) throw new InvalidSpecError(`${field}.name`, `a rule named ${rule.name} is already installed`);
    names.add(rule.name);
    assertFunction(rule.decide, `${field}.decide`, 'a function (report, context) => answer');
  });
}

/** A top-level supervisor that ended abnormally. */
export interface GaveUp {
  readonly supervisor: string;
  readonly error: unknown;
}

const MAX_GAVE_UP = 16;

export class Supervision {
  readonly system: ActorSystem;
  readonly coordinator: RecoveryCoordinator;
  private readonly roots = new Set<SupervisorImpl>();
  private readonly all = new Map<string, SupervisorImpl>();
  private remote: RemoteStarter | undefined;
  /** Top-level supervisors that gave up, newest last, bounded. */
  private readonly gaveUp: GaveUp[] = [];
  private readonly events: EventSink | undefined;

  /** `events` (internal) is the node's event stream, given to the coordinator and every supervisor. */
  constructor(system: ActorSystem, options: SupervisionOptions = {}, events?: EventSink) {
    this.system = system;
    this.events = events;
    const coordinatorOptions: CoordinatorOptions = {
      rules: options.rules,
      decisionLogSize: options.decisionLogSize,
      ruleTimeout: options.ruleTimeout,
      events,
    };
    this.coordinator = new RecoveryCoordinator(system, coordinatorOptions);
  }

  /**
   * Validate `spec` in full, then start the supervisor and its children in
   * order. Throws `InvalidSpecError` (nothing started) for an invalid spec
   * and `DuplicateNameError` if `name` is taken. A child that fails to start
   * does not throw: the supervisor stops the others and `stopped` resolves
   * `{ reason: 'error' }`.
   */
  supervise(spec: SupervisorSpec, options: SuperviseOptions = {}): Supervisor {
    const resolved = validateSupervisorSpec(spec);
    assertOptionsObject(options, 'options', '{ name? }', {
      instead: (v) => (typeof v === 'string' ? `to name the supervisor, pass { name: ${JSON.stringify(v)} }` : undefined),
    });
    assertKnownKeys(options, '', ['name'], { internal: ['_direct', '_history'] });
    if (options.name !== undefined) {
      try {
        assertName(options.name);
      } catch (err) {
        throw new InvalidSpecError('name', describe(err));
      }
    }
    const sup = new SupervisorImpl(this.system, this.coordinator, resolved, { ...options, registry: this.all, remote: this.remote, events: this.events });
    this.roots.add(sup);
    void sup.stopped.then((exit) => {
      this.roots.delete(sup);
      if (exit.reason !== 'error' && sup.gaveUp === undefined) return;
      // A node's health must say its tree is gone (OTP would stop the application).
      this.gaveUp.push({ supervisor: sup.label, error: exit.error ?? sup.gaveUp });
      if (this.gaveUp.length > MAX_GAVE_UP) this.gaveUp.shift();
    });
    return sup;
  }

  /** @internal Installed by the cluster: how remote children (`start: { type }`) are started. */
  _setRemote(remote: RemoteStarter | undefined): void {
    this.remote = remote;
  }

  /** Watch an actor: one `Down` when it ends (see monitor.ts). */
  monitor(target: LocalActorRef | string, listener?: (down: Down) => void): MonitorHandle {
    return monitor(this.system, target, listener);
  }

  /** The live supervisor (top-level or nested) whose actor is `ref` (a ref, an actor id or a name). */
  get(ref: ActorRef | string): Supervisor | undefined {
    if (typeof ref !== 'string') return this.all.get(ref.id);
    return this.all.get(ref) ?? this.all.get(this.system.lookup(ref)?.id ?? '');
  }

  /**
   * Top-level supervisors that gave up (intensity reached, escalated, or ended `error`), oldest
   * first; at most the last 16. A node's Check at level >= 10 reports them.
   */
  gaveUpSupervisors(): readonly GaveUp[] {
    return this.gaveUp;
  }

  /** Top-level supervisors still running, oldest first. */
  supervisors(): Supervisor[] {
    return [...this.roots];
  }

  /**
   * Stop every top-level supervisor, newest first, then the coordinator.
   * Call this before stopping the node's remaining actors: stopping a
   * supervised child from outside counts as a failure and restarts it.
   */
  async shutdown(): Promise<void> {
    for (const sup of [...this.roots].reverse()) await sup.stop();
    await this.coordinator.close();
  }
}

export { RecoveryCoordinator, COORDINATOR_NAME, DEFAULT_RULE_TIMEOUT, type CoordinatorOptions } from './RecoveryCoordinator.js';
export { SupervisorImpl, type SuperviseOptions } from './Supervisor.js';
export { monitor, DOWN_TYPE } from './monitor.js';
export { machineRule, FAILURE_EVENT, type FailureEvent, type MachineRule, type MachineRuleOptions } from './policy/machineRule.js';
export {
  exponentialBackoff,
  giveUpAfter,
  ocfClassRule,
  startOnFailure,
  type ExponentialBackoffOptions,
  type GiveUpAfterOptions,
  type OcfClassRuleOptions,
  type StartOnFailureOptions,
} from './policy/rules.js';
export { DEFAULT_RULE, otpPolicy, otpAnswer, limitIntensity, wouldRestart, type Limited } from './policy/otpPolicy.js';
export { RESTART, RESTART_BYPASS, STOP, ESCALATE, IGNORE, restartAfter, toDirective, directivesEqual } from './policy/directive.js';
export { addRestart, wouldExceed, inWindow, type RestartCheck } from './policy/intensity.js';
export { planRestart, type RestartPlan } from './policy/strategy.js';
export {
  validateSupervisorSpec,
  validateChildSpec,
  isActorLogic,
  DEFAULT_INTENSITY,
  DEFAULT_PERIOD,
  DEFAULT_STRATEGY,
  DEFAULT_AUTO_SHUTDOWN,
  DEFAULT_RESTART,
  DEFAULT_WORKER_SHUTDOWN,
  DEFAULT_SUPERVISOR_SHUTDOWN,
  type ResolvedChildSpec,
  type ResolvedSupervisorSpec,
  type ResolvedStart,
} from './childSpec.js';
export { DecisionLog, DEFAULT_DECISION_LOG_SIZE } from './DecisionLog.js';
export { toDecisionLines, parseDecisionLines, parseDecisionLine } from './decisionLines.js';
export { replayDecisions, type ReplayEnv } from './replay.js';
export { runChain, type Verdict, type ChainEnv } from './policy/ruleChain.js';
export * from './types.js';
