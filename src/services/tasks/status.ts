/**
 * The task status machine: the object database's states plus `Failed`.
 *
 * ```
 *             ┌──────────── wake ─────────────┐
 *             v                               │
 *   submit → Unassigned ─assign→ Assigned ─start→ Working ─return→ DoneCalculating ─counted→ Collected
 *             ^  │  ^               │            │  │  │
 *             │  │  └── worker lost ┘            │  │  └─ subtask() → WaitForSubtasks ─all done→ Unassigned
 *             │  │  └── worker lost / retry ─────┘  │                    │
 *             │  └──── attempts spent ──→ Failed ←──┘ (past maxAttempts)  └─ a subtask failed (failOnSubtaskFailure) → Failed
 *             └── Sleeping ←── sleep (from Unassigned, Assigned, Working, WaitForSubtasks)
 * ```
 *
 * The table {@link TASK_TRANSITIONS} is the single source: {@link assertTaskTransition}
 * checks a step against it (every durable status write goes through it), and
 * {@link taskStatusMachine} is the same table as an XState machine, so it can
 * be viewed as a statechart. An event of the machine is named by its target
 * status (`{ type: 'Assigned' }`).
 *
 * - `Sleeping` wakes to `Unassigned`, or to `WaitForSubtasks` when it slept
 *   while waiting (the record keeps where it slept from).
 * - `Collected` and `Failed` are final. `DoneCalculating` is final for a root
 *   task; a subtask moves on to `Collected` once its parent counted it.
 */
import { createMachine } from 'xstate';
import { InvalidTaskTransitionError } from '../../errors.js';

export const TaskStatus = {
  Unassigned: 'Unassigned',
  Assigned: 'Assigned',
  Working: 'Working',
  WaitForSubtasks: 'WaitForSubtasks',
  Sleeping: 'Sleeping',
  Collected: 'Collected',
  DoneCalculating: 'DoneCalculating',
  Failed: 'Failed',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const TASK_STATUSES: readonly TaskStatus[] = Object.values(TaskStatus);

/** Allowed steps, from → to. Anything not listed is refused. */
export const TASK_TRANSITIONS: { readonly [F in TaskStatus]: readonly TaskStatus[] } = {
  Unassigned: ['Assigned', 'Sleeping', 'Failed'],
  Assigned: ['Working', 'Unassigned', 'Sleeping'],
  Working: ['DoneCalculating', 'WaitForSubtasks', 'Unassigned', 'Sleeping', 'Failed'],
  WaitForSubtasks: ['Unassigned', 'Sleeping', 'Failed'],
  Sleeping: ['Unassigned', 'WaitForSubtasks'],
  DoneCalculating: ['Collected'],
  Collected: [],
  Failed: [],
};

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  return TASK_TRANSITIONS[from].includes(to);
}

/** Throws `InvalidTaskTransitionError` (naming both) unless `from → to` is in the table. */
export function assertTaskTransition(from: TaskStatus, to: TaskStatus, task?: string): void {
  if (!canTransition(from, to)) throw new InvalidTaskTransitionError(from, to, task);
}

/** A task that can no longer change (its result or error is settled for its waiters). */
export function isSettled(status: TaskStatus): boolean {
  return status === 'DoneCalculating' || status === 'Collected' || status === 'Failed';
}

export type TaskStatusEvent = { readonly type: TaskStatus };

/** The table as an XState machine; `transition()` from `xstate` steps it purely. */
export const taskStatusMachine = createMachine({
  id: 'halyard.task',
  types: {} as { events: TaskStatusEvent },
  initial: 'Unassigned',
  states: Object.fromEntries(
    TASK_STATUSES.map((from) => [
      from,
      TASK_TRANSITIONS[from].length === 0 ? { type: 'final' as const } : { on: Object.fromEntries(TASK_TRANSITIONS[from].map((to) => [to, { target: to }])) },
    ]),
  ),
});
