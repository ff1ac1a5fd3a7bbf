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
    BOOM: {
      actions: () => {
        throw new Error('boom');
      },
    },
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

const logger = pino({ level: process.env.LOG_LEVEL ?? 'warn' }, pino.destination({ sync: true }));

const n1 = await createNode({ name: 'n1', logger });
const n2 = await createNode({ name: 'n2', logger });

const counter = n1.spawn(counterMachine, { name: 'counter', input: { start: 0 } });
const tick = n1.spawn(
  ticker((e) => n1.ref('counter').tell(e)),
  { name: 'ticker', input: { times: 5 } },
);
for (let i = 0; i < 10; i++) tick.tell({ type: 'TICK' });
counter.tell({ type: 'INC' });

const remote = await n2.ref('counter').ask({ type: 'GET' }, { timeout: 1000 });
const local = await counter.ask({ type: 'GET' }, { timeout: 1000 });
console.log(`counter on n1 = ${remote} (asked from n2, by name), ${local} (asked locally)`);

for (const name of ['counter', 'ticker']) {
  const check = await n2.check(name, 10);
  console.log(`check ${name} from n2: ${check.code} ${check.label} (${check.reason})`);
}
const status = await n2.status('counter');
console.log(`status counter from n2: state=${JSON.stringify(status.state)} processed=${status.processed} mailbox=${status.mailbox.depth}/${status.mailbox.capacity}`);
const nodeCheck = await n1.check();
console.log(`check node n1: ${nodeCheck.code} ${nodeCheck.label} (${nodeCheck.reason})`);

// Supervision: a one_for_one tree on n1. The Recovery Coordinator decides
// every restart (default policy = OTP) and logs its decision.
const sup = n1.supervise(
  {
    strategy: 'one_for_one',
    intensity: 3,
    period: 5000,
    children: [
      { id: 'db', start: { logic: counterMachine, input: { start: 100 } }, name: 'db', restart: 'permanent' },
      { id: 'cache', start: { logic: counterMachine, input: { start: 0 } }, name: 'cache', restart: 'transient' },
    ],
  },
  { name: 'app' },
);
const db = n2.ref('db');
db.tell({ type: 'INC' });
console.log(`db before the crash = ${await db.ask({ type: 'GET' })}`);
const down = n1.monitor('db');
db.tell({ type: 'BOOM' }); // the logic throws: the actor fails, the process does not
console.log(`monitor: db went down with reason ${(await down.down).reason}`);
await sup.whenIdle();
console.log(`db after the restart = ${await db.ask({ type: 'GET' })} (fresh state, same name)`);
for (const d of n1.coordinator.decisions()) {
  console.log(`coordinator decision #${d.seq}: ${d.input.childId} exited ${d.input.reason} -> ${d.directive.type} (rule ${d.rule})`);
}
console.log(
  `children of app: ${sup
    .whichChildren()
    .map((c) => `${c.id}=${c.status}`)
    .join(', ')}; check app: ${(await n2.check('app')).label}`,
);

await n2.shutdown();
await n1.shutdown();
console.log(`after shutdown, check node n1: ${(await n1.check()).label}`);
