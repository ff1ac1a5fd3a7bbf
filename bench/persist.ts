/**
 * Persisted tells on JetStream KV (group `services`), on a nats-server with
 * JetStream started for this case:
 *
 * | case                              | Halyard | baseline | target |
 * |-----------------------------------|---------|----------|--------|
 * | tell throughput, persist on KV    | 8192 tells then one ask, `persist: true` (everyMs 1000) on a node whose transport is NATS, so its state store is the default `KvStateStore` (bucket `halyard-state`) | the same service without `persist`, same node | >= 0.7 |
 *
 * The twin of services.ts's file-store case, with the same counter. Each run
 * uses a fresh id and deletes its state after it (`cleanup({ state: true })`),
 * so no run restores another's; the start (load) and the stop (the clean
 * write) are outside the timed part on both sides.
 *
 * Run alone: `node --expose-gc --import ./bench/register.mjs bench/persist.ts --only "persist on KV"`.
 */
import { pathToFileURL } from 'node:url';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { type NatsServerHandle, startNatsServer } from '../spec/support/natsServer.js';
import { type BenchOptions, type BenchResult, interleave, pairedResult, parseOptions, progress, selected } from './harness.js';

const GROUP = 'services';
const NAME = 'tell throughput, persist on KV';

const counter = createMachine({
  types: {} as { context: { n: number } },
  context: { n: 0 },
  initial: 'ready',
  states: { ready: { tags: ['ready'], on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) }, READ: { actions: reply(({ context }) => context.n) } } } },
});

const plain = defineService({ name: 'kvplain', version: '1.0.0', logic: counter, ready: 'ready' });
const saved = defineService({ name: 'kvsaved', version: '1.0.0', logic: counter, ready: 'ready', persist: true });

export async function benchPersist(options: BenchOptions): Promise<BenchResult[]> {
  if (!selected(options, GROUP, NAME)) return [];
  const rounds = options.quick ? 3 : 7;
  const tells = options.quick ? 2048 : 8192;
  let server: NatsServerHandle | undefined;
  let node: Node | undefined;
  try {
    server = await startNatsServer({ jetstream: true });
    node = await createNode({ name: `bench-kv-${process.pid}`, transport: { kind: 'nats', servers: server.url }, services: [plain, saved], askTimeout: 60_000,
      // Every tell of a run is queued before the first is handled here: room for all of them on both sides.
      mailbox: { capacity: 2 * tells } });
    const on = node;
    progress(`${GROUP} ${NAME}: ${tells} tells x ${rounds} rounds`);
    let seq = 0;
    const run = (name: string) => async () => {
      const p = await on.services.start(name, { id: `k${++seq}` });
      const t0 = performance.now();
      for (let i = 0; i < tells; i++) p.tell({ type: 'INC' });
      await p.ask({ type: 'READ' });
      const perSecond = (tells * 1000) / (performance.now() - t0);
      await p.stop();
      await p.cleanup({ state: true });
      return perSecond;
    };
    const r = await interleave('services tell persist kv', { baseline: run('kvplain'), halyard: run('kvsaved') }, rounds);
    return [pairedResult(GROUP, NAME, 'tell/s', 'the same service without persist', r.halyard, r.baseline, { op: '>=', ratio: 0.7 })];
  } finally {
    await node?.shutdown();
    await server?.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const results = await benchPersist(parseOptions(process.argv.slice(2)));
  for (const r of results) {
    process.stdout.write(`${r.group}/${r.name}: ${r.value.toFixed(0)} ${r.unit} vs ${r.baselineValue.toFixed(0)} (ratio ${r.ratio.toFixed(2)}, target ${r.target}: ${r.met ? 'met' : 'missed'})\n`);
  }
}
