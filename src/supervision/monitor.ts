/**
 * Monitors (OTP `erlang:monitor/2`): watch an actor you do not supervise and
 * be told, exactly once, when it ends.
 *
 * - A live target delivers `{ type: 'halyard.down.v1', id, name, reason, error? }`
 *   when it exits, with its exit reason.
 * - A target that already ended delivers at once (asynchronously) with the
 *   reason it ended with: a local ref remembers it, so there is no need for
 *   OTP's `noproc` there.
 * - A name or id that resolves to no live actor delivers `noproc`; `id` and
 *   `name` then both carry the string given.
 * - `cancel()` (OTP `demonitor`) guarantees no notification afterwards; the
 *   `down` promise then stays pending.
 *
 * Notifications are system tasks: they run before further user messages and
 * outside any actor's processing, so a listener that throws only logs.
 */
import type { ActorSystem } from '../actors/ActorSystem.js';
import type { ExitSignal, LocalActorRef } from '../actors/types.js';
import { InvalidArgumentError, toLogError } from '../errors.js';
import type { Down, MonitorHandle } from './types.js';

export const DOWN_TYPE = 'halyard.down.v1' as const;

function downOf(exit: ExitSignal): Down {
  return exit.reason === 'error'
    ? { type: DOWN_TYPE, id: exit.id, name: exit.name, reason: exit.reason, error: exit.error }
    : { type: DOWN_TYPE, id: exit.id, name: exit.name, reason: exit.reason };
}

export function monitor(system: ActorSystem, target: LocalActorRef | string, listener?: (down: Down) => void): MonitorHandle {
  let ref: LocalActorRef | undefined;
  if (typeof target === 'string') {
    ref = system.lookup(target) ?? system.get(target);
  } else if (typeof target === 'object' && target !== null && typeof target.onExit === 'function') {
    ref = target;
  } else {
    throw new InvalidArgumentError('target', 'must be a local actor ref, a name or an id');
  }

  let done = false;
  let resolveDown!: (d: Down) => void;
  const down = new Promise<Down>((resolve) => {
    resolveDown = resolve;
  });
  const deliver = (d: Down): void => {
    if (done) return;
    done = true;
    resolveDown(d);
    if (listener) {
      try {
        listener(d);
      } catch (err) {
        system.logger.error({ node: system.node, err: toLogError(err) }, 'monitor listener threw');
      }
    }
  };

  let unwatch: () => void;
  if (ref === undefined) {
    const name = target as string;
    system.scheduler.enqueueSystem(() => deliver({ type: DOWN_TYPE, id: name, name, reason: 'noproc' }));
    unwatch = () => {};
  } else {
    // onExit also fires (asynchronously) for a ref that has already exited.
    unwatch = ref.onExit((exit) => deliver(downOf(exit)));
  }
  return {
    down,
    cancel() {
      if (done) return;
      done = true;
      unwatch();
    },
  };
}
