/**
 * A recovery rule written as an XState machine.
 *
 * The machine runs as an actor on the node (spawned on first use, spawned
 * again if it has ended). Each failure is asked of it as the event
 * `{ type: 'halyard.failure', report }`; it answers with `reply(directive)`
 * (or `reply(undefined)` to pass). Its context persists across failures, so
 * a machine can count, remember and change its mind.
 *
 * ```ts
 * const threeStrikes = setup({}).createMachine({
 *   context: { n: 0 },
 *   on: { 'halyard.failure': { actions: [assign({ n: ({ context }) => context.n + 1 }),
 *         reply(({ context }) => (context.n >= 3 ? { type: 'stop' } : undefined))] } },
 * });
 * coordinator.addRule(machineRule('three-strikes', threeStrikes));
 * ```
 *
 * The answer is asynchronous (an ask), so supervisors wait a few microtasks
 * for decisions while such a rule is installed. If the actor fails or does
 * not answer within the ask timeout, the coordinator falls back to the
 * default policy.
 */
import type { AnyActorLogic } from 'xstate';
import { askControl } from '../../actors/ActorCell.js';
import type { ActorSystem } from '../../actors/ActorSystem.js';
import type { LocalActorRef } from '../../actors/types.js';
import { InvalidArgumentError } from '../../errors.js';
import { isActorLogic } from '../childSpec.js';
import type { FailureReport, Rule, RuleAnswer } from '../types.js';

/** The event a rule machine receives. */
export const FAILURE_EVENT = 'halyard.failure' as const;
export interface FailureEvent {
  readonly type: typeof FAILURE_EVENT;
  readonly report: FailureReport;
}

export interface MachineRuleOptions {
  /** Ask deadline in ms. Default: the node's ask timeout. */
  readonly timeout?: number;
}

/** A rule built from a machine; `logic` is the machine, for tools that walk it (`halyard/rule-paths`). */
export interface MachineRule extends Rule {
  readonly logic: AnyActorLogic;
}

export function machineRule(name: string, logic: AnyActorLogic, options: MachineRuleOptions = {}): MachineRule {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('name', 'must be a non-empty string');
  if (!isActorLogic(logic)) throw new InvalidArgumentError('logic', 'must be XState v5 actor logic');
  const actors = new Map<ActorSystem, LocalActorRef>();
  return {
    name,
    logic,
    decide(report, ctx) {
      let ref = actors.get(ctx.system);
      if (ref === undefined || ref.exit !== undefined) {
        ref = ctx.system.spawn(logic);
        actors.set(ctx.system, ref);
      }
      const event: FailureEvent = { type: FAILURE_EVENT, report };
      return askControl<RuleAnswer>(ref, event, options.timeout);
    },
    async close() {
      const refs = [...actors.values()];
      actors.clear();
      await Promise.all(refs.map((r) => r.stop()));
    },
    // A fresh actor from the machine's initial state, so a replay counts from zero and leaves the live one's context alone.
    replica: () => machineRule(name, logic, options),
  };
}
