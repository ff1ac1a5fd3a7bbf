/**
 * The worker logic of the model runs, and the recorder it reports to.
 *
 * Every worker gets `{ path, recorder }` as input. It records `start <path>`
 * when it starts and `stop <path>` when it is stopped (it handles
 * `halyard.shutdown`, so a stop is graceful and observable). It throws on
 * `CRASH` and reaches a final state on `EXIT`. If the recorder has been told
 * to fail its next start, it records `failstart <path>` and throws while
 * starting instead. The recorder is shared by the whole tree, so double
 * starts and stop order are checkable across restarts.
 */
import { setup } from 'xstate';
import { SHUTDOWN_EVENT } from '../../../src/actors/types.js';

export class Recorder {
  readonly starts = new Map<string, number>();
  readonly trace: string[] = [];
  /** Worker path -> how many of its next starts fail. */
  readonly failStarts = new Map<string, number>();

  /** Called as a worker starts; throws if this start is to fail. */
  starting(path: string): void {
    const armed = this.failStarts.get(path) ?? 0;
    if (armed > 0) {
      this.failStarts.set(path, armed - 1);
      this.trace.push(`failstart ${path}`);
      throw new Error(`model worker ${path} fails to start on request`);
    }
    this.starts.set(path, (this.starts.get(path) ?? 0) + 1);
    this.trace.push(`start ${path}`);
  }

  stopped(path: string): void {
    this.trace.push(`stop ${path}`);
  }
}

export interface WorkerInput {
  readonly path: string;
  readonly recorder: Recorder;
}

export type WorkerEvent = { type: 'CRASH' } | { type: 'EXIT' } | { type: typeof SHUTDOWN_EVENT };

export const workerMachine = setup({
  types: {
    input: {} as WorkerInput,
    context: {} as WorkerInput,
    events: {} as WorkerEvent,
  },
}).createMachine({
  id: 'model-worker',
  context: ({ input }) => input,
  entry: ({ context }) => context.recorder.starting(context.path),
  initial: 'up',
  states: {
    up: {
      on: {
        CRASH: {
          actions: ({ context }) => {
            throw new Error(`model worker ${context.path} crashed on request`);
          },
        },
        EXIT: 'done',
        [SHUTDOWN_EVENT]: {
          target: 'stopped',
          actions: ({ context }) => context.recorder.stopped(context.path),
        },
      },
    },
    done: { type: 'final' },
    stopped: { type: 'final' },
  },
});
