import { describe, expect, it } from 'vitest';
import { type ChangeType, type Entry, MemberTable } from '../src/services/cluster/MemberTable.js';
import { MemberStatus, Report } from '../src/services/cluster/view.js';

function table() {
  const seen: string[] = [];
  const t = new MemberTable({
    changed: (type: ChangeType, e: Entry, by: string) => seen.push(`${type} ${e.node}@${e.incarnation} by ${by}`),
    liveSetChanged: () => seen.push('ring'),
  });
  return { t, seen };
}

describe('cluster - member table', () => {
  it('cluster - a node seen up, suspected, cleared and declared down changes the table in that order; down is final', () => {
    const { t, seen } = table();
    t.apply('b', 1, Report.Up, 'b', 7, 100);
    t.apply('b', 1, Report.Suspect, 'a', undefined, 200);
    t.apply('b', 1, Report.Alive, 'b', undefined, 300);
    t.apply('b', 1, Report.Down, 'a', 9, 400);
    expect(t.get('b')?.status).toBe(MemberStatus.Down);
    expect(t.get('b')?.revision).toBe(9);
    t.apply('b', 1, Report.Up, 'b', undefined, 500);
    expect(t.get('b')?.status).toBe(MemberStatus.Down);
    expect(seen).toEqual(['join b@1 by b', 'ring', 'suspect b@1 by a', 'alive b@1 by b', 'down b@1 by a', 'ring']);
  });

  it('cluster - a node that leaves is forgotten', () => {
    const { t, seen } = table();
    t.apply('b', 1, Report.Up, 'b', undefined, 100);
    t.apply('b', 1, Report.Left, 'b', undefined, 200);
    expect(t.get('b')).toBeUndefined();
    expect(t.size).toBe(0);
    expect(seen).toEqual(['join b@1 by b', 'ring', 'leave b@1 by b', 'ring']);
  });

  it('cluster - a report of an older incarnation changes nothing; a newer one replaces the entry', () => {
    const { t, seen } = table();
    t.apply('b', 2, Report.Up, 'b', undefined, 100);
    t.apply('b', 1, Report.Down, 'a', undefined, 200);
    expect(t.get('b')?.status).toBe(MemberStatus.Up);
    t.apply('b', 3, Report.Suspect, 'a', undefined, 300);
    expect(t.members()).toEqual([{ node: 'b', status: MemberStatus.Suspect, lastHeardAt: 300, incarnation: 3 }]);
    expect(seen).toEqual(['join b@2 by b', 'ring', 'suspect b@3 by a', 'ring']);
  });

  it('cluster - a replayed record of the same incarnation only updates the known revision', () => {
    const { t, seen } = table();
    t.apply('b', 1, Report.Up, 'b', 3, 100);
    t.apply('b', 1, Report.Up, 'b', 5, 200);
    expect(t.get('b')?.revision).toBe(5);
    expect(seen).toEqual(['join b@1 by b', 'ring']);
  });
});
