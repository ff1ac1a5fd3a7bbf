/**
 * Random supervision trees and random command sequences over them.
 *
 * Trees nest up to three levels (root, child supervisors, grandchild
 * supervisors with workers only), with random strategies (one_for_one,
 * one_for_all, rest_for_one), intensity 0..3, period 10/100/1000 ms, auto
 * shutdown, and restart types; transient and temporary children of an auto
 * shutdown supervisor may be significant. Child ids encode kind and position
 * (`w0`, `s1`, ...), so a path like `root/s1/w0` reads as the tree it came
 * from.
 *
 * Commands address children by path, so a shrunk counterexample prints as
 * it ran. The set of paths is fixed by the tree: its static children plus,
 * under every static supervisor, the two dynamic children StartChild may add
 * (`d0`, a worker; `d1`, a supervisor built from the tree's `dynamic`
 * template with workers `x0` permanent and `x1` transient). A command whose
 * target does not exist in the model at that point is skipped by its `check`.
 */
import fc from 'fast-check';
import { AdvanceClock } from './commands/AdvanceClock.js';
import { ArmStartFailure } from './commands/ArmStartFailure.js';
import { type Call, type ChildExit, ConcurrentCalls } from './commands/ConcurrentCalls.js';
import { CrashChild } from './commands/CrashChild.js';
import { DeleteChild } from './commands/DeleteChild.js';
import { KillSupervisor } from './commands/KillSupervisor.js';
import { NormalExitChild } from './commands/NormalExitChild.js';
import { RestartChild } from './commands/RestartChild.js';
import { StartChild } from './commands/StartChild.js';
import { StopFromOutside } from './commands/StopFromOutside.js';
import { StopRoot } from './commands/StopRoot.js';
import { TerminateChild } from './commands/TerminateChild.js';
import { type ChildDef, type Flags, ROOT, type Restart, type SupDef, childPath } from './model.js';
import type { ModelCommand } from './real.js';

export const MAX_DEPTH = 3;
export const DYNAMIC_IDS = ['d0', 'd1'] as const;
export type DynamicId = (typeof DYNAMIC_IDS)[number];

export interface Tree {
  readonly def: SupDef;
  /** Template for the dynamic supervisor `d1`. */
  readonly dynamic: SupDef;
}

export const restartArb: fc.Arbitrary<Restart> = fc.constantFrom('permanent', 'transient', 'temporary');

export const flagsArb: fc.Arbitrary<Flags> = fc.record({
  strategy: fc.constantFrom('one_for_one', 'one_for_all', 'rest_for_one'),
  intensity: fc.integer({ min: 0, max: 3 }),
  period: fc.constantFrom(10, 100, 1000),
  autoShutdown: fc.constantFrom('never', 'never', 'any_significant', 'all_significant'),
});

/** OTP only lets transient and temporary children be significant, and only with auto shutdown on. */
export function canBeSignificant(flags: Flags, restart: Restart): boolean {
  return (flags.autoShutdown ?? 'never') !== 'never' && restart !== 'permanent';
}

/** Clock steps chosen to land on and around the periods above. */
export const advanceArb: fc.Arbitrary<number> = fc.constantFrom(1, 9, 10, 11, 50, 99, 100, 101, 1000, 5000);

type Shape =
  | { kind: 'worker'; restart: Restart; significant: boolean }
  | { kind: 'supervisor'; restart: Restart; significant: boolean; sup: SupDef };

function supDefArb(level: number): fc.Arbitrary<SupDef> {
  const worker: fc.Arbitrary<Shape> = fc
    .record({ restart: restartArb, significant: fc.boolean() })
    .map(({ restart, significant }) => ({ kind: 'worker', restart, significant }));
  const child: fc.Arbitrary<Shape> =
    level < MAX_DEPTH
      ? fc.oneof(
          { weight: 3, arbitrary: worker },
          {
            weight: 1,
            arbitrary: fc
              .record({ restart: restartArb, significant: fc.boolean(), sup: supDefArb(level + 1) })
              .map(({ restart, significant, sup }) => ({ kind: 'supervisor' as const, restart, significant, sup })),
          },
        )
      : worker;
  return fc
    .record({ flags: flagsArb, shapes: fc.array(child, { minLength: level === 1 ? 1 : 0, maxLength: 4 }) })
    .map(({ flags, shapes }) => ({
      flags,
      children: shapes.map((s, i): ChildDef => {
        const significant = s.significant && canBeSignificant(flags, s.restart);
        return s.kind === 'worker'
          ? { kind: 'worker', id: `w${i}`, restart: s.restart, significant }
          : { kind: 'supervisor', id: `s${i}`, restart: s.restart, significant, sup: s.sup };
      }),
    }));
}

export const dynamicTemplateArb: fc.Arbitrary<SupDef> = flagsArb.map((flags) => ({
  flags,
  children: [
    { kind: 'worker', id: 'x0', restart: 'permanent' },
    { kind: 'worker', id: 'x1', restart: 'transient', significant: canBeSignificant(flags, 'transient') },
  ],
}));

export const treeArb: fc.Arbitrary<Tree> = fc.record({ def: supDefArb(1), dynamic: dynamicTemplateArb });

export interface Paths {
  /** Supervisors that exist statically (root first). */
  readonly supervisors: string[];
  /** Their definitions, by path. */
  readonly defs: Map<string, SupDef>;
  /** Every path a worker may have. */
  readonly workers: string[];
  /** Every path a child (worker or supervisor) may have. */
  readonly children: string[];
  /** Every path a child supervisor may have (static ones and the dynamic `d1`s). */
  readonly childSupervisors: string[];
}

export function pathsOf(tree: Tree): Paths {
  const supervisors: string[] = [];
  const defs = new Map<string, SupDef>();
  const workers: string[] = [];
  const children: string[] = [];
  const childSupervisors: string[] = [];
  const walk = (path: string, def: SupDef) => {
    supervisors.push(path);
    if (path !== ROOT) childSupervisors.push(path);
    defs.set(path, def);
    for (const c of def.children) {
      const p = childPath(path, c.id);
      children.push(p);
      if (c.kind === 'worker') workers.push(p);
      else walk(p, c.sup);
    }
    const d0 = childPath(path, 'd0');
    const d1 = childPath(path, 'd1');
    children.push(d0, d1);
    childSupervisors.push(d1);
    workers.push(d0);
    for (const x of tree.dynamic.children) {
      children.push(childPath(d1, x.id));
      workers.push(childPath(d1, x.id));
    }
  };
  walk(ROOT, tree.def);
  return { supervisors, defs, workers, children, childSupervisors };
}

/** The child spec StartChild adds under a given id to a supervisor with these flags. */
export function dynamicDef(tree: Tree, flags: Flags, id: DynamicId, restart: Restart, significant: boolean): ChildDef {
  const sig = significant && canBeSignificant(flags, restart);
  return id === 'd0' ? { kind: 'worker', id, restart, significant: sig } : { kind: 'supervisor', id, restart, significant: sig, sup: tree.dynamic };
}

const dynamicDefArb = (tree: Tree, flags: Flags): fc.Arbitrary<ChildDef> =>
  fc
    .record({ id: fc.constantFrom(...DYNAMIC_IDS), restart: restartArb, significant: fc.boolean() })
    .map(({ id, restart, significant }) => dynamicDef(tree, flags, id, restart, significant));

/** Direct children of `supPath` among `paths`, as ids. */
function childIds(paths: readonly string[], supPath: string): string[] {
  const prefix = `${supPath}/`;
  return [...new Set(paths.filter((p) => p.startsWith(prefix) && !p.slice(prefix.length).includes('/')).map((p) => p.slice(prefix.length)))];
}

function concurrentCallsArb(tree: Tree, paths: Paths): fc.Arbitrary<ConcurrentCalls> {
  return fc.constantFrom(...paths.supervisors).chain((supPath) => {
    const ids = childIds(paths.children, supPath);
    const workerIds = childIds(paths.workers, supPath);
    const call: fc.Arbitrary<Call> = fc.oneof(
      fc.record({ kind: fc.constant('terminate' as const), id: fc.constantFrom(...ids) }),
      fc.record({ kind: fc.constant('restart' as const), id: fc.constantFrom(...ids) }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...ids) }),
      dynamicDefArb(tree, paths.defs.get(supPath)!.flags).map((def) => ({ kind: 'start' as const, id: def.id, def })),
    );
    return fc.array(call, { minLength: 2, maxLength: 4 }).chain((calls) => {
      const terminated = new Set(calls.filter((c) => c.kind === 'terminate').map((c) => c.id));
      const exitable = workerIds.filter((id) => !terminated.has(id));
      const exits: fc.Arbitrary<ChildExit[]> =
        exitable.length === 0
          ? fc.constant([])
          : fc.uniqueArray(fc.record({ id: fc.constantFrom(...exitable), kind: fc.constantFrom('crash' as const, 'exit' as const) }), {
              maxLength: 2,
              selector: (e) => e.id,
            });
      return exits.chain((e) =>
        fc
          .array(fc.constantFrom(0, 0, 1, 2, 4, 8, 16, 32), { minLength: calls.length + e.length, maxLength: calls.length + e.length })
          .map((gaps) => new ConcurrentCalls(supPath, calls, e, gaps)),
      );
    });
  });
}

export interface CommandOptions {
  readonly maxCommands: number;
  /** Add ConcurrentCalls (needs a scheduler on the real side). */
  readonly concurrent: boolean;
  /** Add StopRoot and killing the root. */
  readonly stopRoot?: boolean;
}

export function commandsArb(tree: Tree, options: CommandOptions): fc.Arbitrary<Iterable<ModelCommand>> {
  const paths = pathsOf(tree);
  const worker = fc.constantFrom(...paths.workers);
  const child = fc.constantFrom(...paths.children);
  const advance = advanceArb.map((ms) => new AdvanceClock(ms));
  // fc.commands picks each entry equally often: repeats are weights.
  const arbs: fc.Arbitrary<ModelCommand>[] = [
    worker.map((p) => new CrashChild(p)),
    worker.map((p) => new CrashChild(p)),
    worker.map((p) => new CrashChild(p)),
    worker.map((p) => new NormalExitChild(p)),
    worker.map((p) => new StopFromOutside(p, 'shutdown')),
    worker.map((p) => new StopFromOutside(p, 'brutal_kill')),
    fc.constantFrom(...paths.childSupervisors).map((p) => new KillSupervisor(p)),
    fc.tuple(worker, fc.integer({ min: 1, max: 2 })).map(([p, n]) => new ArmStartFailure(p, n)),
    child.map((p) => new TerminateChild(p)),
    child.map((p) => new RestartChild(p)),
    child.map((p) => new DeleteChild(p)),
    fc
      .constantFrom(...paths.supervisors)
      .chain((supPath) => dynamicDefArb(tree, paths.defs.get(supPath)!.flags).map((def) => new StartChild(supPath, def))),
    advance,
    // StopRoot and a killed root are rare: nothing happens after them.
    options.stopRoot
      ? fc.oneof(
          { weight: 4, arbitrary: advance },
          { weight: 1, arbitrary: fc.constant(new StopRoot()) },
          { weight: 1, arbitrary: fc.constant(new KillSupervisor(ROOT)) },
        )
      : advance,
  ];
  if (options.concurrent) {
    const calls = concurrentCallsArb(tree, paths);
    arbs.push(calls, calls, calls, calls);
  }
  return fc.commands(arbs, { maxCommands: options.maxCommands, size: 'max' });
}

/** A compact, readable form of a tree for counterexamples (`*` marks a significant child). */
export function describeSup(def: SupDef): string {
  const f = def.flags;
  const kids = def.children.map((c) => {
    const head = `${c.id}:${c.restart}${c.significant ? '*' : ''}`;
    return c.kind === 'worker' ? head : `${head} ${describeSup(c.sup)}`;
  });
  const auto = f.autoShutdown && f.autoShutdown !== 'never' ? `,auto=${f.autoShutdown}` : '';
  return `${f.strategy}(i=${f.intensity},p=${f.period}${auto})[${kids.join(', ')}]`;
}

export function describeTree(tree: Tree): string {
  return `root ${describeSup(tree.def)} dynamic d1 ${describeSup(tree.dynamic)}`;
}

/** A tree with a readable toString for fast-check's reports. */
export const printableTreeArb: fc.Arbitrary<Tree> = treeArb.map((tree) =>
  Object.defineProperty({ ...tree }, fc.toStringMethod, { value: () => describeTree(tree), enumerable: false }),
);
