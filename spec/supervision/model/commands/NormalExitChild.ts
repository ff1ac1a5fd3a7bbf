import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, expectSameTree, realWorker } from '../real.js';

/** A running worker reaches a final state: its supervisor sees a `normal` exit. */
export class NormalExitChild implements ModelCommand {
  constructor(readonly path: string) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.runningWorker(this.path) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    realWorker(real, this.path).tell({ type: 'EXIT' });
    model.normalExit(this.path);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `exitNormally(${this.path})`;
  }
}
