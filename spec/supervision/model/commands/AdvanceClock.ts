import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, expectSameTree } from '../real.js';

/** Time passes on the injected clock; restarts older than `period` stop counting. */
export class AdvanceClock implements ModelCommand {
  constructor(readonly ms: number) {}

  check(): boolean {
    return true;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    real.clock.advance(this.ms);
    model.advance(this.ms);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return `advanceClock(${this.ms})`;
  }
}
