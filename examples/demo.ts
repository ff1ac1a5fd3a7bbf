/**
 * `npm start`: named actors on the embedded in-process transport, no server.
 *
 * Two nodes share the process-wide in-process bus. Node `n1` hosts a counter
 * and a ticker that tells the counter by name; node `n2` asks the counter by
 * name across nodes, then both print Check and Status answers.
 */
import { pino } from 'pino';
import { assign, fromCallback, setup } from 'xstate';
import { createNode, reply } from '../src/index.js';

const counterMachine = setup({
  types: { context: {} as { n: number }, input: {} as { start: number } },
}).createMachine({
  context: ({ input }) => ({ n: input.start }),
  on: {
    INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    GET: { actions: reply(({ context }: { context: { n: number } }) => context.n) },
  },
});

/** Tells `counter` to increment, `times` times, by name. */
const ticker = (tell: (e: { type: 'INC' }) => void) =>
  fromCallback<{ type: 'TICK' }, { times: number }>(({ input, receive }) => {
    let left = input.times;
    receive(() => {
      if (left-- > 0) tell({ type: 'INC' });
    });
  });

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' });

const n1 = await createNode({ name: 'n1', logger });
const n2 = await createNode({ name: 'n2', logger });

const counter = n1.spawn(counterMachine, { name: 'counter', input: { start: 0 } });
const tick = n1.spawn(
  ticker((e) => n1.ref('counter').tell(e)),
  { name: 'ticker', input: { times: 5 } },
);
for (let i = 0; i < 10; i++) tick.tell({ type: 'TICK' });
counter.tell({ type: 'INC' });

const local = await counter.ask({ type: 'GET' }, { timeout: 1000 });
const remote = await n2.ref('counter').ask({ type: 'GET' }, { timeout: 1000 });
console.log(`counter on n1 = ${local} (asked locally), ${remote} (asked from n2, by name)`);

for (const name of ['counter', 'ticker']) {
  const check = await n2.check(name, 10);
  console.log(`check ${name} from n2: ${check.code} ${check.label} (${check.reason})`);
}
const status = await n2.status('counter');
console.log(`status counter from n2: state=${JSON.stringify(status.state)} processed=${status.processed} mailbox=${status.mailbox.depth}/${status.mailbox.capacity}`);
const nodeCheck = await n1.check();
console.log(`check node n1: ${nodeCheck.code} ${nodeCheck.label} (${nodeCheck.reason})`);

await n2.shutdown();
await n1.shutdown();
console.log(`after shutdown, check node n1: ${(await n1.check()).label}`);
