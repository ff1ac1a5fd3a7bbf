/**
 * Halyard: XState v5 actors with mailboxes, names reachable over NATS, and
 * Erlang/OTP supervision. This module is the public surface.
 */
export { createNode, Node, type NodeOptions, type TransportConfig } from './services/Node.js';
export {
  reply,
  replyTo,
  replyError,
  isAsk,
  OCF,
  ocfLabel,
  ocfClass,
  CHECK_LEVELS,
  SHUTDOWN_EVENT,
  ExitReason,
  OverflowPolicy,
  DeadLetterReason,
  DEFAULT_MAILBOX_CAPACITY,
  DEFAULT_ASK_TIMEOUT,
  type ActorRef,
  type LocalActorRef,
  type AskOptions,
  type ExitSignal,
  type ExitListener,
  type Shutdown,
  type CheckLevel,
  type CheckResult,
  type CheckFn,
  type CheckContext,
  type StatusReport,
  type Lifecycle,
  type OcfClass,
  type MailboxOptions,
  type SpawnOptions,
  type DeadLetter,
} from './actors/index.js';
export type { Transport, Msg, Subscription, TransportStatus } from './transport/Transport.js';
export { LocalBus, LocalTransport } from './transport/LocalTransport.js';
export { NatsTransport, type NatsTransportOptions } from './transport/NatsTransport.js';
export { LocalKvServer, LocalKvStore, KvOperation, type KvStore, type KvBucket, type KvEntry, type KvWatch } from './transport/kv/index.js';
export {
  Supervision,
  type SupervisionOptions,
  RecoveryCoordinator,
  COORDINATOR_NAME,
  machineRule,
  exponentialBackoff,
  giveUpAfter,
  ocfClassRule,
  startOnFailure,
  otpPolicy,
  addRestart,
  validateSupervisorSpec,
  type ExponentialBackoffOptions,
  type GiveUpAfterOptions,
  type OcfClassRuleOptions,
  type StartOnFailureOptions,
  type SuperviseOptions,
  type ChildSpec,
  type SupervisorSpec,
  type Supervisor,
  type ChildInfo,
  type ChildCounts,
  type SupervisorExit,
  type FailureReport,
  type Directive,
  type Decision,
  type DecisionRecord,
  type IntensityLimit,
  type Rule,
  type Down,
  type MonitorHandle,
  Strategy,
  RestartType,
  AutoShutdown,
} from './supervision/index.js';
export {
  Cluster,
  Cardinality,
  Placement,
  type ClusterDecision,
  type ClusterOptions,
  type HostedInstance,
  type InstanceRecord,
  type InstanceSpec,
  type RegisterOptions,
  type Member,
  type MembershipChange,
} from './services/cluster/index.js';
export { ManualClock, monotonicClock, type Clock } from './clock.js';
export { createLogger, type Logger } from './log.js';
export * from './errors.js';
