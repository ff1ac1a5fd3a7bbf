import type { ChildDef, SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, expectOutcome, expectSameTree, mustRealSupervisor, outcomeOf, toChildSpec } from '../real.js';

/** supervisor.startChild(spec): append a new child and start it; an error if the id is taken. */
export class StartChild implements ModelCommand {
  constructor(
    readonly supPath: string,
    readonly def: ChildDef,
  ) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.supervisor(this.supPath) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const sup = mustRealSupervisor(real, this.supPath);
    const actual = await outcomeOf(sup.startChild(toChildSpec(this.def, this.supPath, real.recorder)), this.toString());
    expectOutcome(actual, model.startChild(this.supPath, this.def), this.toString());
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `startChild(${this.supPath}, ${this.def.id} ${this.def.restart} ${this.def.kind})`;
  }
}
