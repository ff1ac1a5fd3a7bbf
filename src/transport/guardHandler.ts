/**
 * Guarding message handlers: a handler that throws (or returns a rejected
 * promise) must not stop delivery to anyone else, and its error must not be
 * swallowed.
 *
 * - Errors go to the connection's `onError(err, msg)` when one is given.
 * - Otherwise to its pino logger at `error`, when one is given and `error`
 *   is enabled.
 * - Otherwise to `process.emitWarning`, so they are seen even when logging
 *   is off.
 * - If `onError` itself throws, that error is rethrown from a fresh microtask:
 *   outside the delivery loop, as an uncaught exception, never lost.
 *
 * This matters most for NATS: nats.js calls subscription callbacks inside its
 * socket reader loop, and a callback that throws ends that loop, after which
 * the connection silently stops delivering anything.
 */
import type { Logger } from '../log.js';
import type { Msg, MsgHandler } from './Transport.js';

/** Receives errors thrown by message handlers (and status listeners, with no `msg`). */
export type HandlerErrorListener = (err: unknown, msg?: Msg) => void;

/** The reporter a connection uses: `onError`, else the logger, else a process warning. */
export function handlerErrorReporter(onError?: HandlerErrorListener, logger?: Logger): HandlerErrorListener {
  if (onError !== undefined) return onError;
  return (err, msg) => {
    // A silent logger (the default everywhere) would swallow the error: warn instead.
    if (logger?.isLevelEnabled('error')) {
      logger.error({ err, subject: msg?.subject }, 'message handler threw');
      return;
    }
    const detail = err instanceof Error ? err.message : String(err);
    process.emitWarning(`message handler threw${msg ? ` on ${msg.subject}` : ''}: ${detail}`, { code: 'HALYARD_HANDLER_ERROR' });
  };
}

/** Call `report`, moving any error it throws out of the caller's loop. */
export function safeReport(report: HandlerErrorListener, err: unknown, msg?: Msg): void {
  try {
    report(err, msg);
  } catch (reportErr) {
    queueMicrotask(() => {
      throw reportErr;
    });
  }
}

/** Wrap `handler` so it never throws to its caller and async rejections are reported too. */
export function guardHandler(handler: MsgHandler, report: HandlerErrorListener): MsgHandler {
  return (msg) => {
    try {
      const result: unknown = handler(msg);
      if (result !== undefined && typeof (result as PromiseLike<unknown>).then === 'function') {
        (result as PromiseLike<unknown>).then(undefined, (err: unknown) => safeReport(report, err, msg));
      }
    } catch (err) {
      safeReport(report, err, msg);
    }
  };
}
