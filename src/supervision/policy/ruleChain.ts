/**
 * The rule chain: consult rules in order, ahead of the OTP default, and
 * return what decided. Pure of side effects on the coordinator (no log, no
 * counters), so the live path and `replay()` run the very same code: a
 * replay that differs is a rule that answers differently, never a second
 * implementation that drifted.
 *
 * A rule that throws, rejects, outruns `timeout` on `clock`, or answers
 * something that is not a directive, is reported as `fallback` and the
 * default policy answers instead. Limits (intensity) are not applied here:
 * the caller applies them to the verdict (otpPolicy.ts `limitIntensity`).
 */
import type { Clock, TimerHandle } from '../../clock.js';
import { InvalidArgumentError, TimeoutError, describe } from '../../errors.js';
import { toDirective } from './directive.js';
import { DEFAULT_RULE, otpAnswer } from './otpPolicy.js';
import type { Directive, FailureReport, Rule, RuleAnswer, RuleContext } from '../types.js';

/** What the chain answered, before limits. */
export interface Verdict {
  readonly answer: Directive;
  /** The rule that answered (`otp-default` for the default policy). */
  readonly rule: string;
  /** Set when a rule failed and the default answered in its place. */
  readonly failed?: { readonly rule: string; readonly error: unknown };
  /** The `now` the rules were given; absent when no rule was consulted. */
  readonly now?: number;
}

export interface ChainEnv {
  readonly clock: Clock;
  /** Deadline for an asynchronous rule, ms. */
  readonly timeout: number;
  /** The context handed to rules; built once per decision, on the first rule consulted. */
  context(report: FailureReport): RuleContext;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

// The default's two answers as shared verdicts: with no rules installed this runs on every restart.
const DEFAULT_VERDICTS = new Map<Directive, Verdict>();

function defaultVerdict(report: FailureReport): Verdict {
  const answer = otpAnswer(report);
  let v = DEFAULT_VERDICTS.get(answer);
  if (v === undefined) {
    v = Object.freeze({ answer, rule: DEFAULT_RULE });
    DEFAULT_VERDICTS.set(answer, v);
  }
  return v;
}

/** Consult `rules` (a snapshot: the caller's list may change while an async rule is pending). Never throws, never rejects. */
export function runChain(report: FailureReport, rules: readonly Rule[], env: ChainEnv): Verdict | Promise<Verdict> {
  if (rules.length === 0) return defaultVerdict(report);
  return consult(report, rules, 0, env, undefined);
}

function consult(report: FailureReport, rules: readonly Rule[], from: number, env: ChainEnv, ctx: RuleContext | undefined): Verdict | Promise<Verdict> {
  for (let i = from; i < rules.length; i++) {
    const rule = rules[i]!;
    ctx ??= env.context(report);
    let answer: RuleAnswer | Promise<RuleAnswer>;
    try {
      answer = rule.decide(report, ctx);
    } catch (err) {
      return fallback(report, rule, err, ctx);
    }
    if (isThenable(answer)) return awaitRule(report, rules, i, env, ctx, answer);
    if (answer === undefined) continue;
    const directive = toDirective(answer);
    if (!directive) return fallback(report, rule, notADirective(rule, answer), ctx);
    return { answer: directive, rule: rule.name, now: ctx.now };
  }
  return { answer: otpAnswer(report), rule: DEFAULT_RULE, now: ctx?.now };
}

async function awaitRule(
  report: FailureReport,
  rules: readonly Rule[],
  i: number,
  env: ChainEnv,
  ctx: RuleContext,
  pending: PromiseLike<RuleAnswer>,
): Promise<Verdict> {
  const rule = rules[i]!;
  let answer: unknown;
  try {
    answer = await withTimeout(env, rule, pending);
  } catch (err) {
    return fallback(report, rule, err, ctx);
  }
  if (answer === undefined) return consult(report, rules, i + 1, env, ctx);
  const directive = toDirective(answer);
  if (!directive) return fallback(report, rule, notADirective(rule, answer), ctx);
  return { answer: directive, rule: rule.name, now: ctx.now };
}

function withTimeout<T>(env: ChainEnv, rule: Rule, pending: PromiseLike<T>): Promise<T> {
  const { clock, timeout } = env;
  return new Promise<T>((resolve, reject) => {
    let timer: TimerHandle | undefined = clock.setTimer(() => {
      timer = undefined;
      reject(new TimeoutError(`rule ${rule.name}`, timeout));
    }, timeout);
    const done = (): void => {
      if (timer !== undefined) clock.clearTimer(timer);
      timer = undefined;
    };
    pending.then(
      (v) => {
        done();
        resolve(v);
      },
      (err) => {
        done();
        reject(err);
      },
    );
  });
}

function fallback(report: FailureReport, rule: Rule, error: unknown, ctx: RuleContext): Verdict {
  return { answer: otpAnswer(report), rule: DEFAULT_RULE, failed: { rule: rule.name, error }, now: ctx.now };
}

function notADirective(rule: Rule, answer: unknown): InvalidArgumentError {
  let shown: string;
  try {
    shown = JSON.stringify(answer) ?? describe(answer);
  } catch {
    shown = describe(answer);
  }
  return new InvalidArgumentError('directive', `rule ${rule.name} answered ${shown.slice(0, 200)}, which is not a directive`);
}
