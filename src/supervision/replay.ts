/**
 * Replaying the decision log (Pacemaker's `crm_simulate` on saved inputs):
 * run rules again on the inputs decisions were made from, and list the
 * decisions that would now come out differently.
 *
 * A logged decision holds everything the answer was computed from: the
 * report (reason, restart type, error and OCF code), the supervisor's
 * restart history inside the window with its intensity and period, the
 * report's clock time, and the `now` rules were given when that was not the
 * report's time. Intensity is a pure function of those, so the same rules
 * on the same inputs give the same answer.
 *
 * Rules that keep state across failures (backoff counts, give-up windows,
 * a machine's context) are replayed from a fresh state: each rule's
 * `replica()` is used when it has one (every shipped rule does), so replay
 * never changes what a live rule remembers and never repeats a side effect
 * (`startOnFailure`'s replica starts nothing). Such rules see the decisions
 * in the order given, so replay the log from its first decision: once the
 * ring has overwritten older entries, a stateful rule may count differently.
 */
import { toLogError } from '../errors.js';
import type { Logger } from '../log.js';
import { directivesEqual } from './policy/directive.js';
import { limitIntensity } from './policy/otpPolicy.js';
import { type ChainEnv, type Verdict, runChain } from './policy/ruleChain.js';
import type { DecisionRecord, ReplayDifference, Rule, RuleContext } from './types.js';

export interface ReplayEnv extends Omit<ChainEnv, 'context'> {
  /** The context rules get, at the logged time `now`. */
  context(now: number): RuleContext;
  readonly logger: Logger;
}

/** Each decision whose directive differs under `rules`, in the order given. Never throws; a failing rule falls back as it would live. */
export async function replayDecisions(decisions: readonly DecisionRecord[], rules: readonly Rule[], env: ReplayEnv): Promise<ReplayDifference[]> {
  const replicas = rules.map((r) => (typeof r.replica === 'function' ? r.replica() : r));
  const out: ReplayDifference[] = [];
  try {
    for (const decision of decisions) {
      const now = decision.now ?? decision.input.at;
      const chainEnv: ChainEnv = { clock: env.clock, timeout: env.timeout, context: () => env.context(now) };
      const pending = runChain(decision.input, replicas, chainEnv);
      const verdict: Verdict = pending instanceof Promise ? await pending : (pending as Verdict);
      const { directive, intensity } = limitIntensity(decision.input, verdict.answer);
      if (directivesEqual(directive, decision.directive)) continue;
      const diff: { -readonly [K in keyof ReplayDifference]: ReplayDifference[K] } = { decision, directive, rule: verdict.rule };
      if (intensity !== undefined) diff.limits = { intensity };
      if (directive !== verdict.answer) diff.overridden = verdict.answer;
      if (verdict.failed !== undefined) diff.failedRule = verdict.failed.rule;
      out.push(diff);
    }
  } finally {
    // Only the replicas made here are ours to release.
    for (let i = 0; i < replicas.length; i++) {
      if (replicas[i] === rules[i]) continue;
      try {
        await replicas[i]!.close?.();
      } catch (err) {
        env.logger.error({ rule: replicas[i]!.name, err: toLogError(err) }, 'replay: rule replica close failed');
      }
    }
  }
  return out;
}
