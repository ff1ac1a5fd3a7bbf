/**
 * `node.tasks`: units of work with subtasks, dispatched to workers, with a
 * status that survives the loss of any process.
 *
 * ```ts
 * await node.tasks.define('resize', async (task, ctx) => {
 *   if (ctx.subtasks === undefined) { ctx.subtask('thumb', task.input); return; }  // parent waits, then runs again
 *   return ctx.subtasks.map((s) => s.result);
 * });
 * const id = await node.tasks.submit('resize', { image: 'a.png' }, { maxAttempts: 5 });
 * await node.tasks.result(id, { timeout: 10_000 });
 * ```
 *
 * ## Options
 * | option            | required | default         | meaning |
 * |-------------------|----------|-----------------|---------|
 * | `kv`              | yes      |                 | the store of the records (`transport.kv()`) |
 * | `node`            | yes      |                 | this worker's name (a KV key token) |
 * | `bucket`          | no       | `halyard-tasks` | bucket of the records, the workers and the dispatcher lease |
 * | `assign`          | no       | `round-robin`   | or `least-loaded` (fewest Assigned/Working tasks) |
 * | `backoff`         | no       | `{ initialMs: 100, maxMs: 5000 }` | retry delay, doubling per attempt up to `maxMs` |
 * | `heartbeatMs`     | no       | 250             | how often a worker renews its presence |
 * | `workerTimeoutMs` | no       | 1000            | presence unchanged this long: the worker is lost |
 * | `leaseMs`         | no       | 1000            | dispatcher lease (`cluster/Lease.ts`) |
 * | `clock`, `logger` | no       | monotonic, silent | |
 *
 * ## How it works
 * - Every record is a KV entry (`records.ts`) and every status change a
 *   compare-and-set through the status table (`status.ts`).
 * - The **dispatcher** is a singleton by lease (`cluster/Lease.ts`) on the
 *   tasks bucket: on one node it is simply that node; in a cluster, whichever
 *   node holds the lease. It keeps no state of its own: it reads the records
 *   (one KV watch), so a new holder takes over where the old one stopped.
 *   It assigns Unassigned tasks whose backoff has passed (a new epoch, the
 *   attempt counted), puts the Assigned and Working tasks of a lost worker
 *   back to Unassigned, fails a task whose attempts are spent, and collects
 *   the subtasks of a waiting parent.
 * - A **worker** is any node that defined the task's name: it announces
 *   itself in the bucket (`worker.<node>`), renewed every `heartbeatMs`, and
 *   runs the tasks assigned to it.
 * - Delivery is **at least once**: a handler may run again after a worker
 *   loss or a sleep. Status transitions are **exactly once**: each is one CAS,
 *   and a write carrying an old epoch is refused (`StaleEpochError`), so a
 *   late result of a reassigned task changes nothing.
 */
import { TaskFailedError, TimeoutError, InvalidArgumentError, KvConflictError, StaleEpochError, HalyardError } from '../../errors.js';
import { type Clock, type TimerHandle, monotonicClock } from '../../clock.js';
import { type Logger, nullLogger } from '../../log.js';
import type { KvBucket, KvStore, KvWatch } from '../../transport/kv/KvStore.js';
import { Lease } from '../cluster/Lease.js';
import { type ChildSpec, type StoredTask, type TaskRecord, TASK_KEY_PREFIX, TaskStore, decodeTask, newTaskId, taskKey, encodeTask } from './records.js';
import { type TaskStatus, isSettled } from './status.js';

export const DEFAULT_TASKS_BUCKET = 'halyard-tasks';
const WORKER_PREFIX = 'worker.';
const LEASE_KEY = 'dispatcher';
const NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Statuses the dispatcher acts on: assign, reassign from a lost worker, collect. */
const OPEN: ReadonlySet<TaskStatus> = new Set<TaskStatus>(['Unassigned', 'Assigned', 'Working', 'WaitForSubtasks']);

export interface SubtaskOutcome {
  readonly id: string;
  readonly status: TaskStatus;
  readonly result?: unknown;
  readonly error?: string;
}

export interface TaskContext {
  readonly id: string;
  readonly attempt: number;
  readonly epoch: number;
  /** Outcomes of the subtasks of the previous run, in the order asked; undefined on a first run. */
  readonly subtasks: readonly SubtaskOutcome[] | undefined;
  /** Ask for a subtask: when the handler returns, the task waits for all of them and then runs again. */
  subtask(name: string, input: unknown, options?: { readonly maxAttempts?: number }): void;
}

export interface TaskInfo {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}

export type TaskHandler = (task: TaskInfo, ctx: TaskContext) => unknown;

export interface SubmitOptions {
  readonly maxAttempts?: number;
  /** Fail this task when one of its subtasks fails (default: run again with the failure in `ctx.subtasks`). */
  readonly failOnSubtaskFailure?: boolean;
}

export interface TasksOptions {
  readonly kv: KvStore;
  readonly node: string;
  readonly bucket?: string;
  readonly assign?: 'round-robin' | 'least-loaded';
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  readonly heartbeatMs?: number;
  readonly workerTimeoutMs?: number;
  readonly leaseMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

interface WorkerPresence {
  readonly names: readonly string[];
  readonly token: string;
  readonly revision: number;
  /** When this revision was first seen, on our clock. */
  readonly since: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function assertName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new InvalidArgumentError('name', 'must be 1 to 64 letters, digits, - or _');
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class Tasks {
  readonly node: string;
  readonly #kv: KvStore;
  readonly #bucketName: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #assign: 'round-robin' | 'least-loaded';
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #heartbeatMs: number;
  readonly #workerTimeoutMs: number;
  readonly #leaseMs: number;
  readonly #handlers = new Map<string, TaskHandler>();
  readonly #tasks = new Map<string, StoredTask>();
  /** Ids of the cached tasks the dispatcher still has to act on, so a pass never walks the settled ones. */
  readonly #openIds = new Set<string>();
  readonly #workers = new Map<string, WorkerPresence>();
  readonly #listeners = new Map<string, Set<(s: StoredTask) => void>>();
  readonly #running = new Set<string>();
  readonly #rr = new Map<string, number>();
  #ready: Promise<void> | undefined;
  #bucket: KvBucket | undefined;
  #store: TaskStore | undefined;
  #watch: KvWatch | undefined;
  #lease: Lease | undefined;
  #dispatching = false;
  #passQueued = false;
  /**
   * Ids changed since the last pass (a changed child marks its parent). A pass
   * caused by a record change walks only these; time passing (the tick), a
   * worker's presence and a new lease walk every open task, since those can
   * make any of them due.
   */
  readonly #dirty = new Set<string>();
  #fullPass = true;
  #passRunning = false;
  #beat: TimerHandle | undefined;
  #tick: TimerHandle | undefined;
  #closed = false;
  /** Killed without being a zombie: writes nothing more. */
  #dead = false;
  #beatNo = 0;
  /** This incarnation: assignments name it, so a restarted worker of the same node name does not inherit the old one's tasks. */
  readonly #token = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  /** Counts of what the runtime refused or lost, for tests and the bench. */
  readonly counters = { staleWrites: 0, conflicts: 0, reassigned: 0, runs: 0 };

  constructor(options: TasksOptions) {
    if (options.kv === undefined) throw new InvalidArgumentError('kv', 'is required');
    if (typeof options.node !== 'string' || !NAME.test(options.node)) throw new InvalidArgumentError('node', 'must be a KV key token');
    this.node = options.node;
    this.#kv = options.kv;
    this.#bucketName = options.bucket ?? DEFAULT_TASKS_BUCKET;
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = (options.logger ?? nullLogger()).child({ component: 'tasks' });
    this.#assign = options.assign ?? 'round-robin';
    if (this.#assign !== 'round-robin' && this.#assign !== 'least-loaded') throw new InvalidArgumentError('assign', "must be 'round-robin' or 'least-loaded'");
    this.#initialMs = options.backoff?.initialMs ?? 100;
    this.#maxMs = options.backoff?.maxMs ?? 5000;
    this.#heartbeatMs = options.heartbeatMs ?? 250;
    this.#workerTimeoutMs = options.workerTimeoutMs ?? 1000;
    this.#leaseMs = options.leaseMs ?? 1000;
    for (const [field, v] of [
      ['backoff.initialMs', this.#initialMs],
      ['backoff.maxMs', this.#maxMs],
      ['heartbeatMs', this.#heartbeatMs],
      ['workerTimeoutMs', this.#workerTimeoutMs],
      ['leaseMs', this.#leaseMs],
    ] as const) {
      if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(field, 'must be a positive number');
    }
  }

  /** True while this node holds the dispatcher lease. */
  get isDispatcher(): boolean {
    return this.#dispatching;
  }

  /** Start watching the records and contending for the dispatcher (done by every call; idempotent). */
  start(): Promise<void> {
    this.#ready ??= this.#open();
    return this.#ready;
  }

  async #open(): Promise<void> {
    this.#bucket = await this.#kv.bucket(this.#bucketName);
    this.#store = new TaskStore(this.#bucket);
    this.#watch = await this.#bucket.watch();
    void this.#consume(this.#watch);
    const lease = new Lease({ kv: this.#bucket, name: LEASE_KEY, holder: this.node, leaseMs: this.#leaseMs, clock: this.#clock, logger: this.#logger });
    lease.on('acquired', () => {
      this.#dispatching = true;
      this.#logger.info('dispatcher acquired');
      this.#schedulePass(true);
    });
    lease.on('lost', (reason) => {
      this.#dispatching = false;
      this.#logger.info({ reason }, 'dispatcher lost');
    });
    this.#lease = lease;
    lease.start();
    this.#tickLoop();
  }

  async #consume(watch: KvWatch): Promise<void> {
    try {
      for await (const entry of watch) {
        if (entry.key.startsWith(TASK_KEY_PREFIX)) {
          const record = decodeTask(entry);
          if (record === undefined) continue;
          this.#learn({ record, revision: entry.revision });
        } else if (entry.key.startsWith(WORKER_PREFIX)) {
          const node = entry.key.slice(WORKER_PREFIX.length);
          if (entry.operation !== 'PUT') this.#workers.delete(node);
          else {
            try {
              const { names, token } = JSON.parse(decoder.decode(entry.value)) as { names: string[]; token: string };
              const prev = this.#workers.get(node);
              if (prev !== undefined && prev.revision >= entry.revision) continue;
              this.#workers.set(node, { names: Array.isArray(names) ? names : [], token: String(token), revision: entry.revision, since: this.#clock.now() });
            } catch {
              this.#workers.delete(node);
            }
          }
          this.#schedulePass(true);
        }
      }
    } catch (e) {
      if (!this.#closed) this.#logger.warn({ err: message(e) }, 'tasks watch ended');
    }
  }

  /**
   * Take a record into the cache if it is newer than the cached one. Our own
   * writes come through here as soon as they succeed, not only when the watch
   * echoes them: a dispatcher pass that ran on the stale revision would write
   * the same step again and lose the CAS.
   */
  #learn(stored: StoredTask): StoredTask {
    const r = stored.record;
    const known = this.#tasks.get(r.id);
    if (known !== undefined && known.revision >= stored.revision) return stored;
    this.#tasks.set(r.id, stored);
    if (OPEN.has(r.status)) this.#openIds.add(r.id);
    else this.#openIds.delete(r.id);
    if (this.#dispatching) {
      this.#dirty.add(r.id);
      if (r.parent !== undefined) this.#dirty.add(r.parent);
    }
    this.#onTask(stored);
    return stored;
  }

  #onTask(stored: StoredTask): void {
    const r = stored.record;
    for (const fn of this.#listeners.get(r.id) ?? []) fn(stored);
    if (r.status === 'Assigned' && r.worker === this.node && r.workerToken === this.#token) void this.#run(stored);
    this.#schedulePass();
  }

  // ── public API ──────────────────────────────────────────────────────────

  /** Run tasks named `name` on this node. Replaces an earlier handler of that name. */
  async define(name: string, handler: TaskHandler): Promise<void> {
    assertName(name);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'must be a function');
    await this.start();
    this.#handlers.set(name, handler);
    await this.#heartbeat();
  }

  /** A new task, Unassigned; resolves to its id once its record is stored. */
  async submit(name: string, input: unknown, options: SubmitOptions = {}): Promise<string> {
    assertName(name);
    const maxAttempts = options.maxAttempts ?? 3;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new InvalidArgumentError('maxAttempts', 'must be a positive integer');
    await this.start();
    const id = newTaskId();
    const record: TaskRecord = { id, name, input, status: 'Unassigned', epoch: 0, attempt: 0, maxAttempts, failOnSubtaskFailure: options.failOnSubtaskFailure === true };
    this.#learn({ record, revision: await this.#store!.create(record) });
    return id;
  }

  async status(id: string): Promise<TaskStatus> {
    await this.start();
    return (await this.#store!.require(id)).record.status;
  }

  /** The stored record (status, attempt, epoch, result or last error). */
  async record(id: string): Promise<TaskRecord> {
    await this.start();
    return (await this.#store!.require(id)).record;
  }

  /** Every task record in the bucket, read from the bucket itself (the watch may not have caught up), by id. */
  async list(): Promise<TaskRecord[]> {
    await this.start();
    const out: TaskRecord[] = [];
    for (const key of await this.#bucket!.keys(`${TASK_KEY_PREFIX}>`)) {
      const stored = await this.#store!.get(key.slice(TASK_KEY_PREFIX.length));
      if (stored !== undefined) out.push(stored.record);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The task's result once DoneCalculating; `TaskFailedError` once Failed; `TimeoutError` after `timeout` ms (default 30 s). */
  async result(id: string, options: { readonly timeout?: number } = {}): Promise<unknown> {
    const timeout = options.timeout ?? 30_000;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError('timeout', 'must be a positive number');
    await this.start();
    const settle = (r: TaskRecord): { value: unknown } | undefined => {
      if (r.status === 'Failed') throw new TaskFailedError(r.id, r.attempt, r.error ?? 'failed');
      return r.status === 'DoneCalculating' || r.status === 'Collected' ? { value: r.result } : undefined;
    };
    return new Promise((resolve, reject) => {
      let stop = (): void => {};
      const timer = this.#clock.setTimer(() => {
        stop();
        reject(new TimeoutError(`task ${id} result`, timeout));
      }, timeout);
      const check = (r: TaskRecord): void => {
        try {
          const s = settle(r);
          if (s === undefined) return;
          resolve(s.value);
        } catch (e) {
          reject(e);
        }
        this.#clock.clearTimer(timer);
        stop();
      };
      stop = this.#listen(id, (s) => check(s.record));
      // The cached record is as good as a read: any later revision reaches the listener through the watch.
      const cached = this.#tasks.get(id);
      if (cached !== undefined) return check(cached.record);
      this.#store!.require(id).then(
        (s) => check(s.record),
        (e) => {
          this.#clock.clearTimer(timer);
          stop();
          reject(e);
        },
      );
    });
  }

  /** Call `cb` with each new status of task `id` (the current one first). Returns the unsubscribe. */
  watch(id: string, cb: (status: TaskStatus, record: TaskRecord) => void): () => void {
    let last: string | undefined;
    const deliver = (r: TaskRecord): void => {
      const mark = `${r.status}:${r.epoch}`;
      if (mark === last) return;
      last = mark;
      cb(r.status, r);
    };
    const stop = this.#listen(id, (s) => deliver(s.record));
    void this.start().then(() => {
      const known = this.#tasks.get(id);
      if (known !== undefined) deliver(known.record);
    });
    return stop;
  }

  /** Pause a task that has not finished: its current run (if any) is fenced off by a new epoch. */
  async sleep(id: string): Promise<void> {
    await this.start();
    await this.#transition(id, 'Sleeping', (r) => ({ epoch: r.epoch + 1, worker: undefined, workerToken: undefined, sleptFrom: r.status }));
  }

  /** Resume a Sleeping task: back to WaitForSubtasks if it slept waiting, else Unassigned. */
  async wake(id: string): Promise<void> {
    await this.start();
    const s = await this.#store!.require(id);
    const to = s.record.sleptFrom === 'WaitForSubtasks' ? 'WaitForSubtasks' : 'Unassigned';
    await this.#transition(id, to, { sleptFrom: undefined }, { known: s });
  }

  /** Leave: stop the dispatcher and the worker (its presence deleted, so its tasks go back at once). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopTimers();
    if (this.#ready === undefined) return;
    await this.#ready.catch(() => {});
    this.#watch?.stop();
    await this.#lease?.stop();
    if (this.#handlers.size > 0) await this.#bucket?.delete(`${WORKER_PREFIX}${this.node}`).catch(() => {});
  }

  /**
   * @internal Stop as a SIGKILLed process would: no goodbye, the presence and the lease just stop being renewed.
   * `zombie`: its running handlers still finish and write (a paused process that wakes late), to be fenced off by epoch.
   */
  _kill(options: { readonly zombie?: boolean } = {}): void {
    this.#closed = true;
    this.#dead = options.zombie !== true;
    this.#stopTimers();
    this.#watch?.stop();
    this.#dispatching = false;
    void this.#lease?.stop().catch(() => {});
  }

  #stopTimers(): void {
    if (this.#beat !== undefined) this.#clock.clearTimer(this.#beat);
    if (this.#tick !== undefined) this.#clock.clearTimer(this.#tick);
  }

  #listen(id: string, fn: (s: StoredTask) => void): () => void {
    const set = this.#listeners.get(id) ?? new Set();
    this.#listeners.set(id, set);
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#listeners.delete(id);
    };
  }

  // ── worker ──────────────────────────────────────────────────────────────

  async #heartbeat(): Promise<void> {
    if (this.#closed || this.#handlers.size === 0) return;
    if (this.#beat !== undefined) this.#clock.clearTimer(this.#beat);
    const value = encoder.encode(JSON.stringify({ names: [...this.#handlers.keys()], token: this.#token, beat: ++this.#beatNo }));
    try {
      await this.#bucket!.put(`${WORKER_PREFIX}${this.node}`, value);
    } catch (e) {
      this.#logger.warn({ err: message(e) }, 'worker heartbeat failed');
    }
    if (!this.#closed) this.#beat = this.#clock.setTimer(() => void this.#heartbeat(), this.#heartbeatMs);
  }

  async #run(assigned: StoredTask): Promise<void> {
    const r = assigned.record;
    const key = `${r.id}:${r.epoch}`;
    if (this.#running.has(key) || this.#closed) return;
    this.#running.add(key);
    const epoch = r.epoch;
    try {
      const handler = this.#handlers.get(r.name);
      let working: StoredTask;
      try {
        working = await this.#transition(r.id, 'Working', {}, { epoch, known: assigned });
      } catch (e) {
        this.#refused(e);
        return;
      }
      if (handler === undefined) {
        await this.#transition(r.id, 'Unassigned', { worker: undefined, workerToken: undefined, error: `no handler for ${r.name} on ${this.node}` }, { epoch, known: working });
        return;
      }
      const children: ChildSpec[] = [];
      const outcomes = this.#outcomes(r);
      const ctx: TaskContext = {
        id: r.id,
        attempt: r.attempt,
        epoch,
        subtasks: outcomes,
        subtask: (name, input, options) => {
          assertName(name);
          const maxAttempts = options?.maxAttempts ?? r.maxAttempts;
          if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new InvalidArgumentError('maxAttempts', 'must be a positive integer');
          children.push({ name, input, maxAttempts });
        },
      };
      this.counters.runs++;
      let result: unknown;
      let failure: unknown;
      let failed = false;
      try {
        result = await handler({ id: r.id, name: r.name, input: r.input }, ctx);
      } catch (e) {
        failed = true;
        failure = e;
      }
      if (this.#dead) return;
      if (failed) {
        const spent = r.attempt >= r.maxAttempts;
        await this.#transition(
          r.id,
          spent ? 'Failed' : 'Unassigned',
          { worker: undefined, workerToken: undefined, error: message(failure), notBefore: spent ? undefined : this.#clock.now() + this.#backoff(r.attempt) },
          { epoch, known: working },
        );
      } else if (children.length > 0) {
        const ids = children.map((_, i) => `${r.id}-${epoch}-${i}`);
        // The parent records its children's specs before any child exists, so a crash in between leaves the dispatcher enough to create them.
        await this.#transition(r.id, 'WaitForSubtasks', { worker: undefined, workerToken: undefined, children: ids, childSpecs: children }, { epoch, known: working });
        await Promise.all(ids.map((id, i) => this.#createChild(id, r, children[i]!)));
      } else {
        await this.#transition(r.id, 'DoneCalculating', { worker: undefined, workerToken: undefined, result, error: undefined }, { epoch, known: working });
      }
    } catch (e) {
      this.#refused(e);
    } finally {
      this.#running.delete(key);
    }
  }

  /** A status write (`TaskStore.transition`), learnt at once by this node's view. */
  async #transition(...args: Parameters<TaskStore['transition']>): Promise<StoredTask> {
    return this.#learn(await this.#store!.transition(...args));
  }

  #outcomes(r: TaskRecord): readonly SubtaskOutcome[] | undefined {
    return r.subtaskResults as readonly SubtaskOutcome[] | undefined;
  }

  async #createChild(id: string, parent: TaskRecord, spec: ChildSpec): Promise<void> {
    try {
      await this.#store!.create({
        id,
        name: spec.name,
        input: spec.input,
        status: 'Unassigned',
        epoch: 0,
        attempt: 0,
        maxAttempts: spec.maxAttempts,
        failOnSubtaskFailure: false,
        parent: parent.id,
      });
    } catch (e) {
      if (!(e instanceof KvConflictError)) throw e;
    }
  }

  #refused(e: unknown): void {
    if (e instanceof StaleEpochError) this.counters.staleWrites++;
    else if (e instanceof KvConflictError) this.counters.conflicts++;
    else if (e instanceof HalyardError && e.name === 'InvalidTaskTransitionError') this.counters.staleWrites++;
    else if (!this.#closed) this.#logger.warn({ err: message(e) }, 'task write failed');
  }

  #backoff(attempt: number): number {
    return Math.min(this.#maxMs, this.#initialMs * 2 ** Math.max(0, attempt - 1));
  }

  // ── dispatcher ──────────────────────────────────────────────────────────

  #tickLoop(): void {
    if (this.#closed) return;
    this.#tick = this.#clock.setTimer(() => {
      this.#schedulePass(true);
      this.#tickLoop();
    }, Math.min(this.#heartbeatMs, this.#initialMs));
  }

  #schedulePass(full = false): void {
    if (full) this.#fullPass = true;
    if (!this.#dispatching || this.#closed) return;
    if (this.#passRunning) {
      this.#passQueued = true;
      return;
    }
    this.#passRunning = true;
    queueMicrotask(() => {
      void this.#pass().finally(() => {
        this.#passRunning = false;
        if (this.#passQueued) {
          this.#passQueued = false;
          this.#schedulePass();
        }
      });
    });
  }

  #liveWorkers(name: string): string[] {
    const now = this.#clock.now();
    const live: string[] = [];
    for (const [node, w] of this.#workers) if (now - w.since <= this.#workerTimeoutMs && w.names.includes(name)) live.push(node);
    return live.sort();
  }

  #isLive(node: string | undefined, token: string | undefined): boolean {
    if (node === undefined) return false;
    const w = this.#workers.get(node);
    return w !== undefined && w.token === token && this.#clock.now() - w.since <= this.#workerTimeoutMs;
  }

  #pick(name: string, load: Map<string, number>): string | undefined {
    const live = this.#liveWorkers(name);
    if (live.length === 0) return undefined;
    if (this.#assign === 'least-loaded') {
      let best = live[0]!;
      for (const w of live) if ((load.get(w) ?? 0) < (load.get(best) ?? 0)) best = w;
      return best;
    }
    const n = this.#rr.get(name) ?? 0;
    this.#rr.set(name, n + 1);
    return live[n % live.length];
  }

  async #pass(): Promise<void> {
    const now = this.#clock.now();
    const load = new Map<string, number>();
    const open: StoredTask[] = [];
    for (const id of this.#fullPass ? this.#openIds : this.#dirty) if (this.#openIds.has(id)) open.push(this.#tasks.get(id)!);
    this.#fullPass = false;
    this.#dirty.clear();
    for (const { record: r } of this.#assign === 'least-loaded' ? [...this.#openIds].map((id) => this.#tasks.get(id)!) : []) {
      if ((r.status === 'Assigned' || r.status === 'Working') && r.worker !== undefined) load.set(r.worker, (load.get(r.worker) ?? 0) + 1);
    }
    const writes: Promise<unknown>[] = [];
    const guard = (p: Promise<unknown>): void => {
      writes.push(p.catch((e) => this.#refused(e)));
    };
    for (const known of open) {
      if (!this.#dispatching) break;
      const r = known.record;
      switch (r.status) {
        case 'Unassigned': {
          if (r.notBefore !== undefined && r.notBefore > now) break;
          if (r.attempt >= r.maxAttempts) {
            guard(this.#transition(r.id, 'Failed', { error: r.error ?? 'attempts spent' }, { known, attempts: 0 }));
            break;
          }
          const worker = this.#pick(r.name, load);
          if (worker === undefined) break;
          load.set(worker, (load.get(worker) ?? 0) + 1);
          const token = this.#workers.get(worker)!.token;
          guard(this.#transition(r.id, 'Assigned', { worker, workerToken: token, epoch: r.epoch + 1, attempt: r.attempt + 1, notBefore: undefined }, { known, attempts: 0 }));
          break;
        }
        case 'Assigned':
        case 'Working':
          if (!this.#isLive(r.worker, r.workerToken)) {
            this.counters.reassigned++;
            guard(
              this.#transition(
                r.id,
                'Unassigned',
                { worker: undefined, workerToken: undefined, error: `worker ${r.worker} lost`, notBefore: now + this.#backoff(r.attempt) },
                { known, attempts: 0 },
              ),
            );
          }
          break;
        case 'WaitForSubtasks':
          guard(this.#collect(known));
          break;
        default:
          break;
      }
    }
    await Promise.all(writes);
  }

  async #collect(known: StoredTask): Promise<void> {
    const r = known.record;
    const ids = r.children ?? [];
    const kids: TaskRecord[] = [];
    for (const [i, id] of ids.entries()) {
      const child = this.#tasks.get(id)?.record;
      if (child === undefined) {
        const spec = r.childSpecs?.[i];
        if (spec !== undefined) await this.#createChild(id, r, spec);
        return;
      }
      kids.push(child);
    }
    if (!kids.every((k) => isSettled(k.status))) return;
    await Promise.all(kids.filter((k) => k.status === 'DoneCalculating').map((k) => this.#transition(k.id, 'Collected', {}, { known: this.#tasks.get(k.id) })));
    const failed = kids.find((k) => k.status === 'Failed');
    if (failed !== undefined && r.failOnSubtaskFailure) {
      await this.#transition(r.id, 'Failed', { error: `subtask ${failed.id} failed: ${failed.error ?? 'failed'}` }, { known, attempts: 0 });
      return;
    }
    const outcomes: SubtaskOutcome[] = kids.map((k) =>
      k.status === 'Failed' ? { id: k.id, status: 'Failed', error: k.error } : { id: k.id, status: 'Collected', result: k.result },
    );
    await this.#transition(r.id, 'Unassigned', { subtaskResults: outcomes, children: undefined, childSpecs: undefined, attempt: 0, error: undefined }, {
      known,
      attempts: 0,
    });
  }

  /** @internal Every record in this node's view, for tests. */
  _records(): TaskRecord[] {
    return [...this.#tasks.values()].map((s) => s.record);
  }

  /** @internal */
  _key(id: string): string {
    return taskKey(id);
  }

  /** @internal */
  static _encode(r: TaskRecord): Uint8Array {
    return encodeTask(r);
  }
}
