/**
 * Answering an `ask`.
 *
 * An asked event carries a hidden reply handle under the {@link REPLY} symbol.
 * A machine answers with the {@link reply} action; any other code (a
 * `fromTransition` reducer, a `fromCallback` receiver, or a machine that keeps
 * the event to answer later) calls {@link replyTo}. Only the first answer
 * counts; later ones are ignored. An event that was told, not asked, has no
 * handle, and replying to it does nothing.
 *
 * ## Types
 * `reply` is typed like XState's `assign`: its `{ context, event }` come from
 * the machine it is used in. An event may declare its answer with
 * {@link AskEvent}; `reply` and `replyTo` then check the answer, and `ask`
 * resolves to it. Undeclared answers are `unknown`.
 *
 * ```ts
 * const counter = setup({
 *   types: { context: {} as { n: number }, events: {} as { type: 'INC' } | AskEvent<{ type: 'GET' }, number> },
 * }).createMachine({
 *   context: { n: 0 },
 *   on: {
 *     INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
 *     GET: { actions: reply(({ context }) => context.n) },
 *   },
 * });
 * const n = await node.spawn(counter).ask({ type: 'GET' }); // number
 * ```
 */

import type { ActionArgs, EventObject, MachineContext, NoInfer, ParameterizedObject } from 'xstate';

/** @internal */
export const REPLY: unique symbol = Symbol.for('halyard.reply');

export interface ReplyHandle {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** True when this event was sent with `ask` and can be answered. */
export function isAsk(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { [REPLY]?: ReplyHandle })[REPLY] !== undefined;
}

/**
 * Where an event type carries the type of its answer. Type-only: no event
 * has this key at run time, so it costs nothing on the wire or in a mailbox.
 * A symbol keeps it out of `keyof` and of editors' completion lists.
 */
declare const replyType: unique symbol;

/**
 * An event that is asked and answered with a `TReply`. Declare it among the
 * machine's events, and `reply` checks the answer while `ask` resolves to it:
 *
 * ```ts
 * setup({ types: { events: {} as { type: 'INC' } | AskEvent<{ type: 'GET' }, number> } })
 * ```
 *
 * The reply type is boxed in a tuple so that an answer type that includes
 * `undefined` survives the optional key.
 */
export type AskEvent<TEvent extends EventObject, TReply> = TEvent & { readonly [replyType]?: readonly [TReply] };

/** The declared answer of `TEvent` (distributing over a union), or `unknown` where none is declared. */
export type ReplyOf<TEvent> = TEvent extends { readonly [replyType]?: readonly [infer R] } ? R : unknown;

/** The members of `TEvent` that an event of type `TType` can be (a member's `type` may itself be a union). */
type EventsOfType<TEvent, TType> = TEvent extends { type: infer K } ? (TType extends K ? TEvent : never) : never;

/**
 * The answer declared by the members of `TEvent` that the event asked can
 * be, or `unknown` where none is declared (or none matches, as when `TEvent`
 * has literal types and the event asked only a `string`).
 */
export type DeclaredReply<TEvent extends EventObject, TAsked extends EventObject> = [
  EventsOfType<TEvent, TAsked['type']>,
] extends [never]
  ? unknown
  : ReplyOf<EventsOfType<TEvent, TAsked['type']>>;

/**
 * What `ask(event)` resolves to: `R` when the caller names it (`ask` bounds
 * it by the declared answer), else the {@link DeclaredReply}.
 */
export type AskReply<R, TEvent extends EventObject, TAsked extends EventObject> = [R] extends [never]
  ? DeclaredReply<TEvent, TAsked>
  : R;

/** Answer the asker of `event` with `value`. Returns false if the event was not asked. */
export function replyTo<TEvent>(event: TEvent, value: NoInfer<ReplyOf<TEvent>>): boolean {
  const handle = typeof event === 'object' && event !== null ? (event as { [REPLY]?: ReplyHandle })[REPLY] : undefined;
  if (!handle) return false;
  handle.resolve(value);
  return true;
}

/** Answer the asker of `event` with an error: the asker's promise rejects with it. */
export function replyError(event: unknown, error: unknown): boolean {
  const handle = typeof event === 'object' && event !== null ? (event as { [REPLY]?: ReplyHandle })[REPLY] : undefined;
  if (!handle) return false;
  handle.reject(error);
  return true;
}

/**
 * The action `reply` returns. Its type parameters are XState's own, as for
 * `log` and `assign`, so XState fills them in from where the action is used.
 */
export type ReplyAction<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TParams extends ParameterizedObject['params'] | undefined,
  TEvent extends EventObject,
> = (args: ActionArgs<TContext, TExpressionEvent, TEvent>, params: TParams) => void;

/** A computed answer: a function of the action's `{ context, event, self, system }`. */
export type ReplyExpr<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TParams extends ParameterizedObject['params'] | undefined,
  TEvent extends EventObject,
> = (args: ActionArgs<TContext, TExpressionEvent, TEvent>, params: TParams) => ReplyOf<TExpressionEvent>;

/**
 * An XState action that answers the current event's asker. Give it a value,
 * or a function of `{ context, event }` computed when the action runs.
 *
 * Used inside a machine, `context` and `event` are typed from the machine's
 * `setup({ types })` (XState infers the generics from the action's place, as
 * it does for `assign`); when the event is declared with {@link AskEvent},
 * the answer must be of its reply type.
 */
export function reply<
  TContext extends MachineContext,
  TExpressionEvent extends EventObject,
  TParams extends ParameterizedObject['params'] | undefined,
  TEvent extends EventObject,
>(
  // The types come only from where the action is used (XState's own NoInfer):
  // an annotated parameter (`({ context }: { context: { n: number } })`) that
  // names part of the context must not become the action's context, or the
  // action would no longer fit its machine (XState's `self` is invariant in it).
  valueOrFn:
    | NoInfer<ReplyOf<TExpressionEvent>>
    | ReplyExpr<NoInfer<TContext>, NoInfer<TExpressionEvent>, TParams, NoInfer<TEvent>>,
): ReplyAction<TContext, TExpressionEvent, TParams, TEvent> {
  return (args, params) => {
    const handle = (args.event as { [REPLY]?: ReplyHandle } | undefined)?.[REPLY];
    if (!handle) return;
    handle.resolve(
      typeof valueOrFn === 'function'
        ? (valueOrFn as ReplyExpr<TContext, TExpressionEvent, TParams, TEvent>)(args, params)
        : valueOrFn,
    );
  };
}
