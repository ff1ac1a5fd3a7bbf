/**
 * A start's config against its service's Standard Schema. Validation may be
 * asynchronous (the spec allows it). A failure is an `InvalidConfigError`
 * listing every failing path the schema reported, and OCF class 6: the same
 * config fails wherever it runs, so it is never restarted.
 */
import { InvalidConfigError } from '../../errors.js';
import type { AnyServiceDefinition } from './definition.js';
import { issuePath } from './standardSchema.js';

/** The config as the schema returns it (coerced, defaults applied), or the value itself when the service declares no schema. */
export async function validateConfig(def: AnyServiceDefinition, config: unknown): Promise<unknown> {
  if (def.config === undefined) return config;
  let result: Awaited<ReturnType<typeof def.config['~standard']['validate']>>;
  try {
    result = await def.config['~standard'].validate(config);
  } catch (err) {
    // A schema that throws is the schema's bug, but to the caller it is still a config that did not pass.
    throw new InvalidConfigError(def.name, [{ path: '(root)', message: `the schema threw: ${err instanceof Error ? err.message : String(err)}` }]);
  }
  if (result.issues !== undefined) {
    const issues = result.issues.map((i) => ({ path: issuePath(i), message: i.message }));
    throw new InvalidConfigError(def.name, issues.length > 0 ? issues : [{ path: '(root)', message: 'rejected' }]);
  }
  return result.value;
}
