/**
 * The logic an instance runs, by its definition's `container`: `inline` runs
 * the definition's own logic; `worker` and `process` run container logic
 * (containers/logicFor.ts) that imports the definition's `module` inside the
 * container and runs the logic of the export holding this definition.
 *
 * The export is looked up here, in the node, by `isServiceDefinition` and
 * the definition's `name`, so a module that does not export the service is a
 * `ContainerLoadError` (field `export`) before setup runs and before any
 * container is spawned.
 */
import type { AnyActorLogic } from 'xstate';
import { ContainerLoadError, describe } from '../../errors.js';
import { type AnyServiceDefinition, isServiceDefinition } from '../catalog/definition.js';
import { logicFor } from '../containers/logicFor.js';

export async function containedLogic(def: AnyServiceDefinition): Promise<AnyActorLogic> {
  if (def.container === 'inline' || def.module === undefined) return def.logic;
  const exportName = await serviceExport(def.module, def.name);
  return logicFor({ container: def.container, module: def.module, export: exportName });
}

/** The name of the export of `module` that is the service definition called `name`. */
export async function serviceExport(module: string, name: string): Promise<string> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(module)) as Record<string, unknown>;
  } catch (err) {
    throw new ContainerLoadError('module', module, describe(err));
  }
  for (const [key, value] of Object.entries(mod)) {
    if (isServiceDefinition(value) && value.name === name) return key;
  }
  throw new ContainerLoadError('export', module, `exports no service definition named ${JSON.stringify(name)}`);
}
