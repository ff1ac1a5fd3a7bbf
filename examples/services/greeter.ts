/** A service the example config starts: answers GREET with a greeting in its configured language. */
import * as v from 'valibot';
import { assign, setup } from 'xstate';
import { defineService, reply } from '../../src/index.js';

const machine = setup({ types: { context: {} as { greeted: number; greeting: string }, input: {} as { config: { greeting: string } } } }).createMachine({
  context: ({ input }) => ({ greeted: 0, greeting: input.config.greeting }),
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: { GREET: { actions: [assign({ greeted: ({ context }) => context.greeted + 1 }), reply(({ context }) => context.greeting)] } },
    },
  },
});

export default defineService({
  name: 'greeter',
  version: '1.0.0',
  logic: machine,
  config: v.object({ greeting: v.string() }),
  ready: 'ready',
  tags: ['example'],
});
