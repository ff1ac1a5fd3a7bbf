import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, STEP_DEADLINE, expectSameTree, mustRealSupervisor } from '../real.js';
import { withDeadline } from '../../../support/wait.js';

/**
 * Someone outside the tree kills a live supervisor's actor (`brutal_kill`).
 * The actor ends `killed` at once; its children are stopped as OTP's trapping
 * children stop (reverse order, each with its shutdown, nested supervisors
 * stopping their own), its `stopped` resolves `error`, and its parent, if it
 * has one, handles a `killed` end.
 */
export class KillSupervisor implements ModelCommand {
  constructor(readonly path: string) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.supervisor(this.path) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const sup = mustRealSupervisor(real, this.path);
    const exit = await withDeadline(sup.ref.stop('brutal_kill'), STEP_DEADLINE, this.toString());
    if (exit.reason !== 'killed') throw new Error(`${this.toString()}: its actor ended ${exit.reason}, expected killed`);
    const ended = await withDeadline(sup.stopped, STEP_DEADLINE, `${this.toString()}: stopped`);
    if (ended.reason !== 'error') throw new Error(`${this.toString()}: stopped resolved ${ended.reason}, expected error`);
    model.killSupervisor(this.path);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `killSupervisor(${this.path})`;
  }
}
