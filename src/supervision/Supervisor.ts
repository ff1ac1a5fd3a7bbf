/**
 * Supervisor: OTP's `supervisor` behaviour for Halyard actors.
 *
 * ```ts
 * const sup = supervision.supervise({ strategy: 'one_for_one', intensity: 1, period: 5000,
 *   children: [
 *     { id: 'db', start: dbMachine, restart: 'permanent', shutdown: 5000 },
 *     { id: 'api', start: { logic: apiMachine, input: { port: 0 } }, restart: 'transient' },
 *     { id: 'jobs', start: jobsSupervisorSpec, type: 'supervisor' },
 *   ] }, { name: 'app' });
 * ```
 *
 * ## Supervisor flags
 * | key            | mandatory | default       | meaning |
 * |----------------|-----------|---------------|---------|
 * | `strategy`     | no        | `one_for_one` | `one_for_one`: restart only the child that ended. `one_for_all`: stop the others (last started first), restart all. `rest_for_one`: stop those started after it, restart it and them. `simple_one_for_one`: one template, instances added with `startChild(input)`, each restarted alone. |
 * | `intensity`    | no        | 1             | integer >= 0: restarts allowed within `period`; one more and the supervisor gives up |
 * | `period`       | no        | 5000          | integer ms >= 1, on the node's clock (policy/intensity.ts) |
 * | `autoShutdown` | no        | `never`       | `any_significant`: end when a significant child ends and is not restarted. `all_significant`: when the last such child does. Not with `simple_one_for_one`. |
 * | `children`     | no        | `[]`          | child specs in start order; exactly one (the template) for `simple_one_for_one` |
 *
 * ## Child spec
 * | key           | mandatory | default                              | meaning |
 * |---------------|-----------|--------------------------------------|---------|
 * | `id`          | yes       |                                      | non-empty string, unique among siblings |
 * | `start`       | yes       |                                      | XState logic, `{ logic, input? }`, or a `SupervisorSpec` (with `type: 'supervisor'`) for a nested tree |
 * | `restart`     | no        | `permanent`                          | `permanent`: always restarted. `transient`: restarted unless it ended `normal` or `shutdown`. `temporary`: never restarted; its spec is deleted when it ends. |
 * | `shutdown`    | no        | 5000 (worker), `infinity` (supervisor) | `brutal_kill`: killed at once. ms: sent `halyard.shutdown`, killed if not ended in time (logic that does not handle it stops at once). `infinity`: no deadline. |
 * | `type`        | no        | `worker`                             | `worker` or `supervisor` |
 * | `significant` | no        | false                                | for `autoShutdown`; only transient/temporary children, only when `autoShutdown` is not `never` |
 * | `name`        | no        | none                                 | registered name on the node (taken again by each restart) |
 * | `mailbox`     | no        | node default                         | mailbox options |
 * | `monitor`     | no        | none                                 | `{ every, level?, timeout? }`: a recurring Check on the clock. 190 is reported as `degraded` (default: log only); a failure code or no answer by `timeout` stops the child and reports a failure (childMonitor.ts) |
 * | `check`       | no        | none                                 | the child's own Check function (spawn option `check`) |
 *
 * Specs are validated in full (nested trees included) before anything starts;
 * errors are `InvalidSpecError` naming the field (childSpec.ts).
 *
 * ## Supervisors detect and report; the coordinator decides
 * A child exit the supervisor did not cause itself becomes a `FailureReport`
 * to the node's Recovery Coordinator, which answers a directive (policy/directive.ts)
 * that the supervisor carries out. With no rules installed the answer is
 * OTP's: permanent restarts, transient restarts on abnormal exits, temporary
 * never, and more than `intensity` restarts within `period` escalates. The
 * bound holds for restarts a rule chose too, unless the rule's answer carries
 * `bypassIntensity: true` (RecoveryCoordinator.ts); such a restart is not
 * added to the restart history either. Exits
 * the supervisor caused (terminateChild, stopping siblings for a restart, its
 * own shutdown) are never reported: the supervisor stops watching a child
 * before it stops it.
 *
 * Exit reasons as the supervisor sees them: `normal` (final state), `error`
 * (the logic threw), `shutdown` (stopped by someone else, in time) and
 * `killed` (brutally stopped by someone else), which is abnormal, as in OTP;
 * and `nodedown` for a remote child lost with its node, which its stand-in's
 * exit signal says as a value (`ExitSignal.nodeDown`).
 *
 * ## Children
 * Children are root actors spawned with `system.spawn`, never XState children
 * of the supervisor; each is watched with `onExit`. They start in order and
 * stop in reverse order, each with its own `shutdown` (`simple_one_for_one`
 * instances stop all at once, as OTP's do). A child whose logic throws while
 * starting has failed to start: at init the supervisor stops the children
 * already started and ends with `{ reason: 'error' }`; during a restart it is
 * marked `restarting` and retried as OTP's `try_again_restart` is, each retry
 * a report that counts toward intensity.
 *
 * ## Killed from outside
 * A supervisor's actor killed by someone else (`brutal_kill`, or a parent's
 * shutdown time running out) ends `killed` at once, but its children are
 * not killed with it: as OTP's children trap the exit their link carries,
 * they are stopped in reverse start order, each with its own `shutdown`, and
 * a nested supervisor among them stops its own children the same way. Only
 * a child that was already being stopped is killed (OTP would leave it
 * running, unlinked). `stopped` resolves `{ reason: 'error' }` once all of
 * that is done, and the parent handles the `killed` end only then, so a
 * restart never runs beside the old subtree.
 *
 * ## Serialization
 * Child exits, API calls, delayed restarts and shutdown run one at a time
 * through an operation queue (OperationQueue.ts), in arrival order, as the
 * messages of OTP's supervisor process do. Every step checks that the child
 * it acts on is the incarnation it was queued for, so a crash during a
 * restart, a stop during a start or a terminate racing an exit never starts a
 * child twice, loses a failure or leaves an actor behind.
 *
 * ## Lifecycle
 * ```
 *            supervise()
 *                │ children started in order
 *                ▼              child exit ─► report ─► directive ─► restart / ignore / stop
 *   ┌─────── running ◄──────────────┘
 *   │            │ stop(), the actor's halyard.shutdown, intensity reached,
 *   │            │ auto shutdown, or a child failing to start at init
 *   │            ▼
 *   │        stopping ── children stopped in reverse order (each with its shutdown)
 *   │            ▼
 *   │        stopped ── actor ends (shutdown, or error after a failed start)
 *   │            │      `stopped` resolves { reason: 'shutdown' | 'error' }
 *   └─ actor killed from outside ─► children stopped in reverse order, each with its shutdown
 *                                   (a nested supervisor stops its own) ─► `stopped` resolves { reason: 'error' }
 * ```
 * A supervisor never ends with `normal`; `SupervisorExit.reason` keeps that
 * value for the contract's sake only.
 */
import { exitActor, tellControl } from '../actors/ActorCell.js';
import type { ActorSystem } from '../actors/ActorSystem.js';
import { type CheckLevel, OCF, type UserCheckAnswer } from '../actors/ocf.js';
import type { ActorRef, ExitReason, ExitSignal, LocalActorRef } from '../actors/types.js';
import {
  ActorNotRunningError,
  AlreadyStartedError,
  ChildRunningError,
  InvalidArgumentError,
  NoSuchChildError,
  SupervisorError,
  describe,
  toLogError,
} from '../errors.js';
import type { EventSink } from '../events.js';
import type { Logger } from '../log.js';
import type { ResolvedChildSpec, ResolvedSupervisorSpec } from './childSpec.js';
import { validateChildSpec } from './childSpec.js';
import { type ChildRecord, ChildTable, type Detached, inputOf } from './children.js';
import { type MonitorVerdict, checkFailure, checkReport, startChildMonitor } from './childMonitor.js';
import { OperationQueue } from './OperationQueue.js';
import { addRestart, inWindow, wouldExceed } from './policy/intensity.js';
import { otpPolicy } from './policy/otpPolicy.js';
import { type RestartPlan, planRestart } from './policy/strategy.js';
import type { RecoveryCoordinator } from './RecoveryCoordinator.js';
import { type Reporter, failureReport, logChildEnd, otpReport, statusFields } from './reports.js';
import { inShutdownOrder } from './shutdownOrder.js';
import { SUPERVISOR_TERMINATED, type SupervisorHooks, supervisorLogic } from './supervisorLogic.js';
import type {
  ChildCounts,
  ChildInfo,
  CheckReport,
  Directive,
  FailureReason,
  FailureReport,
  RemoteStarter,
  Strategy,
  Supervisor,
  SupervisorExit,
  SupervisorPhase,
} from './types.js';

export interface SuperviseOptions {
  /** Registered name of the supervisor's actor. */
  readonly name?: string;
  /**
   * Decide with the default policy inline instead of asking the coordinator
   * (no rules, no decision log). For the benchmark that prices the coordinator.
   * @internal
   */
  readonly _direct?: boolean;
  /**
   * Restart times (this node's clock) to begin with: a supervisor adopting
   * the watched set of one lost with its node carries its restart count on.
   * @internal
   */
  readonly _history?: readonly number[];
}

/**
 * How `Supervision` (and a parent, for a nested tree) creates a supervisor.
 * Public in the declarations because `SupervisorImpl`'s constructor names it.
 */
export interface SupervisorInit extends SuperviseOptions {
  readonly parent?: SupervisorImpl;
  readonly childId?: string;
  /** Every live supervisor of the tree by actor id (Supervision.get); nested supervisors join it too. */
  readonly registry?: Map<string, SupervisorImpl>;
  /** @internal Starts remote children (`start: { type }`); set by the cluster. Without it such a child fails to start. */
  readonly remote?: RemoteStarter | undefined;
  /** @internal The node's event stream (src/events.ts): child starts, exits, restarts and give-ups. */
  readonly events?: EventSink | undefined;
}

/**
 * Why a start did not happen; `cause` may be any thrown value, `undefined`
 * included. `cleanup` is set when a nested supervisor failed to start: it is
 * still stopping the children it did start, and OTP's `start_link` returns
 * only once they are gone, so whoever started it waits for this first.
 */
class StartFailure {
  constructor(
    readonly cause: unknown,
    readonly cleanup?: Promise<unknown>,
  ) {}
}

/** Run `then` once a failed start has been cleaned up: at once, or after its nested supervisor has stopped. */
function afterCleanup<T>(failure: StartFailure, then: () => T): T | Promise<T> {
  return failure.cleanup === undefined ? then() : failure.cleanup.then(then);
}

const SHUTDOWN_EXIT: SupervisorExit = Object.freeze({ reason: 'shutdown' });

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** OTP `shutdown/1`: the exit reasons that count as a clean stop for this child. */
function cleanStop(reason: ExitReason, spec: ResolvedChildSpec): boolean {
  if (reason === 'shutdown') return true;
  if (reason === 'killed') return spec.shutdown === 'brutal_kill';
  if (reason === 'normal') return spec.restart !== 'permanent';
  return false;
}

export class SupervisorImpl implements Supervisor {
  readonly ref: LocalActorRef;
  readonly name: string | undefined;
  readonly label: string;
  readonly strategy: Strategy;
  readonly stopped: Promise<SupervisorExit>;
  /** Set when a child failed to start at init; the supervisor is then stopping. @internal */
  readonly startError: SupervisorError | undefined;

  private readonly system: ActorSystem;
  private readonly coordinator: RecoveryCoordinator;
  private readonly spec: ResolvedSupervisorSpec;
  private readonly direct: boolean;
  private readonly registry: Map<string, SupervisorImpl> | undefined;
  private readonly remote: RemoteStarter | undefined;
  private readonly log: Logger;
  private readonly queue: OperationQueue;
  private readonly children: ChildTable;
  private readonly reporter: Reporter;
  /** Children being stopped right now (an emergency kill must reach them too). */
  private readonly stopping = new Set<LocalActorRef>();
  /** Nested supervisors that failed to start and are still cleaning up. */
  private readonly cleanup = new Set<Promise<SupervisorExit>>();
  /** Set while the children of a supervisor whose actor was killed are stopping (ownExit). */
  private dying: Promise<void> | undefined;
  private readonly template: ResolvedChildSpec | undefined;
  private resolveStopped!: (exit: SupervisorExit) => void;
  private phase_: SupervisorPhase = 'running';
  private stopRequested = false;
  private gaveUp_: 'reached_max_restart_intensity' | 'escalated' | undefined;
  private exitDecided: SupervisorExit | undefined;
  /** Clock times of restarts inside the window, oldest first; replaced, never mutated. */
  private history: readonly number[] = [];
  private instanceSeq = 0;
  private pendingRetries = 0;
  private readonly events: EventSink | undefined;
  /** Per child: how often it started and its last incarnation's actor, for the event stream. */
  private readonly incarnations = new WeakMap<ChildRecord, { starts: number; actor: string }>();

  constructor(system: ActorSystem, coordinator: RecoveryCoordinator, spec: ResolvedSupervisorSpec, init: SupervisorInit = {}) {
    this.system = system;
    this.coordinator = coordinator;
    this.spec = spec;
    this.strategy = spec.strategy;
    this.direct = init._direct === true;
    this.registry = init.registry;
    this.remote = init.remote;
    this.events = init.events;
    this.name = init.name;
    if (init._history !== undefined) this.history = [...init._history];
    this.stopped = new Promise((resolve) => {
      this.resolveStopped = resolve;
    });
    this.queue = new OperationQueue((err) => this.log.error({ err: toLogError(err) }, 'supervisor operation failed'));
    const hooks: SupervisorHooks = {
      // Deferred: this runs inside the actor's transition, and stopping
      // children from there would re-enter the dispatcher mid-step.
      shutdownRequested: () => system.scheduler.enqueueSystem(() => void this.requestStop(SHUTDOWN_EXIT)),
      isTerminated: () => this.phase_ === 'stopped',
    };
    this.ref = system.spawn(supervisorLogic, {
      name: init.name,
      input: hooks,
      statusExtra: () => this.statusExtra(),
      check: ({ level }) => this.health(level),
    });
    this.label = init.name ?? (init.parent !== undefined && init.childId !== undefined ? `${init.parent.label}/${init.childId}` : this.ref.id);
    this.log = system.logger.child({ node: system.node, supervisor: this.label });
    this.children = new ChildTable(system.clock);
    this.reporter = { node: system.node, label: this.label, strategy: spec.strategy, intensity: spec.intensity, period: spec.period };
    this.ref.onExit((exit) => this.ownExit(exit));
    if (this.registry !== undefined) {
      const registry = this.registry;
      registry.set(this.ref.id, this);
      void this.stopped.then(() => registry.delete(this.ref.id));
    }

    if (spec.strategy === 'simple_one_for_one') {
      this.template = spec.children[0];
      return;
    }
    for (const cs of spec.children) {
      const rec = this.children.add(cs.id, cs);
      const failure = this.startRecord(rec);
      if (failure !== undefined) {
        this.children.delete(cs.id);
        this.log.error({ report: otpReport(this.label, 'start_error', describe(failure.cause), rec) }, 'child failed to start');
        // OTP init_children/2: stop what started, fail with {shutdown, {failed_to_start_child, Id, Reason}}.
        this.startError = this.startFailed(cs.id, failure.cause);
        void this.requestStop({ reason: 'error', error: this.startError });
        break;
      }
    }
  }

  /** Clock times of the restarts counted against intensity, oldest first (the cluster keeps them with a watched set). @internal */
  get _restarts(): readonly number[] {
    return this.history;
  }

  /** While the children of this supervisor, whose actor was killed, are still stopping. @internal */
  get _dying(): Promise<void> | undefined {
    return this.dying;
  }

  /** Why this supervisor gave up on its own (intensity reached, or a rule escalated), if it did. */
  get gaveUp(): 'reached_max_restart_intensity' | 'escalated' | undefined {
    return this.gaveUp_;
  }

  get phase(): SupervisorPhase {
    return this.phase_;
  }

  // ── queries ─────────────────────────────────────────────────────────────

  whichChildren(): ChildInfo[] {
    return this.children.infos();
  }

  countChildren(): ChildCounts {
    return this.children.counts(this.strategy === 'simple_one_for_one');
  }

  childSupervisor(id: string): Supervisor | undefined {
    return this.children.get(id)?.nested;
  }

  // ── API calls (serialized with failure handling) ────────────────────────

  startChild(arg?: unknown): Promise<LocalActorRef> {
    if (this.strategy === 'simple_one_for_one') return this.queue.run(() => this.startInstance(arg));
    let spec: ResolvedChildSpec;
    try {
      spec = validateChildSpec(arg, { autoShutdown: this.spec.autoShutdown, strategy: this.strategy });
    } catch (err) {
      return Promise.reject(err);
    }
    return this.queue.run(() => this.addChild(spec));
  }

  terminateChild(target: string | ActorRef): Promise<void> {
    if (typeof target !== 'string' && (typeof target !== 'object' || target === null)) {
      return Promise.reject(new InvalidArgumentError('target', 'must be a child id or an actor ref'));
    }
    return this.queue.run(async () => {
      this.assertRunning();
      const rec = this.children.find(target);
      if (rec === undefined) throw new NoSuchChildError(this.label, typeof target === 'string' ? target : target.id);
      await this.stopChild(rec);
      // OTP del_child/2: temporary specs and dynamic instances go; others stay, terminated.
      if (this.strategy === 'simple_one_for_one' || rec.spec.restart === 'temporary') this.children.remove(rec);
    });
  }

  restartChild(id: string): Promise<LocalActorRef> {
    if (this.strategy === 'simple_one_for_one') return Promise.reject(this.notForSimple('restartChild'));
    return this.queue.run(() => {
      const rec = this.stoppedChild(id);
      const failure = this.startRecord(rec);
      if (failure === undefined) return rec.ref!;
      return afterCleanup(failure, () => {
        throw this.startFailed(id, failure.cause);
      });
    });
  }

  deleteChild(id: string): Promise<void> {
    if (this.strategy === 'simple_one_for_one') return Promise.reject(this.notForSimple('deleteChild'));
    return this.queue.run(() => {
      this.stoppedChild(id);
      this.children.delete(id);
    });
  }

  stop(): Promise<SupervisorExit> {
    return this.requestStop(SHUTDOWN_EXIT);
  }

  /** The record of child `id`, which must exist and be neither running nor restarting (OTP: `running` / `restarting` errors). */
  private stoppedChild(id: string): ChildRecord {
    this.assertRunning();
    const rec = this.children.get(id);
    if (rec === undefined) throw new NoSuchChildError(this.label, id);
    if (rec.ref !== undefined) throw new ChildRunningError(this.label, id, 'running');
    if (rec.status === 'restarting') throw new ChildRunningError(this.label, id, 'restarting');
    return rec;
  }

  async whenIdle(): Promise<void> {
    const scheduler = this.system.scheduler;
    for (;;) {
      // setImmediate runs after every queued microtask, so the dispatcher has
      // had its turn by the time we look.
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (!scheduler.idle) continue;
      const busy = this._busy();
      if (busy === undefined) return;
      await busy;
    }
  }

  /** What this supervisor or its subtree is still doing, if anything. @internal */
  _busy(): Promise<unknown> | undefined {
    if (this.dying !== undefined) return this.dying;
    if (!this.queue.idle) return this.queue.whenIdle();
    if (this.pendingRetries > 0) return new Promise<void>((resolve) => setImmediate(resolve));
    if (this.cleanup.size > 0) return Promise.all(this.cleanup);
    for (const r of this.children.values()) {
      const busy = r.nested?._busy();
      if (busy !== undefined) return busy;
    }
    return undefined;
  }

  /** Sizes of the internal tables, for leak tests. @internal */
  _internals(): { children: number; timers: number; stopping: number; cleanup: number; queued: number; retries: number; history: number } {
    return {
      children: this.children.size,
      timers: this.children.timers,
      stopping: this.stopping.size,
      cleanup: this.cleanup.size,
      queued: this.queue.length,
      retries: this.pendingRetries,
      history: this.history.length,
    };
  }

  // ── starting ────────────────────────────────────────────────────────────

  private addChild(spec: ResolvedChildSpec): LocalActorRef | Promise<LocalActorRef> {
    this.assertRunning();
    const existing = this.children.get(spec.id);
    if (existing !== undefined) {
      if (existing.ref !== undefined) throw new AlreadyStartedError(this.label, spec.id, existing.ref);
      throw new AlreadyStartedError(this.label, spec.id, undefined, 'already_present');
    }
    const rec = this.children.add(spec.id, spec);
    const failure = this.startRecord(rec);
    if (failure !== undefined) {
      // OTP handle_start_child/2: a child that fails to start is not saved.
      this.children.delete(spec.id);
      return afterCleanup(failure, () => {
        throw this.startFailed(spec.id, failure.cause);
      });
    }
    return rec.ref!;
  }

  private startInstance(input: unknown): LocalActorRef | Promise<LocalActorRef> {
    this.assertRunning();
    const template = this.template!;
    const id = `${template.id}-${++this.instanceSeq}`;
    const rec = this.children.add(id, template, input === undefined ? inputOf(template) : input);
    const failure = this.startRecord(rec);
    if (failure !== undefined) {
      this.children.delete(id);
      return afterCleanup(failure, () => {
        throw this.startFailed(id, failure.cause);
      });
    }
    return rec.ref!;
  }

  /** Start `rec`'s next incarnation and watch it. */
  private startRecord(rec: ChildRecord): StartFailure | undefined {
    if (this.phase_ !== 'running') return new StartFailure(new ActorNotRunningError(this.label));
    const s = rec.spec;
    let ref: LocalActorRef;
    let nested: SupervisorImpl | undefined;
    try {
      if (s.start.kind === 'supervisor') {
        nested = new SupervisorImpl(this.system, this.coordinator, s.start.spec, {
          name: s.name,
          parent: this,
          childId: rec.id,
          _direct: this.direct,
          registry: this.registry,
          remote: this.remote,
          events: this.events,
        });
        if (nested.startError !== undefined) {
          // It stops what it started on its own; the failed start is over
          // only when that is done (and we must not end before it either).
          const done = nested.stopped;
          this.cleanup.add(done);
          void done.then(() => this.cleanup.delete(done));
          return new StartFailure(nested.startError, done);
        }
        ref = nested.ref;
      } else if (s.start.kind === 'remote') {
        if (this.remote === undefined) throw new InvalidArgumentError(`child ${rec.id}`, 'start: { type } needs a node with a cluster');
        const stand = this.remote(
          { type: s.start.type, input: rec.input, node: s.start.node, placement: s.start.placement },
          { name: s.name, restart: s.restart, supervisor: this.label, childId: rec.id },
        );
        // The stand-in does not take the child's name: the name belongs to the instance, wherever it runs.
        ref = this.system.spawn(stand.logic, { input: stand.input, mailbox: s.mailbox });
        const exit = ref.exit;
        if (exit !== undefined && exit.reason === 'error') return new StartFailure(exit.error);
      } else {
        ref = this.system.spawn(s.start.logic, s.check === undefined ? { name: s.name, input: rec.input, mailbox: s.mailbox } : { name: s.name, input: rec.input, mailbox: s.mailbox, check: s.check });
        // A throw in the initial state's entry is a failed start (OTP: init/1 crashed).
        const exit = ref.exit;
        if (exit !== undefined && exit.reason === 'error') return new StartFailure(exit.error);
      }
    } catch (err) {
      return new StartFailure(err);
    }
    this.children.started(rec, ref, nested, this.onChildExit);
    this.emitStarted(rec, ref);
    if (s.monitor !== undefined) {
      const epoch = rec.epoch;
      rec.stopMonitor = startChildMonitor(this.system.clock, ref, s.monitor, {
        verdict: (v) => this.queue.run(() => this.checkVerdict(rec, epoch, ref, v)).catch((err) => this.log.error({ err: toLogError(err) }, 'monitor verdict failed')),
      });
    }
    return undefined;
  }

  // ── failures ────────────────────────────────────────────────────────────

  /** A watched child's exit joins the operation queue; one function for every child. */
  private readonly onChildExit = (rec: ChildRecord, epoch: number, exit: ExitSignal): void => {
    this.queue.post(() => this.childExited(rec, epoch, exit));
  };

  private childExited(rec: ChildRecord, epoch: number, exit: ExitSignal): void | Promise<void> {
    if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch)) return;
    const dying = rec.nested?._dying;
    this.children.ended(rec);
    const reason = exit.nodeDown === true ? 'nodedown' : exit.reason;
    if (dying !== undefined) {
      // A nested supervisor killed from outside is still stopping its
      // children. Restarting it now would start a second tree beside the
      // first (their names clash): its end is handled once the old tree is gone.
      return dying.then(() => {
        if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch)) return;
        return this.reportAndApply(rec, reason, exit.error, 'child_terminated');
      });
    }
    return this.reportAndApply(rec, reason, exit.error, 'child_terminated');
  }

  /** Report an end to the coordinator and carry out the directive. */
  private reportAndApply(rec: ChildRecord, reason: FailureReason, error: unknown, context: string, check?: CheckReport): void | Promise<void> {
    const at = this.system.clock.now();
    const report = failureReport(this.reporter, rec, reason, error, inWindow(this.history, at, this.spec.period), at, check);
    logChildEnd(this.log, this.label, rec, report, error, context);
    this.events?.({
      type: 'supervisor.child.exited',
      supervisor: this.label,
      childId: rec.id,
      actor: this.incarnations.get(rec)?.actor ?? '',
      reason: report.reason,
      ...(report.error !== undefined ? { error: report.error.message } : {}),
    });
    let answer: Directive | Promise<Directive>;
    try {
      answer = this.direct ? otpPolicy(report) : this.coordinator.decide(report);
    } catch (err) {
      this.log.error({ err: toLogError(err) }, 'coordinator threw; default policy decides');
      answer = otpPolicy(report);
    }
    const epoch = rec.epoch;
    if (isThenable(answer)) {
      return answer.then(
        (d) => this.apply(rec, epoch, report, d),
        () => this.apply(rec, epoch, report, otpPolicy(report)),
      );
    }
    return this.apply(rec, epoch, report, answer);
  }

  private apply(rec: ChildRecord, epoch: number, report: FailureReport, d: Directive): void | Promise<void> {
    // An asynchronous decision can land after the supervisor was killed.
    if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch)) return;
    switch (d.type) {
      case 'restart':
        this.noteRestart(report.at, d.bypassIntensity);
        return this.restart(rec);
      case 'restart-after':
        this.noteRestart(report.at, d.bypassIntensity);
        this.restartLater(rec, d.ms);
        return;
      case 'escalate': {
        const why = wouldExceed(report.history, report.at, report.intensity, report.period) ? 'reached_max_restart_intensity' : 'escalated';
        this.log.error({ report: otpReport(this.label, 'shutdown', why, rec) }, 'supervisor gives up');
        this.dropIfTransientSpec(rec);
        this.gaveUp_ = why;
        this.events?.({ type: 'supervisor.gave_up', supervisor: this.label, reason: why });
        return this.terminate(SHUTDOWN_EXIT);
      }
      case 'stop':
        this.log.warn({ childId: rec.id }, 'giving up on child (directive stop)');
        return this.notRestarted(rec);
      default:
        return this.notRestarted(rec);
    }
  }

  private emitStarted(rec: ChildRecord, ref: LocalActorRef): void {
    const seen = this.incarnations.get(rec);
    const starts = (seen?.starts ?? 0) + 1;
    this.incarnations.set(rec, { starts, actor: ref.id });
    if (this.events === undefined) return;
    const fields = { supervisor: this.label, childId: rec.id, actor: ref.id };
    this.events(starts === 1 ? { type: 'supervisor.child.started', ...fields } : { type: 'supervisor.child.restarted', ...fields, restarts: starts - 1 });
  }

  /**
   * Add a restart to the intensity history. A restart that bypassed
   * intensity is left out: the history is what intensity is checked
   * against, and a rule that owns its own bound (a backoff with giveUpAfter)
   * must not use up the restarts its siblings are allowed.
   */
  private noteRestart(at: number, bypassIntensity: boolean | undefined): void {
    if (bypassIntensity === true) return;
    this.history = addRestart(this.history, at, this.spec.intensity, this.spec.period).history;
  }

  private restart(rec: ChildRecord): void | Promise<void> {
    if (this.strategy === 'one_for_one' || this.strategy === 'simple_one_for_one') {
      const failure = this.startRecord(rec);
      if (failure !== undefined) return afterCleanup(failure, () => this.retryLater(rec, failure.cause));
      return;
    }
    const plan = planRestart(this.strategy, this.children.ids(), rec.id, (id) => this.children.get(id)!.spec.restart === 'temporary');
    return this.restartGroup(plan);
  }

  private async restartGroup(plan: RestartPlan): Promise<void> {
    for (const id of plan.stop) {
      const r = this.children.get(id);
      if (r !== undefined) await this.stopChild(r);
    }
    for (const id of plan.remove) this.children.delete(id);
    for (const id of plan.start) {
      const r = this.children.get(id);
      if (r === undefined || r.ref !== undefined) continue;
      const failure = this.startRecord(r);
      if (failure !== undefined) {
        // OTP restart_multiple_children/3: the rest stay down until the retry restarts the group.
        if (failure.cleanup !== undefined) await failure.cleanup;
        this.retryLater(r, failure.cause);
        return;
      }
    }
  }

  /** OTP `try_again_restart`: the child is `restarting` and its failed start is reported again shortly. */
  private retryLater(rec: ChildRecord, cause: unknown): void {
    if (this.phase_ !== 'running') return;
    rec.status = 'restarting';
    this.log.error({ report: otpReport(this.label, 'start_error', describe(cause), rec) }, 'child failed to start');
    const epoch = rec.epoch;
    this.pendingRetries++;
    // OTP casts the retry to itself so that calls already waiting (a stop, a
    // terminate_child) go first; yielding to the event loop also keeps a
    // start that always fails, under a rule that always restarts, from
    // spinning the dispatcher.
    setImmediate(() => {
      this.pendingRetries--;
      this.queue.post(() => {
        if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch) || rec.status !== 'restarting') return;
        return this.reportAndApply(rec, 'error', cause, 'start_error');
      });
    });
  }

  private restartLater(rec: ChildRecord, ms: number): void {
    const epoch = rec.epoch;
    this.children.restartLater(rec, ms, () =>
      this.queue.post(() => {
        if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch) || rec.status !== 'restarting') return;
        return this.restart(rec);
      }),
    );
  }

  /** The child stays down: OTP `del_child/2`, then `do_auto_shutdown/2`. */
  private notRestarted(rec: ChildRecord): void | Promise<void> {
    this.dropIfTransientSpec(rec);
    const mode = this.spec.autoShutdown;
    if (mode === 'never' || !rec.spec.significant) return;
    if (mode === 'all_significant') {
      for (const r of this.children.values()) {
        if (r !== rec && r.spec.significant && (r.ref !== undefined || r.status === 'restarting')) return;
      }
    }
    this.log.info({ childId: rec.id, autoShutdown: mode }, 'significant child ended: auto shutdown');
    return this.terminate(SHUTDOWN_EXIT);
  }

  /** Temporary specs and `simple_one_for_one` instances are forgotten when their child ends for good. */
  private dropIfTransientSpec(rec: ChildRecord): void {
    rec.status = 'terminated';
    if (this.strategy === 'simple_one_for_one' || rec.spec.restart === 'temporary') this.children.remove(rec);
  }

  // ── stopping ────────────────────────────────────────────────────────────

  /**
   * What the child's recurring monitor heard (childMonitor.ts). A failed
   * check is a failure of the child: it is stopped (so it is not left
   * running beside its replacement) and reported like a crash. A degraded
   * one is reported while the child runs; only a directive other than
   * `ignore` stops it before carrying the directive out.
   */
  private async checkVerdict(rec: ChildRecord, epoch: number, ref: LocalActorRef, v: MonitorVerdict): Promise<void> {
    if (this.phase_ !== 'running' || !this.children.isCurrent(rec, epoch) || rec.ref !== ref) return;
    const monitor = rec.spec.monitor!;
    const check = checkReport(v, monitor);
    if (v.kind === 'failed') {
      await this.stopChild(rec);
      return this.reportAndApply(rec, 'error', checkFailure(ref, v, monitor), 'monitor_failed', check);
    }
    const at = this.system.clock.now();
    const report = failureReport(this.reporter, rec, 'degraded', undefined, inWindow(this.history, at, this.spec.period), at, check);
    this.log.warn({ childId: rec.id, check }, 'child degraded');
    let d: Directive;
    try {
      d = await (this.direct ? otpPolicy(report) : this.coordinator.decide(report));
    } catch (err) {
      this.log.error({ err: toLogError(err) }, 'coordinator threw; default policy decides');
      d = otpPolicy(report);
    }
    if (d.type === 'ignore' || this.phase_ !== 'running' || rec.epoch !== epoch || rec.ref !== ref) return;
    await this.stopChild(rec);
    return this.apply(rec, rec.epoch, report, d);
  }

  /** Stop one child, unwatched first so that its exit is not reported. */
  private async stopChild(rec: ChildRecord): Promise<void> {
    const { ref, nested } = this.children.detach(rec);
    if (ref === undefined) return;
    let exit = ref.exit;
    if (exit === undefined) {
      this.stopping.add(ref);
      try {
        exit = await ref.stop(rec.spec.shutdown);
      } finally {
        this.stopping.delete(ref);
      }
    }
    // A nested supervisor's actor ends after its children; wait for its
    // bookkeeping too, so that "stopped" means the whole subtree is gone.
    if (nested !== undefined) await nested.stopped;
    if (!cleanStop(exit.reason, rec.spec)) {
      this.log.error({ report: otpReport(this.label, 'shutdown_error', exit.reason, rec), err: exit.error === undefined ? undefined : toLogError(exit.error) }, 'child did not stop cleanly');
    }
  }

  private requestStop(exit: SupervisorExit): Promise<SupervisorExit> {
    if (!this.stopRequested && this.phase_ === 'running') {
      this.stopRequested = true;
      this.exitDecided = exit;
      // Queued, not immediate: calls and exits that arrived first are handled first.
      this.queue.post(() => this.terminate(exit));
    }
    return this.stopped;
  }

  /** OTP `terminate/2`: stop every child in reverse start order, then end the actor. */
  private async terminate(exit: SupervisorExit): Promise<void> {
    if (this.phase_ !== 'running') return;
    this.phase_ = 'stopping';
    this.stopRequested = true;
    this.exitDecided ??= exit;
    this.children.cancelTimers();
    // A nested supervisor that failed to start at our init finishes its own
    // cleanup first: in OTP our init would not even have seen its failure yet.
    if (this.cleanup.size > 0) await Promise.all(this.cleanup);
    await inShutdownOrder(this.strategy, [...this.children.values()], (r) => this.stopChild(r));
    this.children.clear();
    if (this.cleanup.size > 0) await Promise.all(this.cleanup);
    this.phase_ = 'stopped';
    this.finishActor();
  }

  /** End the supervisor's own actor with the reason its parent should see. */
  private finishActor(): void {
    const cell = this.ref;
    if (cell.exit !== undefined) return;
    const exit = this.exitDecided ?? SHUTDOWN_EXIT;
    if (exit.reason === 'error') {
      exitActor(cell, 'error', exit.error);
      return;
    }
    if (cell.lifecycle === 'running') {
      // Stopping the actor (rather than letting it finish) gives exit reason `shutdown`.
      void cell.stop('infinity');
      return;
    }
    // Someone is stopping the actor: if its shutdown event was handled, tell
    // it we are done; if it is still queued, the machine ends when it arrives.
    if ((cell.getSnapshot() as { value?: unknown }).value === 'stopping') tellControl(cell, { type: SUPERVISOR_TERMINATED });
  }

  private ownExit(exit: ExitSignal): void {
    if (this.phase_ === 'stopped' && this.children.size === 0 && this.stopping.size === 0) {
      this.resolveStopped(this.exitDecided ?? SHUTDOWN_EXIT);
      return;
    }
    // The actor ended before the children did: killed from outside (a
    // brutal_kill, or its shutdown time ran out) or crashed. In OTP the
    // supervisor dies at once and its links carry the exit to its children,
    // which trap it: a nested supervisor always does, and runs its own
    // terminate; a worker does when it handles the shutdown event. So the
    // children are stopped as terminate/2 would have, with their own
    // shutdowns, not killed; only no one is left to report to. Two choices
    // where OTP has no answer to copy: the link signals reach all children
    // at once there, in no defined order, and here they are stopped one by
    // one in reverse start order, so that what a kill does is as
    // predictable as a stop; and a trapping child in OTP has no deadline
    // (no one is left to kill it), here its own `shutdown` is its deadline.
    this.phase_ = 'stopped';
    this.stopRequested = true;
    const error =
      exit.reason === 'error'
        ? exit.error
        : new SupervisorError(this.label, exit.reason === 'killed' ? 'killed' : 'exited', `its actor ended (${exit.reason}) before its children were stopped`);
    this.exitDecided = { reason: 'error', error };
    this.log.error({ reason: exit.reason }, 'supervisor actor ended early: stopping children');
    // A child that was being stopped when the kill came has had its shutdown
    // event already. OTP has unlinked it by then and would leave it running
    // (the race supervisor(3) warns of for a supervisor with a finite
    // shutdown); killing it is what keeps it from outliving us.
    const killed: Promise<unknown>[] = [];
    for (const ref of this.stopping) killed.push(ref.stop('brutal_kill'));
    const dying = this.stopDetached(this.children.detachAll(), killed);
    this.dying = dying;
    void dying.then(() => {
      this.dying = undefined;
      this.resolveStopped(this.exitDecided!);
    });
  }

  /**
   * Stop what a killed supervisor left, each child with its own shutdown:
   * reverse start order, one at a time, or all at once for
   * `simple_one_for_one` instances, as its terminate would.
   */
  private async stopDetached(detached: readonly Detached[], killed: Promise<unknown>[]): Promise<void> {
    const stop = async ({ rec, ref, nested }: Detached): Promise<void> => {
      if (ref !== undefined && ref.exit === undefined) await ref.stop(rec.spec.shutdown);
      if (nested !== undefined) await nested.stopped;
    };
    await inShutdownOrder(this.strategy, detached, stop);
    await Promise.all([...killed, ...this.cleanup]);
  }

  // ── helpers ─────────────────────────────────────────────────────────────

  private assertRunning(): void {
    if (this.phase_ !== 'running') throw new ActorNotRunningError(this.label);
  }

  private notForSimple(call: string): SupervisorError {
    return new SupervisorError(this.label, 'simple_one_for_one', `${call} is not valid for a simple_one_for_one supervisor`);
  }

  private startFailed(childId: string, cause: unknown): SupervisorError {
    return new SupervisorError(this.label, 'failed_to_start_child', `child ${childId}: ${describe(cause)}`, { cause, childId });
  }

  private statusExtra(): Record<string, unknown> {
    const now = this.system.clock.now();
    return statusFields(this.reporter, this.spec.autoShutdown, this.phase_, inWindow(this.history, now, this.spec.period).length, this.whichChildren());
  }

  private health(level: CheckLevel): UserCheckAnswer {
    if (this.phase_ !== 'running') return { code: OCF.NOT_RUNNING, reason: `supervisor ${this.phase_}` };
    if (level >= 10) {
      const waiting = this.children.restarting();
      if (waiting.length > 0) return { code: OCF.DEGRADED, reason: `restarting: ${waiting.slice(0, 10).join(', ')}` };
    }
    return OCF.SUCCESS;
  }
}
