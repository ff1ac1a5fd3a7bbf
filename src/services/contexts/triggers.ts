/**
 * Trigger actions, written as text: `<verb> <service id>`.
 *
 * | action                  | does |
 * |-------------------------|------|
 * | `start <id>`            | start the service (a no-op when it runs) |
 * | `stop <id>`             | stop it (dependants first) |
 * | `restart <id>`          | stop it and start a new instance |
 * | `notify <id> [EVENT]`   | send it `{ type: EVENT, from, transaction }`; EVENT defaults to `context.notify` |
 * | `stop context`          | stop the whole context |
 */
export const TRIGGERS = ['on_start', 'on_update', 'on_fail', 'on_exit'] as const;
export type TriggerName = (typeof TRIGGERS)[number];

/** Not `halyard.*`: those are reserved for Halyard's own events, and a tell of one is refused. */
export const NOTIFY_EVENT = 'context.notify';

export type ContextAction =
  | { readonly verb: 'start' | 'stop' | 'restart'; readonly target: string }
  | { readonly verb: 'notify'; readonly target: string; readonly event: string }
  | { readonly verb: 'stop'; readonly target: 'context' };

const VERBS = ['start', 'stop', 'restart', 'notify'];

/** The action, or why the text is not one. */
export function parseTrigger(text: unknown): ContextAction | string {
  if (typeof text !== 'string') return `an action is text like "start walk", got ${typeof text}`;
  const words = text.trim().split(/\s+/);
  const [verb, target, event, ...rest] = words;
  if (verb === undefined || !VERBS.includes(verb)) return `unknown action "${text}" (actions: ${VERBS.join(', ')} followed by a service id)`;
  if (target === undefined || target === '') return `"${verb}" needs a service id`;
  if (verb === 'notify') {
    if (rest.length > 0) return `"${text}": notify takes a service id and at most one event type`;
    return { verb, target, event: event ?? NOTIFY_EVENT };
  }
  if (event !== undefined) return `"${text}": ${verb} takes one service id`;
  if (target === 'context') {
    if (verb !== 'stop') return `"${text}": only "stop context" acts on the context`;
    return { verb: 'stop', target: 'context' };
  }
  return { verb: verb as 'start' | 'stop' | 'restart', target };
}
