/**
 * Directives: what the Recovery Coordinator tells a supervisor to do with a
 * child that ended (Proto.Actor `directive.go`, plus OTP's outcomes).
 *
 * | directive       | the supervisor ...                                                        |
 * |-----------------|---------------------------------------------------------------------------|
 * | `restart`       | restarts per its strategy (the restart counts toward intensity)           |
 * | `restart-after` | marks the child `restarting`, restarts it when `ms` have passed on its clock (counts toward intensity when decided) |
 * | `ignore`        | leaves it ended: spec kept as `terminated`, or deleted if temporary or a `simple_one_for_one` instance |
 * | `stop`          | the same bookkeeping as `ignore`, logged as giving up on a failure        |
 * | `escalate`      | stops all its children in reverse order and ends with reason `shutdown`   |
 *
 * Rules may answer a bare type name (`'restart'`); {@link toDirective}
 * normalises answers and rejects anything else.
 */
import type { Directive, DirectiveType } from './types.js';

export const RESTART: Directive = Object.freeze({ type: 'restart' });
export const STOP: Directive = Object.freeze({ type: 'stop' });
export const ESCALATE: Directive = Object.freeze({ type: 'escalate' });
export const IGNORE: Directive = Object.freeze({ type: 'ignore' });

export const DIRECTIVE_TYPES: readonly DirectiveType[] = ['restart', 'restart-after', 'stop', 'escalate', 'ignore'];

export function restartAfter(ms: number): Directive {
  return { type: 'restart-after', ms };
}

/** A canonical directive for `value`, or `undefined` if it is not one. */
export function toDirective(value: unknown): Directive | undefined {
  const type = typeof value === 'string' ? value : typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  switch (type) {
    case 'restart':
      return RESTART;
    case 'stop':
      return STOP;
    case 'escalate':
      return ESCALATE;
    case 'ignore':
      return IGNORE;
    case 'restart-after': {
      const ms = typeof value === 'object' && value !== null ? (value as { ms?: unknown }).ms : undefined;
      return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? restartAfter(ms) : undefined;
    }
    default:
      return undefined;
  }
}
