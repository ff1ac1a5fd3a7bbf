/**
 * Local cases: one node on the embedded transport against bare XState
 * (`createActor(m).start()` + `send`), the same machine on both sides.
 *
 * | case                     | Halyard                                   | baseline                        | target  |
 * |--------------------------|-------------------------------------------|---------------------------------|---------|
 * | tell                     | `node.ref(name).tell(INC)`, yield / 1024  | `actor.send(INC)`, yield / 1024 | >= 0.9  |
 * | ask                      | `node.ref(name).ask(GET)`, 1024 in flight | `actor.send(GET)`, yield / 1024 | >= 0.5  |
 * | spawn rate               | `node.spawn(m)` x N                       | `createActor(m).start()` x N    | >= 0.8  |
 * | heap per idle actor      | heapUsed delta / N after gc               | the same for bare actors        | <= 1.3  |
 *
 * "Yield" is one `setImmediate` turn, as a producer that leaves room for I/O
 * would do. A tell run ends when the actor has processed every message.
 */
import { createActor } from 'xstate';
import { createNode, type Node } from '../src/index.js';
import {
  type BenchOptions,
  type BenchResult,
  fullGc,
  hasGc,
  interleave,
  pairedResult,
  progress,
  selected,
  yieldToLoop,
} from './harness.js';
import { halyardCounter } from './machines.js';

const GROUP = 'local';

interface Sizes {
  readonly rounds: number;
  /** Messages per tell / ask run (a multiple of 1024). */
  readonly messages: number;
  /** Actors per spawn run. */
  readonly actors: number;
}

function sizes(quick: boolean): Sizes {
  return quick ? { rounds: 3, messages: 64 * 1024, actors: 20_000 } : { rounds: 9, messages: 256 * 1024, actors: 20_000 };
}

let seq = 0;

function counterValue(node: Node, name: string): number {
  return (node.whereis(name)!.getSnapshot() as { context: { n: number } }).context.n;
}

async function bareSend(messages: number, type: 'INC' | 'GET'): Promise<number> {
  const actor = createActor(halyardCounter).start();
  const start = performance.now();
  for (let i = 1; i <= messages; i++) {
    actor.send({ type });
    if ((i & 1023) === 0) await yieldToLoop();
  }
  const elapsed = performance.now() - start;
  if (type === 'INC' && actor.getSnapshot().context.n !== messages) throw new Error('bare tell: messages lost');
  actor.stop();
  return (messages * 1000) / elapsed;
}

async function halyardTell(node: Node, messages: number): Promise<number> {
  const name = `counter-${++seq}`;
  node.spawn(halyardCounter, { name });
  const ref = node.ref(name);
  const start = performance.now();
  for (let i = 1; i <= messages; i++) {
    ref.tell({ type: 'INC' });
    if ((i & 1023) === 0) await yieldToLoop();
  }
  while (counterValue(node, name) < messages) await yieldToLoop();
  const elapsed = performance.now() - start;
  await node.stop(name);
  return (messages * 1000) / elapsed;
}

async function halyardAsk(node: Node, messages: number): Promise<number> {
  const name = `counter-${++seq}`;
  node.spawn(halyardCounter, { name });
  const ref = node.ref(name);
  const batch: Promise<unknown>[] = new Array(1024);
  const start = performance.now();
  for (let i = 0; i < messages; i += 1024) {
    for (let k = 0; k < 1024; k++) batch[k] = ref.ask({ type: 'GET' });
    await Promise.all(batch);
  }
  const elapsed = performance.now() - start;
  await node.stop(name);
  return (messages * 1000) / elapsed;
}

interface SpawnFigures {
  readonly rate: number;
  readonly bytesPerActor: number;
}

async function bareSpawn(actors: number): Promise<SpawnFigures> {
  const live: unknown[] = new Array(actors);
  await fullGc();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  for (let i = 0; i < actors; i++) live[i] = createActor(halyardCounter).start();
  const elapsed = performance.now() - start;
  await fullGc();
  const after = process.memoryUsage().heapUsed;
  for (const a of live as { stop(): void }[]) a.stop();
  return { rate: (actors * 1000) / elapsed, bytesPerActor: (after - before) / actors };
}

async function halyardSpawn(actors: number): Promise<SpawnFigures> {
  const node = await createNode({ name: `spawn-${++seq}` });
  await fullGc();
  const before = process.memoryUsage().heapUsed;
  const start = performance.now();
  for (let i = 0; i < actors; i++) node.spawn(halyardCounter);
  const elapsed = performance.now() - start;
  await fullGc();
  const after = process.memoryUsage().heapUsed;
  await node.shutdown();
  return { rate: (actors * 1000) / elapsed, bytesPerActor: (after - before) / actors };
}

export async function benchLocal(options: BenchOptions): Promise<BenchResult[]> {
  const { rounds, messages, actors } = sizes(options.quick);
  const results: BenchResult[] = [];
  const node = await createNode({ name: 'bench-local' });
  try {
    const tellName = 'tell, counter, yield every 1024';
    if (selected(options, GROUP, tellName)) {
      progress(`local tell: ${messages} messages x ${rounds} rounds`);
      const r = await interleave('local tell', {
        baseline: () => bareSend(messages, 'INC'),
        halyard: () => halyardTell(node, messages),
      }, rounds);
      results.push(pairedResult(GROUP, tellName, 'msg/s', 'bare XState send', r.halyard, r.baseline, { op: '>=', ratio: 0.9 }));
    }

    const askName = 'ask, counter, 1024 in flight';
    if (selected(options, GROUP, askName)) {
      progress(`local ask: ${messages} asks x ${rounds} rounds`);
      const r = await interleave('local ask', {
        baseline: () => bareSend(messages, 'GET'),
        halyard: () => halyardAsk(node, messages),
      }, rounds);
      results.push(pairedResult(GROUP, askName, 'ask/s', 'bare XState send', r.halyard, r.baseline, { op: '>=', ratio: 0.5 }));
    }
  } finally {
    await node.shutdown();
  }

  const spawnName = 'spawn rate';
  const heapName = 'heap per idle actor';
  if (selected(options, GROUP, spawnName) || selected(options, GROUP, heapName)) {
    if (!hasGc()) {
      progress('local spawn: skipped, global.gc is missing (run node with --expose-gc)');
    } else {
      const spawnRounds = options.quick ? 3 : 7;
      progress(`local spawn: ${actors} idle actors x ${spawnRounds} rounds`);
      const r = await interleave('local spawn', {
        baseline: () => bareSpawn(actors),
        halyard: () => halyardSpawn(actors),
      }, spawnRounds);
      const baseline = 'bare createActor().start()';
      if (selected(options, GROUP, spawnName)) {
        results.push(pairedResult(GROUP, `${spawnName} (${actors} actors)`, 'actor/s', baseline,
          r.halyard.map((f) => f.rate), r.baseline.map((f) => f.rate), { op: '>=', ratio: 0.8 }));
      }
      if (selected(options, GROUP, heapName)) {
        results.push(pairedResult(GROUP, `${heapName} (${actors} actors)`, 'B/actor', baseline,
          r.halyard.map((f) => f.bytesPerActor), r.baseline.map((f) => f.bytesPerActor), { op: '<=', ratio: 1.3 }));
      }
    }
  }
  return results;
}
