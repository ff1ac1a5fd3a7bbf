/**
 * The tasks model: a simulated cluster of Tasks objects on one store and one
 * ManualClock, and the commands of the model-based test
 * (`tasks.model.spec.ts`): submit random trees, kill workers, kill the
 * dispatcher, sleep and wake, let time pass.
 *
 * The checks do not mirror the implementation: they read every write of the
 * bucket from an independent watch and ask only what the issue promises:
 * every task ends DoneCalculating (or Collected, for a subtask) or Failed,
 * reaches each of those exactly once, and none is lost.
 */
import fc from 'fast-check';
import type { Clock } from '../src/clock.js';
import { ManualClock } from '../src/clock.js';
import { decodeTask, type TaskRecord } from '../src/services/tasks/records.js';
import { Tasks, type TaskHandler } from '../src/services/tasks/Tasks.js';
import type { KvStore, KvWatch } from '../src/transport/kv/KvStore.js';

/** A task tree node: how many times it fails before succeeding, and its children. */
export interface TreeInput {
  readonly fails: number;
  readonly children: readonly TreeInput[];
}

export const treeArb: fc.Arbitrary<TreeInput> = fc.letrec<{ tree: TreeInput; level2: TreeInput; leaf: TreeInput }>((tie) => ({
  tree: fc.record({ fails: fc.integer({ min: 0, max: 2 }), children: fc.array(tie('level2'), { maxLength: 3 }) }),
  level2: fc.record({ fails: fc.integer({ min: 0, max: 2 }), children: fc.array(tie('leaf'), { maxLength: 2 }) }),
  leaf: fc.record({ fails: fc.integer({ min: 0, max: 2 }), children: fc.constant([]) }),
})).tree;

/** Sums the nodes of a tree after `WORK_MS` of simulated work (so kills catch tasks in flight); fails on attempts up to `fails`. */
export const treeHandler =
  (clock: Clock): TaskHandler =>
  async (task, ctx) => {
  const input = task.input as TreeInput;
  await new Promise<void>((resolve) => clock.setTimer(resolve, WORK_MS));
  if (ctx.attempt <= input.fails) throw new Error(`planned failure ${ctx.attempt}`);
  if (input.children.length > 0 && ctx.subtasks === undefined) {
    for (const c of input.children) ctx.subtask('tree', c);
    return undefined;
  }
  return 1 + (ctx.subtasks ?? []).reduce((acc, s) => acc + (typeof s.result === 'number' ? s.result : 0), 0);
  };

export const WORK_MS = 30;

export const TIMING = { heartbeatMs: 20, workerTimeoutMs: 120, leaseMs: 120, backoff: { initialMs: 5, maxMs: 40 } } as const;

export interface Model {
  roots: number;
}

export class Sim {
  readonly members: Tasks[] = [];
  readonly roots: string[] = [];
  /** Every status each task id was written with, in write order. */
  readonly history = new Map<string, TaskRecord['status'][]>();
  readonly latest = new Map<string, TaskRecord>();
  #watch: KvWatch | undefined;

  constructor(
    readonly store: () => KvStore,
    readonly clock: Clock,
    readonly bucket: string,
    readonly step: () => Promise<void>,
    readonly workers = 3,
  ) {}

  async start(): Promise<void> {
    const b = await this.store().bucket(this.bucket);
    this.#watch = await b.watch({ key: 'task.>' });
    void (async () => {
      for await (const e of this.#watch!) {
        const r = decodeTask(e);
        if (r === undefined) continue;
        const h = this.history.get(r.id) ?? [];
        h.push(r.status);
        this.history.set(r.id, h);
        this.latest.set(r.id, r);
      }
    })();
    for (let i = 0; i < this.workers; i++) await this.spawn(`w${i}`);
  }

  async spawn(node: string): Promise<Tasks> {
    const t = new Tasks({ kv: this.store(), node, bucket: this.bucket, clock: this.clock, ...TIMING });
    this.members.push(t);
    await t.define('tree', treeHandler(this.clock));
    return t;
  }

  async kill(index: number, zombie = false): Promise<void> {
    const [victim] = this.members.splice(index % this.members.length, 1);
    victim!._kill({ zombie });
    await this.spawn(victim!.node);
  }

  async killDispatcher(): Promise<void> {
    const i = this.members.findIndex((m) => m.isDispatcher);
    if (i >= 0) await this.kill(i);
  }

  /** Let `ms` pass in steps, the store's deliveries running between steps. */
  async advance(ms: number): Promise<void> {
    for (let t = 0; t < ms; t += 10) {
      if (this.clock instanceof ManualClock) this.clock.advance(10);
      await this.step();
    }
  }

  unsettled(): TaskRecord[] {
    const open: TaskRecord[] = [];
    for (const id of this.roots) {
      const r = this.latest.get(id);
      if (r === undefined || (r.status !== 'DoneCalculating' && r.status !== 'Failed')) open.push(r ?? ({ id, status: 'Unassigned' } as TaskRecord));
    }
    for (const r of this.latest.values()) {
      if (r.parent !== undefined && r.status !== 'Collected' && r.status !== 'Failed') open.push(r);
    }
    return open;
  }

  async wakeAll(): Promise<void> {
    for (const r of this.latest.values()) if (r.status === 'Sleeping') await this.members[0]!.wake(r.id).catch(() => {});
  }

  async close(): Promise<void> {
    this.#watch?.stop();
    await Promise.all(this.members.map((m) => m.close()));
  }
}

type Cmd = fc.AsyncCommand<Model, Sim>;

class Submit implements Cmd {
  constructor(
    readonly tree: TreeInput,
    readonly maxAttempts: number,
    readonly failOnSubtaskFailure: boolean,
  ) {}
  check = () => true;
  async run(m: Model, s: Sim): Promise<void> {
    s.roots.push(await s.members[0]!.submit('tree', this.tree, { maxAttempts: this.maxAttempts, failOnSubtaskFailure: this.failOnSubtaskFailure }));
    m.roots++;
  }
  toString = () => `submit(${JSON.stringify(this.tree)}, ${this.maxAttempts}, ${this.failOnSubtaskFailure})`;
}

class KillWorker implements Cmd {
  constructor(
    readonly index: number,
    readonly zombie: boolean,
  ) {}
  check = () => true;
  run = async (_m: Model, s: Sim) => s.kill(this.index, this.zombie);
  toString = () => `killWorker(${this.index}${this.zombie ? ', zombie' : ''})`;
}

class KillDispatcher implements Cmd {
  check = () => true;
  run = async (_m: Model, s: Sim) => s.killDispatcher();
  toString = () => 'killDispatcher';
}

class Sleep implements Cmd {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.roots > 0;
  async run(_m: Model, s: Sim): Promise<void> {
    const ids = [...s.latest.keys()];
    const id = ids[this.pick % ids.length];
    // Refused (typed) when the task already finished: that is part of the contract, not a failure.
    if (id !== undefined) await s.members[0]!.sleep(id).catch((e: Error) => expectRefusal(e));
  }
  toString = () => `sleep(${this.pick})`;
}

class WakeAll implements Cmd {
  check = () => true;
  run = async (_m: Model, s: Sim) => s.wakeAll();
  toString = () => 'wakeAll';
}

class Advance implements Cmd {
  constructor(readonly ms: number) {}
  check = () => true;
  run = async (_m: Model, s: Sim) => s.advance(this.ms);
  toString = () => `advance(${this.ms})`;
}

function expectRefusal(e: Error): void {
  if (e.name !== 'InvalidTaskTransitionError' && e.name !== 'KvConflictError') throw e;
}

export function taskCommands(maxCommands = 15): fc.Arbitrary<Iterable<Cmd>> {
  return fc.commands(
    [
      fc.tuple(treeArb, fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([t, a, f]) => new Submit(t, a, f)),
      fc.tuple(treeArb, fc.integer({ min: 1, max: 3 }), fc.boolean()).map(([t, a, f]) => new Submit(t, a, f)),
      fc.tuple(fc.nat(10), fc.boolean()).map(([i, z]) => new KillWorker(i, z)),
      fc.constant(new KillDispatcher()),
      fc.nat(50).map((i) => new Sleep(i)),
      fc.constant(new WakeAll()),
      fc.integer({ min: 10, max: 200 }).map((ms) => new Advance(ms)),
      fc.integer({ min: 10, max: 200 }).map((ms) => new Advance(ms)),
    ],
    { maxCommands },
  );
}

/** After the commands: wake everything and let time pass until every task settled (or `budgetMs` of simulated time ran out). */
export async function settle(s: Sim, budgetMs: number): Promise<void> {
  for (let spent = 0; spent < budgetMs; spent += 50) {
    await s.wakeAll();
    if (s.unsettled().length === 0) return;
    await s.advance(50);
  }
}

/** The promises, checked on the history of writes. Returns what is wrong (empty when all hold). */
export function violations(s: Sim): string[] {
  const out: string[] = [];
  for (const r of s.unsettled()) out.push(`task ${r.id} not settled: ${r.status}`);
  for (const [id, h] of s.history) {
    const done = h.filter((x) => x === 'DoneCalculating').length;
    const failed = h.filter((x) => x === 'Failed').length;
    if (done + failed !== 1) out.push(`task ${id} settled ${done} time(s) done and ${failed} time(s) failed: ${h.join(' > ')}`);
  }
  for (const r of s.latest.values()) {
    if (r.parent !== undefined && !s.latest.has(r.parent)) out.push(`task ${r.id}: parent ${r.parent} lost`);
    for (const c of r.children ?? []) if (r.status === 'WaitForSubtasks' && !s.latest.has(c)) out.push(`task ${r.id}: child ${c} lost`);
  }
  for (const id of s.roots) if (!s.history.has(id)) out.push(`task ${id} lost`);
  return out;
}
