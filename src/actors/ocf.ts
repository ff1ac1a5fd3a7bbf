/**
 * The health protocol: OCF **Check** and **Status**, answered by every actor
 * with no code from the user (and by the node, supervisors and the coordinator).
 *
 * ## Check
 * `check(level)` with an OCF monitor depth of 0, 10 or 20 returns an OCF
 * exit code, its label and a reason. Without user code:
 *
 * | actor lifecycle                | code | label             |
 * |--------------------------------|------|-------------------|
 * | running                        | 0    | OCF_SUCCESS       |
 * | running, level >= 10, mailbox at or above 90% of capacity | 190 | OCF_DEGRADED |
 * | stopped cleanly, or done       | 7    | OCF_NOT_RUNNING   |
 * | failed (logic threw, errored)  | 1    | OCF_ERR_GENERIC   |
 *
 * A user `check` function (spawn option) deepens a running actor's answer: it
 * receives the snapshot and the level and returns a code or `{ code, reason }`,
 * synchronously or as a promise. If it throws, the answer is OCF_ERR_GENERIC
 * with the error's message as the reason.
 *
 * ## Status
 * `status()` writes one structured pino line at once (level info, msg
 * `status`) and returns the same object: state value, lifecycle, mailbox depth
 * and capacity, messages processed and dropped, uptime and the last error.
 *
 * Both are answered out of band, ahead of queued user messages: they read the
 * actor's current snapshot and never wait behind its mailbox.
 *
 * On the wire they are envelope kinds `check` and `status` (see services/remote/envelope.ts).
 */
import type { WireError } from '../errors.js';

/** OCF resource-agent exit codes (OCF Resource Agent API, plus Pacemaker's degraded codes). */
export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
  DEGRADED: 190,
  DEGRADED_PROMOTED: 191,
} as const;
export type OcfCode = (typeof OCF)[keyof typeof OCF];

const LABELS: Record<number, string> = {
  0: 'OCF_SUCCESS',
  1: 'OCF_ERR_GENERIC',
  2: 'OCF_ERR_ARGS',
  3: 'OCF_ERR_UNIMPLEMENTED',
  4: 'OCF_ERR_PERM',
  5: 'OCF_ERR_INSTALLED',
  6: 'OCF_ERR_CONFIGURED',
  7: 'OCF_NOT_RUNNING',
  8: 'OCF_RUNNING_PROMOTED',
  9: 'OCF_FAILED_PROMOTED',
  190: 'OCF_DEGRADED',
  191: 'OCF_DEGRADED_PROMOTED',
};

/** The OCF label of a code, e.g. `OCF_SUCCESS`; unknown codes are `OCF_UNKNOWN_<n>`. */
export function ocfLabel(code: number): string {
  return LABELS[code] ?? `OCF_UNKNOWN_${code}`;
}

/**
 * Pacemaker's severity classes: `soft` failures may be recovered in place,
 * `hard` ones need the resource moved elsewhere, `fatal` ones need an operator.
 */
export type OcfClass = 'success' | 'soft' | 'hard' | 'fatal';

export function ocfClass(code: number): OcfClass {
  switch (code) {
    case OCF.SUCCESS:
    case OCF.RUNNING_PROMOTED:
      return 'success';
    case OCF.ERR_GENERIC:
    case OCF.NOT_RUNNING:
    case OCF.FAILED_PROMOTED:
    case OCF.DEGRADED:
    case OCF.DEGRADED_PROMOTED:
      return 'soft';
    case OCF.ERR_ARGS:
    case OCF.ERR_UNIMPLEMENTED:
    case OCF.ERR_PERM:
    case OCF.ERR_INSTALLED:
      return 'hard';
    case OCF.ERR_CONFIGURED:
      return 'fatal';
    default:
      return 'soft';
  }
}

export const CHECK_LEVELS = [0, 10, 20] as const;
export type CheckLevel = (typeof CHECK_LEVELS)[number];

export interface CheckResult {
  readonly code: number;
  readonly label: string;
  readonly reason: string;
  readonly level: CheckLevel;
  /** Actor name, or its id when unnamed. */
  readonly actor: string;
  readonly node: string;
}

/** What a user check function may return. */
export type UserCheckAnswer = number | { code: number; reason?: string };

export interface CheckContext<TSnapshot = unknown> {
  readonly snapshot: TSnapshot;
  readonly level: CheckLevel;
  readonly mailbox: { readonly depth: number; readonly capacity: number };
}

export type CheckFn<TSnapshot = any> = (ctx: CheckContext<TSnapshot>) => UserCheckAnswer | Promise<UserCheckAnswer>;

export type Lifecycle = 'running' | 'stopping' | 'stopped' | 'done' | 'failed';

export interface StatusReport {
  readonly actor: string;
  readonly id: string;
  readonly node: string;
  readonly lifecycle: Lifecycle;
  /** XState state value for machines; the snapshot status otherwise. */
  readonly state: unknown;
  readonly mailbox: { readonly depth: number; readonly capacity: number; readonly overflow: string };
  readonly processed: number;
  readonly dropped: number;
  readonly uptimeMs: number;
  readonly lastError: WireError | null;
  /** Extra fields from the component (a supervisor lists its children here). */
  readonly [extra: string]: unknown;
}

export function isCheckLevel(v: unknown): v is CheckLevel {
  return v === 0 || v === 10 || v === 20;
}

export function makeCheckResult(code: number, reason: string, level: CheckLevel, actor: string, node: string): CheckResult {
  return { code, label: ocfLabel(code), reason, level, actor, node };
}
