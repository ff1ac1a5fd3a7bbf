/**
 * containers - a container's death is its instance's failure, with the real
 * reason, restarted by its supervisor; a container never outlives its parent;
 * bad modules and bad frames are typed errors.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import type { ExitSignal, LocalActorRef } from '../src/actors/types.js';
import { ContainerExitError, ContainerFrameError, ContainerLoadError, InvalidArgumentError, RemoteError } from '../src/errors.js';
import { type ContainerSnapshot, containerLogic, loadLogic, logicFor } from '../src/services/containers/index.js';
import { parseFromContainer, parseToContainer } from '../src/services/containers/protocol.js';
import { Supervision } from '../src/supervision/index.js';
import type { Supervisor } from '../src/supervision/types.js';
import { waitFor } from './support/wait.js';

const fixture = new URL('./fixtures/counter.ts', import.meta.url);
const systems: ActorSystem[] = [];
const procs: ChildProcess[] = [];

afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  for (const s of systems.splice(0)) await Promise.all(s.actors().map((a) => a.stop('brutal_kill')));
});

function system(): ActorSystem {
  const s = new ActorSystem({ node: 'n1', askTimeout: 20_000 });
  systems.push(s);
  return s;
}

function snap(ref: LocalActorRef): ContainerSnapshot {
  return ref.getSnapshot() as ContainerSnapshot;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function exitOf(ref: LocalActorRef): Promise<ExitSignal> {
  return new Promise((resolve) => ref.onExit(resolve));
}

/** The running child `id` of `sup` once it is a different actor from `previous` and ready. */
async function nextChild(sup: Supervisor, id: string, previous?: LocalActorRef): Promise<LocalActorRef> {
  const ref = await waitFor(
    () => {
      const r = sup.whichChildren().find((c) => c.id === id && c.status === 'running')?.ref;
      return r && r !== previous && snap(r).ready ? r : undefined;
    },
    { timeout: 20_000, message: `child ${id} running and ready` },
  );
  return ref;
}

describe('containers - a crash of the container is the instance failure, restarted by its supervisor', () => {
  it('containers - SIGKILL of a process container is a failure with signal SIGKILL, restarted by its supervisor', async () => {
    const supervision = new Supervision(system());
    const logic = containerLogic({ container: 'process', module: fixture, export: 'counter' });
    const sup = supervision.supervise({ strategy: 'one_for_one', intensity: 3, period: 60_000, children: [{ id: 'c', start: { logic, input: { start: 7 } } }] });
    const first = await nextChild(sup, 'c');
    const pid = snap(first).pid!;
    expect(pid).not.toBe(process.pid);
    first.tell({ type: 'INC' });
    await expect(first.ask({ type: 'GET' })).resolves.toBe(8);

    const exited = exitOf(first);
    process.kill(pid, 'SIGKILL');
    const exit = await exited;
    expect(exit.reason).toBe('error');
    const error = (exit as { error: unknown }).error;
    expect(error).toBeInstanceOf(ContainerExitError);
    expect(error).toMatchObject({ code: 'ERR_CONTAINER_EXIT', container: 'process', signal: 'SIGKILL', reason: 'signal SIGKILL' });

    const second = await nextChild(sup, 'c', first);
    expect(snap(second).pid).not.toBe(pid);
    await expect(second.ask({ type: 'GET' })).resolves.toBe(7);
    await sup.stop();
  });

  it('containers - an out-of-memory worker (resourceLimits) is a failure with ERR_WORKER_OUT_OF_MEMORY, restarted by its supervisor', async () => {
    const supervision = new Supervision(system());
    const logic = containerLogic({
      container: 'worker',
      module: fixture,
      export: 'counter',
      resourceLimits: { maxOldGenerationSizeMb: 24, maxYoungGenerationSizeMb: 4 },
    });
    const sup = supervision.supervise({ strategy: 'one_for_one', intensity: 3, period: 60_000, children: [{ id: 'w', start: logic }] });
    const first = await nextChild(sup, 'w');
    const exited = exitOf(first);
    const waiting = first.ask({ type: 'GET_NEVER_ANSWERED' }, { timeout: 20_000 });
    first.tell({ type: 'HOG' });
    const exit = await exited;
    expect(exit.reason).toBe('error');
    expect((exit as { error: unknown }).error).toMatchObject({ name: 'ContainerExitError', container: 'worker', reason: 'ERR_WORKER_OUT_OF_MEMORY' });
    // An ask the container had not answered is rejected with the same reason, not left to time out.
    await expect(waiting).rejects.toBeInstanceOf(ContainerExitError);

    const second = await nextChild(sup, 'w', first);
    await expect(second.ask({ type: 'GET' })).resolves.toBe(0);
    await sup.stop();
  });

  it('containers - the logic throwing inside a container fails the instance with its message', async () => {
    const ref = system().spawn(containerLogic({ container: 'worker', module: fixture, export: 'counter' }));
    const exited = exitOf(ref);
    ref.tell({ type: 'CRASH' });
    const exit = await exited;
    expect(exit.reason).toBe('error');
    const error = (exit as { error: unknown }).error;
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as Error).message).toContain('crash on request');
  });

  it('containers - a process container that exits by itself fails with its exit code', async () => {
    const ref = system().spawn(containerLogic({ container: 'process', module: fixture, export: 'counter' }));
    const exited = exitOf(ref);
    ref.tell({ type: 'EXIT' });
    const exit = await exited;
    expect((exit as { error: unknown }).error).toMatchObject({ name: 'ContainerExitError', exitCode: 3, reason: 'exit code 3' });
  });
});

describe('containers - no orphans', () => {
  it("containers - the parent's exit leaves no child process (parent SIGKILLed)", async () => {
    const script = fileURLToPath(new URL('./fixtures/containerParent.ts', import.meta.url));
    const parent = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(parent);
    let out = '';
    parent.stdout!.on('data', (d) => {
      out += String(d);
    });
    const childPid = Number(
      (await waitFor(() => /CHILD (\d+)/.exec(out)?.[1], { timeout: 30_000, message: `parent printed its child pid (got ${JSON.stringify(out)})` })),
    );
    expect(childPid).not.toBe(parent.pid);
    expect(alive(childPid)).toBe(true);
    parent.kill('SIGKILL');
    await waitFor(() => !alive(childPid), { timeout: 15_000, message: `container ${childPid} gone after its parent was SIGKILLed` });
  });
});

describe('containers - bad input is a typed error naming the field, nothing left running', () => {
  for (const kind of ['worker', 'process'] as const) {
    it(`containers - a module URL that does not export the named logic fails with ContainerLoadError naming export (${kind})`, async () => {
      const ref = system().spawn(containerLogic({ container: kind, module: fixture, export: 'nope' }));
      const exit = await exitOf(ref);
      const error = (exit as { error: unknown }).error;
      expect(error).toBeInstanceOf(ContainerLoadError);
      expect(error).toMatchObject({ code: 'ERR_CONTAINER_LOAD', field: 'export' });
      expect((error as Error).message).toContain('"nope"');
      const pid = snap(ref).pid!;
      if (kind === 'process') await waitFor(() => !alive(pid), { timeout: 10_000, message: `container ${pid} gone` });
      // A worker that has exited reports threadId -1.
      else await waitFor(() => (snap(ref)._rt?.child as { threadId: number } | undefined)?.threadId === -1, { timeout: 10_000, message: 'worker gone' });
    });
  }

  it('containers - logicFor inline with a module that does not export the named logic is a ContainerLoadError before anything starts', async () => {
    await expect(logicFor({ module: fixture, export: 'nope' })).rejects.toMatchObject({ name: 'ContainerLoadError', field: 'export' });
    await expect(logicFor({ container: 'thread' as never, module: fixture })).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'container' });
    await expect(logicFor({ module: fixture, export: 'counter', resourceLimits: {} })).rejects.toMatchObject({ field: 'resourceLimits' });
  });

  it('containers - an export that is not logic, and a module that does not import, name export and module', async () => {
    const sys = system();
    const notLogic = sys.spawn(containerLogic({ container: 'worker', module: fixture, export: 'notLogic' }));
    await expect(exitOf(notLogic)).resolves.toMatchObject({ reason: 'error', error: { name: 'ContainerLoadError', field: 'export' } });
    const missing = sys.spawn(containerLogic({ container: 'process', module: new URL('./fixtures/missing.ts', import.meta.url), export: 'counter' }));
    await expect(exitOf(missing)).resolves.toMatchObject({ reason: 'error', error: { name: 'ContainerLoadError', field: 'module' } });
    await expect(loadLogic(fixture, 'nope')).rejects.toMatchObject({ name: 'ContainerLoadError', field: 'export' });
    await expect(loadLogic(fixture, 'notLogic')).rejects.toMatchObject({ name: 'ContainerLoadError', field: 'export' });
  });

  it('containers - bad options are InvalidArgumentError naming the field, before anything starts', () => {
    const bad = (o: unknown) => () => containerLogic(o as never);
    expect(bad({ container: 'thread', module: fixture })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', field: 'container' }));
    expect(bad({ container: 'worker', module: 'counter.ts' })).toThrow(expect.objectContaining({ field: 'module' }));
    expect(bad({ container: 'worker', module: fixture, export: '' })).toThrow(expect.objectContaining({ field: 'export' }));
    expect(bad({ container: 'process', module: fixture, resourceLimits: { maxOldGenerationSizeMb: 8 } })).toThrow(expect.objectContaining({ field: 'resourceLimits' }));
    expect(bad({ container: 'worker', module: fixture, execArgv: [1] })).toThrow(InvalidArgumentError);
  });

  it('containers - a bad frame on the channel is a ContainerFrameError naming the field, never a crash', () => {
    const frameErr = (f: () => unknown, field: string) => expect(f).toThrow(expect.objectContaining({ name: 'ContainerFrameError', code: 'ERR_CONTAINER_FRAME', field }));
    frameErr(() => parseFromContainer(null), 'frame');
    frameErr(() => parseFromContainer({ t: 'bogus' }), 't');
    frameErr(() => parseFromContainer({ t: 'reply', id: 'x', ok: true }), 'id');
    frameErr(() => parseFromContainer({ t: 'reply', id: 1, ok: false, error: 'boom' }), 'error');
    frameErr(() => parseFromContainer({ t: 'view', view: { status: 'active' } }), 'view');
    frameErr(() => parseFromContainer({ t: 'load-error', field: 'x', message: 'm' }), 'field');
    frameErr(() => parseToContainer({ t: 'ask', id: 1, event: { kind: 'no type' } }), 'event');
    frameErr(() => parseToContainer({ t: 'init', module: 1, export: 'x' }), 'module');
    frameErr(() => parseFromContainer({ t: 'batch', frames: 'x' }), 'frames');
    frameErr(() => parseToContainer({ t: 'batch', frames: {} }), 'frames');
    expect(parseFromContainer({ t: 'reply', id: 1, ok: true, value: 3 })).toMatchObject({ id: 1, value: 3 });
    expect(() => parseFromContainer([])).toThrow(ContainerFrameError);
  });

  it('containers - an event that cannot be cloned to the container is refused to its asker and counted', async () => {
    const ref = system().spawn(containerLogic({ container: 'worker', module: fixture, export: 'counter' }));
    await waitFor(() => snap(ref).ready, { timeout: 20_000, message: 'ready' });
    await expect(ref.ask({ type: 'GET', fn: () => 1 })).rejects.toMatchObject({ name: 'ContainerFrameError', field: 'event' });
    ref.tell({ type: 'INC', fn: () => 1 });
    await waitFor(() => snap(ref).undeliverable === 2, { timeout: 5_000, message: 'both counted as undeliverable' });
    await expect(ref.ask({ type: 'GET' })).resolves.toBe(0);
  });

  it('containers - tells and asks sent in one turn arrive in order, and one that cannot be cloned among them is refused alone', async () => {
    const ref = system().spawn(containerLogic({ container: 'worker', module: fixture, export: 'counter' }));
    await waitFor(() => snap(ref).ready, { timeout: 20_000, message: 'ready' });
    // One turn: these leave together as one batch, which cannot be cloned as a whole.
    ref.tell({ type: 'INC' });
    const bad = ref.ask({ type: 'GET', fn: () => 1 });
    ref.tell({ type: 'INC' });
    const good = ref.ask({ type: 'GET' });
    ref.tell({ type: 'INC', fn: () => 1 });
    await expect(bad).rejects.toMatchObject({ name: 'ContainerFrameError', field: 'event' });
    await expect(good).resolves.toBe(2);
    await waitFor(() => snap(ref).undeliverable === 2, { timeout: 5_000, message: 'the two uncloneable frames counted as undeliverable' });
    await expect(ref.ask({ type: 'GET' })).resolves.toBe(2);
  });

  it('containers - asks the container never answers are forgotten once they time out, not kept until it ends', async () => {
    const ref = system().spawn(containerLogic({ container: 'worker', module: fixture, export: 'counter' }));
    await waitFor(() => snap(ref).ready, { timeout: 20_000, message: 'ready' });
    const unanswered = Array.from({ length: 300 }, () => ref.ask({ type: 'NEVER_ANSWERED' }, { timeout: 50 }));
    for (const p of unanswered) await expect(p).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(ref.ask({ type: 'GET' })).resolves.toBe(0);
    expect(snap(ref)._rt!.pendingAsks).toBeLessThan(256);
  });
});
