/**
 * Supervision vocabulary: child specs, supervisor flags, failure reports and
 * directives. OTP's names and defaults throughout (supervisor.erl).
 *
 * ## Supervisor flags
 * | key           | mandatory | default        | values |
 * |---------------|-----------|----------------|--------|
 * | `strategy`    | no        | `one_for_one`  | `one_for_one`, `one_for_all`, `rest_for_one`, `simple_one_for_one` |
 * | `intensity`   | no        | 1              | integer >= 0: restarts allowed within `period` |
 * | `period`      | no        | 5000           | ms, integer >= 1 |
 * | `autoShutdown`| no        | `never`        | `never`, `any_significant`, `all_significant` |
 * | `children`    | no        | `[]`           | child specs; exactly one (the template) for `simple_one_for_one` |
 *
 * ## Child spec
 * | key           | mandatory | default                          | values |
 * |---------------|-----------|----------------------------------|--------|
 * | `id`          | yes       |                                  | non-empty string, unique among siblings |
 * | `start`       | yes       |                                  | XState logic, `{ logic, input? }`, or a `SupervisorSpec` when `type: 'supervisor'` |
 * | `restart`     | no        | `permanent`                      | `permanent`, `transient`, `temporary` |
 * | `shutdown`    | no        | 5000 (worker), `infinity` (supervisor) | `brutal_kill`, ms >= 0, `infinity` |
 * | `type`        | no        | `worker`                         | `worker`, `supervisor` |
 * | `significant` | no        | false                            | true only for transient/temporary children, and only with autoShutdown != never |
 * | `name`        | no        | none                             | registered name for the child actor (reachable by name) |
 * | `mailbox`     | no        | node default                     | mailbox options for the child |
 * | `node`        | no        | none                             | cluster: the node the child runs on; needs `start: { type, input? }` |
 * | `placement`   | no        | `pinned` with `node`, else `any` | cluster: `pinned` (only `node`) or `any` (`node` preferred, else the coordinator picks a live node) |
 * | `monitor`     | no        | none                             | `{ every, level?, timeout? }`: a recurring Check (ms; level 0, 10 or 20, default 0; timeout default `every`). 190 is reported as `degraded`, a failure code or no answer as a failure (childMonitor.ts) |
 * | `check`       | no        | none                             | the child's own Check function (spawn option `check`); logic children only |
 *
 * A remote child (`start: { type, input? }`, a service type registered by
 * name on the nodes that can run it) is supervised like a local one; if its
 * node goes down, the report's reason is `nodedown` (abnormal, as OTP treats
 * a lost node).
 */
import type { AnyActorLogic } from 'xstate';
import type { ActorSystem } from '../actors/ActorSystem.js';
import type { MailboxOptions } from '../actors/Mailbox.js';
import type { CheckFn, CheckLevel } from '../actors/ocf.js';
import type { ActorRef, ExitReason, LocalActorRef, Shutdown } from '../actors/types.js';
import type { WireError } from '../errors.js';
import type { Logger } from '../log.js';

export const Strategy = {
  OneForOne: 'one_for_one',
  OneForAll: 'one_for_all',
  RestForOne: 'rest_for_one',
  SimpleOneForOne: 'simple_one_for_one',
} as const;
export type Strategy = (typeof Strategy)[keyof typeof Strategy];

export const RestartType = {
  Permanent: 'permanent',
  Transient: 'transient',
  Temporary: 'temporary',
} as const;
export type RestartType = (typeof RestartType)[keyof typeof RestartType];

export const AutoShutdown = {
  Never: 'never',
  AnySignificant: 'any_significant',
  AllSignificant: 'all_significant',
} as const;
export type AutoShutdown = (typeof AutoShutdown)[keyof typeof AutoShutdown];

export type ChildType = 'worker' | 'supervisor';

export interface SupervisorSpec {
  readonly strategy?: Strategy;
  readonly intensity?: number;
  readonly period?: number;
  readonly autoShutdown?: AutoShutdown;
  readonly children?: readonly ChildSpec[];
}

/** A child that runs a registered service type, on this node or another (cluster only). */
export interface RemoteChildStart {
  readonly type: string;
  readonly input?: unknown;
}

export type ChildStart = AnyActorLogic | { readonly logic: AnyActorLogic; readonly input?: unknown } | RemoteChildStart | SupervisorSpec;

export type ChildPlacement = 'pinned' | 'any';

export interface ChildSpec {
  readonly id: string;
  readonly start: ChildStart;
  readonly restart?: RestartType;
  readonly shutdown?: Shutdown;
  readonly type?: ChildType;
  readonly significant?: boolean;
  readonly name?: string;
  readonly mailbox?: MailboxOptions;
  readonly node?: string;
  readonly placement?: ChildPlacement;
  readonly monitor?: ChildMonitor;
  readonly check?: CheckFn;
}

/** A recurring Check of a child (Pacemaker's recurring monitor). */
export interface ChildMonitor {
  /** ms between checks (from one answer to the next check). */
  readonly every: number;
  /** OCF depth asked: 0, 10 or 20. Default 0. */
  readonly level?: CheckLevel;
  /** ms to wait for an answer before the check counts as failed. Default `every`. */
  readonly timeout?: number;
}

export type ChildStatus = 'running' | 'restarting' | 'terminated';

export interface ChildInfo {
  readonly id: string;
  readonly ref: LocalActorRef | undefined;
  readonly type: ChildType;
  readonly restart: RestartType;
  readonly status: ChildStatus;
}

export interface ChildCounts {
  readonly specs: number;
  readonly active: number;
  readonly supervisors: number;
  readonly workers: number;
}

/** How a supervisor ended. `shutdown` covers both a requested stop and giving up after too many restarts. */
export interface SupervisorExit {
  readonly reason: 'normal' | 'shutdown' | 'error';
  readonly error?: unknown;
}

/**
 * Why a child ended, as a supervisor reports it: an actor exit reason,
 * `nodedown` for a remote child whose node was lost, or `degraded`: the
 * child's recurring Check answered 190 and it is still running (the default
 * policy leaves it so; a rule may restart or stop it).
 */
export type FailureReason = ExitReason | 'nodedown' | 'degraded';

/** What a supervisor reports to the Recovery Coordinator (OTP's supervisor, context, reason, offender). */
export interface FailureReport {
  readonly type: 'halyard.supervision.failure.v1';
  readonly node: string;
  /** The reporting supervisor's name or id. */
  readonly supervisor: string;
  readonly strategy: Strategy;
  readonly childId: string;
  readonly childType: ChildType;
  readonly restart: RestartType;
  readonly significant: boolean;
  /** `nodedown`: a remote child's node was declared down. */
  readonly reason: FailureReason;
  readonly error?: WireError;
  /** OCF exit code carried by the error (`error.ocf`), if any. */
  readonly ocf?: number;
  /** Clock times of the supervisor's restarts still inside `period`, oldest first; restarts that bypassed intensity are not in it. */
  readonly history: readonly number[];
  readonly intensity: number;
  readonly period: number;
  /** Clock time of the report. */
  readonly at: number;
  /** Set when the child's recurring monitor reported this (a `degraded` answer, or a failed check). */
  readonly check?: CheckReport;
}

/** What a child's recurring monitor heard. */
export interface CheckReport {
  readonly level: CheckLevel;
  /** The OCF code answered; absent when the check timed out. */
  readonly code?: number;
  readonly reason: string;
  readonly timedOut?: boolean;
}

/**
 * `restart` and `restart-after` count toward the supervisor's intensity like
 * any restart: one too many and the coordinator turns the answer into OTP's
 * (`escalate`: the supervisor gives up). `bypassIntensity: true` opts this
 * one restart out: it is neither checked against intensity nor added to the
 * supervisor's restart history, so the rule answering it owns the bound
 * (with `giveUpAfter`, say).
 */
export type Directive =
  | { readonly type: 'restart'; readonly bypassIntensity?: boolean }
  | { readonly type: 'restart-after'; readonly ms: number; readonly bypassIntensity?: boolean }
  | { readonly type: 'stop' }
  | { readonly type: 'escalate' }
  | { readonly type: 'ignore' };
export type DirectiveType = Directive['type'];

export interface Decision {
  readonly seq: number;
  readonly at: number;
  readonly input: FailureReport;
  readonly directive: Directive;
  /** Name of the rule that decided (`otp-default` for the default policy). */
  readonly rule: string;
}

// ── Added with the supervision implementation (additive; nothing above changed) ──

/** Where a supervisor is in its life. See the lifecycle diagram in Supervisor.ts. */
export type SupervisorPhase = 'running' | 'stopping' | 'stopped';

/**
 * A running supervisor (OTP `supervisor` API). Every call that changes the
 * tree is serialized with the supervisor's own failure handling, so calls
 * and child exits are carried out in the order they arrive.
 */
export interface Supervisor {
  /** The supervisor's own actor: it answers Check and Status like any actor. */
  readonly ref: LocalActorRef;
  readonly name: string | undefined;
  /** How reports and logs name this supervisor: its name, else `<parent>/<childId>` when nested, else its actor id. */
  readonly label: string;
  readonly strategy: Strategy;
  readonly phase: SupervisorPhase;
  /** Resolves once the supervisor and all its children have ended. Never rejects. */
  readonly stopped: Promise<SupervisorExit>;
  /**
   * Set once the supervisor gives up rather than being asked to stop: OTP's
   * `{shutdown, reached_max_restart_intensity}`, or a rule that escalated.
   */
  readonly gaveUp: 'reached_max_restart_intensity' | 'escalated' | undefined;
  /** Children in start order (OTP `which_children/1`). */
  whichChildren(): ChildInfo[];
  /** OTP `count_children/1`. */
  countChildren(): ChildCounts;
  /** Add and start a child spec (OTP `start_child/2`); resolves with the child's actor. */
  startChild(spec: ChildSpec): Promise<LocalActorRef>;
  /** `simple_one_for_one`: start an instance of the template with this input (the template's input when omitted). */
  startChild(input?: unknown): Promise<LocalActorRef>;
  /** Stop a child; its spec is kept unless it is temporary or a `simple_one_for_one` instance (OTP `terminate_child/2`). */
  terminateChild(target: string | ActorRef): Promise<void>;
  /** Start a terminated child again from its spec (OTP `restart_child/2`). */
  restartChild(id: string): Promise<LocalActorRef>;
  /** Remove a terminated child's spec (OTP `delete_child/2`). */
  deleteChild(id: string): Promise<void>;
  /** The nested supervisor running as child `id`, if that child is a running supervisor spec. */
  childSupervisor(id: string): Supervisor | undefined;
  /** Stop all children in reverse start order, then the supervisor; resolves with {@link stopped}. */
  stop(): Promise<SupervisorExit>;
  /**
   * Resolves when no operation is queued or running in this supervisor or its
   * subtree and the node's dispatcher is idle. Pending `restart-after` timers
   * do not count: they wait on the clock. For tests and tools.
   */
  whenIdle(): Promise<void>;
}

/** What a rule may answer: a directive, or `undefined` to pass to the next rule. */
export type RuleAnswer = Directive | undefined;

/** What a rule gets besides the report. */
export interface RuleContext {
  /** The node's actor system (rules built from machines spawn their actor here). */
  readonly system: ActorSystem;
  /** Clock time of the decision. */
  readonly now: number;
  readonly logger: Logger;
}

/**
 * A recovery rule, consulted ahead of the OTP default policy. Answer
 * synchronously when you can: the supervisor's fast path stays synchronous
 * only while every rule does.
 *
 * A `restart` or `restart-after` answer is still bounded by the supervisor's
 * intensity: if it would be one restart too many within `period`, the
 * coordinator carries out OTP's outcome instead (`escalate`: the supervisor
 * gives up) and logs the decision with `limits: { intensity: 'exceeded' }`
 * and the rule's answer as `overridden`. To opt one answer out, add
 * `bypassIntensity: true` (`{ type: 'restart', bypassIntensity: true }`);
 * that restart is logged as `bypassed` and left out of the restart history.
 */
export interface Rule {
  /** Unique among a coordinator's rules; recorded with each decision it makes. */
  readonly name: string;
  decide(report: FailureReport, ctx: RuleContext): RuleAnswer | Promise<RuleAnswer>;
  /** Release what the rule holds (actors, timers). Called when it is removed or the coordinator closes. */
  close?(): void | Promise<void>;
  /**
   * A fresh copy of this rule: same options, no remembered state, no side
   * effects beyond deciding. `coordinator.replay()` decides with replicas so
   * that replaying never changes the live rule. A rule without one is used
   * as it is, which is right for a rule that keeps no state.
   */
  replica?(): Rule;
}

/**
 * How a restart answer fared against the supervisor's intensity:
 * `within` (carried out), `exceeded` (replaced by OTP's outcome, `escalate`),
 * `bypassed` (the answer opted out with `bypassIntensity`).
 */
export type IntensityLimit = 'within' | 'exceeded' | 'bypassed';

/** The limits the coordinator applied to an answer. Set only for `restart` and `restart-after` answers. */
export interface DecisionLimits {
  readonly intensity: IntensityLimit;
}

/** A decision as the log keeps it. `fallback` is set when a rule failed and the default policy decided instead. */
export interface DecisionRecord extends Decision {
  readonly fallback?: { readonly rule: string; readonly error: WireError };
  /** The limits applied to a restart answer. */
  readonly limits?: DecisionLimits;
  /** What `rule` answered, when a limit replaced it with `directive`. */
  readonly overridden?: Directive;
  /** The `now` rules were given, when it was not `input.at` (so replay gives them the same). */
  readonly now?: number;
  /**
   * Set when a restart was decided but could not be carried out: the
   * before-restart hook (a service's setup for its next incarnation) failed,
   * so the supervisor was told `stop` and the child ended. Absent: carried
   * out as decided. Not an input of replay: the decision itself stands.
   */
  readonly outcome?: DecisionOutcome;
}

/** What became of a decided restart whose setup failed ({@link DecisionRecord.outcome}). */
export interface DecisionOutcome {
  readonly type: 'restart-failed';
  /** Clock time the failure was known. */
  readonly at: number;
  /** What the supervisor was told instead. */
  readonly directive: Directive;
  readonly reason: string;
}

/** A logged decision that comes out differently when replayed (`coordinator.replay`). */
export interface ReplayDifference {
  /** The decision as it was logged. */
  readonly decision: DecisionRecord;
  /** What the replayed rules decided, limits applied. */
  readonly directive: Directive;
  /** The rule that answered in the replay. */
  readonly rule: string;
  readonly limits?: DecisionLimits;
  /** What `rule` answered in the replay, when a limit replaced it. */
  readonly overridden?: Directive;
  /** Set when a rule failed in the replay and the default policy answered instead. */
  readonly failedRule?: string;
}

export interface DecisionQuery {
  /** Only decisions with `seq` greater than this (a cursor: pass the last `seq` you saw). */
  readonly since?: number;
  readonly childId?: string;
  /** The reporting supervisor's label. */
  readonly supervisor?: string;
}

/** Decision counts, as the coordinator's Status reports them. */
export interface DecisionStats {
  readonly total: number;
  readonly byDirective: Readonly<Record<DirectiveType, number>>;
  readonly byRule: Readonly<Record<string, number>>;
  /** Rules that threw, timed out or answered something that is not a directive. */
  readonly ruleErrors: number;
  readonly logged: number;
  readonly logCapacity: number;
}

/** The one notification a monitor delivers (OTP's `'DOWN'` message). */
export interface Down {
  readonly type: 'halyard.down.v1';
  readonly id: string;
  readonly name: string | undefined;
  /** `noproc` when the target did not exist when the monitor was set. */
  readonly reason: ExitReason | 'noproc';
  readonly error?: unknown;
}

export interface MonitorHandle {
  /** Resolves once with the target's end. Stays pending after `cancel()`. */
  readonly down: Promise<Down>;
  /** Stop watching: no notification after this. Idempotent. */
  cancel(): void;
}

/** A remote child's start, resolved (see childSpec.ts). */
export interface RemoteStart {
  readonly type: string;
  readonly input: unknown;
  readonly node: string | undefined;
  readonly placement: ChildPlacement;
}

/**
 * Turns a remote child into a local stand-in actor (supplied by the cluster):
 * the stand-in starts the instance on a node, ends as the instance ends, and
 * fails with a `NodeDownError` when its node is lost. Stopping it stops the
 * instance. @internal
 */
export type RemoteStarter = (
  start: RemoteStart,
  child: { readonly name: string | undefined; readonly restart: RestartType; readonly supervisor: string; readonly childId: string },
) => { readonly logic: AnyActorLogic; readonly input: unknown };
