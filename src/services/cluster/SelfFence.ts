/**
 * Self-fencing: a node runs instances only while it can prove its own link.
 *
 * A node is `valid` while `membership.linkConfirmedAt + leaseMs` is ahead of
 * its clock (its own heartbeat came back from the server that recently) and
 * it has not been declared down. {@link SelfFence.guard} runs on a tick,
 * before every cluster request the host serves and before every inbound
 * message the node delivers (Node.ts calls `cluster._guard()`), so a process
 * that wakes from SIGSTOP stops its instances (brutally, writing nothing)
 * before it does anything else: another node may own them by now.
 *
 * ```
 *   valid ──(lease passed | declared down)──► fenced: every hosted instance killed, nothing written
 *     ▲                                          │
 *     └──(link confirmed again; rejoined if down)┘ then: ends still ours are settled as `killed`
 * ```
 *
 * Settling the ends is the host's (Host.ts `settleFenced`): each fenced
 * instance whose claim is still this node's is recorded as ended `killed`,
 * so its supervisor or the cluster coordinator restarts it; one taken over
 * is left to its successor.
 *
 * What still arrives for a stopped instance is answered, not dropped in
 * silence: NATS keeps routing to a paused process, which reads those
 * messages on waking. {@link SelfFence.refusal} gives the `FencedError`
 * (the instance, its epoch here, its new owner once known) that Inbound
 * answers them with, counting each as a `fenced` dead letter.
 */
import type { Clock, TimerHandle } from '../../clock.js';
import { FencedError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Membership } from './Membership.js';

/** An instance stopped by fencing: its name, its actor's id and the epoch it ran at here. */
export interface FencedInstance {
  readonly name: string;
  readonly id: string;
  readonly epoch: number;
}

/** What fencing acts on: the instances hosted here (Host.ts). */
export interface Fenceable {
  /** Instances running here (fenced ones excluded). */
  readonly size: number;
  /** Stop every instance at once, writing and reporting nothing; returns those stopped. */
  killAll(): readonly FencedInstance[];
  /** Record the ends of fenced instances that are still ours, once valid again (no-op when none or already running). */
  settleFenced(): void;
}

export interface SelfFenceDeps {
  readonly membership: Membership;
  readonly clock: Clock;
  readonly leaseMs: number;
  readonly logger: Logger;
  readonly target: () => Fenceable;
  /** This node's name, for the errors it answers with. */
  readonly node: string;
  /** The newest owner known here for an instance (from the Registry watch), if any. */
  readonly ownerOf: (name: string) => { readonly node: string; readonly epoch: number } | undefined;
}

export class SelfFence {
  /** Times this node fenced itself. */
  fences = 0;
  readonly #d: SelfFenceDeps;
  #selfDown = false;
  #tick: TimerHandle | undefined;
  #stopped = false;
  /** The instances stopped by the latest fence, by name and by actor id: what arrives for them is refused. */
  readonly #fenced = new Map<string, FencedInstance>();

  constructor(deps: SelfFenceDeps) {
    this.#d = deps;
  }

  /** True while this node may run instances (its link confirmed within its lease, not declared down). */
  get valid(): boolean {
    return !this.#selfDown && this.#d.clock.now() < this.#d.membership.linkConfirmedAt + this.#d.leaseMs;
  }

  /** Fence now if the lease has passed. Cheap: true when nothing is hosted or the node is valid. */
  guard(): boolean {
    if (this.#d.target().size === 0) return true;
    if (this.valid) return true;
    this.fence('lease passed without a confirmed link');
    return false;
  }

  /** This node was declared down: fence at once; not valid until it rejoins. */
  declaredDown(): void {
    this.#selfDown = true;
    this.fence('declared down');
  }

  /** This node (re)joined with a new incarnation. */
  joined(): void {
    this.#selfDown = false;
  }

  /** Stop every hosted instance at once, writing and reporting nothing: another node may own them now. */
  fence(why: string): void {
    const target = this.#d.target();
    if (target.size === 0) return;
    this.fences++;
    this.#d.logger.warn({ why, instances: target.size }, 'fencing: stopping every instance hosted here');
    const killed = target.killAll();
    this.#fenced.clear();
    for (const f of killed) this.#fenced.set(f.name, f).set(f.id, f);
  }

  /**
   * The error to answer a message for `label` (a name or an actor id) with,
   * when it is one of the instances the latest fence stopped. Inbound asks
   * only when nothing here serves `label`, so a name started here again is
   * served by its new instance.
   */
  refusal(label: string): FencedError | undefined {
    const f = this.#fenced.get(label);
    if (f === undefined) return undefined;
    const owner = this.#d.ownerOf(f.name);
    const movedTo = owner !== undefined && owner.epoch > f.epoch ? { node: owner.node, epoch: owner.epoch } : undefined;
    return new FencedError(this.#d.node, movedTo === undefined ? { name: f.name, epoch: f.epoch } : { name: f.name, epoch: f.epoch, movedTo });
  }

  /** Guard on a tick of `heartbeatMs / 5` (at least 10 ms), and settle fenced ends once valid again. */
  start(): void {
    const tickMs = Math.max(10, Math.round(this.#d.membership.heartbeatMs / 5));
    const tick = (): void => {
      if (this.#stopped) return;
      this.guard();
      if (this.valid) this.#d.target().settleFenced();
      this.#tick = this.#d.clock.setTimer(tick, tickMs);
    };
    this.#tick = this.#d.clock.setTimer(tick, tickMs);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#tick !== undefined) this.#d.clock.clearTimer(this.#tick);
  }
}
