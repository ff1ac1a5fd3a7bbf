/**
 * The status listeners of one transport connection. A listener that throws
 * is reported and does not stop the others (nor the transport).
 */
import { type HandlerErrorListener, safeReport } from './guardHandler.js';
import type { StatusListener, TransportStatus } from './Transport.js';

export class StatusListeners {
  readonly #listeners = new Set<StatusListener>();

  constructor(private readonly report: HandlerErrorListener) {}

  /** Add `listener`; returns the function that removes it. */
  add(listener: StatusListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(status: TransportStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch (err) {
        safeReport(this.report, err);
      }
    }
  }
}
