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
 * ```ts
 * const counter = setup({}).createMachine({
 *   context: { n: 0 },
 *   on: {
 *     INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
 *     GET: { actions: reply(({ context }) => context.n) },
 *   },
 * });
 * ```
 */

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

/** Answer the asker of `event` with `value`. Returns false if the event was not asked. */
export function replyTo(event: unknown, value: unknown): boolean {
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

type ReplyArgs = { context: any; event: any; self?: unknown };

/**
 * An XState action that answers the current event's asker. Give it a value,
 * or a function of `{ context, event }` computed when the action runs.
 */
export function reply<TArgs extends ReplyArgs = ReplyArgs>(valueOrFn: unknown | ((args: TArgs) => unknown)) {
  return (args: TArgs): void => {
    const handle = (args.event as { [REPLY]?: ReplyHandle } | undefined)?.[REPLY];
    if (!handle) return;
    handle.resolve(typeof valueOrFn === 'function' ? (valueOrFn as (a: TArgs) => unknown)(args) : valueOrFn);
  };
}
