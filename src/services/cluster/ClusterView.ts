/**
 * This node's view of the cluster for placement: members (from Membership),
 * the service types each registered (catalog.ts), and every instance record
 * as last seen through the Registry watch, turned into the inputs of the
 * pure placement rules (placement.ts).
 *
 * ## What counts as live here
 * - A `down` node is fenced (it has surely stopped what it ran) once
 *   `takeoverDelayMs` have passed since this node saw the verdict; a node
 *   that is no member at all counts as fenced.
 * - A record of an earlier incarnation of its owner, or of an owner that is
 *   no member, holds no lock: that process is gone ({@link staleOwner}).
 * - A tenure known to have ended from an exit report (`noteEnded`) holds no
 *   lock either, even before the watch shows its record's end: a supervisor
 *   restarting a remote child at once must find its name free.
 * - This node itself is eligible only while it may run instances
 *   (`valid`, SelfFence.ts).
 */
import type { Clock } from '../../clock.js';
import { NoNodeAvailableError, ServiceLockedError } from '../../errors.js';
import type { ServiceCatalog } from './catalog.js';
import type { Member, Membership } from './Membership.js';
import { candidates, lockHolder, type NodeView, type PlacedInstance, type Placement, place } from './placement.js';
import { CLUSTER_SUPERVISOR, type HostedInstance, type InstanceRecord } from './records.js';

export interface ClusterViewDeps {
  readonly node: string;
  readonly membership: Membership;
  readonly catalog: ServiceCatalog;
  readonly clock: Clock;
  readonly takeoverDelayMs: number;
  /** Whether this node may run instances now. */
  readonly valid: () => boolean;
}

export class ClusterView {
  readonly #d: ClusterViewDeps;
  readonly #records = new Map<string, InstanceRecord>();
  readonly #downSeenAt = new Map<string, number>();
  /** Tenures known to have ended (name → epoch) from exit reports, ahead of the Registry watch. */
  readonly #ended = new Map<string, number>();

  constructor(deps: ClusterViewDeps) {
    this.#d = deps;
  }

  // ── records ─────────────────────────────────────────────────────────────

  record(name: string): InstanceRecord | undefined {
    return this.#records.get(name);
  }

  records(): InstanceRecord[] {
    return [...this.#records.values()];
  }

  names(): string[] {
    return [...this.#records.keys()];
  }

  /** A record came through the watch, or this node wrote one (`undefined`: removed). */
  setRecord(name: string, rec: InstanceRecord | undefined): void {
    const ended = this.#ended.get(name);
    if (ended !== undefined && (rec === undefined || rec.epoch > ended)) this.#ended.delete(name);
    if (rec === undefined) this.#records.delete(name);
    else this.#records.set(name, rec);
  }

  /** A record this node wrote. */
  keep(rec: InstanceRecord): void {
    this.#records.set(rec.name, rec);
  }

  /** Keep `rec` unless a newer tenure is known already. */
  setIfNewer(rec: InstanceRecord): void {
    if ((this.#records.get(rec.name)?.epoch ?? 0) < rec.epoch) this.#records.set(rec.name, rec);
  }

  forgetRecord(name: string): void {
    this.#records.delete(name);
  }

  noteEnded(name: string, epoch: number): void {
    if (epoch > (this.#ended.get(name) ?? 0)) this.#ended.set(name, epoch);
  }

  // ── members ─────────────────────────────────────────────────────────────

  nodeDown(node: string): void {
    this.#downSeenAt.set(node, this.#d.clock.now());
  }

  /** Members already down when this node joined: their takeover delay runs from now. */
  seedDown(): void {
    for (const m of this.#d.membership.members()) {
      if (m.node !== this.#d.node && m.status === 'down' && !this.#downSeenAt.has(m.node)) this.#downSeenAt.set(m.node, this.#d.clock.now());
    }
  }

  nodeJoined(node: string): void {
    this.#downSeenAt.delete(node);
  }

  /** True once `node` has surely stopped what it ran: no member, or down for `takeoverDelayMs`. */
  fencedNode(node: string, m: Member | undefined = this.#d.membership.member(node)): boolean {
    if (m === undefined) return true;
    if (m.status !== 'down') return false;
    const seen = this.#downSeenAt.get(node);
    return seen !== undefined && this.#d.clock.now() - seen >= this.#d.takeoverDelayMs;
  }

  nodeView(): Map<string, NodeView> {
    const view = new Map<string, NodeView>();
    for (const m of this.#d.membership.members()) {
      const types = Object.keys(this.#d.catalog.typesOf(m.node) ?? {});
      view.set(m.node, { node: m.node, status: m.status, types, fenced: this.fencedNode(m.node, m) });
    }
    const self = view.get(this.#d.node);
    if (self !== undefined && !this.#d.valid()) view.set(this.#d.node, { ...self, status: 'suspect' });
    return view;
  }

  /**
   * True when `r` was started by an earlier incarnation of its owner, or its
   * owner is no member: that process is gone (a new incarnation is only
   * registered after the old one was declared down or left), so the record
   * holds no lock and is recovered as lost with its node.
   */
  staleOwner(r: InstanceRecord): boolean {
    const m = this.#d.membership.member(r.owner);
    if (m === undefined) return true;
    return r.incarnation !== undefined && m.incarnation > r.incarnation;
  }

  // ── placement ───────────────────────────────────────────────────────────

  /** Instances that may still run somewhere, for locks and load. */
  placed(): PlacedInstance[] {
    const out: PlacedInstance[] = [];
    for (const r of this.#records.values()) {
      if (r.state !== 'running' || r.epoch <= (this.#ended.get(r.name) ?? 0)) continue;
      if (this.staleOwner(r)) continue;
      out.push({ name: r.name, type: r.stype, cardinality: r.cardinality, node: r.owner });
    }
    return out;
  }

  placeFor(req: { name: string; type: string; placement: Placement; node?: string | undefined }): string | undefined {
    return place({ ...req, cardinality: this.#d.catalog.cardinalityOf(req.type) }, this.nodeView(), this.placed());
  }

  /** Every node that could host `req` now, best first. */
  candidatesFor(req: { name: string; type: string; placement: Placement; node?: string | undefined }): string[] {
    return candidates({ ...req, cardinality: this.#d.catalog.cardinalityOf(req.type) }, this.nodeView(), this.placed());
  }

  /**
   * Why `req` cannot be placed: a `ServiceLockedError` naming the lock and
   * its holder when a lock is what keeps it out (a second singleton, a
   * second per-node instance), else a `NoNodeAvailableError`.
   */
  refusal(req: { name: string; type: string; placement: Placement; node?: string | undefined }): ServiceLockedError | NoNodeAvailableError {
    const held = lockHolder({ ...req, cardinality: this.#d.catalog.cardinalityOf(req.type) }, this.nodeView(), this.placed());
    return held === undefined ? new NoNodeAvailableError(req.type) : new ServiceLockedError(req.type, held.lock, held.holder);
  }

  /**
   * `rec` as the answer to a start of its name: the instance, when it runs
   * on a live incarnation as a cluster-supervised `type`; a
   * `ServiceLockedError` when it runs as another type or under another
   * supervisor; `undefined` when it does not run.
   */
  runningAs(rec: InstanceRecord | undefined, type: string): (HostedInstance & { node: string }) | undefined {
    if (rec === undefined || rec.state !== 'running' || rec.epoch <= (this.#ended.get(rec.name) ?? 0) || this.staleOwner(rec)) return undefined;
    const m = this.#d.membership.member(rec.owner);
    if (m === undefined || m.status === 'down') return undefined;
    if (rec.stype !== type || rec.supervisor !== CLUSTER_SUPERVISOR) throw new ServiceLockedError(type, 'name', rec.owner);
    return { name: rec.name, type: rec.stype, epoch: rec.epoch, supervisor: rec.supervisor, node: rec.owner };
  }
}
