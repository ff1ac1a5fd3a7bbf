/**
 * Supervision benchmarks, in one run (`benchSupervision()`; bench/index.ts
 * calls it as the `supervision` group). Benchmarks print; they never assert.
 *
 * | case                         | what                                                                 | target |
 * |------------------------------|----------------------------------------------------------------------|--------|
 * | restart latency p50 / p99    | crash of a supervised child → its restarted incarnation answers an ask, local, idle node, >= 2000 restarts (after 2000 unmeasured) | p99 <= 1 ms (shown as a ratio to 1000 µs) |
 * | crash storm restarts/s       | 10 supervisors x 100 children, every restarted child crashed again at once; vs bare XState start + crash over the same 1000 live actors, in the same run | >= 0.5x |
 * | crash storm, other baselines | the same storm vs bare `createActor(logic).start()` alone, and vs start + crash of one actor at a time (informational) | none |
 * | coordinator cost per restart | the same storm through the Recovery Coordinator vs supervisors that apply the default policy inline (`_direct`, bench only) | <= 1.2x |
 * | storm floors (informational) | bare XState start + crash; a hand-written onExit → spawn loop over ActorCell with no supervision | none |
 *
 * ## The baseline
 * The baseline is bare `createActor().start()` + crash. Done one
 * actor at a time, that is not the storm's work: the storm keeps 1000
 * children alive, and each incarnation lives while the 999 others crash and
 * restart, so its XState state survives young-generation collections and is
 * promoted, where a lone actor dies young. Measured (CPU time, 50 000
 * restarts): XState alone costs about 1.7x as much per start + crash with
 * 1000 live actors in turn as with one. So the target row's baseline is bare
 * XState doing exactly the storm's work: 1000 live actors with an error
 * observer, crashed in turn, each replaced by a fresh started one at once.
 * The two easier-to-beat single-actor figures stay as informational rows.
 *
 * The floors say where the storm's time goes: a restart is a crash (XState's
 * error path, the cell's exit) plus a spawn (an ActorCell around a new XState
 * actor), and neither is free even with no supervisor in the loop.
 *
 * Storm rounds alternate which side runs first (drift hits both alike) after
 * one unmeasured warm-up per side; figures are medians over rounds.
 *
 * The crashing logic throws a pre-built Error: capturing a fresh stack trace
 * per crash would cost both sides alike and hide the difference (the bare
 * start + crash baselines throw the same one). Storm supervisors use `intensity: 1e9, period: 10`: the
 * supervisor never gives up, and the restart history each report carries is
 * whatever fits in 10 ms (measured: about 45 entries at 1 000 restarts/s per
 * supervisor, and each decision in the 10 000-entry log keeps its copy, a
 * real cost of the storm that grows as restarts get faster).
 */
import { createActor, setup } from 'xstate';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import type { ActorCell } from '../src/actors/ActorCell.js';
import { reply } from '../src/actors/reply.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { Supervision } from '../src/supervision/index.js';
import type { Supervisor } from '../src/supervision/types.js';

export interface SupervisionBenchRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The baseline's figure, in `unit` (bench/index.ts reads `baselineValue`; both are given). */
  readonly baseline?: number;
  readonly baselineValue?: number;
  readonly ratio?: number;
  readonly target?: string;
  readonly met?: boolean;
}

const STORM_ERROR = new Error('crash storm');

const crashing = setup({
  actions: {
    crash: () => {
      throw STORM_ERROR;
    },
  },
}).createMachine({
  id: 'storm-child',
  initial: 'up',
  states: { up: { on: { CRASH: { actions: 'crash' }, PING: { actions: reply('pong') } } } },
});

const CRASH = { type: 'CRASH' } as const;
const PING = { type: 'PING' } as const;

const SUPERVISORS = 10;
/** The target for p99 restart latency. */
const LATENCY_BUDGET_US = 1000;
const CHILDREN = 100;

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

// ── restart latency ───────────────────────────────────────────────────────

async function restartLatency(restarts: number, warmup: number): Promise<{ p50: number; p99: number; max: number }> {
  const system = new ActorSystem({ node: 'bench-latency' });
  const supervision = new Supervision(system);
  const sup = supervision.supervise({ intensity: 1_000_000_000, period: 10, children: [{ id: 'c', start: crashing }] });
  let waiter: ((cell: ActorCell) => void) | undefined;
  system.onSpawn((cell) => {
    const w = waiter;
    waiter = undefined;
    w?.(cell);
  });
  let ref: LocalActorRef = sup.whichChildren()[0]!.ref!;
  const samples: number[] = [];
  for (let i = 0; i < warmup + restarts; i++) {
    const next = new Promise<ActorCell>((resolve) => {
      waiter = resolve;
    });
    const t0 = performance.now();
    ref.tell(CRASH);
    const cell = await next;
    await cell.ask(PING);
    const dt = performance.now() - t0;
    if (i >= warmup) samples.push(dt * 1000);
    ref = cell;
    // Let timers and I/O run between samples, as an idle node would.
    if ((i & 63) === 63) await turn();
  }
  await sup.stop();
  await supervision.shutdown();
  samples.sort((a, b) => a - b);
  return { p50: percentile(samples, 50), p99: percentile(samples, 99), max: samples[samples.length - 1]! };
}

// ── crash storm ───────────────────────────────────────────────────────────

/** Restarts per second across SUPERVISORS x CHILDREN, each restarted child crashed again at once. */
async function storm(restarts: number, direct: boolean): Promise<number> {
  const system = new ActorSystem({ node: 'bench-storm' });
  const supervision = new Supervision(system, { decisionLogSize: 10_000 });
  const sups: Supervisor[] = [];
  for (let s = 0; s < SUPERVISORS; s++) {
    sups.push(
      supervision.supervise(
        { intensity: 1_000_000_000, period: 10, children: Array.from({ length: CHILDREN }, (_, i) => ({ id: `c${i}`, start: crashing })) },
        { _direct: direct },
      ),
    );
  }
  let remaining = restarts;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  // A restarted child is crashed again before it processes anything else.
  system.onSpawn((cell) => {
    if (remaining > 0) {
      remaining--;
      cell.tell(CRASH);
    } else if (remaining === 0) {
      remaining = -1;
      done();
    }
  });
  const t0 = performance.now();
  for (const sup of sups) for (const c of sup.whichChildren()) c.ref!.tell(CRASH);
  await finished;
  const elapsed = performance.now() - t0;
  for (const sup of sups) await sup.stop();
  await supervision.shutdown();
  return restarts / (elapsed / 1000);
}

/**
 * The least any crash-and-restart loop over XState can cost: bare XState
 * start, then the crash, with an error observer (without one XState rethrows).
 * Informational: it shows how much of the storm figure is XState itself.
 */
function bareStartAndCrash(n: number): number {
  const observer = { error: () => {} };
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = createActor(crashing);
    a.subscribe(observer);
    a.start();
    a.send(CRASH);
  }
  return n / ((performance.now() - t0) / 1000);
}

/**
 * Bare XState doing the storm's work: SUPERVISORS x CHILDREN live actors,
 * crashed in turn; each crashed one is replaced at once by a fresh started
 * actor, which is crashed again after all the others, as in the storm.
 */
function bareStartAndCrashLive(n: number): number {
  const observer = { error: () => {} };
  const live = SUPERVISORS * CHILDREN;
  const start = () => {
    const a = createActor(crashing);
    a.subscribe(observer);
    a.start();
    return a;
  };
  const ring = Array.from({ length: live }, start);
  const t0 = performance.now();
  for (let i = 0, k = 0; i < n; i++) {
    ring[k]!.send(CRASH);
    ring[k] = start();
    k = k + 1 === live ? 0 : k + 1;
  }
  return n / ((performance.now() - t0) / 1000);
}

/**
 * A hand-written restart loop over the same ActorCells and dispatcher, with
 * no supervision at all (watch with onExit, spawn again): the floor for a
 * supervisor on this actor runtime. Informational.
 */
async function minimalRestartLoop(restarts: number): Promise<number> {
  const system = new ActorSystem({ node: 'bench-minimal' });
  let remaining = restarts;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const watch = (cell: LocalActorRef): void => {
    cell.onExit(() => {
      const next = system.spawn(crashing);
      watch(next);
      if (remaining > 0) {
        remaining--;
        next.tell(CRASH);
      } else if (remaining === 0) {
        remaining = -1;
        done();
      }
    });
  };
  const cells: LocalActorRef[] = [];
  for (let i = 0; i < SUPERVISORS * CHILDREN; i++) {
    const c = system.spawn(crashing);
    watch(c);
    cells.push(c);
  }
  const t0 = performance.now();
  for (const c of cells) c.tell(CRASH);
  await finished;
  const elapsed = performance.now() - t0;
  remaining = -2;
  for (const c of system.actors()) await c.stop('brutal_kill');
  return restarts / (elapsed / 1000);
}

/** Bare XState: createActor(logic).start(), the same logic, as many times. */
function bareStarts(n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) createActor(crashing).start();
  return n / ((performance.now() - t0) / 1000);
}

export async function benchSupervision(): Promise<SupervisionBenchRow[]> {
  const quick = process.argv.includes('--quick');
  const restarts = quick ? 2000 : 5000;
  const stormRestarts = quick ? 50_000 : 200_000;
  const rounds = quick ? 3 : 5;

  gc();
  const lat = await restartLatency(restarts, 2000);

  // Warm-up, unmeasured, each side once.
  bareStarts(stormRestarts / 4);
  bareStartAndCrash(stormRestarts / 4);
  bareStartAndCrashLive(stormRestarts / 4);
  await minimalRestartLoop(stormRestarts / 4);
  await storm(stormRestarts / 4, false);
  await storm(stormRestarts / 4, true);

  const bare: number[] = [];
  const bareCrash: number[] = [];
  const bareLive: number[] = [];
  const minimal: number[] = [];
  const viaCoordinator: number[] = [];
  const direct: number[] = [];
  const stormRatios: number[] = [];
  const stormVsStartRatios: number[] = [];
  const stormVsCrashRatios: number[] = [];
  const floorRatios: number[] = [];
  const minimalRatios: number[] = [];
  const costRatios: number[] = [];
  for (let r = 0; r < rounds; r++) {
    // Each side runs once per round; the order rotates so drift hits all alike.
    const sides: (() => Promise<void>)[] = [
      async () => void bare.push(bareStarts(stormRestarts)),
      async () => void bareCrash.push(bareStartAndCrash(stormRestarts)),
      async () => void bareLive.push(bareStartAndCrashLive(stormRestarts)),
      async () => void minimal.push(await minimalRestartLoop(stormRestarts)),
      async () => void viaCoordinator.push(await storm(stormRestarts, false)),
      async () => void direct.push(await storm(stormRestarts, true)),
    ];
    for (let k = 0; k < sides.length; k++) {
      gc();
      await sides[(k + r) % sides.length]!();
    }
    stormRatios.push(viaCoordinator[r]! / bareLive[r]!);
    stormVsStartRatios.push(viaCoordinator[r]! / bare[r]!);
    stormVsCrashRatios.push(viaCoordinator[r]! / bareCrash[r]!);
    floorRatios.push(bareCrash[r]! / bare[r]!);
    minimalRatios.push(minimal[r]! / bare[r]!);
    costRatios.push(direct[r]! / viaCoordinator[r]!); // time per restart via coordinator / direct
  }

  const stormRatio = median(stormRatios);
  const costRatio = median(costRatios);
  const bareRate = Math.round(median(bare));
  const bareCrashRate = Math.round(median(bareCrash));
  const bareLiveRate = Math.round(median(bareLive));
  const coordUs = 1e6 / median(viaCoordinator);
  const directUs = 1e6 / median(direct);
  return [
    // Latencies are set against the 1 ms budget, so that the target
    // is a ratio like every other row's.
    {
      name: 'restart latency p50 (crash -> restarted child answers ask), vs 1 ms budget',
      value: round(lat.p50),
      unit: 'µs',
      baseline: LATENCY_BUDGET_US,
      baselineValue: LATENCY_BUDGET_US,
      ratio: round(lat.p50 / LATENCY_BUDGET_US),
    },
    {
      name: 'restart latency p99 (crash -> restarted child answers ask), vs 1 ms budget',
      value: round(lat.p99),
      unit: 'µs',
      baseline: LATENCY_BUDGET_US,
      baselineValue: LATENCY_BUDGET_US,
      ratio: round(lat.p99 / LATENCY_BUDGET_US),
      target: '<= 1',
      met: lat.p99 <= LATENCY_BUDGET_US,
    },
    {
      name: `crash storm restarts/s (${SUPERVISORS} supervisors x ${CHILDREN} children) vs bare XState start + crash, ${SUPERVISORS * CHILDREN} live in turn`,
      value: Math.round(median(viaCoordinator)),
      unit: 'restart/s',
      baseline: bareLiveRate,
      baselineValue: bareLiveRate,
      ratio: round(stormRatio),
      target: '>= 0.5',
      met: stormRatio >= 0.5,
    },
    {
      name: 'crash storm, informational: vs bare XState start + crash of one actor at a time',
      value: Math.round(median(viaCoordinator)),
      unit: 'restart/s',
      baseline: bareCrashRate,
      baselineValue: bareCrashRate,
      ratio: round(median(stormVsCrashRatios)),
    },
    {
      name: 'crash storm, informational: vs bare createActor().start() alone (no crash)',
      value: Math.round(median(viaCoordinator)),
      unit: 'restart/s',
      baseline: bareRate,
      baselineValue: bareRate,
      ratio: round(median(stormVsStartRatios)),
    },
    {
      name: 'crash storm floor, informational: bare XState start + crash, no Halyard',
      value: Math.round(median(bareCrash)),
      unit: 'restart/s',
      baseline: bareRate,
      baselineValue: bareRate,
      ratio: round(median(floorRatios)),
    },
    {
      name: 'crash storm floor, informational: hand-written onExit -> spawn loop over ActorCell, no supervisor',
      value: Math.round(median(minimal)),
      unit: 'restart/s',
      baseline: bareRate,
      baselineValue: bareRate,
      ratio: round(median(minimalRatios)),
    },
    {
      name: 'coordinator cost per restart vs direct restart (storm)',
      value: round(coordUs),
      unit: 'µs/restart',
      baseline: round(directUs),
      baselineValue: round(directUs),
      ratio: round(costRatio),
      target: '<= 1.2',
      met: costRatio <= 1.2,
    },
  ];
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

// `node --import ./bench/register.mjs bench/supervision.ts` runs this group alone.
if (import.meta.url === `file://${process.argv[1]}`) {
  benchSupervision().then(
    (rows) => {
      for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
