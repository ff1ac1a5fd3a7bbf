/**
 * Container cases: Halyard's worker and process containers against the same
 * work done by hand, in the same run, interleaved.
 *
 * | case                          | Halyard                                                   | baseline                                                  | target  |
 * |-------------------------------|-----------------------------------------------------------|-----------------------------------------------------------|---------|
 * | start → ready, worker         | spawn `containerLogic({ container: 'worker' })`, first ask answered | `new Worker()` of spec/fixtures/bareChild.ts, first reply | >= 0.9 |
 * | start → ready, process        | the same with `container: 'process'`                      | `fork()` of the same module, first reply                  | >= 0.9  |
 * | ask through a worker          | `ref.ask(GET)`, 64 in flight                              | hand-written MessagePort request/reply, one bare XState `send` | >= 0.8 |
 * | ask through a process         | the same over IPC                                         | hand-written IPC request/reply (`serialization: 'advanced'`)   | >= 0.8 |
 *
 * Both sides load TypeScript the same way (tsx's loader inside the worker or
 * child) and run the same counter machine, spec/fixtures/counter.ts; each
 * start ends with the container gone, so no run inherits another's processes.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { containerLogic } from '../src/services/containers/index.js';
import { type BenchOptions, type BenchResult, groupMaybeSelected, interleave, pairedResult, progress, selected } from './harness.js';

const GROUP = 'containers';
const counterUrl = new URL('../spec/fixtures/counter.ts', import.meta.url);
const bareUrl = new URL('../spec/fixtures/bareChild.ts', import.meta.url);
const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
const tsxImport = pathToFileURL(join(tsxDir, 'dist/esm/index.mjs')).href;
const tsxApi = pathToFileURL(join(tsxDir, 'dist/esm/api/index.mjs')).href;

type Kind = 'worker' | 'process';

interface Bare {
  request(type: string): Promise<unknown>;
  end(): Promise<void>;
}

/** A hand-written channel to bareChild: request ids, one pending map, nothing else. */
function bare(kind: Kind): Bare {
  const pending = new Map<number, (v: unknown) => void>();
  let next = 1;
  const onReply = (m: { id: number; value: unknown }) => {
    const r = pending.get(m.id);
    pending.delete(m.id);
    r?.(m.value);
  };
  if (kind === 'worker') {
    const code = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(bareUrl.href)}); })`;
    const w = new Worker(code, { eval: true });
    w.on('message', onReply);
    return {
      request: (type) =>
        new Promise((resolve) => {
          const id = next++;
          pending.set(id, resolve);
          w.postMessage({ id, type });
        }),
      end: async () => {
        await w.terminate();
      },
    };
  }
  const c: ChildProcess = fork(fileURLToPath(bareUrl), [], { serialization: 'advanced', execArgv: ['--import', tsxImport] });
  c.on('message', onReply as (m: unknown) => void);
  return {
    request: (type) =>
      new Promise((resolve) => {
        const id = next++;
        pending.set(id, resolve);
        c.send({ id, type });
      }),
    end: () =>
      new Promise<void>((resolve) => {
        if (c.exitCode !== null || c.signalCode !== null) return resolve();
        c.once('exit', () => resolve());
        c.disconnect();
      }),
  };
}

function ours(system: ActorSystem, kind: Kind): LocalActorRef {
  return system.spawn(containerLogic({ container: kind, module: counterUrl, export: 'counter' }));
}

/** Starts per second: start, wait for the first answer, end; `starts` times in a row. */
async function startRate(starts: number, once: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < starts; i++) await once();
  return (starts * 1000) / (performance.now() - t0);
}

/** Asks per second with `inFlight` outstanding, `total` in all. */
async function askRate(total: number, inFlight: number, ask: () => Promise<unknown>): Promise<number> {
  const batch: Promise<unknown>[] = new Array(inFlight);
  const t0 = performance.now();
  for (let i = 0; i < total; i += inFlight) {
    for (let k = 0; k < inFlight; k++) batch[k] = ask();
    await Promise.all(batch);
  }
  return (total * 1000) / (performance.now() - t0);
}

export async function benchContainers(options: BenchOptions): Promise<BenchResult[]> {
  if (!groupMaybeSelected(options, GROUP)) return [];
  const rounds = options.quick ? 3 : 7;
  const starts = options.quick ? 3 : 8;
  const asks = options.quick ? 4096 : 32_768;
  const system = new ActorSystem({ node: 'bench-containers', askTimeout: 60_000 });
  const results: BenchResult[] = [];
  try {
    for (const kind of ['worker', 'process'] as const) {
      const startName = `start → ready, ${kind}`;
      if (selected(options, GROUP, startName)) {
        progress(`containers ${startName}: ${starts} starts x ${rounds} rounds`);
        const r = await interleave(
          `containers start ${kind}`,
          {
            baseline: () =>
              startRate(starts, async () => {
                const b = bare(kind);
                await b.request('GET');
                await b.end();
              }),
            halyard: () =>
              startRate(starts, async () => {
                const ref = ours(system, kind);
                await ref.ask({ type: 'GET' });
                await ref.stop('brutal_kill');
              }),
          },
          rounds,
        );
        const base = kind === 'worker' ? 'bare new Worker(), first reply' : 'bare fork(), first reply';
        results.push(pairedResult(GROUP, startName, 'start/s', base, r.halyard, r.baseline, { op: '>=', ratio: 0.9 }));
      }

      const askName = `ask through a ${kind}, 64 in flight`;
      if (selected(options, GROUP, askName)) {
        progress(`containers ${askName}: ${asks} asks x ${rounds} rounds`);
        const b = bare(kind);
        const ref = ours(system, kind);
        await b.request('GET');
        await ref.ask({ type: 'GET' });
        try {
          const r = await interleave(
            `containers ask ${kind}`,
            {
              baseline: () => askRate(asks, 64, () => b.request('GET')),
              halyard: () => askRate(asks, 64, () => ref.ask({ type: 'GET' })),
            },
            rounds,
          );
          const base = kind === 'worker' ? 'hand-written MessagePort request/reply, bare XState send' : 'hand-written IPC request/reply, bare XState send';
          results.push(pairedResult(GROUP, askName, 'ask/s', base, r.halyard, r.baseline, { op: '>=', ratio: 0.8 }));
        } finally {
          await b.end();
          await ref.stop('brutal_kill');
        }
      }
    }
  } finally {
    await Promise.all(system.actors().map((a) => a.stop('brutal_kill')));
  }
  return results;
}
