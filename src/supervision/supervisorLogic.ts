/**
 * The supervisor's own actor: a small XState machine, so a supervisor is an
 * actor like any other (Check, Status, a name on the node, an exit its parent
 * can watch). It holds no supervision state; the Supervisor object does.
 *
 * ```
 *  running ──halyard.shutdown──► stopping ──(children stopped)──► stopped (final)
 *     │                                                           exit reason: shutdown
 *     └──halyard.supervisor.fail.v1 (any state) ──► throws ──► exit reason: error
 * ```
 *
 * `halyard.shutdown` arrives when someone stops the actor (a parent
 * supervisor, `node.stop`): the machine asks the Supervisor to stop its
 * children, and reaches its final state only once they are all gone, so the
 * children never outlive the actor that is watched for them. When the
 * Supervisor ends on its own (intensity reached, auto shutdown) it stops the
 * actor the same way, which gives the exit reason `shutdown` its parent
 * expects.
 */
import { setup } from 'xstate';
import { SHUTDOWN_EVENT } from '../actors/types.js';

export const SUPERVISOR_TERMINATED = 'halyard.supervisor.terminated.v1' as const;
export const SUPERVISOR_FAIL = 'halyard.supervisor.fail.v1' as const;

/** What the machine needs from its Supervisor. @internal */
export interface SupervisorHooks {
  /** The actor was asked to stop: stop the children (called outside the transition). */
  shutdownRequested(): void;
  /** All children are stopped; the machine may end. */
  isTerminated(): boolean;
}

type SupervisorEvent =
  | { type: typeof SHUTDOWN_EVENT }
  | { type: typeof SUPERVISOR_TERMINATED }
  | { type: typeof SUPERVISOR_FAIL; error: unknown };

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
    fail: ({ event }) => {
      throw (event as { error?: unknown }).error;
    },
  },
}).createMachine({
  id: 'halyard.supervisor',
  context: ({ input }) => ({ hooks: input }),
  initial: 'running',
  on: { [SUPERVISOR_FAIL]: { actions: 'fail' } },
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
