import { describe, expect, it } from 'vitest';
import { isStale } from '../src/services/cluster/fencing.js';
import { type Known, MemberStatus, merge, pickHelpers, Report, watchTargets } from '../src/services/cluster/view.js';

const up = (incarnation: number): Known => ({ incarnation, status: MemberStatus.Up });
const suspect = (incarnation: number): Known => ({ incarnation, status: MemberStatus.Suspect });
const down = (incarnation: number): Known => ({ incarnation, status: MemberStatus.Down });

describe('cluster - merging reports', () => {
  it.each([
    // known        report           inc  → result
    [undefined, Report.Up, 1, 'up'],
    [undefined, Report.Suspect, 1, 'suspect'],
    [undefined, Report.Down, 1, 'down'],
    [undefined, Report.Left, 1, undefined],
    [up(1), Report.Up, 1, undefined],
    [up(1), Report.Suspect, 1, 'suspect'],
    [up(1), Report.Alive, 1, undefined],
    [up(1), Report.Down, 1, 'down'],
    [up(1), Report.Left, 1, 'left'],
    [suspect(1), Report.Up, 1, undefined],
    [suspect(1), Report.Alive, 1, 'up'],
    [suspect(1), Report.Down, 1, 'down'],
    [down(1), Report.Up, 1, undefined],
    [down(1), Report.Alive, 1, undefined],
    [down(1), Report.Left, 1, undefined],
    [down(1), Report.Up, 2, 'up'],
    [down(2), Report.Up, 1, undefined],
    [up(2), Report.Down, 1, undefined],
    [suspect(1), Report.Suspect, 2, 'suspect'],
  ] as const)('cluster - %o + %s@%i → %s', (known, report, incarnation, expected) => {
    expect(merge(known, report, incarnation)).toBe(expected);
  });
});

describe('cluster - the ring', () => {
  it.each([
    [['a'], 'a', 2, []],
    [['a', 'b'], 'a', 2, ['b']],
    [['a', 'b', 'c'], 'a', 2, ['b', 'c']],
    [['a', 'b', 'c', 'd', 'e'], 'a', 2, ['e', 'd']],
    [['a', 'b', 'c', 'd', 'e'], 'c', 2, ['b', 'a']],
    [['a', 'b', 'c', 'd', 'e'], 'c', 1, ['b']],
    [['e', 'c', 'a', 'b', 'd'], 'b', 2, ['a', 'e']],
    // Self need not be in the list.
    [['a', 'c', 'e'], 'd', 2, ['c', 'a']],
  ] as const)('cluster - %o: %s watches %i predecessors %o', (live, self, k, expected) => {
    expect(watchTargets(live, self, k)).toEqual(expected);
  });

  it('cluster - every node is watched by exactly k others, so heartbeat deliveries are k·N', () => {
    for (const n of [3, 10, 50]) {
      const names = Array.from({ length: n }, (_, i) => `n${i}`);
      const watchedBy = new Map<string, number>();
      for (const self of names) for (const t of watchTargets(names, self, 2)) watchedBy.set(t, (watchedBy.get(t) ?? 0) + 1);
      expect([...watchedBy.values()]).toEqual(names.map(() => 2));
    }
  });

  it('cluster - probe helpers exclude self and target, at most m of them', () => {
    const helpers = pickHelpers(['a', 'b', 'c', 'd', 'e'], 'a', 'c', 2, () => 0.5);
    expect(helpers).toHaveLength(2);
    expect(helpers).not.toContain('a');
    expect(helpers).not.toContain('c');
    expect(pickHelpers(['a', 'c'], 'a', 'c', 2)).toEqual([]);
  });
});

describe('cluster - fencing', () => {
  it('cluster - an epoch older than the current one is stale; the current one is not', () => {
    expect(isStale(3, 7)).toBe(true);
    expect(isStale(7, 7)).toBe(false);
    expect(isStale(8, 7)).toBe(false);
  });
});
