/**
 * Service cases (group `services`): an inline service instance against the
 * same logic run by hand, in the same run, interleaved.
 *
 * | case                                   | Halyard                                            | baseline                                    | target  |
 * |----------------------------------------|----------------------------------------------------|---------------------------------------------|---------|
 * | start → ready, inline                  | `node.services.start()` (own supervisor, ready tag), first ask, `stop()`, `cleanup()` | `node.spawn()` of the same machine with a name, first ask, stop | >= 0.8 |
 * | tell throughput, persist on file store | 8192 tells then one ask, `persist: true` (FileStateStore, everyMs 1000) | the same service without `persist`  | >= 0.7  |
 *
 * The same counter machine on every side; each persisted run starts from an
 * empty folder, so no run restores another's state.
 *
 * Like with like in `start → ready`: each side ends with a named actor (so
 * reachable by name, as an instance is) that has answered one ask, and each
 * side pays its own stop. What only Halyard pays is what a service is: its
 * supervisor, the `$SRV` listing, the ready check, the lifecycle events and
 * `cleanup()` (forgetting its record, which a bare actor does not have).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode } from '../src/services/node/Node.js';
import { FileStateStore } from '../src/services/state/index.js';
import { type BenchOptions, type BenchResult, groupMaybeSelected, interleave, pairedResult, progress, selected } from './harness.js';

const GROUP = 'services';

const counter = createMachine({
  types: {} as { context: { n: number } },
  context: { n: 0 },
  initial: 'ready',
  states: { ready: { tags: ['ready'], on: { INC: { actions: assign({ n: ({ context }) => context.n + 1 }) }, READ: { actions: reply(({ context }) => context.n) } } } },
});

const plain = defineService({ name: 'plain', version: '1.0.0', logic: counter, ready: 'ready' });
const saved = defineService({ name: 'saved', version: '1.0.0', logic: counter, ready: 'ready', persist: true });

async function rate(count: number, once: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await once();
  return (count * 1000) / (performance.now() - t0);
}

export async function benchServices(options: BenchOptions): Promise<BenchResult[]> {
  if (!groupMaybeSelected(options, GROUP)) return [];
  const rounds = options.quick ? 3 : 7;
  const starts = options.quick ? 50 : 400;
  const tells = options.quick ? 2048 : 8192;
  const dir = await mkdtemp(join(tmpdir(), 'halyard-bench-services-'));
  const node = await createNode({
    name: 'bench-services',
    services: [plain, saved],
    state: { store: new FileStateStore({ dir }) },
    askTimeout: 60_000,
    // Every tell of a run is queued before the first is handled: room for all of them on both sides (the default 4096 is refused).
    mailbox: { capacity: 2 * tells },
  });
  const results: BenchResult[] = [];
  try {
    const startName = 'start → ready, inline';
    if (selected(options, GROUP, startName)) {
      progress(`services ${startName}: ${starts} starts x ${rounds} rounds`);
      let seq = 0;
      const r = await interleave(
        'services start inline',
        {
          baseline: () =>
            rate(starts, async () => {
              const ref = node.spawn(counter, { name: `b${++seq}` });
              await ref.ask({ type: 'READ' });
              await ref.stop();
            }),
          halyard: () =>
            rate(starts, async () => {
              const p = await node.services.start('plain', { id: `s${++seq}` });
              await p.ask({ type: 'READ' });
              await p.stop();
              await p.cleanup();
            }),
        },
        rounds,
      );
      results.push(pairedResult(GROUP, startName, 'start/s', 'node.spawn of the same machine, first ask', r.halyard, r.baseline, { op: '>=', ratio: 0.8 }));
    }
    const tellName = 'tell throughput, persist on the file store';
    if (selected(options, GROUP, tellName)) {
      progress(`services ${tellName}: ${tells} tells x ${rounds} rounds`);
      let seq = 0;
      const run = (name: string) => async () => {
        const p = await node.services.start(name, { id: `t${++seq}` });
        const t0 = performance.now();
        for (let i = 0; i < tells; i++) p.tell({ type: 'INC' });
        await p.ask({ type: 'READ' });
        const perSecond = (tells * 1000) / (performance.now() - t0);
        await p.stop();
        await p.cleanup({ state: true });
        return perSecond;
      };
      const r = await interleave('services tell persist', { baseline: run('plain'), halyard: run('saved') }, rounds);
      results.push(pairedResult(GROUP, tellName, 'tell/s', 'the same service without persist', r.halyard, r.baseline, { op: '>=', ratio: 0.7 }));
    }
  } finally {
    await node.shutdown();
    await rm(dir, { recursive: true, force: true });
  }
  return results;
}
