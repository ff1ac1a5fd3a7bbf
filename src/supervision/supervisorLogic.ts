/**
 * The supervisor's own actor: a small XState machine, so a supervisor is an
 * actor like any other (Check, Status, a name on the node, an exit its parent
 * can watch). It holds no supervision state; the Supervisor object does.
 *
 * ```
 *  running ──halyard.shutdown──► stopping ──(children stopped)──► stopped (final)
 *     │                                                           exit reason: shutdown
 *     └──(Supervisor ends with error: exitActor, any state) ──────► exit reason: error
 * ```
 *
 * `halyard.shutdown` arrives when someone stops the actor (a parent
 * supervisor, `node.stop`): the machine asks the Supervisor to stop its
 * children, and reaches its final state only once they are all gone, so the
 * children never outlive the actor that is watched for them. When the
 * Supervisor ends on its own (intensity reached, auto shutdown) it stops the
 * actor the same way, which gives the exit reason `shutdown` its parent
 * expects. When it must end with `error` (a child failed to start at init)
 * it ends the actor with that reason as a value (`exitActor`), so the
 * machine itself never throws.
 */
import { setup } from 'xstate';
import { SHUTDOWN_EVENT } from '../actors/types.js';

export const SUPERVISOR_TERMINATED = 'halyard.supervisor.terminated.v1' as const;

/** What the machine needs from its Supervisor. @internal */
export interface SupervisorHooks {
  /** The actor was asked to stop: stop the children (called outside the transition). */
  shutdownRequested(): void;
  /** All children are stopped; the machine may end. */
  isTerminated(): boolean;
}

type SupervisorEvent =
  | { type: typeof SHUTDOWN_EVENT }
  | { type: typeof SUPERVISOR_TERMINATED };

export const supervisorLogic = setup({
  types: {
    context: {} as { hooks: SupervisorHooks },
    input: {} as SupervisorHooks,
    events: {} as SupervisorEvent,
  },
  guards: {
    terminated: ({ context }) => context.hooks.isTerminated(),
  },
  actions: {
    requestShutdown: ({ context }) => context.hooks.shutdownRequested(),
  },
}).createMachine({
  id: 'halyard.supervisor',
  context: ({ input }) => ({ hooks: input }),
  initial: 'running',
  states: {
    running: {
      on: { [SHUTDOWN_EVENT]: { target: 'stopping', actions: 'requestShutdown' } },
    },
    stopping: {
      always: { guard: 'terminated', target: 'stopped' },
      on: { [SUPERVISOR_TERMINATED]: { guard: 'terminated', target: 'stopped' } },
    },
    stopped: { type: 'final' },
  },
});
