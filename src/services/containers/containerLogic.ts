/**
 * Worker and process containers: XState logic that runs other XState logic
 * in a `worker_threads` Worker or a `child_process.fork` child.
 *
 * ```ts
 * const logic = containerLogic({ container: 'process', module: import.meta.url, export: 'payments' });
 * const ref = node.spawn(logic, { input });      // or a supervisor's child spec: { start: logic }
 * await ref.ask({ type: 'CHARGE', amount: 5 });  // the same tell/ask/check/status/stop as inline
 * ```
 *
 * | option           | default     | meaning                                                        |
 * |------------------|-------------|----------------------------------------------------------------|
 * | `container`      | (required)  | `'worker'` or `'process'`                                      |
 * | `module`         | (required)  | URL (or absolute path) of the module that exports the logic    |
 * | `export`         | `'default'` | the export holding the logic                                   |
 * | `resourceLimits` | none        | worker only: `worker_threads` resource limits                  |
 * | `execArgv`       | see below   | Node flags for the container (a loader, for instance)          |
 *
 * Because it is logic, an ActorCell runs it like any other: the cell's
 * mailbox, Check, Status, exit signal and supervision all apply unchanged.
 * The logic is only the channel. Told events are forwarded; an asked event's
 * reply handle stays here and is settled by the container's answer. The
 * container's state value, tags and "accepts the shutdown event" are
 * mirrored into this snapshot, so Status shows the real state, `hasTag`
 * works for readiness, and `stop()` runs the logic's own shutdown.
 *
 * Lifecycle:
 * ```
 *   start ─▶ spawning ─hello─▶ init sent ─ready─▶ running ─view done─▶ ending ─exit─▶ done
 *                │                 │                 │
 *                └────── exit, error, load-error, logic threw ──▶ error (the instance's failure)
 *   xstate.stop (cell stop without shutdown handler, kill) ──▶ container ended, stopped
 * ```
 * A container that ends on its own (exit code, signal, uncaught error,
 * `ERR_WORKER_OUT_OF_MEMORY`) fails the actor with a {@link ContainerExitError}
 * carrying that reason; asks still waiting are rejected with it.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ResourceLimits, Worker } from 'node:worker_threads';
import type { ActorLogic, ActorScope, AnyEventObject, Snapshot } from 'xstate';
import { REPLY, type ReplyHandle } from '../../actors/reply.js';
import { SHUTDOWN_EVENT } from '../../actors/types.js';
import {
  ContainerExitError,
  ContainerFrameError,
  ContainerLoadError,
  InvalidArgumentError,
  fromWireError,
} from '../../errors.js';
import { assertExportName, moduleUrlOf } from './loadLogic.js';
import { type ActorView, FromContainer, type FromContainerFrame, ToContainer, type ToContainerFrame, parseFromContainer } from './protocol.js';

export type ContainerKind = 'worker' | 'process';

export interface ContainerOptions {
  readonly container: ContainerKind;
  readonly module: string | URL;
  readonly export?: string;
  readonly resourceLimits?: ResourceLimits;
  readonly execArgv?: readonly string[];
}

/** The snapshot of a container actor: its own status, and what it mirrors of the actor inside. */
export type ContainerSnapshot = Snapshot<unknown> & {
  /** The inner actor's state value (machines) once it is ready. */
  readonly value: unknown;
  readonly tags: readonly string[];
  /** True once the container has loaded the logic and started its actor. */
  readonly ready: boolean;
  readonly canShutdown: boolean;
  readonly container: ContainerKind;
  /** OS process id of the container (the node's own pid for a worker). */
  readonly pid: number | undefined;
  readonly threadId: number | undefined;
  /** Frames from the container that failed their check, and events that could not be sent to it. */
  readonly badFrames: number;
  readonly undeliverable: number;
  hasTag(tag: string): boolean;
  can(event: AnyEventObject): boolean;
  /** @internal */
  readonly _input: unknown;
  /** @internal The live container, for resource figures (resources.ts). */
  readonly _rt: ContainerRuntime | undefined;
};

/** Events this logic sends itself from the channel; `halyard.*` types cannot be told by users. */
const EV = {
  Spawned: 'halyard.container.spawned',
  View: 'halyard.container.view',
  Failed: 'halyard.container.failed',
  Exited: 'halyard.container.exited',
  BadFrame: 'halyard.container.badFrame',
  /** A tell or ask that could not be cloned to the container (found when its batch is sent). */
  Undeliverable: 'halyard.container.undeliverable',
} as const;

type Ending = 'running' | 'done' | 'stopped' | 'failed';

/** Pending asks past which settled ones (timed out) are swept. */
const SWEEP_AT = 256;

/** The live side of one container actor: its Worker or child process and the asks waiting on it. */
export class ContainerRuntime {
  ending: Ending = 'running';
  /** performance.now() at spawn and the container's CPU µs then: the base of the next CPU % figure. @internal */
  cpuSample: { readonly at: number; readonly cpuUs: number } = { at: performance.now(), cpuUs: 0 };
  /** @internal */
  child: Worker | ChildProcess | undefined;
  private listening = false;
  private readonly backlog: ToContainerFrame[] = [];
  private readonly pending = new Map<number, ReplyHandle>();
  private nextId = 1;
  private output: unknown = undefined;
  private workerError: Error | undefined;
  /** Stats requests waiting on the container. @internal */
  readonly statsWaiting = new Map<number, (figures: Record<string, unknown>) => void>();

  constructor(
    readonly opts: ContainerOptions,
    private readonly self: ActorScope<ContainerSnapshot, AnyEventObject>['self'],
  ) {}

  get label(): string {
    return `${this.opts.export ?? 'default'} in a ${this.opts.container} container`;
  }

  start(input: unknown): void {
    const module = moduleUrlOf(this.opts.module);
    this.backlog.push({ t: ToContainer.Init, module, export: this.opts.export ?? 'default', input });
    const entry = entryUrl();
    const ts = entry.pathname.endsWith('.ts');
    if (this.opts.container === 'worker') {
      const options = this.opts.resourceLimits ? { resourceLimits: this.opts.resourceLimits } : {};
      const w = ts
        ? new Worker(tsWorkerBootstrap(entry), { ...options, eval: true, execArgv: [...(this.opts.execArgv ?? [])] })
        : new Worker(entry, { ...options, execArgv: [...(this.opts.execArgv ?? [])] });
      this.child = w;
      w.on('message', (raw) => this.onFrame(raw));
      w.on('error', (err) => {
        this.workerError = err;
      });
      w.on('exit', (code) => this.onExit(code, null));
      this.self.send({ type: EV.Spawned, pid: process.pid, threadId: w.threadId, rt: this });
    } else {
      const execArgv = this.opts.execArgv ? [...this.opts.execArgv] : ts ? ['--import', tsxLoaderUrl()] : [];
      const c = fork(fileURLToPath(entry), [], { serialization: 'advanced', execArgv, stdio: 'inherit' });
      this.child = c;
      c.on('message', (raw) => this.onFrame(raw));
      // A failed spawn or a broken channel ends in 'exit' too; keep the reason for it.
      c.on('error', (err) => {
        this.workerError = err;
      });
      c.on('exit', (code, signal) => this.onExit(code, signal));
      this.self.send({ type: EV.Spawned, pid: c.pid, threadId: undefined, rt: this });
    }
  }

  /**
   * Send a frame, or hold it until the container listens. False if it cannot
   * be sent now (the container is ending). Frames of one turn leave together
   * as one batch (flush); one that cannot be cloned is refused there.
   */
  post(frame: ToContainerFrame): boolean {
    if (this.ending !== 'running' || !this.child) return false;
    if (!this.listening) {
      this.backlog.push(frame);
      return true;
    }
    if (this.outbox !== undefined) {
      this.outbox.push(frame);
      return true;
    }
    this.outbox = [frame];
    queueMicrotask(this.flush);
    return true;
  }

  private outbox: ToContainerFrame[] | undefined;

  private readonly flush = (): void => {
    const frames = this.outbox ?? [];
    this.outbox = undefined;
    // Sent even if the container began ending this turn: they were accepted while it ran, as they were before batching.
    if (frames.length === 0 || !this.child) return;
    if (frames.length === 1 ? this.send(frames[0]!) : this.send({ t: ToContainer.Batch, frames })) return;
    // One frame would not clone (a function in an event, say): send the others one by one, refuse that one.
    for (const f of frames) if (!this.send(f)) this.refused(f);
  };

  private send(frame: ToContainerFrame): boolean {
    try {
      if (this.child instanceof Worker) this.child.postMessage(frame);
      else this.child?.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  /** A frame that could not be sent: its asker gets the error, and it is counted as undeliverable. */
  private refused(frame: ToContainerFrame): void {
    if (frame.t === ToContainer.Ask) {
      const h = this.pending.get(frame.id);
      this.pending.delete(frame.id);
      h?.reject(new ContainerFrameError('event', `${frame.event.type} could not be sent to the container (not cloneable, or the container is ending)`));
    } else if (frame.t === ToContainer.Stats) {
      const r = this.statsWaiting.get(frame.id);
      this.statsWaiting.delete(frame.id);
      r?.({});
    }
    if (frame.t === ToContainer.Ask || frame.t === ToContainer.Tell) this.self.send({ type: EV.Undeliverable });
  }

  /** Asks waiting on the container. @internal */
  get pendingAsks(): number {
    return this.pending.size;
  }

  ask(event: AnyEventObject, handle: ReplyHandle): boolean {
    if (this.pending.size >= SWEEP_AT) this.sweep();
    const id = this.nextId++;
    this.pending.set(id, handle);
    if (this.post({ t: ToContainer.Ask, id, event: stripReply(event) })) return true;
    this.pending.delete(id);
    return false;
  }

  /**
   * Forget asks their askers gave up on. The cell times an ask out on its own
   * handle, which the logic is not told of; an ask the container never
   * answers would otherwise stay here until the container ends.
   */
  private sweep(): void {
    for (const [id, h] of this.pending) if ((h as { settled?: unknown }).settled === true) this.pending.delete(id);
  }

  /** Ask the container for its own figures (heap, loop lag, CPU); undefined when it is not running. @internal */
  stats(): Promise<Record<string, unknown>> | undefined {
    if (this.ending !== 'running' || !this.listening) return undefined;
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.statsWaiting.set(id, resolve);
      if (!this.post({ t: ToContainer.Stats, id })) {
        this.statsWaiting.delete(id);
        resolve({});
      }
    });
  }

  /** The inner actor is done: end the container, report done once it has exited. */
  finish(output: unknown): void {
    if (this.ending !== 'running') return;
    this.ending = 'done';
    this.output = output;
    this.end(false);
  }

  /** End the container now (kill, stop without a shutdown handler, or after a failure). */
  kill(why: 'stopped' | 'failed'): void {
    if (this.ending === 'stopped' || this.ending === 'failed') return;
    this.ending = why;
    this.end(true);
    this.rejectPending(new ContainerExitError(this.opts.container, why === 'stopped' ? 'stopped' : 'failed', null, null));
  }

  private end(hard: boolean): void {
    const c = this.child;
    if (!c) return;
    if (c instanceof Worker) void c.terminate();
    else if (c.exitCode === null && c.signalCode === null) {
      // Closing the channel lets a finished child exit 0 by itself; a kill does not wait.
      if (hard) c.kill('SIGKILL');
      else if (c.connected) c.disconnect();
    }
  }

  private rejectPending(err: unknown): void {
    for (const h of this.pending.values()) h.reject(err);
    this.pending.clear();
    for (const r of this.statsWaiting.values()) r({});
    this.statsWaiting.clear();
  }

  private onFrame(raw: unknown, nested = false): void {
    let frame: FromContainerFrame;
    try {
      frame = parseFromContainer(raw);
    } catch (err) {
      if (this.ending === 'running' && err instanceof ContainerFrameError) this.self.send({ type: EV.BadFrame });
      return;
    }
    switch (frame.t) {
      case FromContainer.Batch:
        // A batch holds frames, never batches: nothing from the channel may recurse without bound.
        if (nested) this.self.send({ type: EV.BadFrame });
        else for (const f of frame.frames) this.onFrame(f, true);
        return;
      case FromContainer.Hello: {
        this.listening = true;
        const held = this.backlog.splice(0);
        for (const f of held) this.post(f);
        return;
      }
      case FromContainer.Ready:
      case FromContainer.View:
        if (this.ending === 'running') this.self.send({ type: EV.View, view: frame.view });
        return;
      case FromContainer.Reply: {
        const h = this.pending.get(frame.id);
        if (!h) return;
        this.pending.delete(frame.id);
        if (frame.ok) h.resolve(frame.value);
        else h.reject(fromWireError(frame.error));
        return;
      }
      case FromContainer.Stats: {
        const r = this.statsWaiting.get(frame.id);
        this.statsWaiting.delete(frame.id);
        r?.(frame.figures);
        return;
      }
      case FromContainer.LoadError:
        this.fail(new ContainerLoadError(frame.field, moduleUrlOf(this.opts.module), frame.message));
        return;
      case FromContainer.Failed:
        this.fail(fromWireError(frame.error));
        return;
    }
  }

  private fail(error: unknown): void {
    if (this.ending !== 'running') return;
    this.ending = 'failed';
    this.end(true);
    this.rejectPending(error);
    this.self.send({ type: EV.Failed, error });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.ending === 'done') {
      this.self.send({ type: EV.Exited, output: this.output });
      return;
    }
    if (this.ending !== 'running') return;
    const cause = this.workerError;
    const reason =
      signal !== null
        ? `signal ${signal}`
        : cause
          ? ((cause as { code?: string }).code ?? cause.message)
          : `exit code ${code}`;
    const error = new ContainerExitError(this.opts.container, reason, code, signal, cause);
    this.ending = 'failed';
    this.rejectPending(error);
    this.self.send({ type: EV.Failed, error });
  }
}

const runtimes = new WeakMap<object, ContainerRuntime>();

function stripReply(event: AnyEventObject): AnyEventObject {
  // Structured clone drops symbol keys anyway; copying makes the intent plain.
  const { [REPLY]: _r, ...rest } = event as AnyEventObject & { [REPLY]?: unknown };
  return rest as AnyEventObject;
}

/** The container entry: the compiled `.js` beside this module, or the `.ts` source under a TypeScript loader. */
function entryUrl(): URL {
  const here = import.meta.url;
  return new URL(here.endsWith('.ts') ? './containerMain.ts' : './containerMain.js', here);
}

function tsxDir(): string {
  return dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
}

/** `--import` target that makes a forked child load TypeScript (development and tests only). */
function tsxLoaderUrl(): string {
  return pathToFileURL(join(tsxDir(), 'dist/esm/index.mjs')).href;
}

/** tsx's `--import` hook skips worker threads; its API registers the loader inside one. */
function tsWorkerBootstrap(entry: URL): string {
  const api = pathToFileURL(join(tsxDir(), 'dist/esm/api/index.mjs')).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); })`;
}

function snapshotOf(base: Omit<ContainerSnapshot, 'hasTag' | 'can'>): ContainerSnapshot {
  const tags = base.tags;
  return {
    ...base,
    hasTag: (tag: string) => tags.includes(tag),
    can: (event: AnyEventObject) => base.status === 'active' && (event?.type !== SHUTDOWN_EVENT || base.canShutdown),
  } as ContainerSnapshot;
}

function assertOptions(opts: unknown): asserts opts is ContainerOptions {
  if (typeof opts !== 'object' || opts === null) throw new InvalidArgumentError('options', 'must be { container, module, export? }');
  const o = opts as Record<string, unknown>;
  if (o.container !== 'worker' && o.container !== 'process') throw new InvalidArgumentError('container', "must be 'worker' or 'process'");
  moduleUrlOf(o.module);
  if (o.export !== undefined) assertExportName(o.export);
  if (o.resourceLimits !== undefined) {
    if (o.container !== 'worker') throw new InvalidArgumentError('resourceLimits', "applies only to container 'worker'");
    if (typeof o.resourceLimits !== 'object' || o.resourceLimits === null) throw new InvalidArgumentError('resourceLimits', 'must be an object');
  }
  if (o.execArgv !== undefined && (!Array.isArray(o.execArgv) || o.execArgv.some((a) => typeof a !== 'string'))) {
    throw new InvalidArgumentError('execArgv', 'must be an array of strings');
  }
}

/** XState logic that runs the logic exported by `options.module` in a worker or a child process. */
export function containerLogic(options: ContainerOptions): ActorLogic<ContainerSnapshot, AnyEventObject, unknown> {
  assertOptions(options);
  const opts: ContainerOptions = { ...options };
  return {
    config: opts,
    getInitialSnapshot: (_scope, input) =>
      snapshotOf({
        status: 'active',
        output: undefined,
        error: undefined,
        value: undefined,
        tags: [],
        ready: false,
        canShutdown: false,
        container: opts.container,
        pid: undefined,
        threadId: undefined,
        badFrames: 0,
        undeliverable: 0,
        _input: input,
        _rt: undefined,
      }),
    start: (snapshot, scope) => {
      const rt = new ContainerRuntime(opts, scope.self);
      runtimes.set(scope.self, rt);
      try {
        rt.start(snapshot._input);
      } catch (err) {
        rt.ending = 'failed';
        scope.self.send({ type: EV.Failed, error: new ContainerExitError(opts.container, `could not start: ${(err as Error).message}`, null, null, err) });
      }
    },
    transition: (snap, event, scope) => {
      const rt = runtimes.get(scope.self);
      if (event.type === 'xstate.stop') {
        rt?.kill('stopped');
        return snapshotOf({ ...snap, status: 'stopped' });
      }
      if (snap.status !== 'active') return snap;
      switch (event.type) {
        case EV.Spawned:
          return snapshotOf({ ...snap, pid: event.pid, threadId: event.threadId, _rt: event.rt });
        case EV.View: {
          const view = event.view as ActorView;
          if (view.status === 'done') rt?.finish(view.output);
          return snapshotOf({ ...snap, ready: true, value: view.value, tags: view.tags, canShutdown: view.canShutdown });
        }
        case EV.Exited:
          return snapshotOf({ ...snap, status: 'done', output: event.output, canShutdown: false });
        case EV.Failed:
          return snapshotOf({ ...snap, status: 'error', error: event.error, canShutdown: false });
        case EV.BadFrame:
          return snapshotOf({ ...snap, badFrames: snap.badFrames + 1 });
        case EV.Undeliverable:
          return snapshotOf({ ...snap, undeliverable: snap.undeliverable + 1 });
      }
      if (!rt) return snap;
      const handle = (event as { [REPLY]?: ReplyHandle })[REPLY];
      const sent = handle ? rt.ask(event, handle) : rt.post({ t: ToContainer.Tell, event: stripReply(event) });
      if (sent) return snap;
      handle?.reject(new ContainerFrameError('event', `${event.type} could not be sent to the container (not cloneable, or the container is ending)`));
      return snapshotOf({ ...snap, undeliverable: snap.undeliverable + 1 });
    },
    getPersistedSnapshot: (snap) => ({ status: snap.status, output: snap.output, error: undefined, value: snap.value }) as Snapshot<unknown>,
  };
}
