/**
 * `npm start`: named actors on the embedded in-process transport, no server.
 *
 * Two nodes share the process-wide in-process bus. Node `n1` hosts a counter
 * and a ticker that tells the counter by name; node `n2` asks the counter by
 * name across nodes, then both print Check and Status answers. A supervision
 * tree restarts a crashed child; then node `n3` runs services (examples/demoServices.ts):
 * `api` depends on `store`, which runs in a worker thread.
 */
import { pino } from 'pino';
import { assign, fromCallback, setup } from 'xstate';
import { createNode, type InvalidConfigError, reply, ServiceEventType } from '../src/index.js';
import { demoContexts } from './demoContexts.js';
import { api, store } from './demoServices.js';

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

// Services: typed config, a dependency started first, a worker container, $SRV.
const n3 = await createNode({ name: 'n3', logger, services: [store, api] });
const events: string[] = [];
n3.services.onEvent((e) => events.push(`${e.type.replace(/^halyard\.service\.|\.v1$/g, '')} ${e.service}`));
const bad = await n3.services.start('api', { config: { greeting: '' } }).catch((e: unknown) => e);
console.log(`api with an empty greeting: ${(bad as Error).name} ocf=${(bad as InvalidConfigError).ocf}: ${(bad as Error).message}`);
const front = await n3.services.start('api', { config: { greeting: 'hello' }, configs: { store: { start: 41 } } });
console.log(`events: ${events.join(', ')}`);
const [back] = n3.services.find().byType('store').alive().list();
if (back === undefined) throw new Error('store was not started as the dependency of api');
back.tell({ type: 'PUT' });
console.log(`api says ${await front.ask({ type: 'HELLO' })}; store (in a worker) holds ${await back.ask({ type: 'GET' })}`);
const decoder = new TextDecoder();
for (const name of ['store', 'api']) {
  const answer = await n3.transport.request(`$SRV.INFO.${name}`, new Uint8Array(0), { timeout: 5000 });
  const info = JSON.parse(decoder.decode(answer.data));
  console.log(`$SRV.INFO.${name}: ${info.name} ${info.version} container=${info.metadata.container} endpoints=${info.endpoints.map((e: { name: string }) => e.name).join(',')}`);
}
const restarted = new Promise<void>((resolve) => {
  const off = n3.services.onEvent((e) => {
    if (e.type !== ServiceEventType.Started || e.instance !== front.id) return;
    off();
    resolve();
  });
});
front.tell({ type: 'CRASH' });
await restarted;
console.log(`api after its crash: ${front.state}, says ${await front.ask({ type: 'HELLO' })} (restarted by its supervisor, fresh state)`);
const core = n3.services.find().byTag('core').alive().list().map((i) => i.service);
const edge = n3.services.find().byTag('edge').noAliveDependants().list().map((i) => i.service);
console.log(`find: byTag(core).alive() = ${core.join(', ')}; byTag(edge).noAliveDependants() = ${edge.join(', ')}`);
events.length = 0;
const stopped = await n3.services.find().byType('store').stop();
console.log(`stop store: ${stopped.map((r) => `${r.service} ok=${r.ok}`).join(', ')}; events: ${events.join(', ')}`);
await n3.shutdown();
await demoContexts(logger);

await n2.shutdown();
await n1.shutdown();
console.log(`after shutdown, check node n1: ${(await n1.check()).label}`);
