/**
 * The default recovery policy: OTP's `do_restart/3` and `restart/2`, exactly.
 *
 * | restart     | exit reason                 | directive                                 |
 * |-------------|-----------------------------|-------------------------------------------|
 * | `temporary` | any                         | `ignore` (the supervisor deletes the spec) |
 * | `transient` | `normal`, `shutdown`        | `ignore` (spec kept, child terminated)    |
 * | `transient` | `error`, `killed`           | `restart`, or `escalate` past intensity   |
 * | `permanent` | any                         | `restart`, or `escalate` past intensity   |
 * | any         | `degraded` (still running)  | `ignore`: logged, the child keeps running |
 *
 * `killed` (someone else brutally stopped the child, or it overran its
 * shutdown time) is abnormal, as OTP treats `killed`.
 */
import { ESCALATE, IGNORE, RESTART } from './directive.js';
import { wouldExceed } from './intensity.js';
import type { Directive, FailureReport, IntensityLimit } from '../types.js';

/** Name recorded for decisions of the default policy. */
export const DEFAULT_RULE = 'otp-default';

/** Does OTP restart a child of this restart type that ended with this reason (before intensity)? */
export function wouldRestart(report: Pick<FailureReport, 'restart' | 'reason'>): boolean {
  // A degraded child has not ended: there is nothing to restart unless a rule says so.
  if (report.reason === 'degraded') return false;
  switch (report.restart) {
    case 'permanent':
      return true;
    case 'transient':
      return report.reason !== 'normal' && report.reason !== 'shutdown';
    default:
      return false;
  }
}

/** OTP's answer before intensity: `restart` or `ignore`. */
export function otpAnswer(report: FailureReport): Directive {
  return wouldRestart(report) ? RESTART : IGNORE;
}

export interface Limited {
  readonly directive: Directive;
  /** Set when `answer` was a restart. */
  readonly intensity?: IntensityLimit;
}

/**
 * Intensity, applied to any answer: a restart that would be one too many
 * becomes OTP's outcome, `escalate` (the supervisor gives up), unless it
 * carries `bypassIntensity: true`. Other directives pass unchanged. The
 * coordinator applies this to every rule's answer, the default's included.
 */
export function limitIntensity(report: FailureReport, answer: Directive): Limited {
  if (answer.type !== 'restart' && answer.type !== 'restart-after') return { directive: answer };
  if (answer.bypassIntensity === true) return { directive: answer, intensity: 'bypassed' };
  return wouldExceed(report.history, report.at, report.intensity, report.period)
    ? { directive: ESCALATE, intensity: 'exceeded' }
    : { directive: answer, intensity: 'within' };
}

export function otpPolicy(report: FailureReport): Directive {
  return limitIntensity(report, otpAnswer(report)).directive;
}
