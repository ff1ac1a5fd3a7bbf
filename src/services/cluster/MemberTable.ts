/**
 * One member's table of the cluster: an entry per known node, and how a
 * report about a remote node changes it.
 *
 * Reports are merged by SWIM's precedence (`merge` in view.ts): a higher
 * incarnation replaces the entry (`join`, or straight to `suspect`/`down`),
 * `left` forgets the node, and at the same incarnation the status moves
 * `up → suspect → up` or to `down` (final). Each change is announced through
 * `changed` (a `MembershipChange` of the given type), and a change in the set
 * of live nodes through `liveSetChanged`, so the caller can re-ring its
 * heartbeat watches. Reports about the local node are the caller's: they
 * mean refuting or rejoining, not a table change.
 */
import type { ProbeRound } from './probes.js';
import { MemberStatus, merge, type Report } from './view.js';

export interface Member {
  readonly node: string;
  readonly status: MemberStatus;
  /** The injected clock's time of the last sign of life (heartbeat, pong, ack, join or alive). */
  readonly lastHeardAt: number;
  readonly incarnation: number;
}

export const ChangeType = { Join: 'join', Suspect: 'suspect', Alive: 'alive', Down: 'down', Leave: 'leave' } as const;
export type ChangeType = (typeof ChangeType)[keyof typeof ChangeType];

export interface MembershipChange {
  readonly type: ChangeType;
  readonly member: Member;
  /** The node whose report caused the change. */
  readonly by: string;
}

/** What the table keeps per node; the failure detector writes the evidence fields. */
export interface Entry {
  readonly node: string;
  incarnation: number;
  status: MemberStatus;
  lastHeardAt: number;
  suspectedAt: number;
  /** KV revision of the record last seen for this incarnation. */
  revision: number | undefined;
  probe: ProbeRound | undefined;
  judging: boolean;
}

export interface MemberTableEvents {
  changed(type: ChangeType, e: Entry, by: string): void;
  liveSetChanged(): void;
}

export function newEntry(node: string, incarnation: number, status: MemberStatus, now: number, revision: number | undefined): Entry {
  return { node, incarnation, status, lastHeardAt: now, suspectedAt: now, revision, probe: undefined, judging: false };
}

export function snapshot(e: Entry): Member {
  return { node: e.node, status: e.status, lastHeardAt: e.lastHeardAt, incarnation: e.incarnation };
}

export class MemberTable {
  readonly #entries = new Map<string, Entry>();
  readonly #events: MemberTableEvents;

  constructor(events: MemberTableEvents) {
    this.#events = events;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(node: string): Entry | undefined {
    return this.#entries.get(node);
  }

  set(node: string, e: Entry): void {
    this.#entries.set(node, e);
  }

  values(): IterableIterator<Entry> {
    return this.#entries.values();
  }

  /** Every entry as a snapshot, sorted by name. */
  members(): Member[] {
    return [...this.#entries.values()].map(snapshot).sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  }

  /** Apply a report about remote `node` (from a broadcast, a KV record, or evidence). */
  apply(node: string, incarnation: number, report: Report, by: string, revision: number | undefined, now: number): void {
    const known = this.#entries.get(node);
    const next = merge(known, report, incarnation);
    if (next === undefined) {
      if (revision !== undefined && known !== undefined && known.incarnation === incarnation) known.revision = revision;
      return;
    }
    if (next === 'left') {
      this.#entries.delete(node);
      if (known !== undefined) this.#events.changed(ChangeType.Leave, known, by);
      this.#events.liveSetChanged();
      return;
    }
    if (known === undefined || incarnation > known.incarnation) {
      const e = newEntry(node, incarnation, next, now, revision);
      this.#entries.set(node, e);
      this.#events.changed(next === MemberStatus.Up ? ChangeType.Join : next, e, by);
      this.#events.liveSetChanged();
      return;
    }
    if (revision !== undefined) known.revision = revision;
    this.setStatus(known, next, now, by);
  }

  /** Move `e` to `status` (no-op when it is there already). */
  setStatus(e: Entry, status: MemberStatus, now: number, by: string): void {
    if (e.status === status) return;
    const wasLive = e.status !== MemberStatus.Down;
    e.status = status;
    if (status === MemberStatus.Suspect) e.suspectedAt = now;
    if (status === MemberStatus.Up) {
      e.lastHeardAt = Math.max(e.lastHeardAt, now);
      e.probe = undefined;
    }
    this.#events.changed(status === MemberStatus.Up ? ChangeType.Alive : status, e, by);
    if (wasLive !== (status !== MemberStatus.Down)) this.#events.liveSetChanged();
  }
}
