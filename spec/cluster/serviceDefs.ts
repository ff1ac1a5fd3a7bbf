/** Defined services shared by the cluster service tests and their child node process (serviceNode.ts). */
import * as v from 'valibot';
import { assign, createMachine } from 'xstate';
import { reply } from '../../src/actors/reply.js';
import { defineService } from '../../src/services/catalog/index.js';

const counterLogic = createMachine({
  types: {} as { context: { n: number }; input: { config: { start: number } } },
  context: ({ input }) => ({ n: input.config.start }),
  initial: 'ready',
  states: {
    ready: {
      tags: ['ready'],
      on: { ADD: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] } },
    },
  },
});

/** A counter starting at `config.start`; `ADD` answers the new count. */
export const clusterCounter = defineService({ name: 'ccounter', version: '1.0.0', config: v.object({ start: v.number() }), logic: counterLogic, ready: 'ready' });
