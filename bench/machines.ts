/**
 * The logic every case runs, identical on the Halyard side and the bare
 * XState side: only the way an answer leaves the actor differs (Halyard's
 * `reply` against a hand-written publish), and it is swapped in with
 * `provide`, so the machines are otherwise the same object.
 *
 * - `counter`: the spec's counter (INC, GET), for local cases.
 * - `sink`: a counter that also takes ADD {by} and calls `probe.notify(n)`
 *   every 1024 messages, so a producer can wait for the consumer without
 *   polling. Used for the NATS cases, where messages arrive asynchronously.
 */
import { type AnyEventObject, assign, setup } from 'xstate';
import { reply } from '../src/index.js';

/** Wakes a waiter when a count reaches its target. */
export class Probe {
  n = 0;
  #target = Number.POSITIVE_INFINITY;
  #resolve: (() => void) | undefined;

  notify(n: number): void {
    this.n = n;
    if (n >= this.#target) {
      const resolve = this.#resolve!;
      this.#target = Number.POSITIVE_INFINITY;
      this.#resolve = undefined;
      resolve();
    }
  }

  /** Resolves once `notify` has reported at least `target`. */
  wait(target: number): Promise<void> {
    if (this.n >= target) return Promise.resolve();
    if (this.#resolve !== undefined) throw new Error('Probe: one waiter at a time');
    return new Promise((resolve) => {
      this.#target = target;
      this.#resolve = resolve;
    });
  }
}

type Answer = (args: { context: { n: number }; event: AnyEventObject }) => void;

const counterSetup = setup({
  types: {
    context: {} as { n: number },
    events: {} as { type: 'INC' } | { type: 'GET' },
  },
  actions: {
    answer: (() => {}) as Answer,
  },
});

/** The counter. GET answers nothing until `answer` is provided. */
export const counterLogic = counterSetup.createMachine({
  id: 'counter',
  context: { n: 0 },
  on: {
    INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    GET: { actions: 'answer' },
  },
});

/** The counter answering GET with Halyard's `reply`. */
export const halyardCounter = counterLogic.provide({
  actions: { answer: reply(({ context }: { context: { n: number } }) => context.n) as Answer },
});

export interface SinkInput {
  readonly probe: Probe;
}

const sinkSetup = setup({
  types: {
    context: {} as { n: number; probe: Probe },
    input: {} as SinkInput,
    events: {} as { type: 'INC' } | { type: 'ADD'; by: number } | { type: 'GET' },
  },
  actions: {
    answer: (() => {}) as Answer,
  },
});

/** Counts; reports progress every 1024; answers GET through `answer`. */
export const sinkLogic = sinkSetup.createMachine({
  id: 'sink',
  context: ({ input }) => ({ n: 0, probe: input.probe }),
  on: {
    INC: {
      actions: [assign({ n: ({ context }) => context.n + 1 }), ({ context }) => progressed(context)],
    },
    ADD: {
      actions: [assign({ n: ({ context, event }) => context.n + event.by }), ({ context }) => progressed(context)],
    },
    GET: { actions: 'answer' },
  },
});

function progressed(context: { n: number; probe: Probe }): void {
  if ((context.n & 1023) === 0) context.probe.notify(context.n);
}

/** The sink answering GET with Halyard's `reply`. */
export const halyardSink = sinkLogic.provide({
  actions: { answer: reply(({ context }: { context: { n: number } }) => context.n) as Answer },
});

/** The sink answering GET through `answer(event, n)`: the hand-written baseline's reply path. */
export function bareSink(answer: (event: AnyEventObject, n: number) => void) {
  return sinkLogic.provide({
    actions: { answer: ({ context, event }) => answer(event, context.n) },
  });
}
