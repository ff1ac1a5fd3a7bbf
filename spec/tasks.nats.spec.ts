/**
 * Tasks on a real nats-server (the run's shared one): records in JetStream KV,
 * a worker in its own process SIGKILLed, and the model-based test with fewer runs.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { Tasks } from '../src/services/tasks/Tasks.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type Child, killAll, spawnChild } from './cluster/children.js';
import { Sim, settle, taskCommands, violations } from './tasks.model.js';

const natsUrl = inject('natsUrl');
const children: Child[] = [];
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  await killAll(children.splice(0));
  for (const c of cleanups.splice(0).reverse()) await c();
});

const workerScript = new URL('./tasks.worker.ts', import.meta.url).pathname;
let n = 0;
const uniqueBucket = (what: string) => `tasks-${what}-${process.pid}-${Date.now().toString(36)}-${n++}`;

describe('tasks - nats', () => {
  it('tasks - SIGKILL of a worker process puts its tasks back to Unassigned with the attempt counted, and they run elsewhere', async () => {
    const bucket = uniqueBucket('sigkill');
    const t = await NatsTransport.connect({ servers: natsUrl, name: 'tasks-sigkill' });
    const d = new Tasks({ kv: t.kv(), node: 'd', bucket });
    cleanups.push(async () => {
      await d.close();
      await t.kv().destroy(bucket);
      await t.close();
    });
    const child = spawnChild(workerScript, { HALYARD_NATS_URL: natsUrl, HALYARD_NODE: 'pw', HALYARD_TASKS_BUCKET: bucket, HALYARD_TASKS_MODE: 'hold' });
    children.push(child);
    await child.line(/^READY pw/, 30_000);
    const ids = await Promise.all([1, 2, 3, 4].map((i) => d.submit('job', i, { maxAttempts: 3 })));
    for (const id of ids) await child.line(new RegExp(`^RUNNING ${id}$`), 10_000, `${id} running in the child`);
    for (const id of ids) expect(await d.record(id)).toMatchObject({ status: 'Working', worker: 'pw', attempt: 1 });
    await d.define('job', (task) => `done ${String(task.input)}`);
    child.process.kill('SIGKILL');
    const results = await Promise.all(ids.map((id) => d.result(id, { timeout: 15_000 })));
    expect(results).toEqual(['done 1', 'done 2', 'done 3', 'done 4']);
    for (const id of ids) {
      const r = await d.record(id);
      expect(r).toMatchObject({ status: 'DoneCalculating', attempt: 2 });
      expect(r.worker).toBeUndefined();
    }
  }, 60_000);

  it('tasks - model on JetStream KV: every task settles exactly once and none is lost', async () => {
    const t = await NatsTransport.connect({ servers: natsUrl, name: 'tasks-model' });
    cleanups.push(() => t.close());
    await fc.assert(
      fc.asyncProperty(taskCommands(6), async (cmds) => {
        const bucket = uniqueBucket('model');
        const step = () => new Promise<void>((r) => setTimeout(r, 2));
        const sim = new Sim(() => t.kv(), new ManualClock(), bucket, step);
        await sim.start();
        try {
          await fc.asyncModelRun(() => ({ model: { roots: 0 }, real: sim }), cmds);
          await settle(sim, 60_000);
          expect(violations(sim)).toEqual([]);
        } finally {
          await sim.close();
          await t.kv().destroy(bucket);
        }
      }),
      { numRuns: Number(process.env.TASKS_NATS_MODEL_RUNS ?? 4), verbose: 1 },
    );
  }, 300_000);
});
