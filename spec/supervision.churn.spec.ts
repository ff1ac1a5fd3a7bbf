/**
 * supervision - churn: thousands of spawns, crashes and stops under
 * supervisors. Afterwards the node is back to its baseline: actor count,
 * pending clock timers, supervisor tables, rule state, decision log bound.
 */
import { describe, expect, it } from 'vitest';
import { exponentialBackoff, giveUpAfter } from '../src/supervision/index.js';
import type { SupervisorImpl } from '../src/supervision/Supervisor.js';
import { CRASH, FINISH, graceful, harness, settle, worker } from './support/supervision.js';

describe('supervision - churn', () => {
  it('supervision - 3000 dynamic children started, crashed, finished and terminated under simple_one_for_one', async () => {
    const { system, supervision, clock } = harness({ decisionLogSize: 500 });
    const baseline = system.size;
    const pool = supervision.supervise(
      { strategy: 'simple_one_for_one', intensity: 1_000_000, period: 1, children: [{ id: 'w', start: worker, restart: 'transient' }] },
      { name: 'pool' },
    ) as SupervisorImpl;
    const refs = [];
    for (let i = 0; i < 3000; i++) refs.push(await pool.startChild({ i }));
    expect(system.size).toBe(baseline + 1 + 3000);
    // A third crash (restarted), a third finish (removed), a third are terminated.
    for (let i = 0; i < 3000; i += 3) refs[i]!.tell(CRASH);
    for (let i = 1; i < 3000; i += 3) refs[i]!.tell(FINISH);
    await settle(pool);
    for (let i = 2; i < 3000; i += 3) await pool.terminateChild(refs[i]!);
    expect(pool.countChildren()).toEqual({ specs: 1, active: 1000, supervisors: 0, workers: 1000 });
    expect(system.size).toBe(baseline + 1 + 1000);
    expect(supervision.coordinator.decisions()).toHaveLength(500);
    expect(supervision.coordinator.stats().total).toBe(2000);
    await pool.stop();
    await settle(pool);
    expect(system.size).toBe(baseline);
    expect(clock.pendingTimers).toBe(0);
    expect(pool._internals()).toMatchObject({ children: 0, timers: 0, stopping: 0, cleanup: 0, queued: 0, retries: 0 });
  }, 60_000);

  it('supervision - 200 trees of nested supervisors built, crashed through every strategy, and torn down', async () => {
    // biome-ignore lint/suspicious/noThenProperty: `then` is giveUpAfter's option name (a string, never callable, so not a thenable)
    const { system, supervision, clock } = harness({ rules: [giveUpAfter({ failures: 1000, windowMs: 10, then: 'stop' })] });
    const baseline = system.size;
    const strategies = ['one_for_one', 'one_for_all', 'rest_for_one'] as const;
    for (let t = 0; t < 200; t++) {
      const sup = supervision.supervise({
        strategy: strategies[t % 3],
        intensity: 50,
        children: [
          { id: 'a', start: graceful },
          {
            id: 's',
            type: 'supervisor',
            start: { strategy: strategies[(t + 1) % 3], intensity: 50, children: [{ id: 'x', start: worker }, { id: 'y', start: graceful }] },
          },
          { id: 'b', start: worker },
        ],
      }) as SupervisorImpl;
      for (let k = 0; k < 3; k++) {
        sup.whichChildren().find((c) => c.id === 'b')?.ref?.tell(CRASH);
        sup.childSupervisor('s')?.whichChildren()[0]?.ref?.tell(CRASH);
        await settle(sup);
        clock.advance(1);
      }
      if (t % 2 === 0) await sup.stop();
      else await sup.ref.stop('brutal_kill');
      await settle(sup);
      expect(sup._internals()).toMatchObject({ children: 0, timers: 0, stopping: 0, cleanup: 0, queued: 0, retries: 0 });
    }
    expect(system.size).toBe(baseline);
    expect(clock.pendingTimers).toBe(0);
    expect(supervision.supervisors()).toEqual([]);
  }, 60_000);

  it('supervision - delayed restarts under churn: every timer is fired or cleared', async () => {
    const { system, supervision, clock } = harness({ rules: [exponentialBackoff({ initialMs: 10, maxMs: 40, resetAfterMs: 100 })] });
    const baseline = system.size;
    const pool = supervision.supervise(
      // 2 250 restarts within 200 ms on the clock: the rule's restarts count toward intensity, so allow them all.
      { strategy: 'simple_one_for_one', intensity: 10_000, children: [{ id: 'w', start: worker }] },
      { name: 'pool' },
    ) as SupervisorImpl;
    for (let i = 0; i < 500; i++) await pool.startChild();
    for (let round = 0; round < 4; round++) {
      for (const c of pool.whichChildren()) c.ref?.tell(CRASH);
      await settle(pool);
      expect(clock.pendingTimers).toBe(500);
      clock.advance(40);
      await settle(pool);
      expect(pool.countChildren().active).toBe(500);
    }
    // Half crash again and are stopped while waiting for their delay.
    const kids = pool.whichChildren();
    for (let i = 0; i < kids.length; i += 2) kids[i]!.ref!.tell(CRASH);
    await settle(pool);
    expect(pool._internals().timers).toBe(250);
    await pool.stop();
    expect(clock.pendingTimers).toBe(0);
    expect(system.size).toBe(baseline);
  }, 60_000);
});
