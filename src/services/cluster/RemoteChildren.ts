/**
 * Remote children, the supervisor's side: a child spec with
 * `start: { type, input? }` runs as a stand-in actor here, linked to an
 * instance on a node placed by placement.ts.
 *
 * ```
 *   stand-in ──spawn──► host (clrpc)       host ──exit report {name, epoch, reason, error?}──► clexit.<this node>
 *      │                                                                         │
 *      └── ends with the instance's own reason ◄─────────────────────────────────┘
 * ```
 *
 * The stand-in ends as its instance ended, so its supervisor sees the same
 * exit reason as for a local child and applies the restart type the same
 * way: the reason travels as a value (`exitActor(ref, reason, error)`), so
 * `normal`, `shutdown`, `killed` and `error` reach the supervisor as they
 * were. Its node's `down` verdict ends it with reason `nodedown` and a
 * `NodeDownError`, which the supervisor reports as `nodedown`. Reports of older epochs are rejected (counted as stale); one
 * that arrives before the spawn reply (an instance that ended as it
 * started) is kept until the epoch is known. Stopping the stand-in stops its
 * instance.
 *
 * ## Adoption (a supervisor with `lifetime: 'cluster'`, Adoption.ts)
 * Its stand-ins ask for a grace period in the spawn (`graceMs`), so that the
 * hosts keep the instances when the supervisor's node is lost. A stand-in
 * of the replacement supervisor whose instance is expected ({@link expect})
 * does not spawn: it asks the host to `adopt` that instance at its epoch
 * (its exit reports come here from then on) and links to it as it runs. An
 * instance that ended meanwhile is answered with its end, and the stand-in
 * ends with that reason, so its supervisor decides on it as on any end.
 */
import { type AnyActorLogic, type AnyEventObject, fromCallback, setup } from 'xstate';
import { exitActor } from '../../actors/ActorCell.js';
import type { ActorSystem } from '../../actors/ActorSystem.js';
import { DeadLetterReason } from '../../actors/DeadLetters.js';
import type { ExitReason, LocalActorRef } from '../../actors/types.js';
import { fromWireError, isWireError, NodeDownError } from '../../errors.js';
import type { RemoteStart, RemoteStarter, RestartType } from '../../supervision/types.js';
import type { ClusterView } from './ClusterView.js';
import type { HostClient } from './hostClient.js';
import { decodeJson, isRecord } from './kv.js';
import type { Membership } from './Membership.js';
import type { ExitReport } from './records.js';
import { assertRpcVersion } from './wire.js';

/** At most this many early exit reports are kept per link (normally one). */
const EARLY_REPORTS_MAX = 4;

/** Filled in when the stand-in's actor is spawned (before it starts). */
interface StandInCell {
  ref: LocalActorRef | undefined;
}

interface StandInInput {
  readonly start: RemoteStart;
  readonly name: string;
  readonly restart: RestartType;
  readonly supervisor: string;
  readonly cell: StandInCell;
  /** The supervisor's label and the child's id, for the watched set of an adoptable supervisor. */
  readonly label: string;
  readonly childId: string;
  readonly graceMs: number | undefined;
}

/** Where a linked stand-in's instance runs, for a watched set. */
export interface LinkInfo {
  readonly name: string;
  readonly node: string | undefined;
  readonly epoch: number | undefined;
}

interface Link {
  readonly name: string;
  node: string | undefined;
  epoch: number | undefined;
  ended: boolean;
  /** The stand-in's own actor, which ends with its instance's reason (exitActor). */
  readonly cell: StandInCell;
  /** Its supervisor's label. */
  readonly label: string;
  /** Exit reports that came before the spawn reply (an instance that ended at once): matched once the epoch is known. */
  readonly early: ExitReport[];
}

/** End a stand-in's actor with its instance's reason; its ref is known from spawn, before it starts. */
function exitStandIn(link: Link, reason: ExitReason | 'nodedown', error?: unknown): void {
  if (link.cell.ref !== undefined) exitActor(link.cell.ref, reason, error);
}

export interface RemoteChildrenDeps {
  readonly node: string;
  readonly system: ActorSystem;
  readonly membership: Membership;
  readonly view: ClusterView;
  readonly hosts: HostClient;
  readonly closed: () => boolean;
  /** Counts a stale exit report rejected (fencing at work). */
  readonly stale: () => void;
  /** A stand-in of supervisor `label` learnt its instance's epoch, or ended (Adoption.ts keeps the watched set). */
  readonly linked?: (label: string) => void;
}

export class RemoteChildren {
  readonly #d: RemoteChildrenDeps;
  readonly #links = new Map<string, Link>();
  readonly #standIn: AnyActorLogic;
  /** Supervisors with `lifetime: 'cluster'`, by label: the grace period their instances ask for. */
  readonly #adoptable = new Map<string, number>();
  /** Instances a replacement supervisor adopts rather than spawns, by name. */
  readonly #expected = new Map<string, { node: string; epoch: number }>();
  /** Supervisors whose watched set another node has taken over: their stand-ins end without stopping the instances. */
  readonly #disowned = new Set<string>();
  #seq = 0;

  constructor(deps: RemoteChildrenDeps) {
    this.#d = deps;
    this.#standIn = setup({
      types: { input: {} as StandInInput, context: {} as StandInInput },
      actors: {
        link: fromCallback<AnyEventObject, StandInInput>(({ input }) => this.#link(input)),
      },
    }).createMachine({
      id: 'halyard.cluster.stand-in',
      context: ({ input }) => input,
      invoke: { src: 'link', input: ({ context }) => context },
    });
  }

  /**
   * A stand-in learns its own actor here, before it starts: XState gives its
   * logic no handle on the actor that runs it, and only that actor's stop
   * can end it `shutdown` or `killed` as its instance ended. Returns the
   * function that stops watching spawns.
   */
  watchSpawns(): () => void {
    return this.#d.system.onSpawn((cell) => {
      const snap = cell.getSnapshot() as { machine?: unknown; context?: Partial<StandInInput> } | undefined;
      if (snap?.machine === this.#standIn && snap.context?.cell !== undefined) snap.context.cell.ref = cell;
    });
  }

  /** The starter of remote children, installed into supervision. */
  get starter(): RemoteStarter {
    return (start, child) => ({
      logic: this.#standIn,
      input: {
        start,
        name: child.name ?? `r-${this.#d.node}-${++this.#seq}-${Math.random().toString(36).slice(2, 8)}`,
        restart: child.restart,
        supervisor: this.#d.node,
        cell: { ref: undefined },
        label: child.supervisor,
        childId: child.childId,
        graceMs: this.#adoptable.get(child.supervisor),
      } satisfies StandInInput,
    });
  }

  /** @internal Children of supervisor `label` ask their hosts for a grace period of `graceMs` (`undefined`: no longer). */
  adoptable(label: string, graceMs: number | undefined): void {
    if (graceMs === undefined) this.#adoptable.delete(label);
    else this.#adoptable.set(label, graceMs);
  }

  /** @internal Supervisor `label`'s instances belong to an adopter now: stopping its stand-ins must leave them running. */
  disown(label: string): void {
    this.#disowned.add(label);
  }

  /** @internal A supervisor of this label starts here again (its stand-ins stop their instances as usual). */
  own(label: string): void {
    this.#disowned.delete(label);
  }

  /** @internal The next stand-in for instance `name` adopts it on `node` at `epoch` instead of spawning it. */
  expect(name: string, node: string, epoch: number): void {
    this.#expected.set(name, { node, epoch });
  }

  /** @internal Where the instance of the stand-in `ref` runs, if it is a linked stand-in. */
  linkOf(ref: LocalActorRef): LinkInfo | undefined {
    for (const l of this.#links.values()) {
      if (l.cell.ref === ref && !l.ended) return { name: l.name, node: l.node, epoch: l.epoch };
    }
    return undefined;
  }

  /** `node` is down or left: every stand-in linked to it ends with `NodeDownError`. */
  nodeLost(node: string): void {
    for (const link of [...this.#links.values()]) {
      if (link.node === node && !link.ended) {
        link.ended = true;
        this.#links.delete(link.name);
        exitStandIn(link, 'nodedown', new NodeDownError(node));
      }
    }
  }

  #link(input: StandInInput): () => void {
    const link: Link = { name: input.name, node: undefined, epoch: undefined, ended: false, cell: input.cell, label: input.label, early: [] };
    const linked = (): void => this.#d.linked?.(link.label);
    const fail = (error: unknown): void => {
      if (link.ended) return;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      exitStandIn(link, 'error', error);
      linked();
    };
    const { start } = input;
    const { hosts } = this.#d;
    const expected = this.#expected.get(input.name);
    this.#expected.delete(input.name);
    void (async () => {
      let node: string | undefined;
      let epoch: number;
      if (expected !== undefined) {
        node = expected.node;
        link.node = node;
        this.#links.set(link.name, link);
        if (this.#d.membership.member(node)?.status === 'down') return fail(new NodeDownError(node));
        let ended: ExitReport | undefined;
        try {
          ended = await this.#adopt(node, input.name, expected.epoch);
        } catch (err) {
          return fail(err);
        }
        epoch = expected.epoch;
        link.epoch = epoch;
        if (ended !== undefined) return this.#endLink(link, ended);
      } else {
        const req = { name: input.name, type: start.type, placement: start.placement, node: start.node };
        node = this.#d.view.placeFor(req);
        if (node === undefined) return fail(this.#d.view.refusal(req));
        link.node = node;
        this.#links.set(link.name, link);
        try {
          epoch = await hosts.spawn(node, {
            op: 'spawn',
            name: input.name,
            stype: start.type,
            input: start.input,
            restart: input.restart,
            placement: start.placement,
            ...(start.node !== undefined ? { pin: start.node } : {}),
            origin: this.#d.node,
            supervisor: input.supervisor,
            ...(input.graceMs !== undefined ? { graceMs: input.graceMs } : {}),
          });
        } catch (err) {
          return fail(err);
        }
      }
      link.epoch = epoch;
      if (link.ended) {
        void hosts.stop(node, link.name, epoch).catch(() => {});
        return;
      }
      const early = link.early.find((r) => r.epoch === epoch);
      link.early.length = 0;
      if (early !== undefined) return this.#endLink(link, early);
      if (this.#d.membership.member(node)?.status === 'down') return fail(new NodeDownError(node));
      linked();
    })();
    return () => {
      const wasRunning = !link.ended;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      if (wasRunning && link.node !== undefined && link.epoch !== undefined && !this.#d.closed() && !this.#disowned.has(link.label)) {
        void hosts.stop(link.node, link.name, link.epoch).catch(() => {});
      }
    };
  }

  /**
   * Ask `node` to report instance `name` of tenure `epoch` here from now on.
   * Resolves with its end when it ended while it had no supervisor.
   */
  async #adopt(node: string, name: string, epoch: number): Promise<ExitReport | undefined> {
    const r = await this.#d.hosts.request(node, { op: 'adopt', name, epoch, supervisor: this.#d.node });
    if (!isRecord(r.ended)) return undefined;
    const reason = typeof r.ended.reason === 'string' ? r.ended.reason : 'error';
    return { name, epoch, reason, error: r.ended.error };
  }

  /** An exit report on `<prefix>.clexit.<this node>`. */
  onExitReport(data: Uint8Array, subject: string): void {
    const v = decodeJson(data);
    if (!isRecord(v)) return;
    try {
      assertRpcVersion(v, 'exit report');
    } catch {
      // A newer host's report: not to be misread, and there is no one to answer.
      this.#d.system.deadLetters.record(subject, v, DeadLetterReason.Decode);
      return;
    }
    if (typeof v.name !== 'string' || typeof v.epoch !== 'number') return;
    const report: ExitReport = { name: v.name, epoch: v.epoch, reason: typeof v.reason === 'string' ? v.reason : 'error', error: v.error };
    const link = this.#links.get(report.name);
    if (link === undefined || link.ended) return;
    if (link.epoch === undefined) {
      // The host reports an instance that ended at once before it answers the spawn: keep it for the epoch.
      if (link.early.length < EARLY_REPORTS_MAX) link.early.push(report);
      return;
    }
    if (report.epoch !== link.epoch) {
      // An older tenure's report (a fenced or superseded owner): not this child's end.
      if (report.epoch < link.epoch) this.#d.stale();
      return;
    }
    this.#endLink(link, report);
  }

  /** End a stand-in as its instance ended (see the contract above). */
  #endLink(link: Link, report: ExitReport): void {
    if (link.ended) return;
    link.ended = true;
    if (this.#links.get(link.name) === link) this.#links.delete(link.name);
    this.#d.view.noteEnded(report.name, report.epoch);
    const reason = report.reason;
    if (reason === 'normal' || reason === 'shutdown' || reason === 'killed') exitStandIn(link, reason);
    else exitStandIn(link, 'error', isWireError(report.error) ? fromWireError(report.error) : new Error(`remote instance ended: ${reason}`));
    this.#d.linked?.(link.label);
  }
}
