/**
 * Model-based test of tasks (fast-check `asyncModelRun`): random trees up to
 * three levels, random worker and dispatcher kills, sleeps and wakes; after
 * the run every task is DoneCalculating or Failed exactly once, none lost.
 * In-process store and ManualClock, so each run takes milliseconds and CI can
 * afford hundreds (TASKS_MODEL_RUNS, default 300).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';
import { Sim, settle, taskCommands, violations } from './tasks.model.js';

const RUNS = Number(process.env.TASKS_MODEL_RUNS ?? 300);

async function flush(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('tasks - model', () => {
  it('tasks - under worker kills, dispatcher kills and sleeps every task settles exactly once and none is lost', async () => {
    await fc.assert(
      fc.asyncProperty(taskCommands(), async (cmds) => {
        const server = new LocalKvServer();
        const sim = new Sim(() => new LocalKvStore({ server }), new ManualClock(), 'tasks-model', flush);
        await sim.start();
        try {
          await fc.asyncModelRun(() => ({ model: { roots: 0 }, real: sim }), cmds);
          await settle(sim, 60_000);
          expect(violations(sim)).toEqual([]);
        } finally {
          await sim.close();
        }
      }),
      { numRuns: RUNS, verbose: 1 },
    );
  }, 600_000);
});
