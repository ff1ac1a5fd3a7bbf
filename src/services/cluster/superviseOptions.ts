/**
 * The options of `cluster.supervise(spec, options)`; the contract is in
 * Adoption.ts. Apart from it so that the shipped types name no internals.
 */
import { assertName } from '../../actors/names.js';
import { describe, InvalidSpecError } from '../../errors.js';
import { isPlainObject } from '../../options.js';

export const Lifetime = { Node: 'node', Cluster: 'cluster' } as const;
export type SupervisorLifetime = (typeof Lifetime)[keyof typeof Lifetime];

export interface ClusterSuperviseOptions {
  readonly name: string;
  readonly lifetime?: SupervisorLifetime;
  readonly graceMs?: number;
}

/** How long hosts keep a lost supervisor's instances for an adopter, by default. */
export const DEFAULT_GRACE_MS = 10_000;

const OPTION_KEYS = new Set(['name', 'lifetime', 'graceMs']);

/** Validate the options of `cluster.supervise`, naming the field. */
export function resolveSuperviseOptions(options: unknown): { name: string; lifetime: SupervisorLifetime; graceMs: number } {
  if (!isPlainObject(options)) throw new InvalidSpecError('options', "must be { name, lifetime?: 'node' | 'cluster', graceMs? }");
  for (const k of Object.keys(options)) if (!OPTION_KEYS.has(k)) throw new InvalidSpecError(k, 'is not an option of cluster.supervise');
  try {
    assertName(options.name);
  } catch (err) {
    throw new InvalidSpecError('name', describe(err));
  }
  const lifetime = options.lifetime ?? Lifetime.Node;
  if (lifetime !== Lifetime.Node && lifetime !== Lifetime.Cluster) throw new InvalidSpecError('lifetime', "must be 'node' or 'cluster'");
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  if (!Number.isSafeInteger(graceMs) || (graceMs as number) < 0) throw new InvalidSpecError('graceMs', 'must be an integer >= 0 (ms)');
  return { name: options.name, lifetime, graceMs: graceMs as number };
}
