/**
 * Service logic, wrapped so its instance sees every snapshot it produces
 * (to tell when `ready` is reached) without a hook in the actor layer.
 *
 * The wrapper inherits from the logic (`Object.create`), so a machine keeps
 * its methods, its implementations and `instanceof`; only `transition` and
 * `getInitialSnapshot` are overridden, each calling the original and then
 * the observer. The observer runs inside XState's step, so it must not
 * throw: it is guarded here, and what it does is only record.
 */
import type { AnyActorLogic } from 'xstate';

/** `observe` sees every snapshot; `started` is called when a new incarnation's first snapshot is made (a start or a restart). */
export function observedLogic<L extends AnyActorLogic>(logic: L, observe: (snapshot: unknown) => void, started: () => void = () => {}): L {
  const notify = (snapshot: unknown): void => {
    try {
      observe(snapshot);
    } catch {
      // The observer only records; a fault there must not become the logic's failure.
    }
  };
  const wrapped = Object.create(logic) as L;
  Object.defineProperties(wrapped, {
    transition: {
      value: (snapshot: unknown, event: unknown, scope: unknown) => {
        const next = (logic.transition as (...a: unknown[]) => unknown).call(logic, snapshot, event, scope);
        notify(next);
        return next;
      },
    },
    getInitialSnapshot: {
      value: (scope: unknown, input: unknown) => {
        const first = (logic.getInitialSnapshot as (...a: unknown[]) => unknown).call(logic, scope, input);
        notify(first);
        try {
          started();
        } catch {
          // As for observe: recording only.
        }
        return first;
      },
    },
  });
  return wrapped;
}

/** Whether `snapshot` meets `ready`: a tag (machines), a predicate, or, with neither, being active. */
export function isReady(snapshot: unknown, ready: string | ((s: never) => boolean) | undefined): boolean {
  const s = snapshot as { status?: string; hasTag?: (t: string) => boolean } | undefined;
  if (s === undefined || s.status !== 'active') return false;
  if (ready === undefined) return true;
  if (typeof ready === 'string') return typeof s.hasTag === 'function' && s.hasTag(ready);
  return ready(snapshot as never) === true;
}
