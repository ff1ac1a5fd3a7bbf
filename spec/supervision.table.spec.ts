/**
 * supervision - the 27 cells of OTP's restart table (supervisor_SUITE style):
 * 3 strategies x 3 restart types of the failing child x 3 exit reasons.
 *
 * Tree: a (permanent), b (the restart type under test), c (permanent), started
 * in that order; b exits. `shutdown` means b was stopped by someone other than
 * its supervisor (`ref.stop()`), which OTP treats as a normal exit for
 * transient children. Each row says, OTP-style, what happens to every child:
 * - `kept`: same actor, still running
 * - `restarted`: a new actor, running
 * - `terminated`: spec kept, no actor
 * - `removed`: spec deleted
 */
import { describe, expect, it } from 'vitest';
import type { LocalActorRef } from '../src/actors/types.js';
import type { RestartType, Strategy } from '../src/supervision/types.js';
import { CRASH, FINISH, harness, settle, worker } from './support/supervision.js';

type Exit = 'normal' | 'error' | 'shutdown';
type Fate = 'kept' | 'restarted' | 'terminated' | 'removed';
interface Cell {
  readonly strategy: Strategy;
  readonly restart: RestartType;
  readonly exit: Exit;
  readonly a: Fate;
  readonly b: Fate;
  readonly c: Fate;
  /** The coordinator's directive for b's exit. */
  readonly directive: 'restart' | 'ignore';
}

// biome-ignore format: the table reads as a table
const TABLE: Cell[] = [
  { strategy: 'one_for_one',  restart: 'permanent', exit: 'normal',   a: 'kept',      b: 'restarted',  c: 'kept',      directive: 'restart' },
  { strategy: 'one_for_one',  restart: 'permanent', exit: 'error',    a: 'kept',      b: 'restarted',  c: 'kept',      directive: 'restart' },
  { strategy: 'one_for_one',  restart: 'permanent', exit: 'shutdown', a: 'kept',      b: 'restarted',  c: 'kept',      directive: 'restart' },
  { strategy: 'one_for_one',  restart: 'transient', exit: 'normal',   a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_one',  restart: 'transient', exit: 'error',    a: 'kept',      b: 'restarted',  c: 'kept',      directive: 'restart' },
  { strategy: 'one_for_one',  restart: 'transient', exit: 'shutdown', a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_one',  restart: 'temporary', exit: 'normal',   a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_one',  restart: 'temporary', exit: 'error',    a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_one',  restart: 'temporary', exit: 'shutdown', a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },

  { strategy: 'one_for_all',  restart: 'permanent', exit: 'normal',   a: 'restarted', b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'one_for_all',  restart: 'permanent', exit: 'error',    a: 'restarted', b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'one_for_all',  restart: 'permanent', exit: 'shutdown', a: 'restarted', b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'one_for_all',  restart: 'transient', exit: 'normal',   a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_all',  restart: 'transient', exit: 'error',    a: 'restarted', b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'one_for_all',  restart: 'transient', exit: 'shutdown', a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_all',  restart: 'temporary', exit: 'normal',   a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_all',  restart: 'temporary', exit: 'error',    a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'one_for_all',  restart: 'temporary', exit: 'shutdown', a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },

  { strategy: 'rest_for_one', restart: 'permanent', exit: 'normal',   a: 'kept',      b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'rest_for_one', restart: 'permanent', exit: 'error',    a: 'kept',      b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'rest_for_one', restart: 'permanent', exit: 'shutdown', a: 'kept',      b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'rest_for_one', restart: 'transient', exit: 'normal',   a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'rest_for_one', restart: 'transient', exit: 'error',    a: 'kept',      b: 'restarted',  c: 'restarted', directive: 'restart' },
  { strategy: 'rest_for_one', restart: 'transient', exit: 'shutdown', a: 'kept',      b: 'terminated', c: 'kept',      directive: 'ignore' },
  { strategy: 'rest_for_one', restart: 'temporary', exit: 'normal',   a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'rest_for_one', restart: 'temporary', exit: 'error',    a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
  { strategy: 'rest_for_one', restart: 'temporary', exit: 'shutdown', a: 'kept',      b: 'removed',    c: 'kept',      directive: 'ignore' },
];

function fateOf(id: string, before: LocalActorRef, after: { id: string; ref: LocalActorRef | undefined; status: string }[]): Fate {
  const info = after.find((c) => c.id === id);
  if (info === undefined) return 'removed';
  if (info.ref === undefined) {
    expect(info.status).toBe('terminated');
    return 'terminated';
  }
  expect(info.status).toBe('running');
  expect(info.ref.exit).toBeUndefined();
  return info.ref === before ? 'kept' : 'restarted';
}

describe('supervision - restart table (3 strategies x 3 restart types x 3 exit reasons)', () => {
  it('supervision - the table has all 27 cells, once each', () => {
    const keys = new Set(TABLE.map((r) => `${r.strategy}/${r.restart}/${r.exit}`));
    expect(keys.size).toBe(27);
  });

  for (const cell of TABLE) {
    it(`supervision - ${cell.strategy}: ${cell.restart} middle child exits ${cell.exit} -> a ${cell.a}, b ${cell.b}, c ${cell.c}`, async () => {
      const { system, supervision, clock } = harness();
      const baseline = system.size;
      const sup = supervision.supervise(
        {
          strategy: cell.strategy,
          children: [
            { id: 'a', start: worker, restart: 'permanent' },
            { id: 'b', start: worker, restart: cell.restart },
            { id: 'c', start: worker, restart: 'permanent' },
          ],
        },
        { name: 'table' },
      );
      const before = Object.fromEntries(sup.whichChildren().map((c) => [c.id, c.ref!]));
      expect(sup.whichChildren().map((c) => c.id)).toEqual(['a', 'b', 'c']);

      const b = before.b!;
      if (cell.exit === 'normal') b.tell(FINISH);
      else if (cell.exit === 'error') b.tell(CRASH);
      else await b.stop();
      await settle(sup);

      expect(b.exit?.reason).toBe(cell.exit);
      const after = sup.whichChildren();
      const fates = { a: fateOf('a', before.a!, after), b: fateOf('b', b, after), c: fateOf('c', before.c!, after) };
      expect(fates).toEqual({ a: cell.a, b: cell.b, c: cell.c });

      // Exactly one decision: b's exit. Restarting siblings is not a failure.
      const decisions = supervision.coordinator.decisions({ supervisor: 'table' });
      expect(decisions.map((d) => [d.input.childId, d.input.reason, d.directive.type, d.rule])).toEqual([
        ['b', cell.exit, cell.directive, 'otp-default'],
      ]);

      // No orphans: the supervisor, its running children and the coordinator.
      const running = after.filter((c) => c.ref !== undefined).length;
      expect(system.size).toBe(baseline + 1 + running);
      expect(sup.countChildren()).toEqual({ specs: after.length, active: running, supervisors: 0, workers: after.length });

      await sup.stop();
      expect(system.size).toBe(baseline);
      expect(clock.pendingTimers).toBe(0);
    });
  }
});
