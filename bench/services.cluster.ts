/**
 * Services in a cluster (group `services`), on a nats-server with JetStream
 * started for this group:
 *
 * | case      | Halyard | baseline | target |
 * |-----------|---------|----------|--------|
 * | srv-info  | one `$SRV.INFO` from a plain NATS connection, 1 000 instances on 10 clustered nodes (`createNode` in this process, 100 instances each): ms from the publish to the last of the 1 000 answers, the slowest of the rounds | the 1 s | <= 1x |
 *
 * Start-up (10 nodes, 1 000 starts) is not measured. Each round uses a fresh
 * inbox, and the answers are counted, not parsed: the clock stops at the
 * 1 000th reply (a round missing any within 5 s is a failure, printed).
 *
 * Run alone: `node --expose-gc --import ./bench/register.mjs bench/services.cluster.ts --only srv-info`.
 */
import { pathToFileURL } from 'node:url';
import { createMachine } from 'xstate';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type NatsServerHandle, startNatsServer } from '../spec/support/natsServer.js';
import { type BenchOptions, type BenchResult, parseOptions, progress, selected } from './harness.js';

const GROUP = 'services';
const NODES = 10;
const PER_NODE = 100;
const ANSWER_DEADLINE_MS = 5000;

const idle = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'] } } });
const infoService = defineService({ name: 'benchinfo', version: '1.0.0', logic: idle, ready: 'ready', endpoints: { work: 'WORK' } });

/** ms from publishing `$SRV.INFO` to its `expected`th answer. */
async function infoRound(client: NatsTransport, expected: number): Promise<number> {
  const inbox = client.newInbox();
  let seen = 0;
  let started = 0;
  const done = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${seen} of ${expected} $SRV.INFO answers within ${ANSWER_DEADLINE_MS} ms`)), ANSWER_DEADLINE_MS);
    const sub = client.subscribe(inbox, () => {
      if (++seen === expected) {
        clearTimeout(timer);
        sub.unsubscribe();
        resolve(performance.now() - started);
      }
    });
  });
  await client.flush();
  started = performance.now();
  client.publish('$SRV.INFO', new Uint8Array(0), { reply: inbox });
  return done;
}

export async function benchServicesCluster(options: BenchOptions): Promise<BenchResult[]> {
  if (!selected(options, GROUP, 'srv-info')) return [];
  let server: NatsServerHandle | undefined;
  const nodes: Node[] = [];
  let client: NatsTransport | undefined;
  try {
    server = await startNatsServer({ jetstream: true });
    const prefix = `bsrv${process.pid}`;
    for (let i = 0; i < NODES; i++) {
      nodes.push(await createNode({ name: `n${i}`, prefix, transport: { kind: 'nats', servers: server.url }, cluster: true, services: [infoService] }));
    }
    progress(`${GROUP}: ${NODES} nodes up, starting ${NODES * PER_NODE} instances`);
    await Promise.all(nodes.map(async (n) => {
      for (let k = 0; k < PER_NODE; k++) await n.services.start('benchinfo', { lifetime: 'node' });
    }));
    await Promise.all(nodes.map((n) => n.flush()));
    client = await NatsTransport.connect({ servers: server.url, name: 'srv-info-client' });
    const rounds = options.quick ? 3 : 10;
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) times.push(await infoRound(client, NODES * PER_NODE));
    const worst = Math.max(...times);
    progress(`${GROUP}/srv-info: ${times.map((t) => t.toFixed(1)).join(', ')} ms (rounds); slowest ${worst.toFixed(1)} ms`);
    return [
      {
        group: GROUP,
        name: 'srv-info',
        value: worst,
        unit: 'ms',
        baseline: 'the issue 1 s',
        baselineValue: 1000,
        ratio: worst / 1000,
        target: '<= 1x',
        met: worst <= 1000,
      },
    ];
  } finally {
    await client?.close();
    await Promise.allSettled(nodes.reverse().map((n) => n.shutdown()));
    await server?.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await benchServicesCluster(parseOptions(process.argv.slice(2)));
  for (const r of results) process.stdout.write(`${r.group}/${r.name}: ${r.value.toFixed(1)} ${r.unit} (target ${r.target}: ${r.met ? 'met' : 'missed'})\n`);
}
