import { transition } from 'xstate';
import { describe, expect, it } from 'vitest';
import { InvalidTaskTransitionError } from '../src/errors.js';
import { TASK_STATUSES, TASK_TRANSITIONS, type TaskStatus, assertTaskTransition, taskStatusMachine } from '../src/services/tasks/status.js';

const allowed: [TaskStatus, TaskStatus][] = [
  ['Unassigned', 'Assigned'],
  ['Unassigned', 'Sleeping'],
  ['Unassigned', 'Failed'],
  ['Assigned', 'Working'],
  ['Assigned', 'Unassigned'],
  ['Assigned', 'Sleeping'],
  ['Working', 'DoneCalculating'],
  ['Working', 'WaitForSubtasks'],
  ['Working', 'Unassigned'],
  ['Working', 'Sleeping'],
  ['Working', 'Failed'],
  ['WaitForSubtasks', 'Unassigned'],
  ['WaitForSubtasks', 'Sleeping'],
  ['WaitForSubtasks', 'Failed'],
  ['Sleeping', 'Unassigned'],
  ['Sleeping', 'WaitForSubtasks'],
  ['DoneCalculating', 'Collected'],
];
const isAllowed = (from: TaskStatus, to: TaskStatus) => allowed.some(([f, t]) => f === from && t === to);
const forbidden = TASK_STATUSES.flatMap((from) => TASK_STATUSES.filter((to) => !isAllowed(from, to)).map((to) => [from, to] as [TaskStatus, TaskStatus]));

function machineAt(status: TaskStatus) {
  return taskStatusMachine.resolveState({ value: status, context: {} });
}

describe('tasks - status machine', () => {
  it('tasks - the table lists exactly the allowed transitions', () => {
    const listed = TASK_STATUSES.flatMap((from) => TASK_TRANSITIONS[from].map((to) => [from, to]));
    expect(listed.sort()).toEqual([...allowed].sort());
    expect(forbidden).toHaveLength(TASK_STATUSES.length ** 2 - allowed.length);
  });

  it.each(allowed)('tasks - %s → %s is allowed by the table and the machine', (from, to) => {
    expect(() => assertTaskTransition(from, to)).not.toThrow();
    const [next] = transition(taskStatusMachine, machineAt(from), { type: to });
    expect(next.value).toBe(to);
  });

  it.each(forbidden)('tasks - %s → %s is refused with a typed error naming both', (from, to) => {
    let error: unknown;
    try {
      assertTaskTransition(from, to, 't1');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidTaskTransitionError);
    const e = error as InvalidTaskTransitionError;
    expect(e).toMatchObject({ name: 'InvalidTaskTransitionError', code: 'ERR_INVALID_TASK_TRANSITION', from, to, task: 't1', field: 'status' });
    expect(e.message).toBe(`task t1: cannot go from ${from} to ${to}`);
    const [next] = transition(taskStatusMachine, machineAt(from), { type: to });
    expect(next.value).toBe(from);
  });

  it('tasks - a new task starts Unassigned and Collected and Failed are final', () => {
    expect(taskStatusMachine.getInitialSnapshot({} as never).value).toBe('Unassigned');
    expect(machineAt('Collected').status).toBe('done');
    expect(machineAt('Failed').status).toBe('done');
  });
});
