/**
 * Waiting in tests: poll a condition or await an event, always with a
 * deadline. Tests wait for state this way, never with fixed sleeps, so they
 * are as fast as the system allows and fail with a message instead of hanging.
 */

export interface WaitForOptions {
  /** Deadline in milliseconds. */
  readonly timeout: number;
  /** Poll interval in milliseconds. Default 5. */
  readonly interval?: number;
  /** Says what was awaited; goes into the timeout error. */
  readonly message: string;
}

/**
 * Poll `predicate` until it returns a truthy value (which is returned), or
 * throw when `timeout` passes. An exception from the predicate fails at once.
 */
export async function waitFor<T>(predicate: () => T | Promise<T>, options: WaitForOptions): Promise<NonNullable<T>> {
  const deadline = performance.now() + options.timeout;
  const interval = options.interval ?? 5;
  for (;;) {
    const value = await predicate();
    if (value) return value as NonNullable<T>;
    if (performance.now() >= deadline) {
      throw new Error(`waitFor timed out after ${options.timeout} ms: ${options.message}`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Anything with Node-style `once`/`off` (EventEmitter, ChildProcess, net.Socket...). */
export interface EmitterLike {
  once(event: string, listener: (...args: any[]) => void): unknown;
  off(event: string, listener: (...args: any[]) => void): unknown;
}

/** Resolve with the arguments of the next `event`; reject after `timeout` ms (or on `error`, when that is not the event). */
export function once(emitter: EmitterLike, event: string, timeout: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const onEvent = (...args: unknown[]) => {
      cleanup();
      resolve(args);
    };
    const onError = (err: unknown) => {
      cleanup();
      reject(err);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`once timed out after ${timeout} ms waiting for '${event}'`));
    }, timeout);
    const cleanup = () => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      if (event !== 'error') emitter.off('error', onError);
    };
    emitter.once(event, onEvent);
    if (event !== 'error') emitter.once('error', onError);
  });
}

/** Resolve `value`'s settlement, or reject when `timeout` ms pass first. */
export async function withDeadline<T>(value: Promise<T>, timeout: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeout} ms: ${message}`)), timeout);
  });
  try {
    return await Promise.race([value, expired]);
  } finally {
    clearTimeout(timer);
  }
}
