/** Test logic shared by the specs. */
import { assign, createMachine, fromCallback, fromTransition, setup } from 'xstate';
import { reply, replyTo } from '../../src/actors/reply.js';

/** A counter: INC, ADD {by}, GET (replies n), BOOM (throws), FINISH (final state), SLOW (busy until RELEASE). */
export const counterMachine = setup({
  types: {
    context: {} as { n: number },
    input: {} as { start?: number } | undefined,
    events: {} as
      | { type: 'INC' }
      | { type: 'ADD'; by: number }
      | { type: 'GET' }
      | { type: 'BOOM' }
      | { type: 'FINISH' }
      | { type: 'ECHO'; value: unknown },
  },
}).createMachine({
  id: 'counter',
  context: ({ input }) => ({ n: input?.start ?? 0 }),
  output: ({ context }) => context.n,
  initial: 'counting',
  states: {
    counting: {
      on: {
        INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        ADD: { actions: assign({ n: ({ context, event }) => context.n + event.by }) },
        GET: { actions: reply(({ context }: { context: { n: number } }) => context.n) },
        ECHO: { actions: reply(({ event }: { event: { value: unknown } }) => event.value) },
        BOOM: {
          actions: () => {
            throw new Error('boom');
          },
        },
        FINISH: 'finished',
      },
    },
    finished: { type: 'final' },
  },
});

/** A machine that traps shutdown: on halyard.shutdown it goes to `closing` and waits for CLOSED (or forever). */
export const trappingMachine = setup({}).createMachine({
  initial: 'up',
  states: {
    up: { on: { 'halyard.shutdown': 'closing' } },
    closing: { on: { CLOSED: 'closed' } },
    closed: { type: 'final' },
  },
});

/** A machine whose initial entry action throws. */
export const failsOnStart = setup({}).createMachine({
  entry: () => {
    throw new Error('cannot start');
  },
});

/** A reducer that answers GET with the number of events seen. */
export const tally = fromTransition((n: number, event: { type: string }) => {
  if (event.type === 'GET') replyTo(event, n);
  return n + 1;
}, 0);

/** A callback actor that answers PING with PONG. */
export const pinger = fromCallback(({ receive }) => {
  receive((event) => {
    if (event.type === 'PING') replyTo(event, 'PONG');
  });
});

/** A service's counter: ready at once (tag `ready`), CHARGE counts and replies the count, CRASH throws. */
export function chargeCounter() {
  return createMachine({
    types: {} as { context: { n: number } },
    context: { n: 0 },
    initial: 'ready',
    states: {
      ready: {
        tags: ['ready'],
        on: {
          CHARGE: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] },
          CRASH: {
            actions: () => {
              throw new Error('boom');
            },
          },
        },
      },
    },
  });
}
