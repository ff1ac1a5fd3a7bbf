/**
 * The cluster layer: membership and failure detection, the resource
 * registry, leases with fencing tokens, instances on any node, remote
 * children and the cluster Recovery Coordinator, over NATS and JetStream KV.
 * Depends on `transport/`, `actors/`, `supervision/` and `clock`; the node
 * (services/Node.ts) builds a `Cluster` when created with `cluster`.
 * Cluster.ts lists which file holds which part.
 */
export {
  Membership,
  MemberStatus,
  ChangeType,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_WATCHERS,
  DEFAULT_INDIRECT_PROBES,
  type Member,
  type MembershipChange,
  type MembershipOptions,
} from './Membership.js';
export {
  Registry,
  RecordKind,
  type ClaimOptions,
  type ClaimResult,
  type OwnerRecord,
  type PutResult,
  type RegistryChange,
  type RegistryOptions,
  type StoredValue,
} from './Registry.js';
export { Lease, LeaseState, LostReason, DEFAULT_LEASE_MS, type LeaseInfo, type LeaseOptions } from './Lease.js';
export { isStale, assertFresh } from './fencing.js';
export { openKv, isCasConflict, DEFAULT_KV_TIMEOUT_MS, type KV, type KvBucket, type KvStore } from './kv.js';
export { ClusterSubjects, bucketName } from './subjects.js';
export { watchTargets, merge as mergeReport, Report } from './view.js';
export {
  Cluster,
  resolveClusterOptions,
  type ClusterDecision,
  type ClusterOptions,
  type GaveUpEvent,
  type HostedInstance,
  type InstanceRecord,
  type InstanceSpec,
  type RegisterOptions,
  type ClusterSuperviseOptions,
  type SupervisorLifetime,
  type WatchedChild,
  type WatchedSetRecord,
} from './Cluster.js';
export { DEFAULT_GRACE_MS } from './superviseOptions.js';
export {
  DEFAULT_CLUSTER_INTENSITY,
  DEFAULT_CLUSTER_PERIOD_MS,
  DEFAULT_FAILURE_TIMEOUT_MS,
  banOf,
  type Ban,
  MAX_INTENSITY_REASON,
  intensityStep,
  type IntensityStep,
  type RestartHistory,
} from './restarts.js';
export {
  Cardinality,
  Placement,
  place,
  candidates,
  lockConflict,
  recover,
  lost,
  placeAgain,
  type Loss,
  type NodeView,
  type PlacedInstance,
  type PlacementRequest,
  type InstanceState,
  type Recovery,
} from './placement.js';
