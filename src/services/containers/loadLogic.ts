/**
 * Finding XState logic in a module by URL: what a container does inside its
 * worker or process, and what an `inline` container does in the node itself.
 */
import { pathToFileURL } from 'node:url';
import type { AnyActorLogic } from 'xstate';
import { ContainerLoadError, InvalidArgumentError } from '../../errors.js';

/** True for anything XState can run: machines and `fromX` logic all carry these two functions. */
export function isActorLogic(v: unknown): v is AnyActorLogic {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as { transition?: unknown }).transition === 'function' &&
    typeof (v as { getInitialSnapshot?: unknown }).getInitialSnapshot === 'function'
  );
}

/** A module URL as the container imports it; a plain absolute path is accepted and turned into a `file:` URL. */
export function moduleUrlOf(module: unknown): string {
  if (module instanceof URL) return module.href;
  if (typeof module !== 'string' || module.length === 0) throw new InvalidArgumentError('module', 'must be a module URL (import.meta.url) or an absolute path');
  if (module.startsWith('/')) return pathToFileURL(module).href;
  try {
    return new URL(module).href;
  } catch {
    throw new InvalidArgumentError('module', `must be a module URL (import.meta.url) or an absolute path, got ${JSON.stringify(module).slice(0, 200)}`);
  }
}

export function assertExportName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('export', 'must be a non-empty export name');
}

/** Import `module` and return its export `name`, which must be XState logic. */
export async function loadLogic(module: string | URL, name = 'default'): Promise<AnyActorLogic> {
  const url = moduleUrlOf(module);
  assertExportName(name);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ContainerLoadError('module', url, err instanceof Error ? err.message : String(err));
  }
  const logic = mod[name];
  if (!isActorLogic(logic)) {
    throw new ContainerLoadError('export', url, logic === undefined ? `has no export ${JSON.stringify(name)}` : `export ${JSON.stringify(name)} is not XState logic`);
  }
  return logic;
}
