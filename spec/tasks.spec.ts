/**
 * Tasks on the in-process store: real Tasks objects (a dispatcher and
 * workers sharing one LocalKvServer, as processes share a nats-server),
 * waiting for statuses with deadlines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, StaleEpochError, TaskFailedError, TimeoutError, UnknownTaskError } from '../src/errors.js';
import { createNode } from '../src/services/node/Node.js';
import { TaskStore } from '../src/services/tasks/records.js';
import { Tasks, type TasksOptions } from '../src/services/tasks/Tasks.js';
import { LocalKvServer, LocalKvStore } from '../src/transport/kv/LocalKvStore.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { waitFor } from './support/wait.js';

const fast = { heartbeatMs: 20, workerTimeoutMs: 150, leaseMs: 150, backoff: { initialMs: 5, maxMs: 20 } } as const;
let open: Tasks[] = [];

function cluster() {
  const server = new LocalKvServer();
  const make = (node: string, extra: Partial<TasksOptions> = {}) => {
    const t = new Tasks({ kv: new LocalKvStore({ server }), node, ...fast, ...extra });
    open.push(t);
    return t;
  };
  return { server, make };
}

afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});

describe('tasks - running', () => {
  it('tasks - a submitted task runs on a worker and its result is returned', async () => {
    const { make } = cluster();
    const a = make('a');
    await a.define('double', (task) => (task.input as number) * 2);
    const id = await a.submit('double', 21);
    expect(await a.result(id, { timeout: 5000 })).toBe(42);
    expect(await a.status(id)).toBe('DoneCalculating');
    expect((await a.record(id)).attempt).toBe(1);
  });

  it('tasks - a parent waits for its subtasks, then runs again with their results, and they are Collected', async () => {
    const { make } = cluster();
    const a = make('a');
    const seen: string[] = [];
    await a.define('sum', (task, ctx) => {
      if (ctx.subtasks === undefined) {
        for (const n of task.input as number[]) ctx.subtask('square', n);
        return undefined;
      }
      return ctx.subtasks.reduce((acc, s) => acc + (s.result as number), 0);
    });
    await a.define('square', (task) => (task.input as number) ** 2);
    const id = await a.submit('sum', [1, 2, 3]);
    a.watch(id, (s) => seen.push(s));
    expect(await a.result(id, { timeout: 5000 })).toBe(14);
    const kids = a._records().filter((r) => r.parent === id);
    expect(kids).toHaveLength(3);
    expect(kids.every((k) => k.status === 'Collected')).toBe(true);
    await waitFor(() => seen.includes('DoneCalculating'), { timeout: 2000, message: 'watch saw DoneCalculating' });
    expect(seen).toContain('WaitForSubtasks');
  });

  it('tasks - a failing task is retried with backoff and Failed past maxAttempts with its last error', async () => {
    const { make } = cluster();
    const a = make('a');
    let runs = 0;
    await a.define('flaky', () => {
      runs++;
      throw new Error(`boom ${runs}`);
    });
    const id = await a.submit('flaky', null, { maxAttempts: 3 });
    const err = await a.result(id, { timeout: 5000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaskFailedError);
    expect(err).toMatchObject({ code: 'ERR_TASK_FAILED', id, attempts: 3, lastError: 'boom 3' });
    expect(runs).toBe(3);
  });

  it('tasks - a parent that fails on subtask failure is Failed naming the subtask', async () => {
    const { make } = cluster();
    const a = make('a');
    await a.define('parent', (_t, ctx) => {
      ctx.subtask('bad', null, { maxAttempts: 1 });
    });
    await a.define('bad', () => {
      throw new Error('no');
    });
    const id = await a.submit('parent', null, { failOnSubtaskFailure: true });
    const err = (await a.result(id, { timeout: 5000 }).catch((e: unknown) => e)) as TaskFailedError;
    expect(err).toBeInstanceOf(TaskFailedError);
    expect(err.lastError).toMatch(/^subtask .* failed: no$/);
  });

  it('tasks - a sleeping task does not run until woken', async () => {
    const { make } = cluster();
    const a = make('a');
    const id = await a.submit('later', 1);
    await a.sleep(id);
    await a.define('later', (t) => t.input);
    await expect(a.result(id, { timeout: 100 })).rejects.toBeInstanceOf(TimeoutError);
    expect(await a.status(id)).toBe('Sleeping');
    await a.wake(id);
    expect(await a.result(id, { timeout: 5000 })).toBe(1);
  });

  it('tasks - tasks are assigned round-robin over the workers', async () => {
    const { make } = cluster();
    const d = make('d');
    const ran: string[] = [];
    const workers = ['w1', 'w2', 'w3'].map((n) => make(n));
    await d.start();
    await waitFor(() => d.isDispatcher, { timeout: 2000, message: 'd dispatches' });
    for (const w of workers) await w.define('noop', () => ran.push(w.node));
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push(await d.submit('noop', i));
    await Promise.all(ids.map((id) => d.result(id, { timeout: 5000 })));
    expect(new Set(ran)).toEqual(new Set(['w1', 'w2', 'w3']));
  });
});

describe('tasks - loss and fencing', () => {
  it('tasks - a killed worker’s task goes back to Unassigned with the attempt counted and runs elsewhere', async () => {
    const { make } = cluster();
    const d = make('d');
    const w1 = make('w1');
    const w2 = make('w2');
    await d.start();
    await waitFor(() => d.isDispatcher, { timeout: 2000, message: 'd dispatches' });
    let release: () => void = () => {};
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    await w1.define('job', async () => {
      await blocked;
      return 'w1';
    });
    const id = await d.submit('job', null, { maxAttempts: 3 });
    await waitFor(async () => (await d.record(id)).status === 'Working', { timeout: 2000, message: 'job working on w1' });
    await w2.define('job', () => 'w2');
    w1._kill({ zombie: true }); // a paused worker, whose handler still finishes
    expect(await d.result(id, { timeout: 5000 })).toBe('w2');
    const r = await d.record(id);
    expect(r.attempt).toBe(2);
    release(); // the killed worker's late result must change nothing
    await waitFor(() => w1.counters.staleWrites > 0, { timeout: 2000, message: 'late result refused' });
    expect((await d.record(id)).result).toBe('w2');
  });

  it('tasks - a new dispatcher takes over from the records when the old one is killed', async () => {
    const { make } = cluster();
    const d1 = make('d1');
    await d1.start();
    await waitFor(() => d1.isDispatcher, { timeout: 2000, message: 'd1 dispatches' });
    const d2 = make('d2');
    await d2.define('job', (t) => t.input);
    d1._kill();
    const id = await d2.submit('job', 'x');
    expect(await d2.result(id, { timeout: 5000 })).toBe('x');
    expect(d2.isDispatcher).toBe(true);
  });

  it('tasks - a late result of a reassigned task is refused by epoch', async () => {
    const kv = new LocalKvStore();
    const store = new TaskStore(await kv.bucket('t'));
    await store.create({ id: 'T1', name: 'n', input: null, status: 'Unassigned', epoch: 0, attempt: 0, maxAttempts: 3, failOnSubtaskFailure: false });
    await store.transition('T1', 'Assigned', { epoch: 1, attempt: 1, worker: 'w1' });
    await store.transition('T1', 'Working', {}, { epoch: 1 });
    await store.transition('T1', 'Unassigned', { worker: undefined });
    await store.transition('T1', 'Assigned', { epoch: 2, attempt: 2, worker: 'w2' });
    await expect(store.transition('T1', 'Working', {}, { epoch: 1 })).rejects.toBeInstanceOf(StaleEpochError);
    await store.transition('T1', 'Working', {}, { epoch: 2 });
    await store.transition('T1', 'DoneCalculating', { result: 'w2' }, { epoch: 2 });
    await expect(store.transition('T1', 'DoneCalculating', { result: 'w1' }, { epoch: 1 })).rejects.toBeInstanceOf(StaleEpochError);
    expect((await store.require('T1')).record).toMatchObject({ status: 'DoneCalculating', result: 'w2', epoch: 2 });
  });
});

describe('tasks - bad input', () => {
  it('tasks - bad names, attempts and unknown ids are refused with typed errors naming the field', async () => {
    const { make } = cluster();
    const a = make('a');
    await expect(a.submit('bad name', 1)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'name' });
    await expect(a.submit('ok', 1, { maxAttempts: 0 })).rejects.toMatchObject({ field: 'maxAttempts' });
    await expect(a.define('ok', 5 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(a.status('NOPE')).rejects.toBeInstanceOf(UnknownTaskError);
    await expect(a.result('NOPE', { timeout: 1000 })).rejects.toMatchObject({ code: 'ERR_UNKNOWN_TASK', field: 'id' });
    const id = await a.submit('ok', 1);
    await a.sleep(id);
    await expect(a.sleep(id)).rejects.toMatchObject({ name: 'InvalidTaskTransitionError', from: 'Sleeping', to: 'Sleeping' });
  });
});

describe('tasks - node.tasks', () => {
  it('tasks - node.tasks runs a task on the embedded transport and two nodes on one bus share the records', async () => {
    const bus = new LocalBus();
    const a = await createNode({ name: 'ta', transport: { kind: 'local', bus } });
    const b = await createNode({ name: 'tb', transport: { kind: 'local', bus } });
    try {
      await b.tasks.define('greet', (t) => `hello ${t.input as string}`);
      const id = await a.tasks.submit('greet', 'world');
      expect(await a.tasks.result(id, { timeout: 10_000 })).toBe('hello world');
      expect(await b.tasks.status(id)).toBe('DoneCalculating');
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });
});
