/** Persisted defined services shared by the cluster persistence tests and their child node process (persistNode.ts). */
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
      on: {
        ADD: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] },
        READ: { actions: reply(({ context }) => context.n) },
      },
    },
  },
});

const config = v.object({ start: v.number() });

/** A counter from `config.start`, saved at most every millisecond, restored after a crash too. */
export const persistedCounter = defineService({
  name: 'pcounter',
  version: '1.0.0',
  config,
  logic: counterLogic,
  ready: 'ready',
  persist: { restoreAfterCrash: true, everyMs: 1 },
});

/** The same counter without `restoreAfterCrash`: state left by a crash is not brought back. */
export const crashFreshCounter = defineService({
  name: 'pcounterfresh',
  version: '1.0.0',
  config,
  logic: counterLogic,
  ready: 'ready',
  persist: { restoreAfterCrash: false, everyMs: 1 },
});
