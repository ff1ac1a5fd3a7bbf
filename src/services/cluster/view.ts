/**
 * The pure parts of membership: how reports about a node are merged, and who
 * watches whom. No I/O, no clock: tested with tables (`spec/cluster.view.spec.ts`).
 *
 * ## Merging reports (SWIM's precedence, with incarnations fixed per process start)
 * A report says `node` is `up | suspect | alive | down | left` at `incarnation`.
 * - A higher incarnation supersedes everything known about the node: it is a
 *   new process (or a rejoin after a `down` verdict).
 * - A lower incarnation is ignored: it speaks of a dead process.
 * - At the same incarnation, `down` and `left` are final; `suspect` overrides
 *   `up`; `alive` (a refutation, or fresh evidence) clears `suspect` only.
 *   A replayed `up` never clears a suspicion.
 *
 * ## The ring
 * Live members (`up` or `suspect`, the local node included) sorted by name
 * form a ring. Each node watches its `k` predecessors: it subscribes to their
 * heartbeat subjects, so every node's heartbeats reach exactly its `k`
 * successors. Per heartbeat interval that is N publishes and k·N deliveries
 * (plus N self-echoes), O(N), where "everyone watches everyone" would be N².
 */

export const MemberStatus = { Up: 'up', Suspect: 'suspect', Down: 'down' } as const;
export type MemberStatus = (typeof MemberStatus)[keyof typeof MemberStatus];

/** What a report (heartbeat evidence, broadcast, or KV record) says about a node. */
export const Report = { Up: 'up', Suspect: 'suspect', Alive: 'alive', Down: 'down', Left: 'left' } as const;
export type Report = (typeof Report)[keyof typeof Report];

export interface Known {
  readonly incarnation: number;
  readonly status: MemberStatus;
}

/**
 * The status `node` has after `report` at `incarnation`, given what is known
 * (`undefined` when the node is not known). Returns `'left'` when the node is
 * to be forgotten, and `undefined` when the report changes nothing.
 */
export function merge(known: Known | undefined, report: Report, incarnation: number): MemberStatus | 'left' | undefined {
  const fresh = (): MemberStatus | 'left' => {
    switch (report) {
      case Report.Up:
      case Report.Alive:
        return MemberStatus.Up;
      case Report.Suspect:
        return MemberStatus.Suspect;
      case Report.Down:
        return MemberStatus.Down;
      case Report.Left:
        return 'left';
    }
  };
  if (known === undefined) return report === Report.Left ? undefined : fresh();
  if (incarnation > known.incarnation) return fresh();
  if (incarnation < known.incarnation) return undefined;
  if (known.status === MemberStatus.Down) return undefined;
  switch (report) {
    case Report.Up:
      return undefined;
    case Report.Alive:
      return known.status === MemberStatus.Suspect ? MemberStatus.Up : undefined;
    case Report.Suspect:
      return known.status === MemberStatus.Up ? MemberStatus.Suspect : undefined;
    case Report.Down:
      return MemberStatus.Down;
    case Report.Left:
      return 'left';
  }
}

/**
 * The nodes `self` watches: its `k` predecessors in the sorted ring of `live`
 * names (self excluded; fewer when the ring is smaller).
 */
export function watchTargets(live: Iterable<string>, self: string, k: number): string[] {
  const ring = [...new Set(live)].filter((n) => n !== self).sort();
  if (ring.length <= k) return ring;
  // Index of the first name after self: self's predecessors are just before it.
  let at = ring.findIndex((n) => n > self);
  if (at === -1) at = ring.length;
  const out: string[] = [];
  for (let i = 1; i <= k; i++) out.push(ring[(at - i + ring.length) % ring.length]!);
  return out;
}

/**
 * Up to `m` helpers for an indirect probe of `target`, chosen at random from
 * `candidates` (self and the target excluded). `random` is injectable for tests.
 */
export function pickHelpers(candidates: Iterable<string>, self: string, target: string, m: number, random: () => number = Math.random): string[] {
  const pool = [...new Set(candidates)].filter((n) => n !== self && n !== target);
  for (let i = pool.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, m);
}
