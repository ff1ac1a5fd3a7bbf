/**
 * The inside of a worker or process container: the entry module the parent
 * starts (see containerLogic.ts for the other side and protocol.ts for the
 * frames). It imports the user's module by URL, because logic cannot travel,
 * runs the XState actor there, and answers its parent.
 *
 * It holds no NATS connection and no credentials: everything goes through the
 * parent. A process container exits when its IPC channel closes, which is
 * also what happens when the parent is SIGKILLed, so it never outlives it; a
 * worker ends with its process anyway.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { parentPort } from 'node:worker_threads';
import { type AnyActorLogic, type AnyActorRef, createActor } from 'xstate';
import { REPLY, type ReplyHandle } from '../../actors/reply.js';
import { SHUTDOWN_EVENT } from '../../actors/types.js';
import { ActorNotRunningError, type ContainerFrameError, toWireError } from '../../errors.js';
import { type ActorView, FromContainer, type FromContainerFrame, ToContainer, type ToContainerFrame, parseToContainer } from './protocol.js';
import { isServiceDefinition } from '../catalog/definition.js';
import { isActorLogic } from './loadLogic.js';

interface Channel {
  post(frame: FromContainerFrame): void;
  listen(fn: (raw: unknown) => void): void;
}

function channel(): Channel {
  if (parentPort) {
    const port = parentPort;
    return { post: (f) => port.postMessage(f), listen: (fn) => port.on('message', fn) };
  }
  if (typeof process.send !== 'function') throw new Error('containerMain runs only as a worker or a forked child');
  // The parent is gone (exited, killed, or it ended this container): so are we.
  process.on('disconnect', () => process.exit(0));
  return { post: (f) => process.send?.(f), listen: (fn) => process.on('message', fn) };
}

const port = channel();
let outbox: FromContainerFrame[] | undefined;

/** Frames sent in one turn leave together, in order, once the turn's synchronous work is done. */
const chan = {
  post(frame: FromContainerFrame): void {
    if (outbox) {
      outbox.push(frame);
      return;
    }
    outbox = [frame];
    queueMicrotask(flush);
  },
  listen: port.listen,
};

function flush(): void {
  const frames = outbox ?? [];
  outbox = undefined;
  port.post(frames.length === 1 ? frames[0]! : { t: FromContainer.Batch, frames });
}
const loopDelay = monitorEventLoopDelay({ resolution: 20 });
loopDelay.enable();
let actor: AnyActorRef | undefined;
let lastKey = '';
let badFrames = 0;

let lastValueKey = '';
let lastCanShutdown = false;

/**
 * What the parent mirrors. Whether the shutdown event is accepted is asked of
 * XState (`can`, a full transition computation) only when the state value or
 * tags changed: a guard on the shutdown transition that reads context is
 * seen at the next state change, not at every event.
 */
function viewOf(a: AnyActorRef): { view: ActorView; key: string } {
  const s = a.getSnapshot() as { status: ActorView['status']; value?: unknown; tags?: Set<string>; output?: unknown; can?: (e: unknown) => boolean };
  const tags = s.tags ? [...s.tags] : [];
  const valueKey = JSON.stringify([s.value, tags]);
  if (valueKey !== lastValueKey || lastKey === '') {
    lastValueKey = valueKey;
    try {
      lastCanShutdown = typeof s.can === 'function' && s.can({ type: SHUTDOWN_EVENT });
    } catch {
      lastCanShutdown = false;
    }
  }
  const view: ActorView = { status: s.status, value: s.value, tags, canShutdown: lastCanShutdown };
  return { view: s.status === 'done' ? { ...view, output: s.output } : view, key: `${s.status}|${lastCanShutdown}|${valueKey}` };
}

let lastSnapshot: unknown;
let lastValue: unknown;
let lastStatus: unknown;

/**
 * Tell the parent about a changed view; most events change nothing it
 * mirrors and cost no frame. XState keeps the snapshot (an event that only
 * runs actions) or the state value object (a context change) when the state
 * does not change, so those events are recognised without building a view.
 */
function publish(a: AnyActorRef): void {
  const snap = a.getSnapshot() as { status: unknown; value?: unknown };
  if (snap === lastSnapshot) return;
  lastSnapshot = snap;
  if (snap.value !== undefined && snap.value === lastValue && snap.status === lastStatus) return;
  lastValue = snap.value;
  lastStatus = snap.status;
  const { view, key } = viewOf(a);
  if (key === lastKey) return;
  lastKey = key;
  chan.post({ t: FromContainer.View, view });
}

async function init(frame: Extract<ToContainerFrame, { t: 'init' }>): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(frame.module)) as Record<string, unknown>;
  } catch (err) {
    chan.post({ t: FromContainer.LoadError, field: 'module', message: toWireError(err).message });
    return;
  }
  const found = mod[frame.export];
  // A service definition's module exports the definition; the container runs its logic.
  const logic = isServiceDefinition(found) ? found.logic : found;
  if (!isActorLogic(logic)) {
    const detail = logic === undefined ? `has no export ${JSON.stringify(frame.export)}` : `export ${JSON.stringify(frame.export)} is not XState logic`;
    chan.post({ t: FromContainer.LoadError, field: 'export', message: detail });
    return;
  }
  const a = createActor(logic as AnyActorLogic, frame.input === undefined ? {} : { input: frame.input });
  a.subscribe({
    next: () => publish(a),
    error: (err) => chan.post({ t: FromContainer.Failed, error: toWireError(err) }),
    complete: () => publish(a),
  });
  a.start();
  actor = a;
  const { view, key } = viewOf(a);
  lastKey = key;
  chan.post({ t: FromContainer.Ready, view });
}

function answer(id: number): ReplyHandle {
  let settled = false;
  return {
    resolve(value) {
      if (settled) return;
      settled = true;
      chan.post({ t: FromContainer.Reply, id, ok: true, value });
    },
    reject(error) {
      if (settled) return;
      settled = true;
      chan.post({ t: FromContainer.Reply, id, ok: false, error: toWireError(error) });
    },
  };
}

/**
 * CPU time of this container in µs. A worker shares its process's counters,
 * so it reads its own thread's from Linux /proc (ticks of 1/100 s, the
 * kernel's USER_HZ on every mainstream architecture).
 */
function cpuUs(): number | null {
  if (!parentPort) {
    const u = process.cpuUsage();
    return u.user + u.system;
  }
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

function stats(): Record<string, unknown> {
  const mem = process.memoryUsage();
  const figures = {
    heapUsed: mem.heapUsed,
    heapTotal: mem.heapTotal,
    eventLoopLagMs: Number.isFinite(loopDelay.mean) ? loopDelay.mean / 1e6 : 0,
    eventLoopLagMaxMs: loopDelay.max / 1e6,
    cpuUs: cpuUs(),
    badFrames,
  };
  loopDelay.reset();
  return figures;
}

/** Frames that arrive while the module is still importing, handled in order once the actor runs. */
let early: unknown[] | undefined;

chan.listen((raw) => {
  if (early) {
    early.push(raw);
    return;
  }
  handle(raw);
});

function handle(raw: unknown, nested = false): void {
  let frame: ToContainerFrame;
  try {
    frame = parseToContainer(raw);
  } catch (err) {
    // Only our own parent writes here; count it rather than die of it.
    badFrames++;
    const id = (raw as { id?: unknown } | null)?.id;
    if (typeof id === 'number') chan.post({ t: FromContainer.Reply, id, ok: false, error: toWireError(err as ContainerFrameError) });
    return;
  }
  switch (frame.t) {
    case ToContainer.Batch:
      // A batch holds frames, never batches; frames after an init wait for it like frames that arrive after it.
      if (nested) {
        badFrames++;
        return;
      }
      for (const f of frame.frames) {
        if (early) early.push(f);
        else handle(f, true);
      }
      return;
    case ToContainer.Init:
      early = [];
      void init(frame).finally(() => {
        const held = early ?? [];
        early = undefined;
        for (const r of held) handle(r);
      });
      return;
    case ToContainer.Tell:
      if (actor?.getSnapshot().status === 'active') actor.send(frame.event);
      return;
    case ToContainer.Ask: {
      const handle = answer(frame.id);
      if (actor?.getSnapshot().status !== 'active') {
        handle.reject(new ActorNotRunningError(frame.event.type));
        return;
      }
      actor.send({ ...frame.event, [REPLY]: handle });
      return;
    }
    case ToContainer.Stats:
      chan.post({ t: FromContainer.Stats, id: frame.id, figures: stats() });
      return;
  }
}

chan.post({ t: FromContainer.Hello });
