/**
 * Directives: what the Recovery Coordinator tells a supervisor to do with a
 * child that ended (Proto.Actor `directive.go`, plus OTP's outcomes).
 *
 * | directive       | the supervisor ...                                                        |
 * |-----------------|---------------------------------------------------------------------------|
 * | `restart`       | restarts per its strategy (the restart counts toward intensity unless `bypassIntensity`) |
 * | `restart-after` | marks the child `restarting`, restarts it when `ms` have passed on its clock (counts toward intensity when decided, unless `bypassIntensity`) |
 * | `ignore`        | leaves it ended: spec kept as `terminated`, or deleted if temporary or a `simple_one_for_one` instance |
 * | `stop`          | the same bookkeeping as `ignore`, logged as giving up on a failure        |
 * | `escalate`      | stops all its children in reverse order and ends with reason `shutdown`   |
 *
 * `restart` and `restart-after` may carry `bypassIntensity: true`: that
 * restart is neither checked against the supervisor's intensity nor counted
 * in its history (RecoveryCoordinator.ts). Without it, a restart that would
 * exceed intensity becomes `escalate`, whichever rule answered it.
 *
 * Rules may answer a bare type name (`'restart'`); {@link toDirective}
 * normalises answers and rejects anything else, including a
 * `bypassIntensity` that is not a boolean.
 */
import type { Directive, DirectiveType } from '../types.js';

export const RESTART: Directive = Object.freeze({ type: 'restart' });
/** `restart`, opted out of intensity. */
export const RESTART_BYPASS: Directive = Object.freeze({ type: 'restart', bypassIntensity: true });
export const STOP: Directive = Object.freeze({ type: 'stop' });
export const ESCALATE: Directive = Object.freeze({ type: 'escalate' });
export const IGNORE: Directive = Object.freeze({ type: 'ignore' });

export const DIRECTIVE_TYPES: readonly DirectiveType[] = ['restart', 'restart-after', 'stop', 'escalate', 'ignore'];

export function restartAfter(ms: number, options?: { readonly bypassIntensity?: boolean }): Directive {
  return options?.bypassIntensity === true ? { type: 'restart-after', ms, bypassIntensity: true } : { type: 'restart-after', ms };
}

/** Does this answer opt its restart out of intensity? `undefined` when the flag is not a boolean (then it is not a directive). */
function bypassFlag(value: unknown): boolean | undefined {
  if (typeof value !== 'object' || value === null) return false;
  const flag = (value as { bypassIntensity?: unknown }).bypassIntensity;
  return flag === undefined ? false : typeof flag === 'boolean' ? flag : undefined;
}

/** A canonical directive for `value`, or `undefined` if it is not one. */
export function toDirective(value: unknown): Directive | undefined {
  const type = typeof value === 'string' ? value : typeof value === 'object' && value !== null ? (value as { type?: unknown }).type : undefined;
  switch (type) {
    case 'restart': {
      const bypass = bypassFlag(value);
      return bypass === undefined ? undefined : bypass ? RESTART_BYPASS : RESTART;
    }
    case 'stop':
      return STOP;
    case 'escalate':
      return ESCALATE;
    case 'ignore':
      return IGNORE;
    case 'restart-after': {
      const ms = typeof value === 'object' && value !== null ? (value as { ms?: unknown }).ms : undefined;
      const bypass = bypassFlag(value);
      if (bypass === undefined) return undefined;
      return typeof ms === 'number' && Number.isFinite(ms) && ms >= 0 ? restartAfter(ms, { bypassIntensity: bypass }) : undefined;
    }
    default:
      return undefined;
  }
}

/** Same directive: type, delay and intensity opt-out (`bypassIntensity: false` and absent are the same). */
export function directivesEqual(a: Directive, b: Directive): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'restart-after' && a.ms !== (b as { ms?: number }).ms) return false;
  const bypassA = (a as { bypassIntensity?: boolean }).bypassIntensity === true;
  const bypassB = (b as { bypassIntensity?: boolean }).bypassIntensity === true;
  return bypassA === bypassB;
}
