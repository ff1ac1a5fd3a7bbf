/**
 * Watched-set adoption (Halon): a supervisor with `lifetime: 'cluster'`
 * outlives its node. Its watched set lives in the graph, and when its node is
 * lost a replacement supervisor on a survivor adopts the running instances.
 *
 * ```ts
 * const sup = await node.cluster!.supervise(
 *   { intensity: 3, period: 60_000, children: [{ id: 'w', start: { type: 'worker' }, node: 'n2' }] },
 *   { name: 'jobs', lifetime: 'cluster', graceMs: 10_000 },
 * );
 * ```
 *
 * ## Options (`cluster.supervise(spec, options)`)
 * | key        | mandatory | default  | meaning |
 * |------------|-----------|----------|---------|
 * | `name`     | yes       |          | the supervisor's name, unique in the cluster (its watched set's key) |
 * | `lifetime` | no        | `node`   | `node`: today's supervisor, its children end with its node (OTP links); `cluster`: adopted on node loss |
 * | `graceMs`  | no        | 10000    | integer ms >= 0: how long hosts keep its instances running once its node is lost, waiting for an adopter |
 *
 * With `lifetime: 'cluster'` every child must be remote (`start: { type, input? }`,
 * JSON input): logic cannot travel to the adopter. A child without `name`
 * is named `<supervisor>-<id>`, so that the adopter finds its instance.
 * `simple_one_for_one` and children added later with `startChild` are not
 * adopted (only the spec given here is in the watched set).
 *
 * ## The watched set (`supervisor.<name>` in the Registry, records.ts)
 * The spec, the supervisor's node and incarnation, each child's id,
 * instance name, node and epoch, and the restart times counted against
 * intensity (wall-clock ms, since the adopter's clock is another process's).
 * The supervisor's node rewrites it whenever a child is linked to a new
 * tenure or ends, by compare-and-set on the revision it wrote last: a node
 * that finds it moved on was replaced (it was declared down), so it stops its
 * own supervisor without stopping the instances, which are the adopter's.
 * It is removed when the supervisor stops (asked to, or giving up).
 *
 * ## Losing its node
 * ```
 *  node A down ──► hosts keep A's adoptable instances (graceMs)
 *             └──► cluster coordinator sweep: A fenced ──► adopt-supervisor ──► survivor S
 *  S: CAS the watched set to S, supervise(spec, history carried); each stand-in asks its host
 *     to `adopt` its instance at the recorded epoch (no restart) and links to it.
 * ```
 * The coordinator (ClusterCoordinator.ts) asks once the lost node has surely
 * fenced itself (the same takeover delay as its own instances), and picks the
 * live node holding the fewest watched sets. An instance that ended before
 * it was adopted is answered with its end, and its stand-in ends with that
 * reason: the replacement decides on it as the lost supervisor would have.
 * A graceful shutdown of the supervisor's node stops the supervisor and its
 * children (a handover on leave is not built).
 */
import { assertName } from '../../actors/names.js';
import type { Clock } from '../../clock.js';
import { describe, InvalidSpecError, NoSuchActorError, ServiceLockedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isPlainObject } from '../../options.js';
import type { Supervision } from '../../supervision/index.js';
import type { ChildSpec, Supervisor, SupervisorSpec } from '../../supervision/types.js';
import type { ClusterView } from './ClusterView.js';
import type { HostClient } from './hostClient.js';
import type { Membership } from './Membership.js';
import { parseWatchedSet, type WatchedChild, type WatchedSetRecord } from './records.js';
import type { Registry } from './Registry.js';
import type { RemoteChildren } from './RemoteChildren.js';

export { DEFAULT_GRACE_MS, Lifetime, resolveSuperviseOptions, type ClusterSuperviseOptions, type SupervisorLifetime } from './superviseOptions.js';

export interface AdoptionDeps {
  readonly node: string;
  readonly membership: Membership;
  readonly registry: Registry;
  readonly supervision: Pick<Supervision, 'supervise'>;
  readonly remote: RemoteChildren;
  readonly view: ClusterView;
  readonly hosts: HostClient;
  readonly clock: Clock;
  readonly wallClock: () => number;
  readonly logger: Logger;
  readonly closed: () => boolean;
}

/** A cluster-lifetime supervisor running on this node. */
interface Local {
  readonly sup: Supervisor;
  record: WatchedSetRecord;
  revision: number;
  /** Another node holds its watched set now. */
  lost: boolean;
  writes: Promise<void>;
  queued: boolean;
}

/** What `cluster.supervise` validates for `lifetime: 'cluster'`; the spec with each child named. */
export function adoptableSpec(spec: SupervisorSpec, name: string): SupervisorSpec {
  if (!isPlainObject(spec)) throw new InvalidSpecError('spec', 'must be a SupervisorSpec object');
  if (spec.strategy === 'simple_one_for_one') throw new InvalidSpecError('strategy', "simple_one_for_one cannot have lifetime 'cluster'");
  const children = spec.children ?? [];
  if (!Array.isArray(children)) throw new InvalidSpecError('children', 'must be an array of child specs');
  const named = children.map((c: ChildSpec, i): ChildSpec => {
    const field = `children[${i}]`;
    if (!isPlainObject(c)) throw new InvalidSpecError(field, 'must be a child spec object');
    const start = c.start as unknown;
    if (!isPlainObject(start) || typeof start.type !== 'string' || 'logic' in start || c.type === 'supervisor') {
      throw new InvalidSpecError(`${field}.start`, "must be { type, input? } with lifetime 'cluster' (logic cannot travel to the adopting node)");
    }
    if (c.check !== undefined) throw new InvalidSpecError(`${field}.check`, "is a function, which cannot travel to the adopting node (lifetime 'cluster')");
    try {
      JSON.stringify(start.input);
    } catch (err) {
      throw new InvalidSpecError(`${field}.start.input`, `must be JSON with lifetime 'cluster': ${describe(err)}`);
    }
    if (c.name !== undefined) return c;
    const childName = `${name}-${String(c.id)}`;
    try {
      assertName(childName);
    } catch {
      throw new InvalidSpecError(`${field}.name`, `is required when "${childName}" is not a valid name (lifetime 'cluster' names every instance)`);
    }
    return { ...c, name: childName };
  });
  return { ...spec, children: named };
}

export class Adoption {
  readonly #d: AdoptionDeps;
  /** Every watched set, as last seen through the Registry watch. */
  readonly #sets = new Map<string, WatchedSetRecord>();
  readonly #local = new Map<string, Local>();
  readonly #asking = new Set<string>();
  readonly #removals = new Set<Promise<unknown>>();

  constructor(deps: AdoptionDeps) {
    this.#d = deps;
  }

  /** Watched sets in the graph, as last seen. */
  sets(): WatchedSetRecord[] {
    return [...this.#sets.values()];
  }

  /** The cluster-lifetime supervisor `name`, if it runs on this node. */
  local(name: string): Supervisor | undefined {
    const l = this.#local.get(name);
    return l === undefined || l.lost ? undefined : l.sup;
  }

  /** The Registry watch of `supervisor.<name>`. */
  seen(name: string, value: unknown): void {
    const rec = parseWatchedSet(value);
    if (rec === undefined) this.#sets.delete(name);
    else this.#sets.set(name, rec);
    const l = this.#local.get(name);
    // Taken over: this node was declared down, and the instances are the adopter's now.
    if (l !== undefined && rec !== undefined && rec.node !== this.#d.node) this.#abandon(name, l);
  }

  /** Start supervisor `name` with `lifetime: 'cluster'` here (see the contract above). */
  async supervise(spec: SupervisorSpec, name: string, graceMs: number): Promise<Supervisor> {
    const named = adoptableSpec(spec, name);
    const { registry, node } = this.#d;
    const existing = parseWatchedSet((await registry.get('supervisor', name))?.value);
    if (existing !== undefined) throw new ServiceLockedError(`supervisor ${name}`, 'name', existing.node);
    const record: WatchedSetRecord = {
      type: 'halyard.cluster.v1.watched_set',
      name,
      node,
      incarnation: this.#d.membership.incarnation,
      spec: JSON.parse(JSON.stringify(named)),
      graceMs,
      children: [],
      restarts: [],
      adoptions: 0,
    };
    const put = await registry.put('supervisor', name, record, { expect: 0 });
    if (!put.ok) throw new ServiceLockedError(`supervisor ${name}`, 'name', (await this.#ownerOf(name)) ?? undefined);
    return this.#run(named, record, put.revision, []);
  }

  /** `adopt-supervisor` (Host.ts): take over the watched set `name` of a lost node here. */
  async adoptHere(req: Record<string, unknown>): Promise<Record<string, unknown>> {
    const name = req.name;
    if (typeof name !== 'string') throw new InvalidSpecError('name', 'must be a supervisor name');
    const { registry, node } = this.#d;
    const mine = this.#local.get(name);
    if (mine !== undefined && !mine.lost) return { node };
    const stored = await registry.get('supervisor', name);
    const rec = parseWatchedSet(stored?.value);
    if (stored === undefined || rec === undefined) throw new NoSuchActorError(`supervisor ${name}`);
    if (!this.ownerGone(rec)) throw new ServiceLockedError(`supervisor ${name}`, 'name', rec.node);
    const adopted: WatchedSetRecord = { ...rec, node, incarnation: this.#d.membership.incarnation, adoptions: rec.adoptions + 1 };
    const put = await registry.put('supervisor', name, adopted, { expect: stored.revision });
    if (!put.ok) throw new ServiceLockedError(`supervisor ${name}`, 'name', (await this.#ownerOf(name)) ?? undefined);
    // The restart times in this process's clock: what intensity is checked against goes on where it was.
    const now = this.#d.clock.now();
    const wall = this.#d.wallClock();
    const history = rec.restarts.map((w) => now - (wall - w));
    const kept = new Set(rec.children.map((c) => c.id));
    const spec = rec.spec as SupervisorSpec;
    const children = (spec.children ?? []).filter((c) => kept.has(c.id));
    for (const c of rec.children) {
      if (c.node !== undefined && c.epoch !== undefined) this.#d.remote.expect(c.name, c.node, c.epoch);
    }
    this.#d.logger.info({ supervisor: name, from: rec.node, children: rec.children.length, restarts: history.length }, 'adopting watched set');
    this.#run({ ...spec, children }, adopted, put.revision, history);
    return { node };
  }

  /** True when the node holding `rec` is gone for good: fenced after its down verdict, no member, or a newer incarnation. */
  ownerGone(rec: WatchedSetRecord): boolean {
    const m = this.#d.membership.member(rec.node);
    if (m === undefined) return true;
    if (m.incarnation > rec.incarnation) return true;
    return this.#d.view.fencedNode(rec.node, m);
  }

  /** The cluster coordinator's sweep: ask a live node to adopt each watched set whose node is gone. */
  async sweep(): Promise<void> {
    for (const rec of [...this.#sets.values()]) {
      if (this.#asking.has(rec.name) || !this.ownerGone(rec)) continue;
      const target = this.#target();
      if (target === undefined) return;
      this.#asking.add(rec.name);
      void this.#d.hosts
        .request(target, { op: 'adopt-supervisor', name: rec.name })
        .catch((err) => this.#d.logger.warn({ supervisor: rec.name, node: target, reason: describe(err) }, 'adoption refused; asked again on the next sweep'))
        .finally(() => this.#asking.delete(rec.name));
    }
  }

  /** Removals of stopped supervisors' watched sets still being written (the cluster waits for them as it stops). */
  async flush(): Promise<void> {
    await Promise.all([...this.#removals]);
  }

  /** The live node holding the fewest watched sets (ties by name). */
  #target(): string | undefined {
    const load = new Map<string, number>();
    for (const r of this.#sets.values()) load.set(r.node, (load.get(r.node) ?? 0) + 1);
    const live = [...this.#d.view.nodeView().values()].filter((n) => n.status === 'up' && !n.fenced).map((n) => n.node);
    live.sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || a.localeCompare(b));
    return live[0];
  }

  async #ownerOf(name: string): Promise<string | undefined> {
    return parseWatchedSet((await this.#d.registry.get('supervisor', name).catch(() => undefined))?.value)?.node;
  }

  #run(spec: SupervisorSpec, record: WatchedSetRecord, revision: number, history: readonly number[]): Supervisor {
    const { remote, supervision } = this.#d;
    const name = record.name;
    remote.own(name);
    remote.adoptable(name, record.graceMs);
    let sup: Supervisor;
    try {
      sup = supervision.supervise(spec, { name, ...(history.length > 0 ? { _history: history } : {}) } as { name: string });
    } catch (err) {
      remote.adoptable(name, undefined);
      void this.#d.registry.remove('supervisor', name, { expect: revision }).catch(() => {});
      throw err;
    }
    const l: Local = { sup, record, revision, lost: false, writes: Promise.resolve(), queued: false };
    this.#local.set(name, l);
    void sup.stopped.then(() => {
      if (this.#local.get(name) === l) this.#local.delete(name);
      remote.adoptable(name, undefined);
      if (l.lost || this.#d.closed()) return;
      // Stopped on its own node (asked to, or giving up): its children are gone with it, so is its watched set.
      const removal = l.writes.then(() => this.#d.registry.remove('supervisor', name, { expect: l.revision })).catch(() => {});
      this.#removals.add(removal);
      void removal.finally(() => this.#removals.delete(removal));
    });
    this.changed(name);
    return sup;
  }

  /** A stand-in of supervisor `label` was linked or ended: write its watched set again (coalesced). */
  changed(label: string): void {
    const l = this.#local.get(label);
    if (l === undefined || l.lost || l.queued) return;
    l.queued = true;
    l.writes = l.writes.then(async () => {
      // After the supervisor has handled the exit that brought us here (its operation queue runs first).
      await new Promise((resolve) => setImmediate(resolve));
      l.queued = false;
      await this.#write(label, l);
    });
  }

  async #write(name: string, l: Local): Promise<void> {
    if (l.lost || l.sup.phase !== 'running' || this.#d.closed()) return;
    const spec = l.record.spec as SupervisorSpec;
    const names = new Map((spec.children ?? []).map((c) => [c.id, c.name ?? `${name}-${c.id}`]));
    const children: WatchedChild[] = [];
    for (const c of l.sup.whichChildren()) {
      const childName = names.get(c.id);
      if (childName === undefined || c.status === 'terminated') continue;
      const link = c.ref === undefined ? undefined : this.#d.remote.linkOf(c.ref);
      children.push(link?.node !== undefined && link.epoch !== undefined ? { id: c.id, name: childName, node: link.node, epoch: link.epoch } : { id: c.id, name: childName });
    }
    const now = this.#d.clock.now();
    const wall = this.#d.wallClock();
    const restarts = ((l.sup as unknown as { _restarts?: readonly number[] })._restarts ?? []).map((t) => wall - (now - t));
    const next: WatchedSetRecord = { ...l.record, children, restarts };
    try {
      const put = await this.#d.registry.put('supervisor', name, next, { expect: l.revision });
      if (!put.ok) {
        this.#abandon(name, l);
        return;
      }
      l.record = next;
      l.revision = put.revision;
    } catch (err) {
      this.#d.logger.warn({ supervisor: name, reason: describe(err) }, 'cannot record watched set');
    }
  }

  /** Another node adopted `name`: stop the supervisor here, leaving its instances to the adopter. */
  #abandon(name: string, l: Local): void {
    if (l.lost) return;
    l.lost = true;
    if (this.#local.get(name) === l) this.#local.delete(name);
    this.#d.remote.disown(name);
    this.#d.logger.warn({ supervisor: name }, 'watched set adopted elsewhere; stopping this supervisor, not its children');
    void l.sup.stop();
  }
}
