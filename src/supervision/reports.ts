/**
 * reports: what a supervisor tells others about its children.
 *
 * - The `FailureReport` it sends the Recovery Coordinator for every end it
 *   did not cause (`halyard.supervision.failure.v1`, types.ts).
 * - OTP's supervisor report for the log, with its four fields: supervisor,
 *   errorContext (`start_error`, `child_terminated`, `shutdown_error`,
 *   `shutdown`), reason and offender (the child spec's id, restart, shutdown
 *   and type).
 * - Which ends are logged at all: OTP reports `child_terminated` for every
 *   exit it acts on except the clean ends of transient and temporary
 *   children, which a supervisor expects.
 * - The supervisor's own fields in its actor's Status report.
 *
 * Pure assembly: no state, nothing sent. The supervisor decides when.
 */
import { toLogError, toWireError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ChildRecord } from './children.js';
import type { AutoShutdown, CheckReport, ChildInfo, FailureReason, FailureReport, Strategy, SupervisorPhase } from './types.js';

/** The reporting supervisor, as every report names it. */
export interface Reporter {
  readonly node: string;
  /** Name or id of the supervisor. */
  readonly label: string;
  readonly strategy: Strategy;
  readonly intensity: number;
  readonly period: number;
}

const FAILURE_TYPE = 'halyard.supervision.failure.v1' as const;

/**
 * The report of `rec`'s end. `history` is the supervisor's restarts still in
 * the window at `at`, oldest first.
 */
export function failureReport(
  sup: Reporter,
  rec: ChildRecord,
  reason: FailureReason,
  error: unknown,
  history: readonly number[],
  at: number,
  check?: CheckReport,
): FailureReport {
  const report = baseReport(sup, rec, reason, error, history, at);
  return check === undefined ? report : { ...report, check };
}

function baseReport(sup: Reporter, rec: ChildRecord, reason: FailureReason, error: unknown, history: readonly number[], at: number): FailureReport {
  const spec = rec.spec;
  // Literal objects with a fixed shape: this runs on every restart.
  if (reason !== 'error') {
    return {
      type: FAILURE_TYPE, node: sup.node, supervisor: sup.label, strategy: sup.strategy, childId: rec.id, childType: spec.type,
      restart: spec.restart, significant: spec.significant, reason, history, intensity: sup.intensity, period: sup.period, at,
    };
  }
  const ocf = typeof error === 'object' && error !== null ? (error as { ocf?: unknown }).ocf : undefined;
  return {
    type: FAILURE_TYPE, node: sup.node, supervisor: sup.label, strategy: sup.strategy, childId: rec.id, childType: spec.type,
    restart: spec.restart, significant: spec.significant, reason, error: toWireError(error), ocf: typeof ocf === 'number' ? ocf : undefined,
    history, intensity: sup.intensity, period: sup.period, at,
  };
}

/** OTP's supervisor report: supervisor, errorContext, reason, offender. */
export function otpReport(supervisor: string, errorContext: string, reason: string, rec: ChildRecord): Record<string, unknown> {
  return {
    supervisor,
    errorContext,
    reason,
    offender: { id: rec.id, restart: rec.spec.restart, shutdown: rec.spec.shutdown, type: rec.spec.type },
  };
}

/** Log a child's end the way OTP does: an error report when abnormal or when a permanent child ended, else debug. */
export function logChildEnd(log: Logger, supervisor: string, rec: ChildRecord, report: FailureReport, error: unknown, context: string): void {
  const abnormal = report.reason === 'error' || report.reason === 'killed' || report.reason === 'nodedown';
  if (!abnormal && rec.spec.restart !== 'permanent') {
    if (log.isLevelEnabled('debug')) log.debug({ childId: rec.id, reason: report.reason }, 'child ended');
    return;
  }
  if (!log.isLevelEnabled('error')) return;
  log.error({ report: otpReport(supervisor, context, report.reason, rec), err: error === undefined ? undefined : toLogError(error) }, 'child terminated');
}

/** Children listed in a Status report (all are counted). */
const STATUS_CHILDREN_MAX = 1000;

/** What a supervisor adds to its actor's Status report. */
export function statusFields(
  sup: Reporter,
  autoShutdown: AutoShutdown,
  phase: SupervisorPhase,
  restartsInPeriod: number,
  children: readonly ChildInfo[],
): Record<string, unknown> {
  return {
    supervisor: { strategy: sup.strategy, intensity: sup.intensity, period: sup.period, autoShutdown, phase, restartsInPeriod },
    childrenTotal: children.length,
    // A Status line is one log record: a simple_one_for_one pool of 100 000
    // instances would make it megabytes. whichChildren() has them all.
    children: children.slice(0, STATUS_CHILDREN_MAX).map((c) => ({
      id: c.id,
      actor: c.ref?.id ?? null,
      name: c.ref?.name ?? null,
      type: c.type,
      restart: c.restart,
      status: c.status,
    })),
  };
}

// ── service reports ──────────────────────────────────────────────────────

/** What a service instance tells the Recovery Coordinator, as Halon's services do. */
export const ServiceReportKind = {
  Started: 'started',
  CouldNotStart: 'could-not-start',
  Failed: 'failed',
  Exited: 'exited',
  ConfigChanged: 'config-changed',
} as const;
export type ServiceReportKind = (typeof ServiceReportKind)[keyof typeof ServiceReportKind];

/** One report as an instance sends it (supervision knows no service types: the services layer fills this in). */
export interface ServiceReportInput {
  readonly kind: ServiceReportKind;
  readonly service: string;
  readonly instance: string;
  readonly node: string;
  /** The reporter's clock time. */
  readonly at: number;
  /** `started`, `config-changed`: the config now in force (redacted before it is kept). */
  readonly config?: unknown;
  /** `could-not-start`, `failed`, `exited`: why, as a message. */
  readonly reason?: string;
  /** `could-not-start`: the OCF code. */
  readonly ocf?: number;
}

/** A report as the coordinator keeps it: numbered, with its config redacted. */
export interface ServiceReport extends ServiceReportInput {
  /** 1, 2, 3 ... per coordinator; never repeats (a cursor for `since`). */
  readonly seq: number;
}

export interface ServiceReportQuery {
  /** Only reports with `seq` greater than this. */
  readonly since?: number;
  readonly service?: string;
  readonly instance?: string;
  readonly kind?: ServiceReportKind;
}

/** Keys whose values are never kept or shown: a config is read by people and tools, its secrets are not. */
const SECRET_KEY = /pass(word|wd|phrase)?|secret|token|key|credential/i;
export const REDACTED = '[redacted]';

/** `config` with the value of every key named like a secret (at any depth) replaced by `[redacted]`. */
export function redactConfig(config: unknown, depth = 0): unknown {
  // Configs are plain data after their schema; the bound only guards a cyclic value from a schema-less service.
  if (typeof config !== 'object' || config === null || depth > 32) return config;
  if (Array.isArray(config)) return config.map((v) => redactConfig(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) out[k] = SECRET_KEY.test(k) ? REDACTED : redactConfig(v, depth + 1);
  return out;
}
