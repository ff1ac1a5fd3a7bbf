/**
 * The cluster Recovery Coordinator: decides for instances started with
 * `cluster.start()` (supervisor `cluster`).
 *
 * It is a singleton elected by a KV lease (`coordinator`) whose epoch fences
 * its requests (hosts reject a spawn carrying an older coordinator epoch).
 *
 * ## One recovery path
 * On a `down` verdict (once the lost node has surely fenced itself) or an
 * instance's exit, it builds a supervision failure report (supervisor
 * `cluster`, strategy `one_for_one`, the instance's name as `childId`, its
 * restart type, reason `nodedown` or the exit reason and error, its restart
 * history, intensity and period) and asks supervision's Recovery
 * Coordinator of this node: its rules (`addRule`), then OTP's default policy,
 * with intensity applied to every restart answer. The directive becomes:
 *
 * | directive                  | action    | what the coordinator does |
 * |----------------------------|-----------|---------------------------|
 * | `restart`                  | `restart` | places it (placement.ts) and starts it; counted in its history unless `bypassIntensity` |
 * | `restart-after` (ms)       | `restart` | the same, not before `notBefore` (wall clock + ms) |
 * | `ignore`                   | `drop`    | removes its record (OTP: a child not to be restarted) |
 * | `stop`                     | `stop`    | gives up: record `exited`, `gaveUp`, detail `stopped` |
 * | `escalate`                 | `stop`    | gives up (no parent to escalate to): detail `reached_max_restart_intensity` when intensity was exceeded, else `escalated` |
 *
 * The decision record carries the report (`input`), `directive`, `rule`,
 * `limits` and `overridden` as the node's log does, beside the cluster's
 * fields (`action`, `from`, `to`, epochs, `history`). The restart history
 * (`restarts.<name>` in the `coord` bucket) is OTP's `add_restart/3` per
 * instance, in wall-clock ms (restarts.ts).
 *
 * ## No decision lost with a coordinator
 * A restart decision is written as `pending.<name>` before anything else
 * (history included); when the new instance answers
 * it writes `decision.<name>.<oldEpoch>` and deletes the pending entry. A new
 * coordinator starts by finishing every pending entry (carried out as
 * decided, not decided again) and reconciling every record, and carries the
 * restart histories on. A restart that no node can host yet stays pending
 * and is carried out when one can. An instance lost with its
 * node and not restarted (dropped, given up) has its owner claim released,
 * so that node, back, does not revive it.
 *
 * ## Sweeps
 * While it holds the lease the coordinator reconciles every known record
 * every `2 × heartbeatMs` (at least 100 ms): waits (a down owner whose lease
 * may not have passed) and unplaced instances resolve over time. One step per
 * name runs at a time; a name asked again while its step runs is stepped
 * once more right after it. Each sweep also asks a live node to adopt the
 * watched set of every supervisor with `lifetime: 'cluster'` whose node is
 * gone (Adoption.ts).
 */
import type { Clock, TimerHandle } from '../../clock.js';
import { describe, isWireError, ServiceErrorCode } from '../../errors.js';
import type { Logger } from '../../log.js';
import { DEFAULT_RULE, inWindow, type RecoveryCoordinator } from '../../supervision/index.js';
import type { FailureReason, FailureReport } from '../../supervision/types.js';
import type { ClusterView } from './ClusterView.js';
import type { HostClient } from './hostClient.js';
import { decodeJson, encodeJson, isRecord, type KV } from './kv.js';
import type { Lease } from './Lease.js';
import { type InstanceState, lost, placeAgain } from './placement.js';
import { CLUSTER_SUPERVISOR, type ClusterDecision, claimKeyOf, decisionKey, type InstanceRecord, intensityOf, parseDecision } from './records.js';
import type { Registry } from './Registry.js';
import { banOf, intensityStep, MAX_INTENSITY_REASON, parseRestarts, type RestartHistory } from './restarts.js';

/** What the cluster coordinator asks: supervision's Recovery Coordinator of this node (its rules and OTP's default policy). */
export type ClusterPolicy = Pick<RecoveryCoordinator, 'decide' | 'decisions' | 'stats'>;

type DecisionBase = Pick<ClusterDecision, 'name' | 'from' | 'fromEpoch' | 'reason' | 'coordinator' | 'coordinatorEpoch' | 'retry'>;

function instanceState(rec: InstanceRecord, ownerGone: boolean): InstanceState {
  return {
    name: rec.name,
    type: rec.stype,
    cardinality: rec.cardinality,
    placement: rec.placement,
    ...(rec.pin !== undefined ? { node: rec.pin } : {}),
    restart: rec.restart,
    owner: rec.owner,
    ...(ownerGone ? { ownerGone: true } : {}),
    state: rec.state,
    ...(rec.reason !== undefined ? { reason: rec.reason } : {}),
    ...(rec.gaveUp === true ? { gaveUp: true } : {}),
  };
}

export interface ClusterCoordinatorDeps {
  readonly node: string;
  readonly lease: Lease;
  readonly policy: ClusterPolicy;
  /** The coord bucket: `pending.<name>`, `decision.<name>.<epoch>`, `restarts.<name>`. */
  readonly kv: KV;
  readonly registry: Registry;
  readonly view: ClusterView;
  readonly hosts: HostClient;
  readonly clock: Clock;
  /** Wall-clock ms for the restart history, which outlives this process (restarts.ts). */
  readonly wallClock: () => number;
  readonly logger: Logger;
  readonly heartbeatMs: number;
  readonly leaseMs: number;
  /** How long an instance given up for its intensity is banned before it is tried again (restarts.ts). */
  readonly failureTimeoutMs: number;
  readonly closed: () => boolean;
  /** Watched sets of lost supervisors to be adopted (Adoption.ts `sweep`). */
  readonly adopt?: () => Promise<void>;
}

export class ClusterCoordinator {
  /** Recovery sweeps run so far (tests wait on it instead of on time). */
  sweeps = 0;
  readonly #d: ClusterCoordinatorDeps;
  readonly #inflight = new Set<string>();
  /** Names asked to be reconciled while a step for them was in flight: stepped again right after it. */
  readonly #again = new Set<string>();
  #sweep: TimerHandle | undefined;

  constructor(deps: ClusterCoordinatorDeps) {
    this.#d = deps;
  }

  /** True while this node holds the coordinator lease. */
  get held(): boolean {
    return this.#d.lease.held;
  }

  /** The decisions, from KV (any node can read them), oldest first. */
  async decisions(): Promise<ClusterDecision[]> {
    const kv = this.#d.kv;
    const out: ClusterDecision[] = [];
    const names: string[] = [];
    for await (const k of await kv.keys('decision.>')) names.push(k);
    for (const k of names) {
      const v = decodeJson((await kv.get(k))?.value ?? new Uint8Array());
      if (isRecord(v)) out.push(v as unknown as ClusterDecision);
    }
    return out.sort((a, b) => a.at - b.at);
  }

  /** Names with a decision begun and not yet confirmed, from KV. */
  async pending(): Promise<string[]> {
    const names: string[] = [];
    for await (const k of await this.#d.kv.keys('pending.>')) names.push(k.slice('pending.'.length));
    return names;
  }

  /** The lease was acquired: sweep at once, and finish every pending entry a predecessor left. */
  async takeOver(): Promise<void> {
    this.scheduleSweep(0);
    // Including any whose record we have not seen. The KV key listing can
    // stall for the consumer's 30 s heartbeat when it races a delete, so it
    // gets a deadline and never holds up the sweep above.
    const clock = this.#d.clock;
    let timer: TimerHandle | undefined;
    const deadline = new Promise<string[]>((resolve) => {
      timer = clock.setTimer(() => resolve([]), Math.max(1000, this.#d.leaseMs * 2));
    });
    const listed = await Promise.race([this.pending().catch(() => [] as string[]), deadline]);
    if (timer !== undefined) clock.clearTimer(timer);
    for (const name of listed) await this.reconcile(name);
  }

  scheduleSweep(ms: number): void {
    if (this.#d.closed()) return;
    const clock = this.#d.clock;
    if (this.#sweep !== undefined) clock.clearTimer(this.#sweep);
    this.#sweep = clock.setTimer(() => {
      this.#sweep = undefined;
      if (!this.held) return;
      this.sweeps++;
      for (const name of this.#d.view.names()) void this.reconcile(name, false);
      void this.#d.adopt?.().catch((err: unknown) => this.#d.logger.warn({ reason: describe(err) }, 'adoption sweep failed'));
      this.scheduleSweep(Math.max(100, this.#d.heartbeatMs * 2));
    }, ms);
  }

  stop(): void {
    if (this.#sweep !== undefined) this.#d.clock.clearTimer(this.#sweep);
    this.#sweep = undefined;
  }

  /** `name` is gone for good (stopped, dropped): a later instance of the same name starts with no restart history. */
  forgetHistory(name: string): void {
    if (this.held) void this.#d.kv.delete(`restarts.${name}`).catch(() => {});
  }

  /** One recovery step for `name`; `again`: if one is in flight, step once more after it (the sweep does not need that). */
  async reconcile(name: string, again = true): Promise<void> {
    if (this.#inflight.has(name)) {
      if (again) this.#again.add(name);
      return;
    }
    this.#inflight.add(name);
    try {
      await this.#reconcileOne(name);
    } catch (err) {
      this.#d.logger.warn({ name, reason: describe(err) }, 'recovery step failed; retried on the next sweep');
    } finally {
      this.#inflight.delete(name);
      // An instance that ended while its restart was in flight (it crashed as it started) is seen at once.
      if (this.#again.delete(name) && this.held) void this.reconcile(name);
    }
  }

  async #reconcileOne(name: string): Promise<void> {
    const { lease, kv, view, registry } = this.#d;
    const coordEpoch = lease.epoch;
    if (coordEpoch === undefined) return;
    const pendingKey = `pending.${name}`;
    let rec = view.record(name);
    if (rec === undefined) {
      await kv.delete(pendingKey).catch(() => {});
      return;
    }
    if (rec.supervisor !== CLUSTER_SUPERVISOR) return;
    if (rec.gaveUp === true) {
      if (banOf(rec, this.#d.wallClock()) !== 'ended') return;
      rec = await this.#unban(rec);
    }
    const inst = instanceState(rec, view.staleOwner(rec));
    const loss = lost(inst, view.nodeView());
    if (loss.kind === 'wait' || (loss.kind === 'none' && rec.state !== 'running')) return;
    const p = await kv.get(pendingKey).catch(() => null);
    const pending = parseDecision(p?.operation === 'PUT' ? decodeJson(p.value) : undefined);
    if (loss.kind === 'none') {
      // Running on a live node: a pending entry for an older epoch has completed.
      if (pending !== undefined && pending.fromEpoch !== rec.epoch) {
        lease.assertHeld();
        await this.#decided({ ...pending, to: rec.owner, epoch: rec.epoch });
        await kv.delete(pendingKey);
      }
      return;
    }
    lease.assertHeld();
    // Decided already (by this coordinator or a predecessor that died before carrying it out): carry it out, never decide twice.
    let d = pending !== undefined && pending.fromEpoch === rec.epoch && pending.retry === rec.retry && pending.action === 'restart' ? pending : undefined;
    if (d === undefined) {
      const base: DecisionBase = {
        name,
        from: rec.owner,
        fromEpoch: rec.epoch,
        reason: loss.reason,
        coordinator: this.#d.node,
        coordinatorEpoch: coordEpoch,
        ...(rec.retry !== undefined ? { retry: rec.retry } : {}),
      };
      const decided = await this.#decide(rec, base);
      // A rule may take its time: the lease must still be ours to act on its answer.
      lease.assertHeld();
      d = decided.decision;
      if (d.action === 'drop') {
        await this.#decided(d);
        await this.releaseLost(rec);
        await registry.remove('instance', name);
        view.forgetRecord(name);
        await this.#forget(name);
        return;
      }
      if (d.action === 'stop') {
        await this.#giveUp(rec, d);
        return;
      }
      // The decision before the history: a coordinator that dies in between leaves a pending entry, which is finished, not decided again.
      lease.assertHeld();
      await kv.put(pendingKey, encodeJson(d));
      if (decided.counted) {
        lease.assertHeld();
        const h: RestartHistory = { type: 'halyard.cluster.v1.restarts', name, history: d.history ?? [], from: rec.epoch };
        await kv.put(`restarts.${name}`, encodeJson(h));
      }
      this.#d.logger.info({ name, from: rec.owner, reason: loss.reason, rule: d.rule }, 'cluster recovery pending');
    }
    // `restart-after`: not before its time (a later sweep carries it out).
    if (d.notBefore !== undefined && this.#d.wallClock() < d.notBefore) return;
    // No node can host it now: the decision stays pending and is carried out when one can.
    // A node lacking a defined service's labels answers OCF 5 (`ERR_NOT_INSTALLED`): the next candidate may have them.
    const notInstalled = new Set<string>();
    let node: string | undefined;
    let epoch: number | undefined;
    while (epoch === undefined) {
      const nodes = new Map([...view.nodeView()].filter(([n]) => !notInstalled.has(n)));
      node = placeAgain(inst, nodes, view.placed());
      if (node === undefined) return;
      lease.assertHeld();
      try {
        epoch = await this.#d.hosts.spawn(node, {
          op: 'spawn',
          name,
          stype: rec.stype,
          input: rec.input,
          restart: rec.restart,
          placement: rec.placement,
          ...(rec.pin !== undefined ? { pin: rec.pin } : {}),
          origin: this.#d.node,
          supervisor: CLUSTER_SUPERVISOR,
          ...(rec.intensity !== undefined ? { intensity: rec.intensity } : {}),
          ...(rec.period !== undefined ? { period: rec.period } : {}),
          e: coordEpoch,
        });
      } catch (err) {
        if ((err as { code?: unknown }).code !== ServiceErrorCode.NotInstalled) throw err;
        notInstalled.add(node);
      }
    }
    if (node === undefined) return;
    // Unless the watch has shown something newer already (this tenure may have ended by now).
    view.setIfNewer({ ...rec, owner: node, epoch, state: 'running' });
    await this.#decided({ ...d, to: node, epoch });
    await kv.delete(pendingKey);
  }

  /**
   * Ask supervision's policy (the node's Recovery Coordinator: its rules,
   * then OTP's default, with intensity applied to every restart) about the
   * end of tenure `base.fromEpoch`, as a failure report of a child of a
   * one_for_one supervisor named `cluster`. History and clock are wall-clock
   * ms (the history outlives this process, restarts.ts).
   */
  async #decide(rec: InstanceRecord, base: DecisionBase): Promise<{ decision: ClusterDecision; counted: boolean }> {
    const { policy, kv } = this.#d;
    const now = this.#d.wallClock();
    const stored = parseRestarts(decodeJson((await kv.get(`restarts.${rec.name}`))?.value ?? new Uint8Array()));
    const { intensity, period } = intensityOf(rec);
    // A restart of this very tenure counted already (its pending entry lost): not counted twice.
    const past = stored === undefined ? [] : stored.from === rec.epoch ? stored.history.slice(0, -1) : stored.history;
    const ocf = isRecord(rec.error) && typeof rec.error.ocf === 'number' ? rec.error.ocf : undefined;
    const report: FailureReport = {
      type: 'halyard.supervision.failure.v1',
      node: this.#d.node,
      supervisor: CLUSTER_SUPERVISOR,
      strategy: 'one_for_one',
      childId: rec.name,
      childType: 'worker',
      restart: rec.restart,
      significant: false,
      reason: base.reason as FailureReason,
      ...(isWireError(rec.error) ? { error: rec.error } : {}),
      ...(ocf !== undefined ? { ocf } : {}),
      history: inWindow(past, now, period),
      intensity,
      period,
      at: now,
    };
    // OTP's add_restart/3 per instance, on the history kept in KV for the next coordinator: what a restart now would make of it.
    const step = intensityStep(stored, rec.epoch, now, intensity, period);
    const since = policy.stats().total;
    const directive = await policy.decide(report);
    const logged = policy.decisions({ since, supervisor: CLUSTER_SUPERVISOR, childId: rec.name }).find((r) => r.input === report);
    const record = {
      ...base,
      input: report,
      directive,
      rule: logged?.rule ?? DEFAULT_RULE,
      ...(logged?.limits !== undefined ? { limits: logged.limits } : {}),
      ...(logged?.overridden !== undefined ? { overridden: logged.overridden } : {}),
      at: now,
    };
    switch (directive.type) {
      case 'restart':
      case 'restart-after': {
        const notBefore = directive.type === 'restart-after' ? { notBefore: now + directive.ms } : {};
        // A restart that opted out of intensity is left out of the history, as a supervisor leaves it out of its own.
        if (directive.bypassIntensity === true) return { decision: { ...record, action: 'restart', history: report.history, ...notBefore }, counted: false };
        const counted = step.kind === 'restart' ? step.counted : true;
        return { decision: { ...record, action: 'restart', history: step.history, ...notBefore }, counted };
      }
      case 'ignore':
        return { decision: { ...record, action: 'drop' }, counted: false };
      case 'stop':
        return { decision: { ...record, action: 'stop', detail: 'stopped', history: report.history }, counted: false };
      case 'escalate': {
        // No parent to escalate to: the cluster gives up on the instance.
        const exceeded = logged?.limits?.intensity === 'exceeded';
        const history = exceeded ? step.history : report.history;
        const detail = exceeded ? MAX_INTENSITY_REASON : 'escalated';
        // Past the limit: banned for the failure timeout, then tried again (restarts.ts); a rule's escalate is not overruled.
        const ban = exceeded ? { bannedUntil: now + this.#d.failureTimeoutMs } : {};
        return { decision: { ...record, action: 'stop', detail, history, ...ban }, counted: false };
      }
    }
  }

  /**
   * Given up (past its intensity, or a rule said so): the decision (`stop`)
   * first; then the owner claim of an instance lost with its node; then the
   * record (exited, given up: no coordinator restarts it); last the history
   * and any pending entry.
   */
  async #giveUp(rec: InstanceRecord, d: ClusterDecision): Promise<void> {
    this.#d.lease.assertHeld();
    this.#d.logger.warn(
      { name: rec.name, reason: d.reason, restarts: d.history?.length ?? 0, rule: d.rule, detail: d.detail, bannedUntil: d.bannedUntil },
      d.bannedUntil !== undefined ? 'cluster recovery gives up for now: banned for the failure timeout' : 'cluster recovery gives up',
    );
    await this.#decided(d);
    await this.releaseLost(rec);
    const given: InstanceRecord = {
      ...rec,
      state: 'exited',
      reason: d.detail ?? MAX_INTENSITY_REASON,
      gaveUp: true,
      endedWith: d.reason,
      ...(d.bannedUntil !== undefined ? { bannedUntil: d.bannedUntil } : {}),
    };
    await this.#d.registry.put('instance', rec.name, given);
    this.#d.view.keep(given);
    await this.#forget(rec.name);
  }

  /**
   * Its ban has ended: clear its restart history (Pacemaker clears the fail
   * count) and make it the end it was given up on again, numbered as the
   * next retry of its tenure, so the policy decides on it afresh.
   */
  async #unban(rec: InstanceRecord): Promise<InstanceRecord> {
    this.#d.lease.assertHeld();
    const { gaveUp: _g, bannedUntil: _b, endedWith, ...rest } = rec;
    const again: InstanceRecord = { ...rest, reason: endedWith ?? 'error', retry: (rec.retry ?? 0) + 1 };
    this.#d.logger.info({ name: rec.name, reason: again.reason, retry: again.retry }, 'cluster recovery: ban ended, trying again');
    await this.#d.kv.delete(`restarts.${rec.name}`);
    await this.#d.registry.put('instance', rec.name, again);
    this.#d.view.keep(again);
    return again;
  }

  /**
   * An instance lost with its node and not restarted (dropped, given up,
   * stopped for good): free its owner claim. Otherwise that node, back in
   * contact, would find the claim still its own and record the end as a
   * fresh `killed`, bringing a forgotten instance back to be decided again.
   */
  async releaseLost(rec: InstanceRecord): Promise<void> {
    if (rec.state !== 'running') return;
    await this.#d.registry.release(claimKeyOf(rec), rec.epoch).catch(() => false);
  }

  /** No more restarts for `name`: its history, and a pending entry left by an earlier tenure's restart. */
  async #forget(name: string): Promise<void> {
    const kv = this.#d.kv;
    await Promise.all([kv.delete(`restarts.${name}`), kv.delete(`pending.${name}`)]).catch(() => {});
  }

  async #decided(d: ClusterDecision): Promise<void> {
    await this.#d.kv.put(decisionKey(d), encodeJson(d));
  }
}
