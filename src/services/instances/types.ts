/**
 * The vocabulary of service instances: states, start options, the events an
 * instance reports, and the per-instance results of query actions.
 *
 * ```
 *  start ──► starting ──setup, ready──► running ──stop()──► stopping ──► stopped
 *               │                          │  └──kill()─────────────────► stopped
 *               └──could not start──► failed ◄──supervisor gave up──┘
 * ```
 * A crash while running is the supervisor's: the coordinator decides a
 * restart (the instance stays `running` through it) or the supervisor gives
 * up (`failed`). A logic that reaches a final state ends the instance
 * (`stopped`, event `exited` with reason `normal`).
 */
import type { WireError } from '../../errors.js';

export const InstanceState = {
  Starting: 'starting',
  Running: 'running',
  Stopping: 'stopping',
  Stopped: 'stopped',
  Failed: 'failed',
} as const;
export type InstanceState = (typeof InstanceState)[keyof typeof InstanceState];

/** What an instance is bound to; it never outlives it. An owner is another instance (ended with it, like a link). */
export type LifetimeOption = 'detached' | 'node' | 'cluster' | 'scope' | { readonly owner: { readonly id: string } };

export interface StartOptions {
  /** Checked against the service's config schema before anything starts. */
  readonly config?: unknown;
  /** Added to the definition's tags. */
  readonly tags?: readonly string[];
  /** Default: the definition's `lifetime`. */
  readonly lifetime?: LifetimeOption;
  /** Instance id. A start with the id of a live instance returns it (idempotent). Default `<service>-<node>-<n>`, unique across the cluster. */
  readonly id?: string;
  /** How long to wait for setup and ready, ms. Default: the definition's `startTimeoutMs`. */
  readonly timeout?: number;
  /** Configs for dependencies this start has to start first, by service name. */
  readonly configs?: Readonly<Record<string, unknown>>;
}

export interface StopOptions {
  /** `stop` (default): stop live dependants first. `refuse`: a `DependantsAliveError` when there are any. */
  readonly dependants?: 'stop' | 'refuse';
}

/**
 * What `instance.reconfigure(config)` sends a logic that accepts it (a
 * reserved `halyard.*` type: only the node sends it, the wire never does).
 */
export const CONFIG_CHANGED_EVENT = 'halyard.config.changed';

/** Events every instance reports, as Halon's services do (versioned, namespaced). */
export const ServiceEventType = {
  Started: 'halyard.service.started.v1',
  CouldNotStart: 'halyard.service.could-not-start.v1',
  Failed: 'halyard.service.failed.v1',
  Exited: 'halyard.service.exited.v1',
  ConfigChanged: 'halyard.service.config-changed.v1',
} as const;
export type ServiceEventType = (typeof ServiceEventType)[keyof typeof ServiceEventType];

interface EventBase {
  readonly service: string;
  readonly instance: string;
  readonly node: string;
  /** Clock time. */
  readonly at: number;
}
export type ServiceEvent =
  | (EventBase & { readonly type: typeof ServiceEventType.Started; readonly config: unknown })
  | (EventBase & { readonly type: typeof ServiceEventType.CouldNotStart; readonly reason: string; readonly ocf: number; readonly error: WireError })
  | (EventBase & { readonly type: typeof ServiceEventType.Failed; readonly reason: string; readonly error?: WireError })
  | (EventBase & { readonly type: typeof ServiceEventType.Exited; readonly reason: 'normal' | 'shutdown' | 'killed' })
  | (EventBase & { readonly type: typeof ServiceEventType.ConfigChanged; readonly config: unknown });

/** One instance's answer to a query action: never thrown, so one failure keeps the others' results. */
export type InstanceResult<T> =
  | { readonly ok: true; readonly service: string; readonly instance: string; readonly node: string; readonly value: T }
  | { readonly ok: false; readonly service: string; readonly instance: string; readonly node: string; readonly error: WireError };
