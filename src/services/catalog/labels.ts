/**
 * Node labels (`createNode({ labels })`): what a node offers, matched
 * against a service's `requires`. A node lacking one answers OCF 5
 * (`ERR_INSTALLED`), so placement may move the instance to another node.
 */
import { InvalidSpecError } from '../../errors.js';
import { kindOf } from '../../options.js';

const LABEL = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `labels` must be an array of distinct labels (1 to 64 of letters, digits, `_ . : -`). */
export function assertNodeLabels(labels: unknown, field = 'labels'): void {
  if (labels === undefined) return;
  if (!Array.isArray(labels)) throw new InvalidSpecError(field, `must be an array of labels, got ${kindOf(labels)}`);
  const seen = new Set<unknown>();
  labels.forEach((l, i) => {
    if (typeof l !== 'string' || !LABEL.test(l)) throw new InvalidSpecError(`${field}.${i}`, `must be 1 to 64 letters, digits, "_", ".", ":" or "-", got ${kindOf(l)}`);
    if (seen.has(l)) throw new InvalidSpecError(`${field}.${i}`, `repeats ${JSON.stringify(l)}`);
    seen.add(l);
  });
}

/** The labels of `requires` that `labels` lacks, in `requires` order. */
export function missingLabels(requires: readonly string[], labels: ReadonlySet<string>): string[] {
  return requires.filter((r) => !labels.has(r));
}
