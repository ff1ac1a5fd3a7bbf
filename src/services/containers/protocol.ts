/**
 * The protocol between a container's parent (the ActorCell's logic, see
 * containerLogic.ts) and the container (containerMain.ts), over a worker's
 * MessagePort or a child process's IPC channel (`serialization: 'advanced'`,
 * so both sides carry structured clones).
 *
 * ```
 *  parent                                   container
 *    │ ◀──────────────────────────── hello   (listening; until then the parent buffers)
 *    │ init {module, export, input} ───────▶ import module, start actor
 *    │ ◀──────────────────── ready {view}    (or load-error {field, message})
 *    │ tell {event} ───────────────────────▶ actor.send(event)
 *    │ ask {id, event} ────────────────────▶ actor.send(event + reply handle)
 *    │ ◀─────────────── reply {id, ok, value | error}
 *    │ ◀───────────────────────── view {view}  (state value, tags, … changed)
 *    │ ◀──────────────────────── failed {error} (the logic threw)
 *    │ stats {id} ─────────────────────────▶ heap, loop lag, resource usage
 *    │ ◀──────────────── stats {id, figures}
 * ```
 *
 * A graceful stop is a `tell` of the shutdown event; the container exits
 * itself once its actor is done. A kill ends the container from outside.
 * Frames either side produces in one turn travel as one `batch` (a
 * message per ask and per reply would otherwise cost a message each); a
 * batch never holds a batch.
 * Every frame is checked on arrival ({@link parseToContainer},
 * {@link parseFromContainer}): a bad one is a {@link ContainerFrameError},
 * never a crash.
 */
import { ContainerFrameError, type WireError } from '../../errors.js';

/** What the parent mirrors of the container's actor snapshot. */
export interface ActorView {
  readonly status: 'active' | 'done' | 'error' | 'stopped';
  readonly value: unknown;
  readonly tags: readonly string[];
  /** Whether the actor's current state accepts the halyard shutdown event. */
  readonly canShutdown: boolean;
  readonly output?: unknown;
}

export const ToContainer = {
  Init: 'init',
  Tell: 'tell',
  Ask: 'ask',
  Stats: 'stats',
  Batch: 'batch',
} as const;

export const FromContainer = {
  Hello: 'hello',
  Batch: 'batch',
  Ready: 'ready',
  LoadError: 'load-error',
  View: 'view',
  Reply: 'reply',
  Failed: 'failed',
  Stats: 'stats',
} as const;

export type ToContainerFrame =
  | { readonly t: 'init'; readonly module: string; readonly export: string; readonly input: unknown }
  | { readonly t: 'tell'; readonly event: { type: string } }
  | { readonly t: 'ask'; readonly id: number; readonly event: { type: string } }
  | { readonly t: 'stats'; readonly id: number }
  /** Frames the parent sent in one turn, in order: one message instead of one per tell or ask. */
  | { readonly t: 'batch'; readonly frames: readonly unknown[] };

export type FromContainerFrame =
  | { readonly t: 'hello' }
  /** Frames produced in one turn of the container's loop, in order: one message instead of many. */
  | { readonly t: 'batch'; readonly frames: readonly unknown[] }
  | { readonly t: 'ready'; readonly view: ActorView }
  | { readonly t: 'load-error'; readonly field: 'module' | 'export'; readonly message: string }
  | { readonly t: 'view'; readonly view: ActorView }
  | { readonly t: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'reply'; readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly t: 'failed'; readonly error: WireError }
  | { readonly t: 'stats'; readonly id: number; readonly figures: Record<string, unknown> };

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function needId(f: Obj): void {
  if (typeof f.id !== 'number' || !Number.isSafeInteger(f.id)) throw new ContainerFrameError('id', 'must be an integer');
}

function needEvent(f: Obj): void {
  if (!isObj(f.event) || typeof f.event.type !== 'string') throw new ContainerFrameError('event', 'must be an object with a string type');
}

function needView(f: Obj): void {
  const v = f.view;
  if (!isObj(v) || typeof v.status !== 'string' || !Array.isArray(v.tags) || typeof v.canShutdown !== 'boolean') {
    throw new ContainerFrameError('view', 'must be { status, value, tags[], canShutdown }');
  }
}

function needError(f: Obj, key: string): void {
  const e = f[key];
  if (!isObj(e) || typeof e.message !== 'string' || typeof e.name !== 'string') {
    throw new ContainerFrameError(key, 'must be a wire error { name, message, code }');
  }
}

/** Check a frame the container received from its parent. */
export function parseToContainer(raw: unknown): ToContainerFrame {
  if (!isObj(raw)) throw new ContainerFrameError('frame', 'must be an object');
  switch (raw.t) {
    case ToContainer.Init:
      if (typeof raw.module !== 'string') throw new ContainerFrameError('module', 'must be a string');
      if (typeof raw.export !== 'string') throw new ContainerFrameError('export', 'must be a string');
      break;
    case ToContainer.Tell:
      needEvent(raw);
      break;
    case ToContainer.Ask:
      needId(raw);
      needEvent(raw);
      break;
    case ToContainer.Stats:
      needId(raw);
      break;
    case ToContainer.Batch:
      if (!Array.isArray(raw.frames)) throw new ContainerFrameError('frames', 'must be an array');
      break;
    default:
      throw new ContainerFrameError('t', `unknown frame type ${JSON.stringify(String(raw.t)).slice(0, 60)}`);
  }
  return raw as unknown as ToContainerFrame;
}

/** Check a frame the parent received from its container. */
export function parseFromContainer(raw: unknown): FromContainerFrame {
  if (!isObj(raw)) throw new ContainerFrameError('frame', 'must be an object');
  switch (raw.t) {
    case FromContainer.Hello:
      break;
    case FromContainer.Batch:
      if (!Array.isArray(raw.frames)) throw new ContainerFrameError('frames', 'must be an array');
      break;
    case FromContainer.Ready:
    case FromContainer.View:
      needView(raw);
      break;
    case FromContainer.LoadError:
      if (raw.field !== 'module' && raw.field !== 'export') throw new ContainerFrameError('field', "must be 'module' or 'export'");
      if (typeof raw.message !== 'string') throw new ContainerFrameError('message', 'must be a string');
      break;
    case FromContainer.Reply:
      needId(raw);
      if (raw.ok === false) needError(raw, 'error');
      else if (raw.ok !== true) throw new ContainerFrameError('ok', 'must be a boolean');
      break;
    case FromContainer.Failed:
      needError(raw, 'error');
      break;
    case FromContainer.Stats:
      needId(raw);
      if (!isObj(raw.figures)) throw new ContainerFrameError('figures', 'must be an object');
      break;
    default:
      throw new ContainerFrameError('t', `unknown frame type ${JSON.stringify(String(raw.t)).slice(0, 60)}`);
  }
  return raw as unknown as FromContainerFrame;
}
