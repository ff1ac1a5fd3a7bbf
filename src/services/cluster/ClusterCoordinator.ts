/**
 * The cluster Recovery Coordinator: decides for instances started with
 * `cluster.start()` (supervisor `cluster`).
 *
 * It is a singleton elected by a KV lease (`coordinator`) whose epoch fences
 * its requests (hosts reject a spawn carrying an older coordinator epoch).
 * On a `down` verdict or an instance's exit it decides with OTP's rule
 * (`permanent` always, `transient` unless normal/shutdown, `temporary`
 * never; `nodedown` is abnormal) and places with placement.ts. Each restart
 * counts toward the instance's intensity (OTP's `add_restart/3`,
 * restarts.ts), its history in `restarts.<name>` in the `coord` bucket; past
 * it the coordinator gives up: decision `stop` (detail
 * `reached_max_restart_intensity`), and the record stays `exited` with that
 * reason and `gaveUp`, restarted by no coordinator.
 *
 * ## No decision lost with a coordinator
 * Before a restart it writes `pending.<name>`; when the new instance answers
 * it writes `decision.<name>.<oldEpoch>` and deletes the pending entry. A new
 * coordinator starts by finishing every pending entry and reconciling every
 * record, and carries the restart histories on. An instance lost with its
 * node and not restarted (dropped, given up) has its owner claim released,
 * so that node, back, does not revive it.
 *
 * ## Sweeps
 * While it holds the lease the coordinator reconciles every known record
 * every `2 × heartbeatMs` (at least 100 ms): waits (a down owner whose lease
 * may not have passed) and unplaced instances resolve over time. One step per
 * name runs at a time; a name asked again while its step runs is stepped
 * once more right after it.
 */
import type { Clock, TimerHandle } from '../../clock.js';
import { describe } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { ClusterView } from './ClusterView.js';
import type { HostClient } from './hostClient.js';
import { decodeJson, encodeJson, isRecord, type KV } from './kv.js';
import type { Lease } from './Lease.js';
import { type InstanceState, recover } from './placement.js';
import { CLUSTER_SUPERVISOR, type ClusterDecision, claimKeyOf, type InstanceRecord, intensityOf } from './records.js';
import type { Registry } from './Registry.js';
import { intensityStep, MAX_INTENSITY_REASON, parseRestarts, type RestartHistory } from './restarts.js';

export interface ClusterCoordinatorDeps {
  readonly node: string;
  readonly lease: Lease;
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
  readonly closed: () => boolean;
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
    const rec = view.record(name);
    if (rec === undefined) {
      await kv.delete(pendingKey).catch(() => {});
      return;
    }
    if (rec.supervisor !== CLUSTER_SUPERVISOR) return;
    const inst: InstanceState = {
      name: rec.name,
      type: rec.stype,
      cardinality: rec.cardinality,
      placement: rec.placement,
      ...(rec.pin !== undefined ? { node: rec.pin } : {}),
      restart: rec.restart,
      owner: rec.owner,
      ...(view.staleOwner(rec) ? { ownerGone: true } : {}),
      state: rec.state,
      ...(rec.reason !== undefined ? { reason: rec.reason } : {}),
      ...(rec.gaveUp === true ? { gaveUp: true } : {}),
    };
    const r = recover(inst, view.nodeView(), view.placed());
    if (r.kind === 'none') {
      if (rec.state !== 'running') return;
      // Running on a live node: a pending entry for an older epoch has completed.
      const p = await kv.get(pendingKey).catch(() => null);
      const pv = p?.operation === 'PUT' ? decodeJson(p.value) : undefined;
      if (isRecord(pv) && pv.fromEpoch !== rec.epoch) {
        lease.assertHeld();
        await this.#decided({ ...(pv as unknown as ClusterDecision), to: rec.owner, epoch: rec.epoch });
        await kv.delete(pendingKey);
      }
      return;
    }
    if (r.kind === 'wait' || r.kind === 'unplaced') return;
    const base = { name, from: rec.owner, fromEpoch: rec.epoch, reason: r.reason, coordinator: this.#d.node, coordinatorEpoch: coordEpoch };
    lease.assertHeld();
    if (r.kind === 'drop') {
      await this.#decided({ ...base, action: 'drop', at: Date.now() });
      await this.releaseLost(rec);
      await registry.remove('instance', name);
      view.forgetRecord(name);
      await this.#forget(name);
      return;
    }
    // OTP's add_restart/3 per instance, on a history kept in KV for the next coordinator.
    const restartsKey = `restarts.${name}`;
    const stored = parseRestarts(decodeJson((await kv.get(restartsKey))?.value ?? new Uint8Array()));
    const { intensity, period } = intensityOf(rec);
    const step = intensityStep(stored, rec.epoch, this.#d.wallClock(), intensity, period);
    if (step.kind === 'stop') {
      await this.#giveUp(rec, base, step.history);
      return;
    }
    if (step.counted) {
      lease.assertHeld();
      const h: RestartHistory = { type: 'halyard.cluster.v1.restarts', name, history: step.history, from: rec.epoch };
      await kv.put(restartsKey, encodeJson(h));
    }
    const pending: ClusterDecision = { ...base, action: 'restart', history: step.history, to: r.node, at: Date.now() };
    await kv.put(pendingKey, encodeJson(pending));
    this.#d.logger.info({ name, from: rec.owner, to: r.node, reason: r.reason }, 'cluster recovery pending');
    lease.assertHeld();
    const epoch = await this.#d.hosts.spawn(r.node, {
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
    // Unless the watch has shown something newer already (this tenure may have ended by now).
    view.setIfNewer({ ...rec, owner: r.node, epoch, state: 'running' });
    await this.#decided({ ...pending, epoch });
    await kv.delete(pendingKey);
  }

  /**
   * Past its restart intensity: the decision (`stop`) first; then the owner
   * claim of an instance lost with its node; then the record (exited, given
   * up: no coordinator restarts it); last the history and any pending entry.
   */
  async #giveUp(rec: InstanceRecord, base: Omit<ClusterDecision, 'action' | 'at'>, history: readonly number[]): Promise<void> {
    this.#d.lease.assertHeld();
    this.#d.logger.warn({ name: rec.name, reason: base.reason, restarts: history.length }, 'cluster recovery gives up: restart intensity reached');
    await this.#decided({ ...base, action: 'stop', detail: MAX_INTENSITY_REASON, history, at: Date.now() });
    await this.releaseLost(rec);
    const given: InstanceRecord = { ...rec, state: 'exited', reason: MAX_INTENSITY_REASON, gaveUp: true };
    await this.#d.registry.put('instance', rec.name, given);
    this.#d.view.keep(given);
    await this.#forget(rec.name);
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
    await this.#d.kv.put(`decision.${d.name}.${d.fromEpoch}`, encodeJson(d));
  }
}
