/**
 * The service types of `npm start` (examples/demo.ts), in a module of their own: the `worker` container imports
 * this module by URL and finds its definition by name, and importing the demo itself would run the demo again.
 */
import { assign, setup } from 'xstate';
import { defineService, reply } from '../src/index.js';

/** A hand-written Standard Schema (https://standardschema.dev): Halyard needs no schema library. */
function schema<T>(check: (value: unknown) => string | undefined, path: string) {
  return {
    '~standard': {
      version: 1 as const,
      vendor: 'demo',
      validate: (value: unknown) => {
        const problem = check(value);
        return problem === undefined ? { value: value as T } : { issues: [{ message: problem, path: [path] }] };
      },
    },
  };
}
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

const storeMachine = setup({
  types: { context: {} as { n: number }, input: {} as { config: { start: number } } },
}).createMachine({
  context: ({ input }) => ({ n: input.config.start }),
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: {
        PUT: { actions: assign({ n: ({ context }) => context.n + 1 }) },
        GET: { actions: reply(({ context }: { context: { n: number } }) => context.n) },
      },
    },
  },
});

const apiMachine = setup({
  types: { context: {} as { greeting: string; served: number }, input: {} as { config: { greeting: string } } },
}).createMachine({
  context: ({ input }) => ({ greeting: input.config.greeting, served: 0 }),
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: {
        HELLO: {
          actions: [
            assign({ served: ({ context }) => context.served + 1 }),
            reply(({ context }: { context: { greeting: string; served: number } }) => `${context.greeting} #${context.served}`),
          ],
        },
        CRASH: {
          actions: () => {
            throw new Error('crash on request');
          },
        },
      },
    },
  },
});

/** Runs in a worker thread: the same instance interface as inline, through its parent. */
export const store = defineService({
  name: 'store',
  version: '1.0.0',
  logic: storeMachine,
  ready: 'ready',
  container: 'worker',
  module: import.meta.url,
  endpoints: { get: 'GET' },
  tags: ['core'],
  config: schema<{ start: number }>(
    (c) => (isRecord(c) && Number.isInteger(c.start) ? undefined : 'must be an integer'),
    'start',
  ),
});

export const api = defineService({
  name: 'api',
  version: '2.1.0',
  logic: apiMachine,
  ready: 'ready',
  dependsOn: ['store'],
  endpoints: { hello: 'HELLO' },
  tags: ['core', 'edge'],
  config: schema<{ greeting: string }>(
    (c) => (isRecord(c) && typeof c.greeting === 'string' && c.greeting !== '' ? undefined : 'must be a non-empty string'),
    'greeting',
  ),
});
