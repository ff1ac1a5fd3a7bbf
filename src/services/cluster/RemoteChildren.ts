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
}

interface Link {
  readonly name: string;
  node: string | undefined;
  epoch: number | undefined;
  ended: boolean;
  /** The stand-in's own actor, which ends with its instance's reason (exitActor). */
  readonly cell: StandInCell;
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
}

export class RemoteChildren {
  readonly #d: RemoteChildrenDeps;
  readonly #links = new Map<string, Link>();
  readonly #standIn: AnyActorLogic;
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
      } satisfies StandInInput,
    });
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
    const link: Link = { name: input.name, node: undefined, epoch: undefined, ended: false, cell: input.cell, early: [] };
    const fail = (error: unknown): void => {
      if (link.ended) return;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      exitStandIn(link, 'error', error);
    };
    const { start } = input;
    const { hosts } = this.#d;
    void (async () => {
      const req = { name: input.name, type: start.type, placement: start.placement, node: start.node };
      const node = this.#d.view.placeFor(req);
      if (node === undefined) return fail(this.#d.view.refusal(req));
      link.node = node;
      this.#links.set(link.name, link);
      let epoch: number;
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
        });
      } catch (err) {
        return fail(err);
      }
      link.epoch = epoch;
      if (link.ended) {
        void hosts.stop(node, link.name, epoch).catch(() => {});
        return;
      }
      const early = link.early.find((r) => r.epoch === epoch);
      link.early.length = 0;
      if (early !== undefined) return this.#endLink(link, early);
      if (this.#d.membership.member(node)?.status === 'down') fail(new NodeDownError(node));
    })();
    return () => {
      const wasRunning = !link.ended;
      link.ended = true;
      if (this.#links.get(link.name) === link) this.#links.delete(link.name);
      if (wasRunning && link.node !== undefined && link.epoch !== undefined && !this.#d.closed()) {
        void hosts.stop(link.node, link.name, link.epoch).catch(() => {});
      }
    };
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
  }
}
