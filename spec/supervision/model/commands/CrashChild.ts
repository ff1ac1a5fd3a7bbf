import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, expectSameTree, realWorker } from '../real.js';

/** A running worker throws: its supervisor sees an `error` exit. */
export class CrashChild implements ModelCommand {
  constructor(readonly path: string) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.runningWorker(this.path) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    realWorker(real, this.path).tell({ type: 'CRASH' });
    model.crash(this.path);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `crash(${this.path})`;
  }
}
