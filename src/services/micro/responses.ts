/**
 * The JSON the responder sends, one document per instance and request.
 *
 * ADR-32 (`io.nats.micro.v1.*`), in the Go library's shape, which the nats
 * CLI's schemas accept: `metadata` is always present (`{}` when empty), STATS
 * carries `last_error` always (`''` until the first error), times are
 * integer nanoseconds, `started` is RFC 3339 UTC.
 *
 * Halyard's own verbs answer `io.halyard.micro.v1.check_response` (an OCF
 * code, its label, a reason and the level asked) and
 * `io.halyard.micro.v1.status_response` (what the instance's status callback
 * returned), with the same identity fields as PING.
 *
 * An error is `io.halyard.micro.v1.error_response`, sent with the
 * `Nats-Service-Error` and `Nats-Service-Error-Code` headers
 * (see `serviceError.ts`): still JSON, so no listing client chokes on it.
 */
import type { CheckLevel } from '../../actors/ocf.js';
import type { EndpointStatsSnapshot } from './EndpointStats.js';

export const MicroResponseType = {
  Ping: 'io.nats.micro.v1.ping_response',
  Info: 'io.nats.micro.v1.info_response',
  Stats: 'io.nats.micro.v1.stats_response',
  Check: 'io.halyard.micro.v1.check_response',
  Status: 'io.halyard.micro.v1.status_response',
  Error: 'io.halyard.micro.v1.error_response',
} as const;
export type MicroResponseType = (typeof MicroResponseType)[keyof typeof MicroResponseType];

interface Identity {
  readonly name: string;
  readonly id: string;
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface PingResponse extends Identity {
  readonly type: typeof MicroResponseType.Ping;
}

export interface EndpointInfo {
  readonly name: string;
  readonly subject: string;
  /** Absent when the endpoint listens without a queue group. */
  readonly queue_group?: string;
  readonly metadata: Readonly<Record<string, string>>;
}

export interface InfoResponse extends Identity {
  readonly type: typeof MicroResponseType.Info;
  readonly description: string;
  readonly endpoints: readonly EndpointInfo[];
}

export interface EndpointStatsInfo {
  readonly name: string;
  readonly subject: string;
  readonly queue_group?: string;
  readonly num_requests: number;
  readonly num_errors: number;
  readonly last_error: string;
  readonly processing_time: number;
  readonly average_processing_time: number;
}

export interface StatsResponse extends Identity {
  readonly type: typeof MicroResponseType.Stats;
  readonly started: string;
  readonly endpoints: readonly EndpointStatsInfo[];
}

export interface CheckResponse extends Identity {
  readonly type: typeof MicroResponseType.Check;
  readonly level: CheckLevel;
  readonly code: number;
  readonly label: string;
  readonly reason: string;
}

export interface StatusResponse extends Identity {
  readonly type: typeof MicroResponseType.Status;
  readonly started: string;
  readonly status: Readonly<Record<string, unknown>>;
}

export interface ErrorResponse extends Identity {
  readonly type: typeof MicroResponseType.Error;
  readonly error: { readonly code: number; readonly description: string };
}

export type MicroResponse = PingResponse | InfoResponse | StatsResponse | CheckResponse | StatusResponse | ErrorResponse;

/** @internal What the builders need of an endpoint. */
export interface _EndpointView {
  readonly name: string;
  readonly subject: string;
  readonly queueGroup: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly stats: { snapshot(): EndpointStatsSnapshot };
}

/** @internal */
export function _endpointInfo(e: _EndpointView): EndpointInfo {
  return e.queueGroup === undefined
    ? { name: e.name, subject: e.subject, metadata: e.metadata }
    : { name: e.name, subject: e.subject, queue_group: e.queueGroup, metadata: e.metadata };
}

/** @internal */
export function _endpointStatsInfo(e: _EndpointView): EndpointStatsInfo {
  const s = e.stats.snapshot();
  const base = { name: e.name, subject: e.subject };
  return {
    ...(e.queueGroup === undefined ? base : { ...base, queue_group: e.queueGroup }),
    num_requests: s.numRequests,
    num_errors: s.numErrors,
    last_error: s.lastError,
    processing_time: s.processingTimeNs,
    average_processing_time: s.averageProcessingTimeNs,
  };
}
