/**
 * Durable task records: one KV entry per task (`task.<id>`), in a bucket of
 * the transport's store (JetStream KV on NATS; the bus's in-process store on
 * the embedded transport).
 *
 * Every status change is a compare-and-set on the entry's revision and goes
 * through the status table (`status.ts`), so two writers can never both move
 * one task: the loser gets `KvConflictError` and re-reads. A write made on
 * behalf of an assignment carries that assignment's `epoch`; the epoch grows
 * with every assignment and every sleep, so a late result from a worker whose
 * task was reassigned (or put to sleep) is refused with `StaleEpochError`
 * and never overwrites the record: result writes are idempotent per epoch.
 */
import { KvConflictError, StaleEpochError, UnknownTaskError } from '../../errors.js';
import type { KvBucket, KvEntry } from '../../transport/kv/KvStore.js';
import { type TaskStatus, assertTaskTransition, isTaskStatus } from './status.js';

export interface TaskRecord {
  readonly id: string;
  /** Task type: which handler runs it. */
  readonly name: string;
  readonly input: unknown;
  readonly status: TaskStatus;
  /** Grows with every assignment and every sleep: the fencing token of worker writes. */
  readonly epoch: number;
  /** Assignments so far (each counts, worker losses included). */
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly failOnSubtaskFailure: boolean;
  /** Worker that holds the current assignment, and its incarnation token (a restarted worker of the same name is another one). */
  readonly worker?: string;
  readonly workerToken?: string;
  readonly parent?: string;
  /** Subtask ids of the current wait, in the order the handler asked for them. */
  readonly children?: readonly string[];
  /** What each child of the current wait is, so the dispatcher can create one a crashed worker did not. */
  readonly childSpecs?: readonly ChildSpec[];
  /** Results of the last wait's subtasks (their order), given to the next run. */
  readonly subtaskResults?: readonly unknown[];
  readonly result?: unknown;
  readonly error?: string;
  /** Not to be assigned before this time (retry backoff), on the dispatcher's clock. */
  readonly notBefore?: number;
  /** Where a Sleeping task wakes to. */
  readonly sleptFrom?: TaskStatus;
}

export interface ChildSpec {
  readonly name: string;
  readonly input: unknown;
  readonly maxAttempts: number;
}

export interface StoredTask {
  readonly record: TaskRecord;
  readonly revision: number;
}

export const TASK_KEY_PREFIX = 'task.';

export function taskKey(id: string): string {
  return `${TASK_KEY_PREFIX}${id}`;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeTask(record: TaskRecord): Uint8Array {
  return encoder.encode(JSON.stringify(record));
}

/** The record in an entry, or undefined for markers and for values that are not task records (never a throw: the bucket is shared). */
export function decodeTask(entry: KvEntry): TaskRecord | undefined {
  if (entry.operation !== 'PUT') return undefined;
  try {
    const r = JSON.parse(decoder.decode(entry.value)) as TaskRecord;
    return typeof r === 'object' && r !== null && typeof r.id === 'string' && isTaskStatus(r.status) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Ids are KV key tokens: time-ordered base36 plus randomness. */
export function newTaskId(): string {
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`.toUpperCase();
}

export type TaskPatch = Partial<Omit<TaskRecord, 'id' | 'status'>>;

export class TaskStore {
  constructor(readonly bucket: KvBucket) {}

  async create(record: TaskRecord): Promise<number> {
    return this.bucket.create(taskKey(record.id), encodeTask(record));
  }

  async get(id: string): Promise<StoredTask | undefined> {
    const entry = await this.bucket.get(taskKey(id));
    const record = entry === null ? undefined : decodeTask(entry);
    return record === undefined || entry === null ? undefined : { record, revision: entry.revision };
  }

  async require(id: string): Promise<StoredTask> {
    const found = await this.get(id);
    if (found === undefined) throw new UnknownTaskError(id);
    return found;
  }

  /**
   * Move task `id` to `to` by compare-and-set, re-reading after a lost race.
   * `epoch`: the write is on behalf of that assignment; refused with
   * `StaleEpochError` once the task moved on to a newer one. `from`: only
   * from these statuses (otherwise the table's `InvalidTaskTransitionError`).
   */
  async transition(
    id: string,
    to: TaskStatus,
    patch: TaskPatch | ((r: TaskRecord) => TaskPatch) = {},
    options: { readonly epoch?: number; readonly known?: StoredTask; readonly attempts?: number } = {},
  ): Promise<StoredTask> {
    let current = options.known ?? (await this.require(id));
    for (let i = 0; ; i++) {
      const r = current.record;
      if (options.epoch !== undefined && r.epoch !== options.epoch) throw new StaleEpochError(`task ${id}`, options.epoch, r.epoch);
      assertTaskTransition(r.status, to, id);
      const next: TaskRecord = { ...r, ...(typeof patch === 'function' ? patch(r) : patch), id, status: to };
      try {
        const revision = await this.bucket.update(taskKey(id), encodeTask(next), current.revision);
        return { record: next, revision };
      } catch (e) {
        if (!(e instanceof KvConflictError) || i >= (options.attempts ?? 10)) throw e;
        current = await this.require(id);
      }
    }
  }

  async ids(): Promise<string[]> {
    return (await this.bucket.keys(`${TASK_KEY_PREFIX}>`)).map((k) => k.slice(TASK_KEY_PREFIX.length));
  }
}
