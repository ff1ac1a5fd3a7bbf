/**
 * A context as one XState machine, built from its definition:
 *
 * ```
 *  active (parallel: one region per service) ──context.stop──► stopping ──context.stopped──► stopped
 *    <id>: idle ──started──► running ──failed──► failed ──started──► running
 *                              │  ├─ updated / recovered (self: on_update / on_fail)
 *                              └──exited──► exited ──started──► running
 * ```
 * Entering `running` runs `on_start`, `failed` runs `on_fail`, `exited` runs
 * `on_exit`; `updated` (the service's state changed) runs `on_update`, and
 * `recovered` (a crash that supervision answered with a restart) `on_fail`.
 * Triggers are the `run` action with the trigger's action as params, so the
 * machine's JSON shows them; what `run` does is the context's (Context.ts).
 */
import { setup } from 'xstate';
import type { ContextDefinition } from './definition.js';
import type { ContextAction, TriggerName } from './triggers.js';

export type TriggeredAction = ContextAction & { readonly from: string; readonly trigger: TriggerName };

export const ContextEvent = {
  Stop: 'context.stop',
  Stopped: 'context.stopped',
} as const;

/** The service events a region reacts to, as machine event types. */
export const serviceEvent = (id: string, what: 'started' | 'updated' | 'recovered' | 'failed' | 'exited'): string => `${id}.${what}`;

export function buildContextMachine(def: ContextDefinition, run: (action: TriggeredAction) => void = () => {}) {
  const acts = (s: ContextDefinition['services'][number], trigger: TriggerName) =>
    s.triggers[trigger].map((a) => ({ type: 'run' as const, params: { ...a, from: s.id, trigger } }));
  const region = (s: ContextDefinition['services'][number]) => ({
    initial: 'idle',
    states: {
      idle: { on: { [serviceEvent(s.id, 'started')]: 'running' } },
      running: {
        entry: acts(s, 'on_start'),
        on: {
          [serviceEvent(s.id, 'updated')]: { actions: acts(s, 'on_update') },
          [serviceEvent(s.id, 'recovered')]: { actions: acts(s, 'on_fail') },
          [serviceEvent(s.id, 'failed')]: 'failed',
          [serviceEvent(s.id, 'exited')]: 'exited',
        },
      },
      failed: { entry: acts(s, 'on_fail'), on: { [serviceEvent(s.id, 'started')]: 'running' } },
      exited: { entry: acts(s, 'on_exit'), on: { [serviceEvent(s.id, 'started')]: 'running' } },
    },
  });
  return setup({
    types: {} as { events: { type: string } },
    actions: { run: (_, params: TriggeredAction) => run(params) },
  }).createMachine({
    id: def.name,
    initial: 'active',
    states: {
      active: {
        type: 'parallel',
        on: { [ContextEvent.Stop]: 'stopping' },
        states: Object.fromEntries(def.services.map((s) => [s.id, region(s)])),
      },
      stopping: { on: { [ContextEvent.Stopped]: 'stopped' } },
      stopped: { type: 'final' },
    },
  } as never);
}

export type ContextMachine = ReturnType<typeof buildContextMachine>;

interface StateNodeLike {
  readonly key: string;
  readonly id: string;
  readonly type: string;
  readonly initial?: { readonly target: readonly StateNodeLike[] };
  readonly states: Record<string, StateNodeLike>;
  readonly transitions: Map<string, ReadonlyArray<{ readonly target?: readonly StateNodeLike[] }>>;
}

/** The machine as a Mermaid `stateDiagram-v2`: composite states nest, parallel regions are split by `--`. */
export function toMermaid(machine: { readonly root: unknown }): string {
  const lines = ['stateDiagram-v2'];
  const name = (n: StateNodeLike) => n.id.replace(/[^A-Za-z0-9_]/g, '_');
  const walk = (node: StateNodeLike, depth: number) => {
    const pad = '  '.repeat(depth);
    const children = Object.values(node.states);
    const initial = node.initial?.target[0];
    if (initial !== undefined) lines.push(`${pad}[*] --> ${name(initial)}`);
    children.forEach((child, i) => {
      if (node.type === 'parallel' && i > 0) lines.push(`${pad}--`);
      if (Object.keys(child.states).length > 0) {
        lines.push(`${pad}state "${child.key}" as ${name(child)} {`);
        walk(child, depth + 1);
        lines.push(`${pad}}`);
      } else {
        lines.push(`${pad}state "${child.key}" as ${name(child)}`);
        if (child.type === 'final') lines.push(`${pad}${name(child)} --> [*]`);
      }
    });
    for (const child of children) {
      for (const [event, ts] of child.transitions) {
        for (const t of ts) for (const target of t.target ?? []) lines.push(`${pad}${name(child)} --> ${name(target)} : ${event}`);
      }
    }
  };
  walk(machine.root as StateNodeLike, 1);
  return `${lines.join('\n')}\n`;
}
