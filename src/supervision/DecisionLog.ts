/**
 * The coordinator's decision log: a bounded ring of {@link DecisionRecord}s.
 *
 * The log numbers decisions itself (`seq` starts at 1 and never repeats), so
 * a reader can poll with `since: lastSeq`. When full, the oldest entry is
 * overwritten: memory stays at `capacity` entries however long the node runs.
 */
import type { DecisionQuery, DecisionRecord } from './types.js';

export const DEFAULT_DECISION_LOG_SIZE = 10_000;

export class DecisionLog {
  readonly capacity: number;
  private readonly ring: (DecisionRecord | undefined)[];
  /** Decisions ever appended; also the last `seq` handed out. */
  private total = 0;

  constructor(capacity: number = DEFAULT_DECISION_LOG_SIZE) {
    this.capacity = capacity;
    this.ring = new Array(capacity);
  }

  /** The `seq` the next decision will get. */
  get nextSeq(): number {
    return this.total + 1;
  }

  /** Entries currently held. */
  get size(): number {
    return Math.min(this.total, this.capacity);
  }

  append(record: DecisionRecord): void {
    this.ring[this.total % this.capacity] = record;
    this.total++;
  }

  /** Held decisions matching `query`, oldest first. */
  query(query: DecisionQuery = {}): DecisionRecord[] {
    // Entry with seq s lives at index (s - 1) % capacity.
    let from = Math.max(this.total - this.capacity, 0);
    if (query.since !== undefined && query.since > from) from = Math.min(Math.floor(query.since), this.total);
    const out: DecisionRecord[] = [];
    for (let i = from; i < this.total; i++) {
      const d = this.ring[i % this.capacity]!;
      if (query.childId !== undefined && d.input.childId !== query.childId) continue;
      if (query.supervisor !== undefined && d.input.supervisor !== query.supervisor) continue;
      out.push(d);
    }
    return out;
  }
}
