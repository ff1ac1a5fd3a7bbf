/**
 * The decision log as JSON lines: one {@link DecisionRecord} per line, as
 * `coordinator.exportDecisions()` writes it, and the reader that takes it
 * back for `coordinator.replay()` on another process or machine.
 *
 * The reader validates every field a replay reads, so a hand-edited or
 * truncated file fails at its first bad field with a
 * {@link DecisionLineError} naming the line and the field
 * (`decision log line 3: input.history[1]: must be a finite number`), never
 * with a replay that quietly decides from `undefined`. Blank lines are
 * skipped; unknown keys are kept (a newer writer may add fields).
 */
import { DecisionLineError, type WireError } from '../errors.js';
import { DIRECTIVE_TYPES, toDirective } from './policy/directive.js';
import type { DecisionLimits, DecisionRecord, Directive, FailureReport } from './types.js';

/** The records as JSON lines, oldest first, each line ending in `\n`. */
export function toDecisionLines(records: readonly DecisionRecord[]): string {
  let out = '';
  for (const r of records) out += `${JSON.stringify(r)}\n`;
  return out;
}

/** Read JSON lines back into records; throws {@link DecisionLineError} at the first bad line. */
export function parseDecisionLines(text: string): DecisionRecord[] {
  if (typeof text !== 'string') throw new DecisionLineError(0, 'text', 'must be a string of JSON lines');
  const out: DecisionRecord[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() === '') continue;
    out.push(parseDecisionLine(lines[i]!, i + 1));
  }
  return out;
}

/** Read one line (`line` is its 1-based number, for the error). */
export function parseDecisionLine(text: string, line = 1): DecisionRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new DecisionLineError(line, '(line)', `not JSON (${(err as Error).message})`);
  }
  const v = new Reader(line);
  const rec = v.object(value, '(line)');
  v.int(rec.seq, 'seq', 1);
  v.num(rec.at, 'at');
  report(v, rec.input);
  directive(v, rec.directive, 'directive');
  v.str(rec.rule, 'rule');
  if (rec.fallback !== undefined) {
    const f = v.object(rec.fallback, 'fallback');
    v.str(f.rule, 'fallback.rule');
    wireError(v, f.error, 'fallback.error');
  }
  if (rec.limits !== undefined) {
    const l = v.object(rec.limits, 'limits');
    v.oneOf(l.intensity, 'limits.intensity', LIMITS);
  }
  if (rec.overridden !== undefined) directive(v, rec.overridden, 'overridden');
  if (rec.now !== undefined) v.num(rec.now, 'now');
  return rec as unknown as DecisionRecord;
}

const STRATEGIES = ['one_for_one', 'one_for_all', 'rest_for_one', 'simple_one_for_one'] as const;
const RESTARTS = ['permanent', 'transient', 'temporary'] as const;
const REASONS = ['normal', 'error', 'shutdown', 'killed', 'nodedown', 'degraded'] as const;
const LIMITS: readonly DecisionLimits['intensity'][] = ['within', 'exceeded', 'bypassed'];

function report(v: Reader, value: unknown): void {
  const r = v.object(value, 'input') as { [K in keyof FailureReport]?: unknown };
  if (r.type !== 'halyard.supervision.failure.v1') v.fail('input.type', "must be 'halyard.supervision.failure.v1'");
  v.str(r.node, 'input.node');
  v.str(r.supervisor, 'input.supervisor');
  v.oneOf(r.strategy, 'input.strategy', STRATEGIES);
  v.str(r.childId, 'input.childId');
  v.oneOf(r.childType, 'input.childType', ['worker', 'supervisor']);
  v.oneOf(r.restart, 'input.restart', RESTARTS);
  if (typeof r.significant !== 'boolean') v.fail('input.significant', 'must be a boolean');
  v.oneOf(r.reason, 'input.reason', REASONS);
  if (r.error !== undefined) wireError(v, r.error, 'input.error');
  if (r.ocf !== undefined) v.int(r.ocf, 'input.ocf', 0);
  if (!Array.isArray(r.history)) v.fail('input.history', 'must be an array of clock times');
  (r.history as unknown[]).forEach((t, i) => {
    v.num(t, `input.history[${i}]`);
  });
  v.int(r.intensity, 'input.intensity', 0);
  v.int(r.period, 'input.period', 1);
  v.num(r.at, 'input.at');
  if (r.check !== undefined) {
    const c = v.object(r.check, 'input.check');
    if (c.level !== 0 && c.level !== 10 && c.level !== 20) v.fail('input.check.level', 'must be one of 0, 10, 20');
    if (c.code !== undefined) v.int(c.code, 'input.check.code', 0);
    if (typeof c.reason !== 'string') v.fail('input.check.reason', 'must be a string');
    if (c.timedOut !== undefined && typeof c.timedOut !== 'boolean') v.fail('input.check.timedOut', 'must be a boolean');
  }
}

function directive(v: Reader, value: unknown, field: string): Directive {
  const d = v.object(value, field);
  v.oneOf(d.type, `${field}.type`, DIRECTIVE_TYPES);
  const ok = toDirective(d);
  if (ok === undefined) {
    if (d.type === 'restart-after') v.num(d.ms, `${field}.ms`);
    v.fail(`${field}.bypassIntensity`, 'must be a boolean');
  }
  return ok!;
}

function wireError(v: Reader, value: unknown, field: string): WireError {
  const e = v.object(value, field);
  v.str(e.name, `${field}.name`);
  v.str(e.code, `${field}.code`);
  if (typeof e.message !== 'string') v.fail(`${field}.message`, 'must be a string');
  return e as unknown as WireError;
}

class Reader {
  constructor(private readonly line: number) {}

  fail(field: string, reason: string): never {
    throw new DecisionLineError(this.line, field, reason);
  }

  object(value: unknown, field: string): Record<string, unknown> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) this.fail(field, 'must be an object');
    return value as Record<string, unknown>;
  }

  str(value: unknown, field: string): void {
    if (typeof value !== 'string' || value.length === 0) this.fail(field, 'must be a non-empty string');
  }

  num(value: unknown, field: string): void {
    if (typeof value !== 'number' || !Number.isFinite(value)) this.fail(field, 'must be a finite number');
  }

  int(value: unknown, field: string, min: number): void {
    if (!Number.isSafeInteger(value) || (value as number) < min) this.fail(field, `must be an integer >= ${min}`);
  }

  oneOf(value: unknown, field: string, allowed: readonly string[]): void {
    if (typeof value !== 'string' || !allowed.includes(value)) this.fail(field, `must be one of ${allowed.join(', ')}`);
  }
}
