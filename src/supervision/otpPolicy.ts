/**
 * The default recovery policy: OTP's `do_restart/3` and `restart/2`, exactly.
 *
 * | restart     | exit reason                 | directive                                 |
 * |-------------|-----------------------------|-------------------------------------------|
 * | `temporary` | any                         | `ignore` (the supervisor deletes the spec) |
 * | `transient` | `normal`, `shutdown`        | `ignore` (spec kept, child terminated)    |
 * | `transient` | `error`, `killed`           | `restart`, or `escalate` past intensity   |
 * | `permanent` | any                         | `restart`, or `escalate` past intensity   |
 *
 * `killed` (someone else brutally stopped the child, or it overran its
 * shutdown time) is abnormal, as OTP treats `killed`.
 */
import { ESCALATE, IGNORE, RESTART } from './directive.js';
import { wouldExceed } from './intensity.js';
import type { Directive, FailureReport } from './types.js';

/** Name recorded for decisions of the default policy. */
export const DEFAULT_RULE = 'otp-default';

/** Does OTP restart a child of this restart type that ended with this reason (before intensity)? */
export function wouldRestart(report: Pick<FailureReport, 'restart' | 'reason'>): boolean {
  switch (report.restart) {
    case 'permanent':
      return true;
    case 'transient':
      return report.reason !== 'normal' && report.reason !== 'shutdown';
    default:
      return false;
  }
}

export function otpPolicy(report: FailureReport): Directive {
  if (!wouldRestart(report)) return IGNORE;
  return wouldExceed(report.history, report.at, report.intensity, report.period) ? ESCALATE : RESTART;
}
