/**
 * Model-based tests of the supervision runtime against a pure model of OTP's
 * supervisor rules (spec/supervision/model). Random trees, random command
 * sequences; after every command the runtime is settled and compared with
 * the model: children per supervisor (ids, order, status, counts), worker
 * starts, the start/stop trace, the failure reports with restart history and
 * directive, live actors, restarts by actor identity, and whether the root
 * is still alive.
 *
 * `HALYARD_MODEL_RUNS` sets the runs per property (default 1000 and 500; a
 * run is one random tree and up to 25 commands, a few ms).
 *
 * A failure prints the seed, the replay path, the tree and the shrunk
 * command list; replay it with `fc.assert(..., { seed, path })`.
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { type Tree, commandsArb, printableTreeArb } from './supervision/model/arbitraries.js';
import { AdvanceClock } from './supervision/model/commands/AdvanceClock.js';
import { ArmStartFailure } from './supervision/model/commands/ArmStartFailure.js';
import { ConcurrentCalls } from './supervision/model/commands/ConcurrentCalls.js';
import { CrashChild } from './supervision/model/commands/CrashChild.js';
import { KillSupervisor } from './supervision/model/commands/KillSupervisor.js';
import { RestartChild } from './supervision/model/commands/RestartChild.js';
import { TerminateChild } from './supervision/model/commands/TerminateChild.js';
import { type ChildDef, type Flags, type SupDef, SupervisionModel } from './supervision/model/model.js';
import { type ModelCommand, type Real, createReal, disposeReal, expectSameTree } from './supervision/model/real.js';

const RUNS = Number(process.env.HALYARD_MODEL_RUNS ?? 1000);
const CONCURRENT_RUNS = Number(process.env.HALYARD_MODEL_RUNS ?? 500);

async function runModel(tree: Tree, commands: Iterable<ModelCommand>, scheduler?: fc.Scheduler): Promise<void> {
  let real: Real | undefined;
  try {
    await fc.asyncModelRun(async () => {
      const model = new SupervisionModel(tree.def);
      real = await createReal(tree.def, scheduler);
      await expectSameTree(model, real, 'start-up');
      return { model, real };
    }, commands);
  } finally {
    if (real) await disposeReal(real);
  }
}

// Counterexamples the random runs found, pinned so they replay without a seed.
describe('supervision model - pinned scenarios', () => {
  const oneForOne = (intensity = 1, period = 100): Flags => ({ strategy: 'one_for_one', intensity, period });
  const w = (id: string): ChildDef => ({ kind: 'worker', id, restart: 'permanent' });
  const s = (id: string, ...children: ChildDef[]): ChildDef => ({ kind: 'supervisor', id, restart: 'permanent', sup: { flags: oneForOne(), children } });
  const tree = (def: SupDef): Tree => ({ def, dynamic: { flags: oneForOne(), children: [w('x0'), w('x1')] } });

  // The random runs reach these edges only now and then. OTP add_restart/3
  // keeps a restart while r >= now - period: at exactly 100 ms it still counts.
  it.each([99, 100, 101])('supervision model - intensity 1, period 100: crash, %i ms, crash', async (ms) => {
    const t = tree({ flags: oneForOne(1, 100), children: [w('w0')] });
    await runModel(t, [new CrashChild('root/w0'), new AdvanceClock(ms), new CrashChild('root/w0')]);
  });

  // A child supervisor that fails at init stops what it started before its
  // parent goes on: no interleaved stops, nothing alive when the call fails.
  it('supervision model - restartChild of a supervisor whose grandchild fails to start', async () => {
    const t = tree({ flags: oneForOne(), children: [s('s', w('a'), s('u', w('p'), w('q')), s('t', w('x'), w('y'), w('z')))] });
    await runModel(t, [new TerminateChild('root/s'), new ArmStartFailure('root/s/t/z', 1), new RestartChild('root/s')]);
  });

  // Before the children of a killed supervisor were stopped as OTP's
  // trapping children stop, this tree's grandchild was killed with no stop in
  // the trace; with intensity 0 the restart of s0 is also where root gives up.
  it('supervision model - a killed child supervisor stops its nested subtree in order before its parent acts', async () => {
    const zero: Flags = { strategy: 'one_for_one', intensity: 0, period: 10 };
    const inner: ChildDef = { kind: 'supervisor', id: 's0', restart: 'permanent', sup: { flags: zero, children: [w('w0')] } };
    const t = tree({ flags: zero, children: [{ kind: 'supervisor', id: 's0', restart: 'permanent', sup: { flags: zero, children: [inner] } }, w('w1')] });
    await runModel(t, [new KillSupervisor('root/s0')]);
  });

  it('supervision model - a killed supervisor under one_for_all: siblings restart after its subtree is gone', async () => {
    const t = tree({ flags: { strategy: 'one_for_all', intensity: 3, period: 100 }, children: [w('w0'), s('s1', w('a'), s('n', w('b'))), w('w2')] });
    await runModel(t, [new KillSupervisor('root/s1'), new CrashChild('root/s1/n/b'), new KillSupervisor('root')]);
  });

  it('supervision model - two startChild calls of a supervisor whose first init fails', async () => {
    const t = tree({ flags: oneForOne(), children: [w('w0')] });
    const d1: ChildDef = { kind: 'supervisor', id: 'd1', restart: 'permanent', sup: t.dynamic };
    const calls = [
      { kind: 'start' as const, id: 'd1', def: d1 },
      { kind: 'start' as const, id: 'd1', def: d1 },
    ];
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), (scheduler) =>
        runModel(t, [new ArmStartFailure('root/d1/x1', 1), new ConcurrentCalls('root', calls, [], [0, 0])], scheduler),
      ),
      { numRuns: 10 },
    );
  });
});

describe('supervision model - runtime follows OTP', () => {
  it('supervision model - random trees and command sequences match the model after every step', async () => {
    const scenario = printableTreeArb.chain((tree) =>
      fc.record({ tree: fc.constant(tree), commands: commandsArb(tree, { maxCommands: 25, concurrent: false, stopRoot: true }) }),
    );
    await fc.assert(
      fc.asyncProperty(scenario, ({ tree, commands }) => runModel(tree, commands)),
      { numRuns: RUNS, verbose: true },
    );
  }, 600_000);

  // fc.scheduledModelRun cannot be used here: its scheduler releases the next
  // task only once the running command has finished, so a command that waits
  // for its own scheduled calls deadlocks, and without waiting there is no
  // exact state to compare after each step. Each ConcurrentCalls command
  // drives the run's fc.scheduler itself instead (waitFor).
  it('supervision model - calls and a child exit issued concurrently take effect in some arrival order (fc.scheduler)', async () => {
    const scenario = printableTreeArb.chain((tree) =>
      fc.record({
        tree: fc.constant(tree),
        commands: commandsArb(tree, { maxCommands: 20, concurrent: true }),
        scheduler: fc.scheduler(),
      }),
    );
    await fc.assert(
      fc.asyncProperty(scenario, ({ tree, commands, scheduler }) => runModel(tree, commands, scheduler)),
      { numRuns: CONCURRENT_RUNS, verbose: true },
    );
  }, 600_000);
});
