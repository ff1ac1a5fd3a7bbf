/**
 * Ready-made recovery rules. Each returns a {@link Rule} to pass to
 * `coordinator.addRule` (or `new Supervision(system, { rules })`).
 *
 * | factory              | answers                                                                 | passes when |
 * |----------------------|-------------------------------------------------------------------------|-------------|
 * | `exponentialBackoff` | `restart-after` with `initialMs * factor^(n-1)`, capped at `maxMs`, for the n-th consecutive failure of a child | OTP would not restart it (temporary, transient ending normally) |
 * | `giveUpAfter`        | `stop` or `escalate` on the `failures`-th failure of a child within `windowMs` (Pacemaker `migration-threshold` + `failure-timeout`) | below the threshold, or OTP would not restart it |
 * | `ocfClassRule`       | the directive configured for the OCF class of `report.ocf`             | no OCF code, class `success`, or no directive for that class |
 * | `startOnFailure`     | nothing: it starts another service, then passes                         | always |
 *
 * Every `restart` or `restart-after` a rule answers counts toward the
 * supervisor's intensity, as OTP's own do: one too many within `period` and
 * the coordinator answers `escalate` instead (the supervisor gives up). A rule
 * that bounds restarts itself opts out per answer with
 * `{ type: 'restart', bypassIntensity: true }` (`exponentialBackoff` has the
 * option); the decision log's `limits` says which happened.
 *
 * Each rule's `replica()` is a fresh copy (same options, no state), which
 * `coordinator.replay()` decides with; `startOnFailure`'s starts nothing.
 *
 * Rules hold per-child state keyed by node, supervisor label and child id.
 * Entries that can no longer change an answer are pruned as decisions go by,
 * so churn does not grow them.
 */
import { InvalidArgumentError } from '../../errors.js';
import { type OcfClass, ocfClass } from '../../actors/ocf.js';
import { ESCALATE, STOP, restartAfter, toDirective } from './directive.js';
import { wouldRestart } from './otpPolicy.js';
import type { Directive, FailureReport, Rule } from '../types.js';

const PRUNE_EVERY = 1024;

function childKey(report: FailureReport): string {
  return `${report.node}\u0000${report.supervisor}\u0000${report.childId}`;
}

function positive(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidArgumentError(field, 'must be a positive number');
  return v;
}

export interface ExponentialBackoffOptions {
  /** Delay before the first restart, ms. */
  readonly initialMs: number;
  /** Longest delay, ms. */
  readonly maxMs: number;
  /** Growth per consecutive failure; > 1. Default 2. */
  readonly factor?: number;
  /**
   * A child that ran this long after its restart (from the end of the delay
   * to its next failure) starts again from `initialMs`. Default `2 * maxMs`
   * (Kubernetes resets CrashLoopBackOff after twice its 5-minute cap).
   */
  readonly resetAfterMs?: number;
  /**
   * Answer with `bypassIntensity: true`: these restarts neither count toward
   * the supervisor's intensity nor are stopped by it. Pair it with
   * {@link giveUpAfter}, or a child failing for good restarts forever.
   * Default false: the supervisor's intensity bounds them.
   */
  readonly bypassIntensity?: boolean;
  readonly name?: string;
}

/**
 * Restart after a delay that grows exponentially with the consecutive
 * failures of each child: `initialMs, initialMs*factor, initialMs*factor², ...`
 * up to `maxMs`. It never escalates itself: the supervisor's intensity
 * still bounds its restarts (counted when decided, not when the delay ends),
 * so give the supervisor an intensity that fits the delays, or set
 * `bypassIntensity` and bound it with {@link giveUpAfter}.
 */
export function exponentialBackoff(options: ExponentialBackoffOptions): Rule {
  const initialMs = positive('initialMs', options.initialMs);
  const maxMs = positive('maxMs', options.maxMs);
  if (maxMs < initialMs) throw new InvalidArgumentError('maxMs', 'must be >= initialMs');
  const factor = options.factor ?? 2;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 1) {
    throw new InvalidArgumentError('factor', 'must be a number > 1 (the delay must grow)');
  }
  const resetAfterMs = options.resetAfterMs === undefined ? 2 * maxMs : positive('resetAfterMs', options.resetAfterMs);
  const bypassIntensity = options.bypassIntensity ?? false;
  if (typeof bypassIntensity !== 'boolean') throw new InvalidArgumentError('bypassIntensity', 'must be a boolean');
  // Per child: consecutive failures so far, and when the last restart was due.
  const state = new Map<string, { failures: number; restartedAt: number }>();
  let sincePrune = 0;
  return {
    name: options.name ?? 'exponential-backoff',
    decide(report) {
      if (!wouldRestart(report)) return undefined;
      if (++sincePrune >= PRUNE_EVERY) {
        sincePrune = 0;
        for (const [k, s] of state) if (report.at - s.restartedAt >= resetAfterMs) state.delete(k);
      }
      const key = childKey(report);
      let s = state.get(key);
      if (s !== undefined && report.at - s.restartedAt >= resetAfterMs) s = undefined;
      const failures = (s?.failures ?? 0) + 1;
      const delay = Math.min(maxMs, initialMs * factor ** (failures - 1));
      state.set(key, { failures, restartedAt: report.at + delay });
      return restartAfter(delay, { bypassIntensity });
    },
    replica: () => exponentialBackoff(options),
  };
}

export interface GiveUpAfterOptions {
  /** Failures of one child that make the rule give up (Pacemaker `migration-threshold`). Integer >= 1. */
  readonly failures: number;
  /** Failures older than this no longer count (Pacemaker `failure-timeout`), ms. */
  readonly windowMs: number;
  /** `stop`: leave the child terminated (spec kept); `escalate`: the supervisor gives up as on intensity. */
  readonly then: 'stop' | 'escalate';
  readonly name?: string;
}

/**
 * Give up on a child after `failures` failures within `windowMs`. A failure
 * is an exit OTP would restart the child for. Below the threshold it passes,
 * so later rules and the default policy still apply. Once it has given up on
 * a child it forgets that child's count (a manual `restartChild` starts afresh).
 */
export function giveUpAfter(options: GiveUpAfterOptions): Rule {
  const threshold = options.failures;
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new InvalidArgumentError('failures', 'must be an integer >= 1');
  const windowMs = positive('windowMs', options.windowMs);
  if (options.then !== 'stop' && options.then !== 'escalate') throw new InvalidArgumentError('then', "must be 'stop' or 'escalate'");
  const verdict = options.then === 'stop' ? STOP : ESCALATE;
  const state = new Map<string, number[]>();
  let sincePrune = 0;
  return {
    name: options.name ?? 'give-up-after',
    decide(report) {
      if (!wouldRestart(report)) return undefined;
      if (++sincePrune >= PRUNE_EVERY) {
        sincePrune = 0;
        for (const [k, times] of state) if (report.at - times[times.length - 1]! >= windowMs) state.delete(k);
      }
      const key = childKey(report);
      const times = (state.get(key) ?? []).filter((t) => report.at - t < windowMs);
      times.push(report.at);
      if (times.length >= threshold) {
        state.delete(key);
        return verdict;
      }
      state.set(key, times);
      return undefined;
    },
    replica: () => giveUpAfter(options),
  };
}

type ClassAnswer = Directive | Directive['type'] | undefined;

export interface OcfClassRuleOptions {
  /** For OCF_ERR_GENERIC, OCF_NOT_RUNNING, degraded codes and unknown codes. */
  readonly soft?: ClassAnswer;
  /** For OCF_ERR_ARGS, OCF_ERR_UNIMPLEMENTED, OCF_ERR_PERM, OCF_ERR_INSTALLED. */
  readonly hard?: ClassAnswer;
  /** For OCF_ERR_CONFIGURED. */
  readonly fatal?: ClassAnswer;
  readonly name?: string;
}

/**
 * Map the OCF class of the error's exit code (`error.ocf`, see `ocfClass`) to
 * a directive, as Pacemaker treats soft, hard and fatal failures differently:
 * e.g. `{ soft: 'restart', hard: 'stop', fatal: 'escalate' }`. Passes when the
 * report has no OCF code, the class is `success`, or its entry is unset, and
 * for `degraded` reports (a degraded child is running, not failed). A failed
 * recurring monitor reports the code its Check answered, so the table applies
 * to monitor failures as Pacemaker's `on-fail` does.
 */
export function ocfClassRule(options: OcfClassRuleOptions): Rule {
  const table = new Map<OcfClass, Directive>();
  for (const cls of ['soft', 'hard', 'fatal'] as const) {
    const v = options[cls];
    if (v === undefined) continue;
    const d = toDirective(v);
    if (!d) throw new InvalidArgumentError(cls, 'must be a directive or a directive type');
    table.set(cls, d);
  }
  return {
    name: options.name ?? 'ocf-class',
    decide(report) {
      if (report.ocf === undefined || report.reason === 'degraded') return undefined;
      return table.get(ocfClass(report.ocf));
    },
    replica: () => ocfClassRule(options),
  };
}

export interface StartOnFailureOptions {
  /** Start the other service. May be async; the decision waits for it. If it throws, the default policy decides. */
  readonly start: (report: FailureReport) => void | Promise<void>;
  /** Which reports trigger it. Default: abnormal exits (`error`, `killed`). */
  readonly when?: (report: FailureReport) => boolean;
  readonly name?: string;
}

/** Start another service when a child fails (a fallback, a notifier), then pass. */
export function startOnFailure(options: StartOnFailureOptions): Rule {
  if (typeof options?.start !== 'function') throw new InvalidArgumentError('start', 'must be a function');
  const when = options.when ?? ((r: FailureReport) => r.reason === 'error' || r.reason === 'killed');
  const name = options.name ?? 'start-on-failure';
  return {
    name,
    decide(report) {
      if (!when(report)) return undefined;
      const started = options.start(report);
      if (started !== undefined && typeof (started as Promise<void>).then === 'function') {
        return (started as Promise<void>).then(() => undefined);
      }
      return undefined;
    },
    // Starting a service is a side effect, not a decision: a replay must not repeat it.
    replica: () => ({ name, decide: () => undefined }),
  };
}
