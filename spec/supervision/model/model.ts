/**
 * A pure model of OTP supervision (supervisor.erl), used as the oracle of the
 * model-based tests. No runtime, no timers, no promises: every operation
 * mutates the model synchronously and deterministically.
 *
 * ## What the model follows (OTP's own code, not a paraphrase of its docs)
 * - Children start in spec order (dynamic children are appended) and stop in
 *   reverse order. A child supervisor starts its own children before its next
 *   sibling starts, and stops them before it is reported stopped.
 * - `do_restart/3`: a permanent child is always restarted; a transient one only
 *   after an abnormal exit (`error` or `killed`; `normal` and `shutdown` are
 *   normal); a temporary one never, and its spec is deleted whenever it ends.
 * - `restart/2` first records the restart (`add_restart/3`) and gives up if
 *   more than `intensity` restarts lie within `period`; only then does the
 *   strategy run. Giving up stops every child in reverse order and ends the
 *   supervisor with reason `shutdown`, which its parent then treats like any
 *   child exit (so a transient child supervisor that gave up is NOT restarted).
 * - `add_restart/3` keeps a restart at time R while `R >= now - period`: one
 *   exactly `period` ms old still counts.
 * - one_for_all / rest_for_one (`restart_multiple_children/3`): the group (all
 *   children / the failed one and those after it) is terminated in reverse
 *   order, temporary members are deleted, and then EVERY remaining member is
 *   started in order, including members that were not running before (for
 *   instance after `terminateChild`).
 * - A child that fails to start during a restart is marked `restarting` and
 *   the rest of its group stays down; the retry (`try_again_restart`, after
 *   whatever is already queued) is another restart: it counts toward
 *   intensity and runs the strategy again. A supervisor whose child fails to
 *   start at init stops the children it started, in reverse, and fails to
 *   start itself. startChild/restartChild of a child that fails to start
 *   return an error; startChild does not keep the spec.
 * - Exits the supervisor causes itself (terminateChild, restarting siblings,
 *   giving up) never count as failures.
 * - `do_auto_shutdown/2`: when a significant child ends and is not restarted,
 *   `any_significant` ends the supervisor (reason `shutdown`, children stopped
 *   in reverse); `all_significant` does so once no significant child is left
 *   running. terminateChild never triggers it.
 * - A worker stopped from outside ends `shutdown` (it handles the shutdown
 *   event, so the trace shows the stop) or `killed`.
 * - A supervisor killed from outside (`exit(Sup, kill)`) dies at once with
 *   reason `killed`, which is abnormal for its parent. Its children trap the
 *   exit its links carry (a supervisor always traps exits; the model's
 *   workers handle the shutdown event): they stop in reverse start order
 *   with their own shutdowns, a nested supervisor stopping its own children
 *   first, as `terminate/2` would, and nothing is reported for them. The
 *   parent handles the end once that subtree is gone. A killed root ends
 *   `error`.
 * - terminateChild keeps the spec (a temporary child's spec is deleted);
 *   restartChild starts a child that is not running (error `running` /
 *   `restarting` otherwise); deleteChild removes a spec that is not running
 *   (same errors); startChild appends a new spec (`already_started` /
 *   `already_present` if the id is taken by a running / not running child).
 *   A call to a supervisor that has ended gets `noproc`.
 *
 * ## What the model records, for comparison with the runtime
 * - per supervisor: alive flag, children in start order with status, restart
 *   history (clock times, oldest first);
 * - per child path: how many times it was started (`starts`); per child, its
 *   incarnation: a number unique to each start in the whole tree (workers and
 *   supervisors alike), so "was it restarted?" is checkable by actor identity;
 * - `trace`: every worker start (`start p`), failed start (`failstart p`) and
 *   stop by someone other than the worker itself (`stop p`), in order.
 *   Crashes and normal exits are not in the trace: the worker itself ends.
 * - `reports`: one per end the supervisor did not cause (a child exit, or a
 *   retry after a failed restart), in order, with the supervisor's restart
 *   history at that moment (restarts still inside `period`, oldest first) and
 *   what OTP does about it: `restart`, `escalate` (max intensity reached) or
 *   `ignore` (no restart for this restart type).
 */

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type Restart = 'permanent' | 'transient' | 'temporary';
export type AutoShutdown = 'never' | 'any_significant' | 'all_significant';

export interface Flags {
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
  /** Default `never`. */
  readonly autoShutdown?: AutoShutdown;
}

export interface SupDef {
  readonly flags: Flags;
  readonly children: readonly ChildDef[];
}

export interface WorkerDef {
  readonly kind: 'worker';
  readonly id: string;
  readonly restart: Restart;
  /** Only for transient/temporary children of a supervisor whose autoShutdown is not `never`. */
  readonly significant?: boolean;
}

export interface SupervisorChildDef {
  readonly kind: 'supervisor';
  readonly id: string;
  readonly restart: Restart;
  readonly significant?: boolean;
  readonly sup: SupDef;
}

export type ChildDef = WorkerDef | SupervisorChildDef;

/**
 * How a child ended, not by its supervisor's hand: `normal` (final state),
 * `error` (threw), `shutdown` (stopped from outside in time, or a child
 * supervisor that gave up), `killed` (killed from outside). `error` and
 * `killed` are abnormal.
 */
export type ExitKind = 'normal' | 'error' | 'shutdown' | 'killed';

/** OTP's error atoms; `noproc` is a call to a supervisor that has ended. */
export type ModelError = 'not_found' | 'running' | 'restarting' | 'already_started' | 'already_present' | 'start_failed' | 'noproc';
export type OpResult = { readonly ok: true } | { readonly ok: false; readonly error: ModelError };

export type Verdict = 'restart' | 'escalate' | 'ignore';

export interface Report {
  /** Path of the supervisor that saw the end. */
  readonly supervisor: string;
  readonly childId: string;
  readonly reason: ExitKind;
  /** Restarts inside the window when the end arrived, oldest first. */
  readonly history: readonly number[];
  readonly verdict: Verdict;
}

export const ROOT = 'root';

export function childPath(supPath: string, id: string): string {
  return `${supPath}/${id}`;
}

/** Parent path and last segment of a child path. */
export function splitPath(path: string): { supPath: string; id: string } {
  const i = path.lastIndexOf('/');
  return { supPath: path.slice(0, i), id: path.slice(i + 1) };
}

/** Does a restart at `r` still count at `now`? OTP add_restart/3: `r >= now - period`. */
export function inWindow(r: number, now: number, period: number): boolean {
  return r >= now - period;
}

/** OTP add_restart/3 on milliseconds: keep the restarts still in the window, add now. Oldest first. */
export function addRestart(history: readonly number[], now: number, period: number): number[] {
  return [...history.filter((r) => inWindow(r, now, period)), now];
}

export interface ModelChild {
  readonly def: ChildDef;
  readonly path: string;
  running: boolean;
  /** A restart of it failed; a retry is pending. */
  restarting: boolean;
  /** Unique per start across the tree; 0 before the first start. */
  incarnation: number;
  /** The live child supervisor, while a supervisor child is running. */
  sup: ModelSup | undefined;
}

export interface ModelSup {
  readonly path: string;
  readonly def: SupDef;
  alive: boolean;
  children: ModelChild[];
  /** Restart times, oldest first (pruned lazily, as OTP does). */
  history: number[];
  /** The entry in the parent that holds this supervisor; undefined for the root. */
  readonly parent: { sup: ModelSup; child: ModelChild } | undefined;
}

export type ChildStatus = 'running' | 'restarting' | 'terminated';

/** What the tests compare: plain data, so it prints well in a diff. */
export interface ChildView {
  readonly id: string;
  readonly type: 'worker' | 'supervisor';
  readonly restart: Restart;
  readonly status: ChildStatus;
}

export interface SupView {
  readonly alive: boolean;
  readonly children: readonly ChildView[];
  readonly history: readonly number[];
}

function newChild(def: ChildDef, supPath: string): ModelChild {
  return { def, path: childPath(supPath, def.id), running: false, restarting: false, incarnation: 0, sup: undefined };
}

export class SupervisionModel {
  now = 0;
  root: ModelSup;
  /** Set when the root supervisor has ended. */
  rootExit: 'shutdown' | 'error' | undefined = undefined;
  starts = new Map<string, number>();
  trace: string[] = [];
  reports: Report[] = [];
  /** Worker path -> how many of its next starts fail. */
  failStarts = new Map<string, number>();
  def: SupDef;
  /**
   * While true, retries of failed restarts wait for {@link drainRetries}
   * (they are cast to the supervisor's own mailbox, behind what is queued).
   */
  batching = false;
  /**
   * Incarnations told to crash or exit whose message has not been handled
   * yet. If the supervisor stops one first, the message is handled ahead of
   * the shutdown event: the worker ends by itself, without a `stop` in the
   * trace, and its exit is never reported (OTP: unlink_flush swallows it).
   */
  doomed = new Set<number>();
  private retries: { sup: ModelSup; child: ModelChild }[] = [];
  private startSeq = 0;

  constructor(def: SupDef) {
    this.def = def;
    const root = this.spawnSup(ROOT, def, undefined);
    if (root.failed) this.rootExit = 'error';
    this.root = root.sup;
  }

  /** An independent copy, for trying alternatives (linearizations of concurrent stimuli). */
  clone(): SupervisionModel {
    const copy = Object.create(SupervisionModel.prototype) as SupervisionModel;
    copy.copyFrom(this);
    return copy;
  }

  /** Become a copy of `other` (fast-check holds on to this object, so it is updated in place). */
  copyFrom(other: SupervisionModel): void {
    if (other.retries.length > 0) throw new Error('model: cannot copy with retries pending');
    const copySup = (sup: ModelSup, parent: ModelSup['parent']): ModelSup => {
      const next: ModelSup = { path: sup.path, def: sup.def, alive: sup.alive, children: [], history: [...sup.history], parent };
      next.children = sup.children.map((c) => {
        const child: ModelChild = { ...c, sup: undefined };
        if (c.sup) child.sup = copySup(c.sup, { sup: next, child });
        return child;
      });
      return next;
    };
    this.def = other.def;
    this.now = other.now;
    this.root = copySup(other.root, undefined);
    this.rootExit = other.rootExit;
    this.starts = new Map(other.starts);
    this.trace = [...other.trace];
    this.reports = [...other.reports];
    this.failStarts = new Map(other.failStarts);
    this.batching = other.batching;
    this.doomed = new Set(other.doomed);
    this.retries = [];
    this.startSeq = other.startSeq;
  }

  // ── lookup ──────────────────────────────────────────────────────────────

  /** The live supervisor at `path`, if there is one. */
  supervisor(path: string): ModelSup | undefined {
    const [first, ...rest] = path.split('/');
    let sup: ModelSup | undefined = first === ROOT && this.root.alive ? this.root : undefined;
    for (const id of rest) sup = sup?.children.find((c) => c.def.id === id)?.sup;
    return sup;
  }

  /** The child entry at `path` under a live supervisor. */
  child(path: string): { sup: ModelSup; child: ModelChild } | undefined {
    const { supPath, id } = splitPath(path);
    const sup = this.supervisor(supPath);
    const child = sup?.children.find((c) => c.def.id === id);
    return sup && child ? { sup, child } : undefined;
  }

  /** A running worker at `path`, if there is one. */
  runningWorker(path: string): { sup: ModelSup; child: ModelChild } | undefined {
    const found = this.child(path);
    return found && found.child.def.kind === 'worker' && found.child.running ? found : undefined;
  }

  /** Every live supervisor, parents before children, siblings in start order. */
  liveSupervisors(): ModelSup[] {
    const out: ModelSup[] = [];
    const walk = (sup: ModelSup) => {
      if (!sup.alive) return;
      out.push(sup);
      for (const c of sup.children) if (c.sup) walk(c.sup);
    };
    walk(this.root);
    return out;
  }

  view(sup: ModelSup): SupView {
    return {
      alive: sup.alive,
      children: sup.children.map((c) => ({
        id: c.def.id,
        type: c.def.kind,
        restart: c.def.restart,
        status: c.running ? 'running' : c.restarting ? 'restarting' : 'terminated',
      })),
      history: this.liveHistory(sup),
    };
  }

  /** Restarts of `sup` that still count at the current time. */
  liveHistory(sup: ModelSup): number[] {
    return sup.history.filter((r) => inWindow(r, this.now, sup.def.flags.period));
  }

  // ── stimuli from outside the supervisors ────────────────────────────────

  /** The worker at `path` throws. */
  crash(path: string): void {
    this.workerEnds(path, 'error');
  }

  /** The worker at `path` reaches a final state. */
  normalExit(path: string): void {
    this.workerEnds(path, 'normal');
  }

  /** Someone outside the tree stops the worker at `path` gracefully (it ends `shutdown`). */
  stopFromOutside(path: string): void {
    this.trace.push(`stop ${path}`);
    this.workerEnds(path, 'shutdown');
  }

  /** Someone outside the tree kills the worker at `path` (it ends `killed`, no shutdown event). */
  kill(path: string): void {
    this.workerEnds(path, 'killed');
  }

  /** Someone outside the tree kills the live supervisor at `path` (see the module comment). */
  killSupervisor(path: string): void {
    const sup = this.supervisor(path);
    if (!sup) throw new Error(`model: no live supervisor at ${path}`);
    this.stopAllChildren(sup);
    sup.alive = false;
    if (!sup.parent) {
      this.rootExit = 'error';
    } else {
      const { sup: parent, child } = sup.parent;
      child.running = false;
      child.sup = undefined;
      this.childExited(parent, child, 'killed');
    }
    this.afterStimulus();
  }

  /**
   * The running worker at `path` is told to crash or exit, but its message is
   * not handled yet (see {@link doomed}). False if no worker runs there.
   */
  doom(path: string): boolean {
    const found = this.runningWorker(path);
    if (!found) return false;
    this.doomed.add(found.child.incarnation);
    return true;
  }

  /** The message told by {@link doom} is handled: the worker ends, unless the supervisor stopped it first. */
  arrive(path: string, reason: 'error' | 'normal'): void {
    const found = this.runningWorker(path);
    if (!found || !this.doomed.delete(found.child.incarnation)) return;
    this.workerEnds(path, reason);
  }

  /** The next `n` starts of the worker at `path` fail (its logic throws while starting). */
  armStartFailure(path: string, n: number): void {
    this.failStarts.set(path, (this.failStarts.get(path) ?? 0) + n);
  }

  /** Time passes. Nothing happens by itself: restart history is pruned lazily, as in OTP. */
  advance(ms: number): void {
    this.now += ms;
  }

  private workerEnds(path: string, reason: ExitKind): void {
    const found = this.runningWorker(path);
    if (!found) throw new Error(`model: no running worker at ${path}`);
    found.child.running = false;
    this.childExited(found.sup, found.child, reason);
    this.afterStimulus();
  }

  // ── supervisor API ──────────────────────────────────────────────────────
  // `target` is a path (whatever supervisor lives there now) or an instance
  // (the one a caller holds a handle to, which may have ended since).

  terminateChild(target: string | ModelSup, id: string): OpResult {
    const sup = this.resolve(target);
    if (!sup) return { ok: false, error: 'noproc' };
    const child = sup.children.find((c) => c.def.id === id);
    if (!child) return { ok: false, error: 'not_found' };
    if (child.running) this.stop(child);
    child.restarting = false;
    if (child.def.restart === 'temporary') this.remove(sup, child);
    return { ok: true };
  }

  restartChild(target: string | ModelSup, id: string): OpResult {
    const sup = this.resolve(target);
    if (!sup) return { ok: false, error: 'noproc' };
    const child = sup.children.find((c) => c.def.id === id);
    if (!child) return { ok: false, error: 'not_found' };
    if (child.running) return { ok: false, error: 'running' };
    if (child.restarting) return { ok: false, error: 'restarting' };
    const started = this.start(sup, child);
    this.afterStimulus();
    return started ? { ok: true } : { ok: false, error: 'start_failed' };
  }

  deleteChild(target: string | ModelSup, id: string): OpResult {
    const sup = this.resolve(target);
    if (!sup) return { ok: false, error: 'noproc' };
    const child = sup.children.find((c) => c.def.id === id);
    if (!child) return { ok: false, error: 'not_found' };
    if (child.running) return { ok: false, error: 'running' };
    if (child.restarting) return { ok: false, error: 'restarting' };
    this.remove(sup, child);
    return { ok: true };
  }

  startChild(target: string | ModelSup, def: ChildDef): OpResult {
    const sup = this.resolve(target);
    if (!sup) return { ok: false, error: 'noproc' };
    const existing = sup.children.find((c) => c.def.id === def.id);
    if (existing) return { ok: false, error: existing.running ? 'already_started' : 'already_present' };
    const child = newChild(def, sup.path);
    sup.children.push(child);
    const started = this.start(sup, child);
    // OTP handle_start_child/2: a child that fails to start is not saved.
    if (!started) this.remove(sup, child);
    this.afterStimulus();
    return started ? { ok: true } : { ok: false, error: 'start_failed' };
  }

  /** The root is asked to stop (`sup.stop()`): OTP terminate/2, exit `shutdown`. */
  stopRoot(): void {
    if (!this.root.alive) return;
    this.stopAllChildren(this.root);
    this.root.alive = false;
    this.rootExit = 'shutdown';
  }

  /** Run pending retries of failed restarts (each may fail again and queue another), oldest first. */
  drainRetries(): void {
    for (;;) {
      const next = this.retries.shift();
      if (!next) return;
      const { sup, child } = next;
      // Stale: the supervisor ended, or the child was terminated, deleted or restarted since.
      if (!sup.alive || !sup.children.includes(child) || !child.restarting) continue;
      this.report(sup, child, 'error', this.wouldExceed(sup) ? 'escalate' : 'restart');
      this.restart(sup, child);
    }
  }

  // ── OTP's rules ─────────────────────────────────────────────────────────

  private afterStimulus(): void {
    if (!this.batching) this.drainRetries();
  }

  private resolve(target: string | ModelSup): ModelSup | undefined {
    if (typeof target === 'string') return this.supervisor(target);
    return target.alive ? target : undefined;
  }

  /** init/1 and init_children/2: start the children in order; on a failed start, stop those started and fail. */
  private spawnSup(path: string, def: SupDef, parent: ModelSup['parent']): { sup: ModelSup; failed: boolean } {
    const sup: ModelSup = { path, def, alive: true, children: def.children.map((d) => newChild(d, path)), history: [], parent };
    for (const c of [...sup.children]) {
      if (!this.start(sup, c)) {
        this.stopAllChildren(sup);
        sup.alive = false;
        return { sup, failed: true };
      }
    }
    return { sup, failed: false };
  }

  /** Start one incarnation of `child`; false if it failed to start. */
  private start(sup: ModelSup, child: ModelChild): boolean {
    if (child.def.kind === 'worker') {
      const armed = this.failStarts.get(child.path) ?? 0;
      if (armed > 0) {
        this.failStarts.set(child.path, armed - 1);
        this.trace.push(`failstart ${child.path}`);
        return false;
      }
      this.trace.push(`start ${child.path}`);
    } else {
      const nested = this.spawnSup(child.path, child.def.sup, { sup, child });
      if (nested.failed) return false;
      child.sup = nested.sup;
    }
    child.running = true;
    child.restarting = false;
    child.incarnation = ++this.startSeq;
    this.starts.set(child.path, (this.starts.get(child.path) ?? 0) + 1);
    return true;
  }

  /** Supervisor-initiated stop of a running child (and, for a supervisor, its whole subtree). */
  private stop(child: ModelChild): void {
    if (child.sup) {
      this.stopAllChildren(child.sup);
      child.sup.alive = false;
      child.sup = undefined;
    } else if (!this.doomed.delete(child.incarnation)) {
      this.trace.push(`stop ${child.path}`);
    }
    child.running = false;
  }

  /** terminate_children/2 on everything: reverse start order; a restarting child just stops being one. */
  private stopAllChildren(sup: ModelSup): void {
    for (const c of [...sup.children].reverse()) {
      if (c.running) this.stop(c);
      c.restarting = false;
    }
  }

  private remove(sup: ModelSup, child: ModelChild): void {
    sup.children = sup.children.filter((c) => c !== child);
  }

  private report(sup: ModelSup, child: ModelChild, reason: ExitKind, verdict: Verdict): void {
    this.reports.push({ supervisor: sup.path, childId: child.def.id, reason, history: this.liveHistory(sup), verdict });
  }

  private wouldExceed(sup: ModelSup): boolean {
    return addRestart(sup.history, this.now, sup.def.flags.period).length > sup.def.flags.intensity;
  }

  /** do_restart/3: a child ended, not by this supervisor's hand, with `reason`. */
  private childExited(sup: ModelSup, child: ModelChild, reason: ExitKind): void {
    const restart = child.def.restart;
    const abnormal = reason === 'error' || reason === 'killed';
    if (restart === 'permanent' || (restart === 'transient' && abnormal)) {
      this.report(sup, child, reason, this.wouldExceed(sup) ? 'escalate' : 'restart');
      this.restart(sup, child);
      return;
    }
    this.report(sup, child, reason, 'ignore');
    // del_child/2: a temporary spec goes; a transient one stays, terminated.
    if (restart === 'temporary') this.remove(sup, child);
    this.autoShutdown(sup, child);
  }

  /** do_auto_shutdown/2. */
  private autoShutdown(sup: ModelSup, ended: ModelChild): void {
    const mode = sup.def.flags.autoShutdown ?? 'never';
    if (mode === 'never' || !ended.def.significant) return;
    if (mode === 'all_significant' && sup.children.some((c) => c.running && c.def.significant)) return;
    this.shutdown(sup);
  }

  /** restart/2: count the restart, give up if over intensity, else apply the strategy. */
  private restart(sup: ModelSup, child: ModelChild): void {
    const { strategy, intensity, period } = sup.def.flags;
    sup.history = addRestart(sup.history, this.now, period);
    if (sup.history.length > intensity) {
      child.restarting = false;
      this.shutdown(sup);
      return;
    }
    switch (strategy) {
      case 'one_for_one':
        if (!this.start(sup, child)) this.markRestarting(sup, child);
        return;
      case 'one_for_all':
        this.restartGroup(sup, [...sup.children]);
        return;
      case 'rest_for_one':
        this.restartGroup(sup, sup.children.slice(sup.children.indexOf(child)));
        return;
    }
  }

  /**
   * restart_multiple_children/3: stop the group in reverse, drop its
   * temporaries, start the rest in order; a failed start leaves that child
   * restarting and the rest of the group down.
   */
  private restartGroup(sup: ModelSup, group: ModelChild[]): void {
    for (const c of [...group].reverse()) {
      if (c.running) this.stop(c);
      c.restarting = false;
      if (c.def.restart === 'temporary') this.remove(sup, c);
    }
    for (const c of group) {
      if (!sup.children.includes(c)) continue;
      if (!this.start(sup, c)) {
        this.markRestarting(sup, c);
        return;
      }
    }
  }

  /** try_again_restart: the retry is cast to the supervisor itself, behind what is queued. */
  private markRestarting(sup: ModelSup, child: ModelChild): void {
    child.restarting = true;
    this.retries.push({ sup, child });
  }

  /** The supervisor ends on its own (intensity, auto shutdown): children stopped in reverse, exit `shutdown`. */
  private shutdown(sup: ModelSup): void {
    this.stopAllChildren(sup);
    sup.alive = false;
    if (!sup.parent) {
      this.rootExit = 'shutdown';
      return;
    }
    const { sup: parent, child } = sup.parent;
    child.running = false;
    child.sup = undefined;
    this.childExited(parent, child, 'shutdown');
  }
}
