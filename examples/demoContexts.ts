/**
 * The contexts step of `npm start` (examples/demo.ts): the seed's four-service context, run to its end by its
 * triggers, then restarted under a new transaction.
 */
import { setTimeout } from 'node:timers/promises';
import { createMachine } from 'xstate';
import { createNode, defineContext, defineService, type Logger, ServiceEventType } from '../src/index.js';

const step = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'], on: { DONE: 'done' } }, done: { type: 'final' } } });

export async function demoContexts(logger: Logger): Promise<void> {
  const services = ['stand', 'walk', 'coffee', 'run'].map((name) => defineService({ name, version: '1.0.0', logic: step, ready: 'ready' }));
  const node = await createNode({ name: 'n4', logger, services });
  const started: string[] = [];
  node.services.onEvent((e) => {
    if (e.type === ServiceEventType.Started) started.push(e.service);
  });
  const ctx = await node.contexts.start(
    defineContext({
      context: 'echo',
      services: [
        { id: 'stand', service: 'stand', on_start: 'start walk' },
        { id: 'walk', service: 'walk', on_exit: 'start coffee' },
        { id: 'coffee', service: 'coffee', on_exit: 'start run' },
        { id: 'run', service: 'run', on_exit: 'stop context' },
      ],
    }),
  );
  const first = ctx.transaction;
  const until = async (ready: () => boolean) => {
    while (!ready()) await setTimeout(5);
  };
  for (const service of ['walk', 'coffee', 'run']) {
    await until(() => ctx.services().some((i) => i.service === service));
    ctx.services().find((i) => i.service === service)?.tell({ type: 'DONE' });
  }
  await until(() => ctx.state === 'stopped');
  console.log(`context echo (transaction of ${first.length} chars): started ${started.join(', ')}; after run's end: ${ctx.state}`);
  await ctx.restart();
  await until(() => ctx.services().length === 2);
  console.log(`context echo restarted: ${ctx.state}, new transaction ${ctx.transaction !== first}, services ${ctx.services().map((i) => i.service).join(', ')}`);
  await node.shutdown();
}
