/**
 * A supervisor's operation queue: one operation at a time, in arrival order.
 *
 * OTP gets this for free (a supervisor is one process with one mailbox); here
 * child exits, API calls, delayed restarts and shutdown are closures that run
 * strictly one after another, so no interleaving can observe a half-done
 * restart. An operation may be synchronous (a one_for_one restart is) or
 * return a promise (stopping children is); the queue runs synchronous
 * operations inline when it is idle, so the common restart path allocates no
 * promise and waits for no microtask.
 */

export type Operation = () => void | Promise<void>;

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

export class OperationQueue {
  private ops: (Operation | undefined)[] = [];
  private head = 0;
  private busy = false;
  private waiters: (() => void)[] | undefined;

  /** `onError` receives what an operation threw or rejected with; the queue goes on. */
  constructor(private readonly onError: (err: unknown) => void) {}

  /** Nothing queued or running. */
  get idle(): boolean {
    return !this.busy;
  }

  /** Operations queued, including the running one. */
  get length(): number {
    return this.ops.length - this.head;
  }

  /** Run `op` after everything queued before it; at once if the queue is idle. */
  post(op: Operation): void {
    if (this.busy) {
      this.ops.push(op);
      return;
    }
    // Idle: run it without queueing it (a restart in a crash storm takes this path).
    this.busy = true;
    let r: void | Promise<void>;
    try {
      r = op();
    } catch (err) {
      this.onError(err);
      this.drain();
      return;
    }
    if (isThenable(r)) {
      r.then(this.resume, this.fail);
      return;
    }
    this.drain();
  }

  /** Run `op` in turn and settle with its result. */
  run<T>(op: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.post(() => {
        let r: T | Promise<T>;
        try {
          r = op();
        } catch (err) {
          reject(err);
          return;
        }
        if (isThenable(r)) return (r as Promise<T>).then(resolve, reject);
        resolve(r);
      });
    });
  }

  /** Resolves the next time the queue is idle (at once, in a microtask, if it is now). */
  whenIdle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiters ??= [];
      this.waiters.push(resolve);
    });
  }

  private drain(): void {
    this.busy = true;
    while (this.head < this.ops.length) {
      const op = this.ops[this.head]!;
      this.ops[this.head++] = undefined;
      let r: void | Promise<void>;
      try {
        r = op();
      } catch (err) {
        this.onError(err);
        continue;
      }
      if (isThenable(r)) {
        r.then(this.resume, this.fail);
        return;
      }
    }
    if (this.head > 0) {
      this.ops = [];
      this.head = 0;
    }
    this.busy = false;
    const waiters = this.waiters;
    if (waiters) {
      this.waiters = undefined;
      for (const w of waiters) w();
    }
  }

  private readonly resume = (): void => this.drain();

  private readonly fail = (err: unknown): void => {
    this.onError(err);
    this.drain();
  };
}
