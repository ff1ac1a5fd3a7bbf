/**
 * Taking a new incarnation for a node name in the members bucket.
 *
 * Each start (and each rejoin) takes `max(previous + 1, Date.now())` for its
 * incarnation, written to the node's KV record (status `up`) by
 * compare-and-set: strictly increasing per node name, even across processes
 * and clock steps. What an incarnation's `down` verdict means is Membership's.
 */
import { entryJson, isCasConflict, type KV } from './kv.js';
import { decodeMemberRecord, memberRecord, RecordStatus } from './wire.js';

export interface Registered {
  readonly incarnation: number;
  /** KV revision of the record just written. */
  readonly revision: number;
}

/** How many compare-and-set conflicts a registration rides out before it gives up. */
const MAX_CONFLICTS = 4;

/**
 * Record `node` `up` with a new incarnation, above both the stored one and
 * `current` (this process's previous incarnation, 0 before the first).
 */
export async function registerIncarnation(kv: KV, node: string, current: number, timeoutMs: number): Promise<Registered> {
  for (let attempt = 0; ; attempt++) {
    const entry = await kv.get(node);
    const previous = decodeMemberRecord(entryJson(entry));
    const incarnation = Math.max((previous?.incarnation ?? 0) + 1, current + 1, Date.now());
    const value = memberRecord(node, incarnation, RecordStatus.Up, node);
    try {
      const revision =
        entry !== null && entry.operation === 'PUT' ? await kv.update(node, value, entry.revision, timeoutMs) : await kv.create(node, value);
      return { incarnation, revision };
    } catch (err) {
      // Another writer moved the record on (a judge, or a clash of names): read it again.
      if (!isCasConflict(err) || attempt >= MAX_CONFLICTS) throw err;
    }
  }
}
