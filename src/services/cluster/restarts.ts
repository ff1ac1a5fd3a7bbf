/**
 * Restart intensity of the cluster Recovery Coordinator, per instance: OTP's
 * `add_restart/3` (src/supervision/intensity.ts) applied to each
 * cluster-supervised instance (`cluster.start()`), as if each had a
 * one_for_one supervisor of its own. Pure: no I/O, no clock of its own.
 *
 * ## Options (on `cluster.start({ ..., intensity, period })`)
 * | option      | default | meaning |
 * |-------------|---------|---------|
 * | `intensity` | 3       | integer >= 0: restarts allowed within `period`; one more and the coordinator gives up on the instance |
 * | `period`    | 30000   | integer ms >= 1 |
 *
 * The defaults are looser than OTP's 1 restart in 5 s, for two reasons.
 * Here a restart also answers the loss of a node (`nodedown` counts, as
 * every restart counts in OTP), so a single crash right after a failover
 * must not end the instance. And a cluster-supervised instance has no parent
 * to escalate to: giving up leaves the service down until someone starts it
 * again. Three restarts in 30 s ride out two node losses in a row and a
 * crash, and still stop a crash loop after its fourth start.
 *
 * ## What is counted, and where it is kept
 * One restart per ended tenure: the history records the epoch whose end the
 * newest restart answered (`from`), so a restart that is retried (a spawn
 * that timed out, a coordinator that died mid-way and whose successor
 * finishes its pending entry) is not counted twice. The history lives in the
 * coordinator's KV bucket (`restarts.<name>`), so a new coordinator carries
 * on where the old one stopped.
 *
 * ## Which clock
 * The history outlives the coordinator's process, and monotonic times of two
 * processes cannot be compared, so it holds wall-clock ms (`Date.now()` by
 * default, injectable). Clock skew between two successive coordinators
 * shifts the window by that skew; a wall-clock jump does the same once.
 *
 * | intensity | period | stored history | from | ended epoch | now  | outcome |
 * |-----------|--------|----------------|------|-------------|------|---------|
 * | 3         | 30000  | none           |      | 7           | 0    | restart, history [0] |
 * | 3         | 30000  | [0, 10, 20]    | 9    | 11          | 30   | stop (4 in the window) |
 * | 3         | 30000  | [0, 10, 20]    | 9    | 11          | 30011| restart, history [20, 30011] |
 * | 3         | 30000  | [0, 10, 20]    | 11   | 11          | 40   | restart, history unchanged (already counted) |
 *
 * ## Past the limit: banned, then tried again (Pacemaker's failure-timeout)
 * An instance given up for its intensity is banned, not forgotten: its record
 * stays `exited` and `gaveUp` with `bannedUntil` = the give-up's wall-clock
 * time + `failureTimeoutMs` (cluster option, default 60 s). Once that has
 * passed the coordinator clears its restart history (Pacemaker clears the
 * fail count) and decides again on the end that led to the ban, as a fresh
 * failure: a lost node's singleton comes back once survivors can host it,
 * and a crash loop is retried once per failure timeout rather than never.
 * A rule that answered `stop` or `escalate` is not overruled: that give-up
 * has no ban and lasts until someone starts the instance again.
 *
 * | gaveUp | bannedUntil | now   | ban |
 * |--------|-------------|-------|-----|
 * | no     |             | any   | none |
 * | yes    | none        | any   | forever (a rule gave up) |
 * | yes    | 60000       | 59999 | banned |
 * | yes    | 60000       | 60000 | ended: decide again |
 */
import { InvalidSpecError } from '../../errors.js';
import { addRestart } from '../../supervision/policy/intensity.js';
import { isRecord } from './kv.js';

export const DEFAULT_CLUSTER_INTENSITY = 3;
export const DEFAULT_CLUSTER_PERIOD_MS = 30_000;
/** How long an instance given up for its intensity stays banned before it is tried again (Pacemaker's failure-timeout). */
export const DEFAULT_FAILURE_TIMEOUT_MS = 60_000;

/** OTP's supervisor report term for giving up; the reason recorded on an instance given up. */
export const MAX_INTENSITY_REASON = 'reached_max_restart_intensity';

/** As stored in the coord bucket (`restarts.<name>`). */
export interface RestartHistory {
  readonly type: 'halyard.cluster.v1.restarts';
  readonly name: string;
  /** Wall-clock ms of the restarts inside the window, oldest first. */
  readonly history: readonly number[];
  /** Epoch of the tenure whose end the newest restart answered. */
  readonly from: number;
}

export type IntensityStep =
  /** Restart; write `history` (unless `counted` is false: this end was counted already). */
  | { readonly kind: 'restart'; readonly history: readonly number[]; readonly counted: boolean }
  /** More than `intensity` restarts within `period`: give up. */
  | { readonly kind: 'stop'; readonly history: readonly number[] };

/** Count the restart that answers the end of tenure `fromEpoch` at `now`, unless it was counted already. */
export function intensityStep(
  stored: Pick<RestartHistory, 'history' | 'from'> | undefined,
  fromEpoch: number,
  now: number,
  intensity: number,
  period: number,
): IntensityStep {
  if (stored !== undefined && stored.from === fromEpoch) return { kind: 'restart', history: stored.history, counted: false };
  const r = addRestart(stored?.history ?? [], now, intensity, period);
  return r.exceeded ? { kind: 'stop', history: r.history } : { kind: 'restart', history: r.history, counted: true };
}

/** A stored history, or `undefined` when `v` is not one. */
export function parseRestarts(v: unknown): RestartHistory | undefined {
  if (!isRecord(v) || v.type !== 'halyard.cluster.v1.restarts' || !Array.isArray(v.history) || typeof v.from !== 'number') return undefined;
  if (!v.history.every((t) => typeof t === 'number' && Number.isFinite(t))) return undefined;
  return v as unknown as RestartHistory;
}

/** Validate `intensity` and `period` of an instance spec (OTP's rules: integer >= 0, integer ms >= 1). */
export function resolveIntensity(spec: { intensity?: unknown; period?: unknown }): { intensity: number; period: number } {
  const { intensity = DEFAULT_CLUSTER_INTENSITY, period = DEFAULT_CLUSTER_PERIOD_MS } = spec;
  if (typeof intensity !== 'number' || !Number.isSafeInteger(intensity) || intensity < 0) {
    throw new InvalidSpecError('intensity', 'must be an integer >= 0');
  }
  if (typeof period !== 'number' || !Number.isSafeInteger(period) || period < 1) {
    throw new InvalidSpecError('period', 'must be an integer number of ms >= 1');
  }
  return { intensity, period };
}

export type Ban = 'none' | 'forever' | 'banned' | 'ended';

/** Where a record stands with its ban at wall-clock `now` (see the table above). */
export function banOf(rec: { readonly gaveUp?: boolean; readonly bannedUntil?: unknown }, now: number): Ban {
  if (rec.gaveUp !== true) return 'none';
  if (typeof rec.bannedUntil !== 'number' || !Number.isFinite(rec.bannedUntil)) return 'forever';
  return now < rec.bannedUntil ? 'banned' : 'ended';
}
