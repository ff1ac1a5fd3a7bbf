/**
 * One entry for every container kind, as a service definition names it
 * (`container: 'inline' | 'worker' | 'process'` with a module URL): the logic
 * to hand to `spawn` or a child spec.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidArgumentError } from '../../errors.js';
import { type ContainerOptions, containerLogic } from './containerLogic.js';
import { loadLogic } from './loadLogic.js';

export type ContainerChoice = 'inline' | ContainerOptions['container'];

export interface LogicForOptions extends Omit<ContainerOptions, 'container'> {
  readonly container?: ContainerChoice;
}

/**
 * `inline` (the default) imports the module here and returns its logic, so a
 * missing export is a `ContainerLoadError` before anything starts; `worker`
 * and `process` return container logic, which loads the module inside the
 * container and fails the instance with the same error if it cannot.
 */
export async function logicFor(options: LogicForOptions): Promise<AnyActorLogic> {
  const container = options.container ?? 'inline';
  if (container === 'inline') {
    if (options.resourceLimits !== undefined) throw new InvalidArgumentError('resourceLimits', "applies only to container 'worker'");
    return loadLogic(options.module, options.export ?? 'default');
  }
  if (container !== 'worker' && container !== 'process') throw new InvalidArgumentError('container', "must be 'inline', 'worker' or 'process'");
  return containerLogic({ ...options, container });
}
