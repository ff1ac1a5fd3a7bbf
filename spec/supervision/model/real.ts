/**
 * The real side of the model runs: a Halyard supervision tree built from a
 * model tree, plus the checks that compare it with the model after every step.
 */
import { isDeepStrictEqual } from 'node:util';
import type fc from 'fast-check';
import { ActorSystem } from '../../../src/actors/ActorSystem.js';
import type { LocalActorRef } from '../../../src/actors/types.js';
import { ManualClock } from '../../../src/clock.js';
import { ErrorCode } from '../../../src/errors.js';
import { Supervision } from '../../../src/supervision/index.js';
import type { ChildCounts, ChildSpec, Supervisor, SupervisorExit, SupervisorSpec } from '../../../src/supervision/types.js';
import { withDeadline } from '../../support/wait.js';
import { type ChildDef, type ModelError, type OpResult, ROOT, type SupDef, type SupervisionModel, childPath } from './model.js';
import { settle } from './settle.js';
import { Recorder, workerMachine } from './worker.js';

export interface Real {
  readonly system: ActorSystem;
  readonly clock: ManualClock;
  readonly supervision: Supervision;
  readonly root: Supervisor;
  readonly recorder: Recorder;
  /** Set when the root's `stopped` resolves. */
  rootExit: SupervisorExit | undefined;
  /** Model incarnation <-> actor id, as observed so far: a restart must change the actor, nothing else may. */
  readonly actorOf: Map<number, string>;
  readonly incarnationOf: Map<string, number>;
  /** The run's fc.scheduler, for ConcurrentCalls (the concurrent property only). */
  readonly scheduler: fc.Scheduler | undefined;
}

export type ModelCommand = fc.AsyncCommand<SupervisionModel, Real>;

/** Deadline for one API call or one settle, in wall-clock ms. */
export const STEP_DEADLINE = 2000;

// ── building the real tree ────────────────────────────────────────────────

export function toChildSpec(def: ChildDef, supPath: string, recorder: Recorder): ChildSpec {
  const path = childPath(supPath, def.id);
  const significant = def.significant ?? false;
  if (def.kind === 'worker') {
    return { id: def.id, restart: def.restart, significant, type: 'worker', start: { logic: workerMachine, input: { path, recorder } } };
  }
  return { id: def.id, restart: def.restart, significant, type: 'supervisor', start: toSupervisorSpec(def.sup, path, recorder) };
}

export function toSupervisorSpec(def: SupDef, path: string, recorder: Recorder): SupervisorSpec {
  return {
    strategy: def.flags.strategy,
    intensity: def.flags.intensity,
    period: def.flags.period,
    autoShutdown: def.flags.autoShutdown ?? 'never',
    children: def.children.map((c) => toChildSpec(c, path, recorder)),
  };
}

export async function createReal(def: SupDef, scheduler?: fc.Scheduler): Promise<Real> {
  const clock = new ManualClock();
  const system = new ActorSystem({ node: 't', clock });
  const supervision = new Supervision(system);
  const recorder = new Recorder();
  const root = supervision.supervise(toSupervisorSpec(def, ROOT, recorder), { name: ROOT });
  const real: Real = {
    system,
    clock,
    supervision,
    root,
    recorder,
    rootExit: undefined,
    actorOf: new Map(),
    incarnationOf: new Map(),
    scheduler,
  };
  root.stopped.then(
    (exit) => {
      real.rootExit = exit;
    },
    (err) => {
      real.rootExit = { reason: 'error', error: err };
    },
  );
  await settleReal(real);
  return real;
}

/** Tear a run down so nothing of it outlives the property run. */
export async function disposeReal(real: Real): Promise<void> {
  await withDeadline(real.supervision.shutdown(), STEP_DEADLINE, 'supervision.shutdown()').catch(() => {});
  await real.system.stopAll('brutal_kill');
}

// ── reaching into the real tree ───────────────────────────────────────────

/** The real supervisor at a model path, or undefined if the real tree has none there. */
export function realSupervisor(real: Real, path: string): Supervisor | undefined {
  const segments = path.split('/');
  if (segments[0] !== ROOT) return undefined;
  let sup: Supervisor | undefined = real.rootExit === undefined ? real.root : undefined;
  for (const id of segments.slice(1)) sup = sup?.childSupervisor(id);
  return sup;
}

/** The running real worker at a model path. */
export function realWorker(real: Real, path: string): LocalActorRef {
  const i = path.lastIndexOf('/');
  const sup = realSupervisor(real, path.slice(0, i));
  const info = sup?.whichChildren().find((c) => c.id === path.slice(i + 1));
  if (!info?.ref || info.status !== 'running') {
    throw new Error(`real tree has no running worker at ${path} (the model has one)`);
  }
  return info.ref;
}

export function mustRealSupervisor(real: Real, path: string): Supervisor {
  const sup = realSupervisor(real, path);
  if (!sup) throw new Error(`real tree has no live supervisor at ${path} (the model has one)`);
  return sup;
}

// ── outcomes of API calls ─────────────────────────────────────────────────

export type Outcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: string; readonly detail: string | undefined; readonly message: string };

/** Error code, and `reason`/`state` detail, the runtime must use for each OTP error. */
export const EXPECTED_ERRORS: Record<ModelError, { code: string; detail?: string }> = {
  not_found: { code: ErrorCode.NoSuchChild },
  running: { code: ErrorCode.ChildRunning, detail: 'running' },
  restarting: { code: ErrorCode.ChildRunning, detail: 'restarting' },
  start_failed: { code: ErrorCode.Supervisor, detail: 'failed_to_start_child' },
  already_started: { code: ErrorCode.AlreadyStarted, detail: 'already_started' },
  already_present: { code: ErrorCode.AlreadyStarted, detail: 'already_present' },
  noproc: { code: ErrorCode.ActorNotRunning },
};

export async function outcomeOf(call: Promise<unknown>, what: string): Promise<Outcome> {
  try {
    await withDeadline(call, STEP_DEADLINE, what);
    return { ok: true };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown; reason?: unknown; state?: unknown };
    const detail = typeof e.reason === 'string' ? e.reason : typeof e.state === 'string' ? e.state : undefined;
    return { ok: false, code: String(e.code ?? 'no code'), detail, message: String(e.message ?? err) };
  }
}

export function outcomeMatches(actual: Outcome, expected: OpResult): boolean {
  const want = expected.ok ? undefined : EXPECTED_ERRORS[expected.error];
  return want === undefined ? actual.ok : !actual.ok && actual.code === want.code && (want.detail === undefined || actual.detail === want.detail);
}

export function expectOutcome(actual: Outcome, expected: OpResult, what: string): void {
  if (!outcomeMatches(actual, expected)) {
    const want = expected.ok ? undefined : EXPECTED_ERRORS[expected.error];
    const wanted = want === undefined ? 'ok' : `${want.code}${want.detail ? `/${want.detail}` : ''}`;
    const got = actual.ok ? 'ok' : `${actual.code}${actual.detail ? `/${actual.detail}` : ''} (${actual.message})`;
    throw new Error(`${what}: model expects ${wanted}, runtime gave ${got}`);
  }
}

// ── settling and comparing ────────────────────────────────────────────────

/** The runtime's own idle signal first, then quiet event-loop turns as a second opinion. */
export async function settleReal(real: Real): Promise<void> {
  await withDeadline(real.root.whenIdle(), STEP_DEADLINE, 'root.whenIdle()');
  await settle(real.system, () => `${real.recorder.trace.length}:${real.system.size}:${real.rootExit?.reason ?? '-'}`, {
    timeout: STEP_DEADLINE,
  });
}

export interface TreeState {
  readonly rootExit: string | undefined;
  readonly supervisors: Record<string, { children: string[]; counts: ChildCounts }>;
  readonly workerStarts: Record<string, number>;
  readonly liveWorkers: string[];
  readonly trace: string[];
  /** Failure reports and what was decided, as `supervisor child reason [history] -> directive`. */
  readonly reports: string[];
}

function reportLine(r: { supervisor: string; childId: string; reason: string; history: readonly number[]; verdict: string }): string {
  return `${r.supervisor} ${r.childId} ${r.reason} [${r.history.join(',')}] -> ${r.verdict}`;
}

/** One whichChildren() entry; `ref` says whether it carries an actor (it must exactly when running). */
function childLine(c: { id: string; type: string; restart: string; status: string }, hasRef: boolean): string {
  return `${c.id} ${c.type} ${c.restart} ${c.status}${hasRef ? ' ref' : ''}`;
}

function countsOf(children: readonly { type: string; status: string }[]): ChildCounts {
  return {
    specs: children.length,
    active: children.filter((c) => c.status === 'running').length,
    supervisors: children.filter((c) => c.type === 'supervisor').length,
    workers: children.filter((c) => c.type === 'worker').length,
  };
}

export function expectedState(model: SupervisionModel): TreeState {
  const supervisors: TreeState['supervisors'] = {};
  const liveWorkers: string[] = [];
  for (const sup of model.liveSupervisors()) {
    const view = model.view(sup);
    supervisors[sup.path] = { children: view.children.map((c) => childLine(c, c.status === 'running')), counts: countsOf(view.children) };
    for (const c of sup.children) if (c.running && c.def.kind === 'worker') liveWorkers.push(c.path);
  }
  // Only workers report their starts; supervisor incarnations are checked by actor identity.
  const workerPaths = new Set(model.trace.filter((t) => t.startsWith('start ')).map((t) => t.slice('start '.length)));
  const workerStarts: Record<string, number> = {};
  for (const [path, n] of [...model.starts].sort()) if (workerPaths.has(path)) workerStarts[path] = n;
  return {
    rootExit: model.rootExit,
    supervisors,
    workerStarts,
    liveWorkers: liveWorkers.sort(),
    trace: [...model.trace],
    reports: model.reports.map(reportLine),
  };
}

export function actualState(real: Real): TreeState {
  const supervisors: TreeState['supervisors'] = {};
  const walk = (sup: Supervisor, path: string) => {
    const children = sup.whichChildren();
    supervisors[path] = { children: children.map((c) => childLine(c, c.ref !== undefined)), counts: sup.countChildren() };
    for (const c of children) {
      if (c.type !== 'supervisor' || c.status !== 'running') continue;
      const nested = sup.childSupervisor(c.id);
      if (nested) walk(nested, childPath(path, c.id));
      else supervisors[childPath(path, c.id)] = { children: ['<no handle for a running child supervisor>'], counts: countsOf([]) };
    }
  };
  if (real.rootExit === undefined) walk(real.root, ROOT);
  const liveWorkers: string[] = [];
  for (const cell of real.system.actors()) {
    const ctx = (cell.getSnapshot() as { context?: { path?: unknown; recorder?: unknown } }).context;
    if (ctx?.recorder === real.recorder && typeof ctx.path === 'string') liveWorkers.push(ctx.path);
  }
  return {
    rootExit: real.rootExit?.reason,
    supervisors,
    workerStarts: Object.fromEntries([...real.recorder.starts].sort()),
    liveWorkers: liveWorkers.sort(),
    trace: [...real.recorder.trace],
    reports: real.supervision.coordinator
      .decisions()
      .map((d) => reportLine({ ...d.input, verdict: d.directive.type })),
  };
}

/**
 * Each running child's actor must belong to exactly one model incarnation:
 * a new incarnation (a restart in the model) needs a new actor, and the same
 * incarnation must still be the same actor.
 */
export function checkIncarnations(model: SupervisionModel, real: Real, step: string): void {
  if (real.rootExit !== undefined) return;
  for (const sup of model.liveSupervisors()) {
    const realSup = realSupervisor(real, sup.path);
    if (!realSup) continue; // the tree comparison reports it
    const infos = realSup.whichChildren();
    for (const c of sup.children) {
      if (!c.running) continue;
      const ref = infos.find((i) => i.id === c.def.id)?.ref;
      if (!ref) continue;
      const known = real.actorOf.get(c.incarnation);
      if (known !== undefined && known !== ref.id) {
        throw new Error(`after ${step}: ${c.path} was restarted in the runtime (actor ${known} -> ${ref.id}) but not in the model`);
      }
      const owner = real.incarnationOf.get(ref.id);
      if (owner !== undefined && owner !== c.incarnation) {
        throw new Error(`after ${step}: ${c.path} was restarted in the model but the runtime still runs the same actor ${ref.id}`);
      }
      real.actorOf.set(c.incarnation, ref.id);
      real.incarnationOf.set(ref.id, c.incarnation);
    }
  }
}

/** Where two lists first differ, with a little context. */
function listDiff(name: string, expected: readonly string[], actual: readonly string[]): string[] {
  let i = 0;
  while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
  if (i === expected.length && i === actual.length) return [];
  const from = Math.max(0, i - 3);
  return [
    `${name} differs at #${i} (model ${expected.length} entries, runtime ${actual.length}):`,
    `  model:   ${JSON.stringify(expected.slice(from, i + 8))}`,
    `  runtime: ${JSON.stringify(actual.slice(from, i + 8))}`,
  ];
}

/** A readable account of how the runtime differs from the model; empty if it does not. */
export function describeDifferences(expected: TreeState, actual: TreeState): string[] {
  const out: string[] = [];
  if (expected.rootExit !== actual.rootExit) out.push(`root exit: model ${expected.rootExit ?? 'alive'}, runtime ${actual.rootExit ?? 'alive'}`);
  const paths = [...new Set([...Object.keys(expected.supervisors), ...Object.keys(actual.supervisors)])];
  for (const path of paths) {
    const e = expected.supervisors[path];
    const a = actual.supervisors[path];
    if (!e || !a) {
      out.push(`supervisor ${path}: model ${e ? 'alive' : 'absent'}, runtime ${a ? 'alive' : 'absent'}`);
      continue;
    }
    if (!isDeepStrictEqual(e.children, a.children)) {
      out.push(`supervisor ${path} children:`, `  model:   ${JSON.stringify(e.children)}`, `  runtime: ${JSON.stringify(a.children)}`);
    } else if (!isDeepStrictEqual(e.counts, a.counts)) {
      out.push(`supervisor ${path} countChildren: model ${JSON.stringify(e.counts)}, runtime ${JSON.stringify(a.counts)}`);
    }
  }
  for (const path of new Set([...Object.keys(expected.workerStarts), ...Object.keys(actual.workerStarts)])) {
    if (expected.workerStarts[path] !== actual.workerStarts[path]) {
      out.push(`starts of ${path}: model ${expected.workerStarts[path] ?? 0}, runtime ${actual.workerStarts[path] ?? 0}`);
    }
  }
  out.push(...listDiff('live workers', expected.liveWorkers, actual.liveWorkers));
  out.push(...listDiff('trace', expected.trace, actual.trace));
  out.push(...listDiff('failure reports', expected.reports, actual.reports));
  return out;
}

/** Throw, with a readable account, if the runtime's state is not the model's. */
export function expectState(expected: TreeState, actual: TreeState, step: string): void {
  if (isDeepStrictEqual(expected, actual)) return;
  const lines = describeDifferences(expected, actual);
  throw new Error(`after ${step}: the runtime differs from the model\n${lines.join('\n')}`);
}

/** Wait for the runtime to settle, then compare it with the model. */
export async function expectSameTree(model: SupervisionModel, real: Real, step: string): Promise<void> {
  await settleReal(real);
  expectState(expectedState(model), actualState(real), step);
  checkIncarnations(model, real, step);
}
