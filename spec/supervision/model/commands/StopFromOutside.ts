import type { SupervisionModel } from '../model.js';
import { type ModelCommand, type Real, STEP_DEADLINE, expectSameTree, realWorker } from '../real.js';
import { withDeadline } from '../../../support/wait.js';

/**
 * Someone outside the tree stops a running worker: gracefully (it handles the
 * shutdown event and ends `shutdown`) or with `brutal_kill` (it ends
 * `killed`). Its supervisor did not cause the exit, so it reports and
 * applies the restart type: `shutdown` is a normal end, `killed` is not.
 */
export class StopFromOutside implements ModelCommand {
  constructor(
    readonly path: string,
    readonly mode: 'shutdown' | 'brutal_kill',
  ) {}

  check(model: Readonly<SupervisionModel>): boolean {
    return model.runningWorker(this.path) !== undefined;
  }

  async run(model: SupervisionModel, real: Real): Promise<void> {
    const ref = realWorker(real, this.path);
    await withDeadline(ref.stop(this.mode === 'shutdown' ? 5000 : 'brutal_kill'), STEP_DEADLINE, this.toString());
    if (this.mode === 'shutdown') model.stopFromOutside(this.path);
    else model.kill(this.path);
    await expectSameTree(model, real, this.toString());
  }

  toString(): string {
    return this.mode === 'shutdown' ? `stopFromOutside(${this.path})` : `killFromOutside(${this.path})`;
  }
}
