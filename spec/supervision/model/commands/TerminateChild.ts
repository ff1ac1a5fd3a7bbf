import { type SupervisionModel, splitPath } from '../model.js';
import { type ModelCommand, type Real, expectOutcome, expectSameTree, mustRealSupervisor, outcomeOf } from '../real.js';

/** supervisor.terminateChild(id): stop the child, keep its spec (unless temporary). */
export class TerminateChild implements ModelCommand {
  readonly supPath: string;
  readonly id: string;

  constructor(readonly path: string) {
    ({ supPath: this.supPath, id: this.id } = splitPath(path));
  }

  check(model: Readonly<SupervisionModel>): boolean {
    return model.supervisor(this.supPath) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const sup = mustRealSupervisor(real, this.supPath);
    const actual = await outcomeOf(sup.terminateChild(this.id), this.toString());
    expectOutcome(actual, model.terminateChild(this.supPath, this.id), this.toString());
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `terminateChild(${this.supPath}, ${this.id})`;
  }
}
