import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, STEP_DEADLINE, expectSameTree } from '../real.js';
import { withDeadline } from '../../../support/wait.js';

/** root.stop(): every child stopped in reverse start order, subtrees first; `stopped` resolves `shutdown`. */
export class StopRoot implements ModelCommand {
  check(model: Readonly<SupervisionModel>): boolean {
    return model.root.alive;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const exit = await withDeadline(real.root.stop(), STEP_DEADLINE, this.toString());
    if (exit.reason !== 'shutdown') throw new Error(`${this.toString()}: stopped resolved ${exit.reason}, expected shutdown`);
    model.stopRoot();
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return 'stopRoot()';
  }
}
