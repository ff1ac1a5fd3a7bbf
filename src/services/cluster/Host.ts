/**
 * The host: the RPC server on `<prefix>.clrpc.<node>` that runs instances on
 * this node, and the bookkeeping of what it runs.
 *
 * ## Requests (JSON with a version `v`, wire.ts)
 * | op      | fields                                                  | answer |
 * |---------|---------------------------------------------------------|--------|
 * | `spawn` | name, stype, input?, restart, placement, pin?, origin, supervisor, intensity?, period?, e? | `{ ok, epoch }` |
 * | `stop`  | name, epoch, kill?                                      | `{ ok, stopped }` |
 * | `list`  |                                                         | `{ ok, node, valid, coordinator, instances }` |
 * | `adopt` | name, epoch, supervisor                                 | `{ ok, epoch }`, or `{ ok, ended: { reason, error? } }` |
 * | `adopt-supervisor` | name, e?                                     | `{ ok, node }` (Adoption.ts) |
 * Errors answer `{ ok: false, error }` with a wire error (`FencedError`,
 * `StaleEpochError`, `UnknownServiceTypeError`, `ServiceLockedError`, ...);
 * a lock refusal adds `locked: { type, lock, holder }`, so the caller gets a
 * `ServiceLockedError` again.
 *
 * ## A spawn
 * 1. Fence first (SelfFence.ts): a woken process must not answer as an owner.
 * 2. A request from the cluster coordinator carries its lease epoch (`e`):
 *    one older than the newest seen is a `StaleEpochError`.
 * 3. Idempotent: a name already running here answers its epoch (a
 *    coordinator finishing its predecessor's pending decision may ask again).
 * 4. The per-node lock (placement.ts `lockConflict`), then the owner claim by
 *    compare-and-set (`owner.<name>`, `owner.singleton.<type>`): a claim of a
 *    node that is fenced, gone, or an older incarnation is taken over; one of
 *    a live node is a `ServiceLockedError` naming the holder.
 * 5. Spawn, then write the `running` record; its end is written after it.
 *
 * ## An instance's end
 * Stopped on request: its record is removed. Otherwise a cluster-supervised
 * instance's record becomes `exited` with the reason (the coordinator
 * decides), and a remote child's end is reported to its supervisor's node on
 * `<prefix>.clexit.<node>` with its epoch (RemoteChild.ts) and its record is
 * removed. Either way the claim is released by epoch. A fenced instance
 * writes nothing: its successor may own the name already.
 *
 * ## A supervisor's node lost
 * Its remote children are stopped (OTP links), except those spawned with
 * `graceMs` (a supervisor with `lifetime: 'cluster'`, Adoption.ts): they
 * keep running for `graceMs`, for a replacement supervisor to `adopt` at
 * their epoch (their exit reports go to its node from then on). One not
 * adopted in time is stopped; one that ends meanwhile keeps its end for the
 * adopter, which is answered with it.
 */
import type { ActorSystem } from '../../actors/ActorSystem.js';
import type { Clock, TimerHandle } from '../../clock.js';
import { describe, FencedError, NoSuchActorError, InvalidSpecError, ServiceLockedError, StaleEpochError, toWireError, UnknownServiceTypeError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Msg, Transport } from '../../transport/Transport.js';
import type { HostedRef, ServiceCatalog } from './catalog.js';
import type { ClusterView } from './ClusterView.js';
import { decodeJson, encodeJson, isRecord } from './kv.js';
import type { Membership } from './Membership.js';
import { Cardinality, lockConflict } from './placement.js';
import { CLUSTER_SUPERVISOR, claimKeyOf, type HostedInstance, type InstanceRecord, type SpawnRequest } from './records.js';
import type { Registry } from './Registry.js';
import { resolveIntensity } from './restarts.js';
import type { Fenceable, FencedInstance, SelfFence } from './SelfFence.js';
import type { ClusterSubjects } from './subjects.js';
import { assertRpcVersion, RPC_VERSION } from './wire.js';

/** The lease name of the cluster coordinator, whose epoch fences its spawn requests. */
export const COORDINATOR_LEASE = 'coordinator';

/** Ends of orphaned instances kept for their adopter, at most this many. */
const ORPHAN_ENDS_MAX = 256;

interface Hosted extends Omit<HostedInstance, 'supervisor'> {
  /** `cluster`, or the node whose supervisor it reports to (changed by an adoption). */
  supervisor: string;
  readonly ref: HostedRef;
  record: InstanceRecord;
  /** Set when its supervisor may be replaced by adoption (SpawnRequest.graceMs). */
  readonly graceMs: number | undefined;
  /** Its supervisor's node is lost: stopped when this fires unless adopted first. */
  orphaned: TimerHandle | undefined;
  /** Stopped on request: its end is not reported, its record is removed. */
  stopping: boolean;
  /** Killed by self-fencing: nothing is written or reported for it. */
  fenced: boolean;
  /** The write of its `running` record: its end is written after it, never before. */
  recorded: Promise<unknown> | undefined;
}

export interface HostDeps {
  readonly node: string;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly subjects: ClusterSubjects;
  readonly system: ActorSystem;
  readonly registry: Registry;
  readonly membership: Membership;
  readonly catalog: ServiceCatalog;
  readonly view: ClusterView;
  readonly fence: SelfFence;
  readonly logger: Logger;
  readonly isCoordinator: () => boolean;
  readonly closed: () => boolean;
  /** Counts a stale request rejected (fencing at work). */
  readonly stale: () => void;
  /** Serves `adopt-supervisor` (Adoption.ts). */
  readonly adoptSupervisor?: (req: Record<string, unknown>) => Promise<Record<string, unknown>>;
}

export class Host implements Fenceable {
  readonly #d: HostDeps;
  readonly #hosted = new Map<string, Hosted>();
  /** Instances stopped by fencing whose end is not yet recorded (done once valid again, if still ours). */
  readonly #fencedEnds: Array<{ h: Hosted; claimKey: string }> = [];
  /** How orphaned instances ended before anyone adopted them, by name. */
  readonly #orphanEnds = new Map<string, { epoch: number; reason: string; error?: unknown }>();
  /** Ops served for other parts of the cluster layer (`serve`), e.g. `reconfigure` (clusterServices.ts). */
  readonly #ops = new Map<string, (req: Record<string, unknown>) => Promise<Record<string, unknown>>>();
  #settling = false;
  #coordEpochSeen = 0;

  constructor(deps: HostDeps) {
    this.#d = deps;
  }

  get size(): number {
    return this.#hosted.size;
  }

  /** Instances running here. */
  instances(): HostedInstance[] {
    return [...this.#hosted.values()].filter((h) => !h.fenced).map(({ name, type, epoch, supervisor }) => ({ name, type, epoch, supervisor }));
  }

  /** Epoch of the instance `name` hosted here, if any. */
  epochOf(name: string): number | undefined {
    const h = this.#hosted.get(name);
    return h === undefined || h.fenced ? undefined : h.epoch;
  }

  /**
   * OTP links: a supervisor's death takes its remote children with it;
   * those of an adoptable supervisor wait `graceMs` for an adopter first.
   */
  stopChildrenOf(node: string): void {
    for (const h of [...this.#hosted.values()]) {
      if (h.supervisor !== node) continue;
      if (h.graceMs === undefined) {
        void this.stopLocal(h.name, h.epoch);
        continue;
      }
      if (h.orphaned !== undefined) continue;
      h.orphaned = this.#d.clock.setTimer(() => {
        h.orphaned = undefined;
        if (h.supervisor === node) void this.stopLocal(h.name, h.epoch);
      }, h.graceMs);
    }
  }

  /** Serve `op` on this host's RPC subject too (the fence guard and the error answer as for every op). */
  serve(op: string, fn: (req: Record<string, unknown>) => Promise<Record<string, unknown>>): void {
    this.#ops.set(op, fn);
  }

  /** The instance `name` hosted here runs with `input` now (a reconfigure): its record says so, for a failover. */
  async updateInput(name: string, input: unknown): Promise<void> {
    const h = this.#hosted.get(name);
    if (h === undefined || h.fenced || h.stopping) return;
    h.record = { ...h.record, input };
    this.#d.view.keep(h.record);
    await h.recorded;
    await this.#d.registry.put('instance', name, h.record);
  }

  /** A replacement supervisor on node `supervisor` takes over instance `name` of tenure `epoch`. */
  #adopt(name: string, epoch: number, supervisor: string): Record<string, unknown> {
    const h = this.#hosted.get(name);
    if (h !== undefined && !h.fenced && !h.stopping && h.epoch === epoch) {
      if (h.orphaned !== undefined) this.#d.clock.clearTimer(h.orphaned);
      h.orphaned = undefined;
      h.supervisor = supervisor;
      h.record = { ...h.record, supervisor };
      const rec = h.record;
      this.#d.view.keep(rec);
      void this.#d.registry.put('instance', name, rec).catch((err) => this.#d.logger.warn({ reason: describe(err) }, 'cannot record adoption'));
      return { epoch };
    }
    const ended = this.#orphanEnds.get(name);
    if (ended !== undefined && ended.epoch === epoch) {
      this.#orphanEnds.delete(name);
      return { epoch, ended: { reason: ended.reason, ...(ended.error !== undefined ? { error: toWireError(ended.error) } : {}) } };
    }
    throw new NoSuchActorError(name);
  }

  async onRpc(msg: Msg): Promise<void> {
    const reply = (v: Record<string, unknown>): void => {
      if (msg.reply !== undefined && !this.#d.transport.isClosed) this.#d.transport.publish(msg.reply, encodeJson({ v: RPC_VERSION, ...v }));
    };
    const v = decodeJson(msg.data);
    // Fence before serving anything: a woken process must not answer as an owner.
    this.#d.fence.guard();
    try {
      if (!isRecord(v)) throw new InvalidSpecError('request', 'must be a JSON object');
      // A newer peer's frame may mean something else by the same fields: refuse it rather than misread it.
      assertRpcVersion(v, 'cluster request');
      switch (v.op) {
        case 'spawn':
          reply({ ok: true, epoch: await this.#spawnLocal(v as unknown as SpawnRequest) });
          return;
        case 'stop':
          reply({ ok: true, stopped: await this.stopLocal(String(v.name), Number(v.epoch), v.kill === true) });
          return;
        case 'list':
          reply({ ok: true, node: this.#d.node, valid: this.#d.fence.valid, coordinator: this.#d.isCoordinator(), instances: this.instances() });
          return;
        case 'adopt':
          if (!this.#d.fence.valid) throw new FencedError(this.#d.node);
          if (typeof v.name !== 'string' || typeof v.epoch !== 'number' || typeof v.supervisor !== 'string') {
            throw new InvalidSpecError('adopt', 'needs name, epoch and supervisor');
          }
          reply({ ok: true, ...this.#adopt(v.name, v.epoch, v.supervisor) });
          return;
        case 'adopt-supervisor':
          if (this.#d.adoptSupervisor === undefined) throw new InvalidSpecError('op', 'adopt-supervisor is not served here');
          reply({ ok: true, ...(await this.#d.adoptSupervisor(v)) });
          return;
        default: {
          const served = typeof v.op === 'string' ? this.#ops.get(v.op) : undefined;
          if (served === undefined) throw new InvalidSpecError('op', 'must be spawn, stop, list, adopt, adopt-supervisor or a served op');
          if (!this.#d.fence.valid) throw new FencedError(this.#d.node);
          reply({ ok: true, ...(await served(v)) });
          return;
        }
      }
    } catch (err) {
      // A lock refusal carries what the caller needs to rebuild it (hostClient.ts): which lock, and who holds it.
      const locked = err instanceof ServiceLockedError ? { locked: { type: err.type, lock: err.lock, holder: err.holder ?? null } } : {};
      reply({ ok: false, error: toWireError(err), ...locked });
    }
  }

  async #spawnLocal(req: SpawnRequest): Promise<number> {
    const { fence, catalog } = this.#d;
    if (!fence.valid) throw new FencedError(this.#d.node);
    const limits = req.supervisor === CLUSTER_SUPERVISOR ? resolveIntensity(req) : undefined;
    if (typeof req.e === 'number') {
      if (req.e < this.#coordEpochSeen) {
        this.#d.stale();
        throw new StaleEpochError(COORDINATOR_LEASE, req.e, this.#coordEpochSeen);
      }
      this.#coordEpochSeen = req.e;
    }
    const t = catalog.local(req.stype);
    if (t === undefined) throw new UnknownServiceTypeError(req.stype, this.#d.node);
    const existing = this.#hosted.get(req.name);
    // Idempotent: a coordinator finishing a predecessor's pending decision may ask again.
    if (existing !== undefined && !existing.fenced && !existing.stopping) return existing.epoch;
    const node = this.#d.node;
    const lock = lockConflict(
      { name: req.name, type: req.stype, cardinality: t.cardinality },
      node,
      this.instances().map((h) => ({ name: h.name, type: h.type, cardinality: catalog.local(h.type)?.cardinality ?? Cardinality.Many, node })),
      new Map([[node, { node, status: 'up', types: [] }]]),
    );
    if (lock !== undefined) throw new ServiceLockedError(req.stype, lock, node);
    const claimKey = claimKeyOf({ cardinality: t.cardinality, stype: req.stype, name: req.name });
    const epoch = await this.#claim(claimKey, req.stype, t.cardinality);
    if (!fence.valid) {
      await this.#d.registry.release(claimKey, epoch).catch(() => {});
      throw new FencedError(node);
    }
    let ref: HostedRef;
    try {
      ref = t.start !== undefined ? await t.start({ name: req.name, input: req.input, epoch }) : this.#d.system.spawn(t.logic!, { name: req.name, input: req.input });
    } catch (err) {
      // Could not start (a missing label, a config its schema refuses): the claim is not ours to keep.
      await this.#d.registry.release(claimKey, epoch).catch(() => {});
      throw err;
    }
    const record: InstanceRecord = {
      type: 'halyard.cluster.v1.instance',
      name: req.name,
      stype: req.stype,
      ...(req.input !== undefined ? { input: req.input } : {}),
      restart: req.restart,
      cardinality: t.cardinality,
      placement: req.placement,
      ...(req.pin !== undefined ? { pin: req.pin } : {}),
      supervisor: req.supervisor,
      owner: node,
      incarnation: this.#d.membership.incarnation,
      epoch,
      state: 'running',
      ...limits,
    };
    const graceMs = typeof req.graceMs === 'number' && Number.isFinite(req.graceMs) && req.graceMs >= 0 ? req.graceMs : undefined;
    const h: Hosted = {
      name: req.name,
      type: req.stype,
      epoch,
      supervisor: req.supervisor,
      ref,
      record,
      graceMs,
      orphaned: undefined,
      stopping: false,
      fenced: false,
      recorded: undefined,
    };
    this.#hosted.set(req.name, h);
    ref.onExit((exit) => {
      if (h.fenced) this.#fencedEnds.push({ h, claimKey });
      else void this.#hostedExited(h, claimKey, exit.reason, exit.error);
    });
    this.#d.view.keep(record);
    h.recorded = this.#d.registry.put('instance', req.name, record).catch((err) => this.#d.logger.warn({ reason: describe(err) }, 'cannot record instance'));
    await h.recorded;
    return epoch;
  }

  async #claim(key: string, type: string, cardinality: Cardinality): Promise<number> {
    const { registry, membership, node } = this.#d;
    const lock = cardinality === Cardinality.Singleton ? 'singleton' : 'name';
    const data = { type };
    const first = await registry.claim(key, { node, incarnation: membership.incarnation, data });
    if (first.ok) return first.epoch;
    const owner = first.owner;
    if (owner === undefined) {
      // Released between our create and our read: try once more.
      const again = await registry.claim(key, { node, incarnation: membership.incarnation, data });
      if (again.ok) return again.epoch;
      throw new ServiceLockedError(type, lock, again.owner?.node);
    }
    const m = membership.member(owner.node);
    const gone =
      (owner.node === node && owner.incarnation !== membership.incarnation) ||
      (owner.node === node && ![...this.#hosted.values()].some((h) => h.epoch === owner.epoch && !h.fenced)) ||
      (owner.node !== node && (this.#d.view.fencedNode(owner.node, m) || (m !== undefined && m.incarnation > owner.incarnation)));
    if (!gone) throw new ServiceLockedError(type, lock, owner.node);
    const take = await registry.claim(key, { node, incarnation: membership.incarnation, replaces: owner.epoch, data });
    if (take.ok) return take.epoch;
    throw new ServiceLockedError(type, lock, take.owner?.node);
  }

  async stopLocal(name: string, epoch: number, kill = false): Promise<boolean> {
    const h = this.#hosted.get(name);
    if (h === undefined || (Number.isFinite(epoch) && h.epoch !== epoch)) return false;
    h.stopping = true;
    await (kill ? h.ref.stop('brutal_kill') : h.ref.stop());
    return true;
  }

  async #hostedExited(h: Hosted, claimKey: string, reason: string, error: unknown): Promise<void> {
    if (this.#hosted.get(h.name) === h) this.#hosted.delete(h.name);
    if (h.orphaned !== undefined) {
      // No supervisor hears this now: kept for the one that adopts it.
      this.#d.clock.clearTimer(h.orphaned);
      h.orphaned = undefined;
      if (!h.stopping) {
        this.#orphanEnds.set(h.name, { epoch: h.epoch, reason, ...(error !== undefined ? { error } : {}) });
        if (this.#orphanEnds.size > ORPHAN_ENDS_MAX) this.#orphanEnds.delete(this.#orphanEnds.keys().next().value!);
      }
    }
    const { fence, registry } = this.#d;
    // A fenced instance's successor may already own the name: write nothing.
    if (h.fenced || !fence.valid || this.#d.closed()) return;
    if (h.supervisor !== CLUSTER_SUPERVISOR) {
      this.#d.transport.publish(
        this.#d.subjects.exits(h.supervisor),
        encodeJson({ v: RPC_VERSION, name: h.name, epoch: h.epoch, reason, ...(error !== undefined ? { error: toWireError(error) } : {}) }),
      );
    }
    try {
      // An instance that ended as it started: its `running` record must not land after its end.
      if (h.recorded !== undefined) {
        await h.recorded;
        // Fenced meanwhile: settled (as `killed`) once valid again, if the claim is still ours.
        if (!fence.valid || this.#d.closed()) {
          if (!this.#d.closed()) this.#fencedEnds.push({ h, claimKey });
          return;
        }
      }
      if (h.stopping || h.supervisor !== CLUSTER_SUPERVISOR) await registry.remove('instance', h.name);
      else await registry.put('instance', h.name, { ...h.record, state: 'exited', reason, ...(error !== undefined ? { error: toWireError(error) } : {}) });
      await registry.release(claimKey, h.epoch);
    } catch (err) {
      this.#d.logger.warn({ reason: describe(err), name: h.name }, 'cannot record instance end');
    }
  }

  /** Stop every hosted instance at once, writing and reporting nothing (SelfFence.ts). */
  killAll(): FencedInstance[] {
    const killed: FencedInstance[] = [];
    for (const h of [...this.#hosted.values()]) {
      h.fenced = true;
      this.#hosted.delete(h.name);
      killed.push({ name: h.name, id: h.ref.id, epoch: h.epoch });
      void h.ref.stop('brutal_kill');
    }
    return killed;
  }

  settleFenced(): void {
    if (this.#fencedEnds.length > 0 && !this.#settling) void this.#settleFenced();
  }

  /**
   * Back in contact after a fence: an instance whose claim is still ours (no
   * one took it over: this node was never declared down) is recorded as
   * ended `killed`, so its supervisor or the coordinator restarts it. One
   * taken over is left alone: its successor owns the record.
   */
  async #settleFenced(): Promise<void> {
    this.#settling = true;
    try {
      while (this.#fencedEnds.length > 0 && this.#d.fence.valid) {
        const { h, claimKey } = this.#fencedEnds[0]!;
        const owner = await this.#d.registry.owner(claimKey);
        if (owner?.epoch === h.epoch && this.#d.fence.valid) {
          await this.#hostedExited({ ...h, fenced: false }, claimKey, 'killed', undefined);
        }
        this.#fencedEnds.shift();
      }
    } catch (err) {
      this.#d.logger.warn({ reason: describe(err) }, 'cannot settle fenced instances yet');
    } finally {
      this.#settling = false;
    }
  }
}
