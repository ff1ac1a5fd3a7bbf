/**
 * What the cluster stores and sends about instances: the spec of
 * `cluster.start`, the instance record (`instance.<name>` in the Registry),
 * the coordinator's decision record (`decision.<name>.<oldEpoch>` in the
 * coord bucket), and the host's spawn request. The table of `cluster.start`
 * keys is in Cluster.ts; the wire frames that carry requests are in wire.ts.
 *
 * A record read back from KV is data from the wire: {@link parseRecord}
 * checks its tag and the fields every reader relies on, and
 * {@link intensityOf} falls back to the defaults rather than trust a bad
 * intensity.
 */
import type { WireError } from '../../errors.js';
import type { DecisionLimits, Directive, FailureReport, RestartType } from '../../supervision/types.js';
import { isRecord } from './kv.js';
import { Cardinality, type Placement } from './placement.js';
import { resolveIntensity } from './restarts.js';

export interface RegisterOptions {
  readonly cardinality?: Cardinality;
}

/** A cluster-supervised instance (`cluster.start`). */
export interface InstanceSpec {
  readonly name: string;
  readonly type: string;
  readonly input?: unknown;
  readonly restart?: RestartType;
  /** The node to start on (with `placement: 'pinned'`, the only one). */
  readonly node?: string;
  /** Default `pinned` with `node`, else `any`. */
  readonly placement?: Placement;
  /** Restarts allowed within `period` before the coordinator gives up on it (restarts.ts). Default 3. */
  readonly intensity?: number;
  /** Default 30000 ms. */
  readonly period?: number;
}

export interface HostedInstance {
  readonly name: string;
  readonly type: string;
  readonly epoch: number;
  readonly supervisor: string;
}

/** An instance record as stored (`instance.<name>`). */
export interface InstanceRecord {
  readonly type: 'halyard.cluster.v1.instance';
  readonly name: string;
  readonly stype: string;
  readonly input?: unknown;
  readonly restart: RestartType;
  readonly cardinality: Cardinality;
  readonly placement: Placement;
  readonly pin?: string;
  /** `cluster`, or the node whose supervisor started it. */
  readonly supervisor: string;
  readonly owner: string;
  /** The owner's membership incarnation when it started the instance: a record of an older incarnation of `owner` is not live. */
  readonly incarnation?: number;
  readonly epoch: number;
  readonly state: 'running' | 'exited';
  readonly reason?: string;
  /** Restart intensity of a cluster-supervised instance (absent: the defaults of restarts.ts). */
  readonly intensity?: number;
  readonly period?: number;
  /** Set when the coordinator gave up on it (`reason` is then `reached_max_restart_intensity`). */
  readonly gaveUp?: boolean;
  /** Given up for its intensity: wall-clock ms until which it is banned; then it is tried again (restarts.ts). */
  readonly bannedUntil?: number;
  /** Given up: the end that led to it (an exit reason, or `nodedown`), decided again once the ban ends. */
  readonly endedWith?: string;
  /** Times it was tried again after a ban, for this tenure (numbers its decisions). */
  readonly retry?: number;
  /** The error it ended with (`exited`), as on the wire: rules see it and its OCF code. */
  readonly error?: WireError;
}

/**
 * A cluster coordinator decision as stored (`decision.<name>.<oldEpoch>` in
 * the coord bucket). Decided by supervision's policy, so it carries the same
 * fields as a node coordinator's decision record (`input`, `directive`,
 * `rule`, `limits`, `overridden`) beside the cluster's own.
 */
export interface ClusterDecision {
  readonly name: string;
  readonly from: string;
  readonly fromEpoch: number;
  /** How the tenure `fromEpoch` ended: an exit reason, or `nodedown`. */
  readonly reason: string;
  /**
   * What became of the instance: `restart`; `drop` (the policy answered
   * `ignore`: the record is removed); `stop` (given up, by intensity or a
   * rule answering `stop` or `escalate`: the record stays, exited).
   */
  readonly action: 'restart' | 'drop' | 'stop';
  /** For `stop`: why (`reached_max_restart_intensity`, or the rule that gave up). */
  readonly detail?: string;
  /** For `restart` and `stop`: wall-clock ms of the restarts inside the intensity window, this one included. */
  readonly history?: readonly number[];
  readonly to?: string;
  readonly epoch?: number;
  readonly coordinator: string;
  readonly coordinatorEpoch: number;
  readonly at: number;
  /** The failure report the policy decided on (absent on records written before the cluster decided through supervision's policy). */
  readonly input?: FailureReport;
  /** The policy's directive, after limits. */
  readonly directive?: Directive;
  /** The rule that decided (`otp-default` for the default policy). */
  readonly rule?: string;
  readonly limits?: DecisionLimits;
  /** What the rule answered, when a limit replaced it. */
  readonly overridden?: Directive;
  /** For a `restart-after`: wall-clock ms before which the restart is not carried out. */
  readonly notBefore?: number;
  /** For a `stop` past intensity: wall-clock ms until which the instance is banned (then tried again). */
  readonly bannedUntil?: number;
  /** Set on decisions taken when a ban ended: the how-manieth retry of tenure `fromEpoch`. */
  readonly retry?: number;
}

/** A spawn request to a host (`<prefix>.clrpc.<node>`). */
export interface SpawnRequest {
  readonly op: 'spawn';
  readonly name: string;
  readonly stype: string;
  readonly input?: unknown;
  readonly restart: RestartType;
  readonly placement: Placement;
  readonly pin?: string;
  readonly origin: string;
  readonly supervisor: string;
  readonly intensity?: number;
  readonly period?: number;
  /** The coordinator's lease epoch, for requests from the cluster coordinator. */
  readonly e?: number;
  /**
   * Set for a child of a supervisor with `lifetime: 'cluster'` (Adoption.ts):
   * when the supervisor's node is lost the host keeps the instance running
   * this long, for a replacement supervisor to adopt.
   */
  readonly graceMs?: number;
}

/** One child of a watched set: the instance its supervisor is linked to (absent while it is being restarted). */
export interface WatchedChild {
  readonly id: string;
  readonly name: string;
  readonly node?: string;
  readonly epoch?: number;
}

/**
 * A supervisor's watched set as stored (`supervisor.<name>` in the
 * Registry), for a supervisor with `lifetime: 'cluster'` (Adoption.ts). Its
 * KV revision fences it: only a compare-and-set on the revision read moves
 * it to another node.
 */
export interface WatchedSetRecord {
  readonly type: 'halyard.cluster.v1.watched_set';
  readonly name: string;
  /** The node running the supervisor now, and its membership incarnation. */
  readonly node: string;
  readonly incarnation: number;
  /** The supervisor spec as JSON (remote children only), each child named. */
  readonly spec: unknown;
  readonly graceMs: number;
  readonly children: readonly WatchedChild[];
  /** Wall-clock ms of the restarts counted against intensity, oldest first. */
  readonly restarts: readonly number[];
  /** Times it was adopted (0 on its first node). */
  readonly adoptions: number;
}

/** A watched set read back from KV; `undefined` unless it has the fields adoption relies on. */
export function parseWatchedSet(v: unknown): WatchedSetRecord | undefined {
  if (!isRecord(v) || v.type !== 'halyard.cluster.v1.watched_set' || typeof v.name !== 'string' || typeof v.node !== 'string') return undefined;
  if (!Array.isArray(v.children) || !Array.isArray(v.restarts) || !isRecord(v.spec) || typeof v.graceMs !== 'number') return undefined;
  return v as unknown as WatchedSetRecord;
}

/** An instance's end, as its host reports it on `<prefix>.clexit.<supervisor node>`. */
export interface ExitReport {
  readonly name: string;
  readonly epoch: number;
  readonly reason: string;
  readonly error?: unknown;
}

/** The key of a decision in the coord bucket: one per ended tenure, and one per retry of it after a ban. */
export function decisionKey(d: Pick<ClusterDecision, 'name' | 'fromEpoch' | 'retry'>): string {
  return d.retry === undefined || d.retry === 0 ? `decision.${d.name}.${d.fromEpoch}` : `decision.${d.name}.${d.fromEpoch}.r${d.retry}`;
}

/** Sent to `cluster.on('gave-up', fn)` on every node when the coordinator gives up on an instance. */
export interface GaveUpEvent {
  readonly type: 'halyard.cluster.v1.gave_up';
  readonly name: string;
  /** `reached_max_restart_intensity`, `stopped` or `escalated` (a rule's answer). */
  readonly reason: string;
  /** The end that led to it. */
  readonly endedWith?: string;
  /** Wall-clock ms when it is tried again; absent when a rule gave up for good. */
  readonly bannedUntil?: number;
}

/** The supervisor of instances started with `cluster.start()`. */
export const CLUSTER_SUPERVISOR = 'cluster';

/** A decision read back from KV (a pending entry); `undefined` unless it has the fields the coordinator relies on. */
export function parseDecision(v: unknown): ClusterDecision | undefined {
  if (!isRecord(v) || typeof v.name !== 'string' || typeof v.fromEpoch !== 'number' || typeof v.action !== 'string') return undefined;
  return v as unknown as ClusterDecision;
}

/** The record's tag and the fields every reader relies on; `undefined` for anything else. */
export function parseRecord(v: unknown): InstanceRecord | undefined {
  if (!isRecord(v) || v.type !== 'halyard.cluster.v1.instance' || typeof v.name !== 'string' || typeof v.owner !== 'string') return undefined;
  return v as unknown as InstanceRecord;
}

/** A record's restart intensity; the defaults when it has none (or a bad one: a record is data from the wire). */
export function intensityOf(rec: InstanceRecord): { intensity: number; period: number } {
  try {
    return resolveIntensity(rec);
  } catch {
    return resolveIntensity({});
  }
}

/** The owner-claim key of an instance: one per singleton type, else one per name. */
export function claimKeyOf(rec: Pick<InstanceRecord, 'cardinality' | 'stype' | 'name'>): string {
  return rec.cardinality === Cardinality.Singleton ? `singleton.${rec.stype}` : rec.name;
}
