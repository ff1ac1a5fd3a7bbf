import { type SupervisionModel, splitPath } from '../model.js';
import { type ModelCommand, type Real, expectOutcome, expectSameTree, mustRealSupervisor, outcomeOf } from '../real.js';

/** supervisor.restartChild(id): start a child that is not running; an error if it is. */
export class RestartChild implements ModelCommand {
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
    const actual = await outcomeOf(sup.restartChild(this.id), this.toString());
    expectOutcome(actual, model.restartChild(this.supPath, this.id), this.toString());
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `restartChild(${this.supPath}, ${this.id})`;
  }
}
