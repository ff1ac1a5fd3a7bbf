/** Tasks: the status machine (`status.ts`), durable records (`records.ts`) and `node.tasks` (`Tasks.ts`). */
export { TASK_STATUSES, TASK_TRANSITIONS, TaskStatus, assertTaskTransition, canTransition, isTaskStatus, taskStatusMachine } from './status.js';
export { type ChildSpec, type StoredTask, type TaskRecord, TaskStore } from './records.js';
export {
  DEFAULT_TASKS_BUCKET,
  type SubmitOptions,
  type SubtaskOutcome,
  type TaskContext,
  type TaskHandler,
  type TaskInfo,
  Tasks,
  type TasksOptions,
} from './Tasks.js';
