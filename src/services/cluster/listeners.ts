/**
 * A set of observers. `emit` calls each in turn; a throwing observer does not
 * stop the others, and its error is reported after the loop, so one bad
 * subscriber cannot stall membership or a lease.
 */
export class Listeners<TArgs extends unknown[]> {
  readonly #fns = new Set<(...args: TArgs) => void>();
  readonly #report: (err: unknown) => void;

  constructor(report: (err: unknown) => void) {
    this.#report = report;
  }

  get size(): number {
    return this.#fns.size;
  }

  /** Returns the function that removes `fn`. */
  add(fn: (...args: TArgs) => void): () => void {
    this.#fns.add(fn);
    return () => {
      this.#fns.delete(fn);
    };
  }

  delete(fn: (...args: TArgs) => void): void {
    this.#fns.delete(fn);
  }

  clear(): void {
    this.#fns.clear();
  }

  emit(...args: TArgs): void {
    const errors: unknown[] = [];
    for (const fn of [...this.#fns]) {
      try {
        fn(...args);
      } catch (err) {
        errors.push(err);
      }
    }
    for (const err of errors) this.#report(err);
  }
}
