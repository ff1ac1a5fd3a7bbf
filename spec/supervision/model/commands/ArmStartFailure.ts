import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, expectSameTree } from '../real.js';

/** The next `n` starts of a worker fail: its logic throws while starting (OTP: init/1 crashes). */
export class ArmStartFailure implements ModelCommand {
  constructor(
    readonly path: string,
    readonly n: number,
  ) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.root.alive;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    real.recorder.failStarts.set(this.path, (real.recorder.failStarts.get(this.path) ?? 0) + this.n);
    model.armStartFailure(this.path, this.n);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `failNextStarts(${this.path}, ${this.n})`;
  }
}
