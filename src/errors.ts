/**
 * Every error Halyard raises, in one module (after nats.js `errors.ts`).
 *
 * Each class has a stable `name`, a stable string `code` and an optional
 * `cause`. Errors cross the wire as plain objects `{ name, message, code }`
 * ({@link toWireError}) and always come back as a {@link RemoteError} that keeps
 * the remote's `code` and, as `remoteName`, its class name (see {@link fromWireError}):
 * switch on `code`, which is the same on both sides; `instanceof` a local class
 * holds only for errors raised in this process. Class instances are never serialised.
 *
 * This module imports nothing, so every layer may depend on it.
 */

export const ErrorCode = {
  InvalidSubject: 'ERR_INVALID_SUBJECT',
  PermissionDenied: 'ERR_PERMISSION_DENIED',
  InvalidName: 'ERR_INVALID_NAME',
  InvalidEvent: 'ERR_INVALID_EVENT',
  InvalidSpec: 'ERR_INVALID_SPEC',
  InvalidArgument: 'ERR_INVALID_ARGUMENT',
  DuplicateName: 'ERR_DUPLICATE_NAME',
  NoResponders: 'ERR_NO_RESPONDERS',
  NoSuchActor: 'ERR_NO_SUCH_ACTOR',
  Timeout: 'ERR_TIMEOUT',
  MailboxFull: 'ERR_MAILBOX_FULL',
  MessageDropped: 'ERR_MESSAGE_DROPPED',
  ActorNotRunning: 'ERR_ACTOR_NOT_RUNNING',
  ActorFailed: 'ERR_ACTOR_FAILED',
  Decode: 'ERR_DECODE',
  FrameTooLarge: 'ERR_FRAME_TOO_LARGE',
  FrameTooDeep: 'ERR_FRAME_TOO_DEEP',
  Encode: 'ERR_ENCODE',
  TransportClosed: 'ERR_TRANSPORT_CLOSED',
  Transport: 'ERR_TRANSPORT',
  NodeClosed: 'ERR_NODE_CLOSED',
  Remote: 'ERR_REMOTE',
  Supervisor: 'ERR_SUPERVISOR',
  NoSuchChild: 'ERR_NO_SUCH_CHILD',
  ChildRunning: 'ERR_CHILD_RUNNING',
  AlreadyStarted: 'ERR_ALREADY_STARTED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Plain-object form of an error, as it travels on the wire. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code: string;
  /** Field name, for validation errors. */
  readonly field?: string;
}

export class HalyardError extends Error {
  override readonly name: string = 'HalyardError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export class InvalidSubjectError extends HalyardError {
  override readonly name = 'InvalidSubjectError';
  constructor(
    readonly subject: unknown,
    reason: string,
  ) {
    super(ErrorCode.InvalidSubject, `invalid subject ${JSON.stringify(String(subject)).slice(0, 200)}: ${reason}`);
  }
}

export class InvalidNameError extends HalyardError {
  override readonly name = 'InvalidNameError';
  constructor(
    readonly value: unknown,
    reason: string,
  ) {
    super(ErrorCode.InvalidName, `invalid name ${JSON.stringify(String(value)).slice(0, 200)}: ${reason}`);
  }
}

export class InvalidEventError extends HalyardError {
  override readonly name = 'InvalidEventError';
  constructor(reason: string) {
    super(ErrorCode.InvalidEvent, `invalid event: ${reason}`);
  }
}

/** An invalid spec or option. `field` names the offending field, as a dotted path. */
export class InvalidSpecError extends HalyardError {
  override readonly name = 'InvalidSpecError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(ErrorCode.InvalidSpec, `invalid spec: ${field}: ${reason}`);
  }
}

export class InvalidArgumentError extends HalyardError {
  override readonly name = 'InvalidArgumentError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(ErrorCode.InvalidArgument, `invalid argument: ${field}: ${reason}`);
  }
}

export class DuplicateNameError extends HalyardError {
  override readonly name = 'DuplicateNameError';
  constructor(readonly actorName: string) {
    super(ErrorCode.DuplicateName, `name already registered on this node: ${actorName}`);
  }
}

export class NoRespondersError extends HalyardError {
  override readonly name = 'NoRespondersError';
  constructor(readonly subject: string) {
    super(ErrorCode.NoResponders, `no responders for ${subject}`);
  }
}

/** The NATS server refused a publish or subscribe on `subject` for this connection's permissions. */
export class PermissionDeniedError extends HalyardError {
  override readonly name = 'PermissionDeniedError';
  constructor(
    readonly subject: string,
    readonly operation: 'publish' | 'subscribe',
  ) {
    super(ErrorCode.PermissionDenied, `the server refused to let this connection ${operation === 'publish' ? 'publish to' : 'subscribe to'} ${subject}`);
  }
}

export class NoSuchActorError extends HalyardError {
  override readonly name = 'NoSuchActorError';
  constructor(readonly target: string) {
    super(ErrorCode.NoSuchActor, `no actor serves ${target}`);
  }
}

export class TimeoutError extends HalyardError {
  override readonly name = 'TimeoutError';
  constructor(
    readonly target: string,
    readonly timeoutMs: number,
  ) {
    super(ErrorCode.Timeout, `no reply from ${target} within ${timeoutMs} ms`);
  }
}

export class MailboxFullError extends HalyardError {
  override readonly name = 'MailboxFullError';
  constructor(
    readonly target: string,
    readonly capacity: number,
  ) {
    super(ErrorCode.MailboxFull, `mailbox of ${target} is full (capacity ${capacity})`);
  }
}

/** The message was dropped by an overflow policy (drop-oldest / drop-newest) before it was processed. */
export class MessageDroppedError extends HalyardError {
  override readonly name = 'MessageDroppedError';
  constructor(
    readonly target: string,
    readonly policy: string,
  ) {
    super(ErrorCode.MessageDropped, `message to ${target} dropped by overflow policy ${policy}`);
  }
}

export class ActorNotRunningError extends HalyardError {
  override readonly name = 'ActorNotRunningError';
  constructor(readonly target: string) {
    super(ErrorCode.ActorNotRunning, `actor ${target} is not running`);
  }
}

/** Wraps whatever an actor's logic threw, so callers get a typed error with the original as `cause`. */
export class ActorFailedError extends HalyardError {
  override readonly name = 'ActorFailedError';
  constructor(
    readonly target: string,
    cause: unknown,
  ) {
    super(ErrorCode.ActorFailed, `actor ${target} failed: ${describe(cause)}`, { cause });
  }
}

export const DecodeReason = {
  Empty: 'empty',
  Truncated: 'truncated',
  BadType: 'bad-type',
  TrailingBytes: 'trailing-bytes',
  NotEnvelope: 'not-envelope',
  UnsupportedVersion: 'unsupported-version',
  BadJson: 'bad-json',
} as const;
export type DecodeReason = (typeof DecodeReason)[keyof typeof DecodeReason];

export class DecodeError extends HalyardError {
  override readonly name: string = 'DecodeError';
  constructor(
    readonly reason: DecodeReason | string,
    detail: string,
    code: string = ErrorCode.Decode,
  ) {
    super(code, `cannot decode frame (${reason}): ${detail}`);
  }
}

export class FrameTooLargeError extends DecodeError {
  override readonly name = 'FrameTooLargeError';
  constructor(
    readonly size: number,
    readonly max: number,
  ) {
    super('too-large', `${size} bytes exceeds the limit of ${max}`, ErrorCode.FrameTooLarge);
  }
}

export class FrameTooDeepError extends DecodeError {
  override readonly name = 'FrameTooDeepError';
  constructor(readonly maxDepth: number) {
    super('too-deep', `nesting exceeds the limit of ${maxDepth}`, ErrorCode.FrameTooDeep);
  }
}

export class EncodeError extends HalyardError {
  override readonly name = 'EncodeError';
  constructor(detail: string, cause?: unknown) {
    super(ErrorCode.Encode, `cannot encode message: ${detail}`, { cause });
  }
}

export class TransportClosedError extends HalyardError {
  override readonly name = 'TransportClosedError';
  constructor(detail = 'transport is closed') {
    super(ErrorCode.TransportClosed, detail);
  }
}

export class TransportError extends HalyardError {
  override readonly name: string = 'TransportError';
  constructor(detail: string, cause?: unknown, code: string = ErrorCode.Transport) {
    super(code, detail, { cause });
  }
}

/** Why a TLS handshake with the server failed, as far as the client can tell (see {@link TlsHandshakeError}). */
export const TlsFailureReason = {
  /** The server demands a client certificate (mutual TLS) and this client sent none. */
  ClientCertificateRequired: 'client-certificate-required',
  /** The server refused the client certificate that was sent (unknown CA, expired, wrong usage...). */
  ClientCertificateRejected: 'client-certificate-rejected',
  /** This client does not trust the server's certificate (CA not configured, wrong host name, expired). */
  ServerCertificateUntrusted: 'server-certificate-untrusted',
  /** Any other handshake failure (protocol version, cipher, a plain server on a TLS URL...). */
  HandshakeFailed: 'handshake-failed',
} as const;
export type TlsFailureReason = (typeof TlsFailureReason)[keyof typeof TlsFailureReason];

/** Connecting failed in the TLS handshake; `reason` says which side refused what. */
export class TlsHandshakeError extends TransportError {
  override readonly name = 'TlsHandshakeError';
  constructor(
    readonly reason: TlsFailureReason,
    detail: string,
    cause?: unknown,
  ) {
    super(detail, cause, 'ERR_TLS_HANDSHAKE');
  }
}

export class NodeClosedError extends HalyardError {
  override readonly name = 'NodeClosedError';
  constructor(readonly nodeName: string) {
    super(ErrorCode.NodeClosed, `node ${nodeName} is shut down`);
  }
}

/** Any error that came back over the wire: `code` is the remote's, `remoteName` its class name. */
export class RemoteError extends HalyardError {
  override readonly name: string = 'RemoteError';
  constructor(
    readonly remoteName: string,
    message: string,
    code: string,
  ) {
    super(code || ErrorCode.Remote, message);
  }
}

/**
 * Why a supervisor refused a call or gave up, in OTP's words: `failed_to_start_child`,
 * `simple_one_for_one` (call not valid for that strategy),
 * `killed` (the supervisor's own actor was killed before it could stop its children).
 */
export class SupervisorError extends HalyardError {
  override readonly name = 'SupervisorError';
  constructor(
    readonly supervisor: string,
    readonly reason: string,
    detail: string,
    options?: { cause?: unknown; childId?: string },
  ) {
    super(ErrorCode.Supervisor, `supervisor ${supervisor}: ${reason}: ${detail}`, options);
    this.childId = options?.childId;
  }
  readonly childId: string | undefined;
}

/** OTP `{error, not_found}`. */
export class NoSuchChildError extends HalyardError {
  override readonly name = 'NoSuchChildError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
  ) {
    super(ErrorCode.NoSuchChild, `supervisor ${supervisor} has no child ${childId}`);
  }
}

/** OTP `{error, running}` / `{error, restarting}`: the call needs a terminated child. */
export class ChildRunningError extends HalyardError {
  override readonly name = 'ChildRunningError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
    readonly state: 'running' | 'restarting',
  ) {
    super(ErrorCode.ChildRunning, `child ${childId} of supervisor ${supervisor} is ${state}`);
  }
}

/**
 * OTP `{error, {already_started, Pid}}` (`ref` is the running child) and
 * `{error, already_present}` (the id has a spec but no running child; `ref`
 * is undefined). `reason` tells them apart; the code is the same.
 */
export class AlreadyStartedError extends HalyardError {
  override readonly name = 'AlreadyStartedError';
  constructor(
    readonly supervisor: string,
    readonly childId: string,
    readonly ref: unknown,
    readonly reason: 'already_started' | 'already_present' = 'already_started',
  ) {
    super(
      ErrorCode.AlreadyStarted,
      reason === 'already_started'
        ? `child ${childId} of supervisor ${supervisor} is already started`
        : `child ${childId} of supervisor ${supervisor} already has a spec (already_present): restartChild or deleteChild it`,
    );
  }
}

/**
 * A line of an exported decision log (`coordinator.exportDecisions()`) that
 * cannot be read back: not JSON, or a field missing or of the wrong kind.
 * `line` is 1-based; `field` is a dotted path into the record (`input.history[2]`).
 */
export class DecisionLineError extends HalyardError {
  override readonly name = 'DecisionLineError';
  constructor(
    readonly line: number,
    readonly field: string,
    reason: string,
  ) {
    super('ERR_DECISION_LINE', `decision log line ${line}: ${field}: ${reason}`);
  }
}

/**
 * A supervised child's recurring monitor failed: its Check answered an OCF
 * failure code (`ocf`), or did not answer within the deadline (`ocf`
 * undefined). The supervisor stops the child and reports this as its failure.
 */
export class CheckFailedError extends HalyardError {
  override readonly name = 'CheckFailedError';
  constructor(
    readonly actor: string,
    readonly level: number,
    readonly ocf: number | undefined,
    reason: string,
  ) {
    super('ERR_CHECK_FAILED', `check of ${actor} at level ${level} failed: ${reason}`);
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return String(err);
  } catch {
    return '<unprintable>';
  }
}

/** Plain-object form of any thrown value. */
export function toWireError(err: unknown): WireError {
  if (err instanceof HalyardError) {
    const field = (err as { field?: unknown }).field;
    return typeof field === 'string'
      ? { name: err.name, message: err.message, code: err.code, field }
      : { name: err.name, message: err.message, code: err.code };
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, code: typeof code === 'string' ? code : ErrorCode.Remote };
  }
  return { name: 'Error', message: describe(err), code: ErrorCode.Remote };
}

/** An error as a log line carries it: the real class, its code when it has one, the stack, the cause. */
export interface LogError {
  readonly name: string;
  readonly message: string;
  readonly code?: string;
  readonly field?: string;
  /** For a {@link RemoteError}: the class name the remote side reported. */
  readonly remoteName?: string;
  readonly stack?: string;
  readonly cause?: LogError;
}

const LOG_CAUSE_DEPTH = 3;

/**
 * Log form of any thrown value. Unlike {@link toWireError}, which is for
 * peers and keeps only `{ name, message, code }`, this keeps the stack and
 * the cause chain, and gives a code only when the error has one: `ERR_REMOTE`
 * appears only on errors that came over the wire.
 */
export function toLogError(err: unknown, depth = 0): LogError {
  if (!(err instanceof Error)) return { name: typeof err === 'object' && err !== null ? 'Object' : typeof err, message: describe(err) };
  const code = (err as { code?: unknown }).code;
  const field = (err as { field?: unknown }).field;
  const cause = (err as { cause?: unknown }).cause;
  return {
    name: err.name,
    message: err.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof field === 'string' ? { field } : {}),
    ...(err instanceof RemoteError ? { remoteName: err.remoteName } : {}),
    ...(typeof err.stack === 'string' && err.stack.length > 0 ? { stack: err.stack } : {}),
    ...(cause !== undefined && depth < LOG_CAUSE_DEPTH ? { cause: toLogError(cause, depth + 1) } : {}),
  };
}

export function isWireError(v: unknown): v is WireError {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as WireError).name === 'string' &&
    typeof (v as WireError).message === 'string' &&
    typeof (v as WireError).code === 'string'
  );
}

/**
 * Rebuild an error from its wire form. The message is kept as the remote
 * wrote it; the class is `RemoteError` with the remote's name and code, so a
 * caller can switch on `code` whatever side raised it.
 */
export function fromWireError(w: WireError): RemoteError {
  return new RemoteError(String(w.name).slice(0, 200), String(w.message).slice(0, 2000), String(w.code).slice(0, 100));
}

/** Codes of the key-value store errors below (the `KvStore` seam, `src/transport/kv/`). */
export const KvErrorCode = {
  KvConflict: 'ERR_KV_CONFLICT',
  KvClosed: 'ERR_KV_CLOSED',
  KvUnavailable: 'ERR_KV_UNAVAILABLE',
  InvalidKvKey: 'ERR_INVALID_KV_KEY',
} as const;
export type KvErrorCode = (typeof KvErrorCode)[keyof typeof KvErrorCode];

/**
 * A compare-and-set lost: `key` in `bucket` is no longer at revision
 * `expected` (0: the write required the key to be absent or deleted).
 */
export class KvConflictError extends HalyardError {
  override readonly name = 'KvConflictError';
  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly expected: number,
    cause?: unknown,
  ) {
    super(
      KvErrorCode.KvConflict,
      expected === 0 ? `${bucket}: key ${key} exists` : `${bucket}: key ${key} is no longer at revision ${expected}`,
      { cause },
    );
  }
}

/** The store (or the transport that provides it) was closed; `bucket` is set when a bucket's operation was refused. */
export class KvClosedError extends HalyardError {
  override readonly name = 'KvClosedError';
  constructor(readonly bucket?: string) {
    super(KvErrorCode.KvClosed, bucket === undefined ? 'key-value store is closed' : `key-value store is closed (bucket ${bucket})`);
  }
}

/** The store could not carry out `operation` (server unreachable, timeout, refused); `cause` holds the store's own error. */
export class KvUnavailableError extends HalyardError {
  override readonly name = 'KvUnavailableError';
  constructor(
    readonly operation: string,
    detail: string,
    cause?: unknown,
  ) {
    super(KvErrorCode.KvUnavailable, `key-value store unavailable: ${operation}: ${detail}`, { cause });
  }
}

/** A bad key, key filter or bucket name; `field` says which (`key`, `filter` or `bucket`). */
export class InvalidKvKeyError extends HalyardError {
  override readonly name = 'InvalidKvKeyError';
  constructor(
    readonly field: string,
    readonly value: unknown,
    reason: string,
  ) {
    super(KvErrorCode.InvalidKvKey, `invalid ${field} ${JSON.stringify(String(value)).slice(0, 200)}: ${reason}`);
  }
}

/** Codes of the state store errors below (the `StateStore` seam, `src/services/state/`). */
export const StateErrorCode = {
  InvalidStateKey: 'ERR_INVALID_STATE_KEY',
  StateConflict: 'ERR_STATE_CONFLICT',
  CorruptState: 'ERR_CORRUPT_STATE',
} as const;
export type StateErrorCode = (typeof StateErrorCode)[keyof typeof StateErrorCode];

/** A state key that is not 1 to 200 dot-separated tokens of letters, digits, `-` or `_` (`field` is `key`). */
export class InvalidStateKeyError extends HalyardError {
  override readonly name = 'InvalidStateKeyError';
  readonly field = 'key';
  constructor(
    readonly value: unknown,
    reason: string,
  ) {
    super(StateErrorCode.InvalidStateKey, `invalid key ${JSON.stringify(String(value)).slice(0, 200)}: ${reason}`);
  }
}

/** A save or delete with `expectedRevision` lost: `key` is no longer at `expected` (0: the key had to be absent). */
export class StateConflictError extends HalyardError {
  override readonly name = 'StateConflictError';
  constructor(
    readonly key: string,
    readonly expected: number,
    cause?: unknown,
  ) {
    super(
      StateErrorCode.StateConflict,
      expected === 0 ? `state ${key} exists` : `state ${key} is no longer at revision ${expected}`,
      { cause },
    );
  }
}

/** A stored state that cannot be read back; `file` names the file (file store) or `bucket/key` (KV store). */
export class CorruptStateError extends HalyardError {
  override readonly name = 'CorruptStateError';
  constructor(
    readonly key: string,
    readonly file: string,
    detail: string,
    cause?: unknown,
  ) {
    super(StateErrorCode.CorruptState, `corrupt state ${key} in ${file}: ${detail}`, { cause });
  }
}

/** Codes of the cluster errors below (kept apart so {@link ErrorCode} stays as it is). */
export const ClusterErrorCode = {
  LeaseLost: 'ERR_LEASE_LOST',
  StaleEpoch: 'ERR_STALE_EPOCH',
  ClusterUnavailable: 'ERR_CLUSTER_UNAVAILABLE',
  NodeDown: 'ERR_NODE_DOWN',
  ServiceLocked: 'ERR_SERVICE_LOCKED',
  UnknownServiceType: 'ERR_UNKNOWN_SERVICE_TYPE',
  Fenced: 'ERR_FENCED',
  NoNodeAvailable: 'ERR_NO_NODE_AVAILABLE',
} as const;
export type ClusterErrorCode = (typeof ClusterErrorCode)[keyof typeof ClusterErrorCode];

/** The lease `lease` is not held (never acquired, expired, superseded or released): singleton work must stop. */
export class LeaseLostError extends HalyardError {
  override readonly name = 'LeaseLostError';
  constructor(
    readonly lease: string,
    readonly reason: string,
  ) {
    super(ClusterErrorCode.LeaseLost, `lease ${lease} is not held: ${reason}`);
  }
}

/** A message or report carried a fencing token older than the current one; it comes from a fenced-off owner. */
export class StaleEpochError extends HalyardError {
  override readonly name = 'StaleEpochError';
  constructor(
    readonly resource: string,
    readonly epoch: number,
    readonly current: number,
  ) {
    super(ClusterErrorCode.StaleEpoch, `stale epoch ${epoch} for ${resource} (current ${current})`);
  }
}

/** The cluster store (JetStream KV) could not be reached or used. */
export class ClusterUnavailableError extends HalyardError {
  override readonly name = 'ClusterUnavailableError';
  constructor(detail: string, cause?: unknown) {
    super(ClusterErrorCode.ClusterUnavailable, `cluster store unavailable: ${detail}`, { cause });
  }
}

/** The node running a remote child was declared down: the child is lost (a supervisor reports it with reason `nodedown`). */
export class NodeDownError extends HalyardError {
  override readonly name = 'NodeDownError';
  constructor(readonly node: string) {
    super(ClusterErrorCode.NodeDown, `node ${node} is down`);
  }
}

/**
 * A start was refused by a lock: `per-node` (the type already runs on that
 * node), `singleton` (it runs somewhere in the cluster) or `name` (the
 * instance name is owned by a live node).
 */
export class ServiceLockedError extends HalyardError {
  override readonly name = 'ServiceLockedError';
  constructor(
    readonly type: string,
    readonly lock: 'per-node' | 'singleton' | 'name',
    readonly holder: string | undefined,
  ) {
    super(ClusterErrorCode.ServiceLocked, `${type}: ${lock} lock held${holder === undefined ? '' : ` by ${holder}`}`);
  }
}

/** No service type of this name is registered on the node asked to run it. */
export class UnknownServiceTypeError extends HalyardError {
  override readonly name = 'UnknownServiceTypeError';
  constructor(
    readonly type: string,
    readonly node: string,
  ) {
    super(ClusterErrorCode.UnknownServiceType, `service type ${type} is not registered on node ${node}`);
  }
}

/**
 * This node has fenced itself off (lost contact longer than its lease, or was paused): it runs and accepts nothing until it rejoins.
 * When it refuses a message to an instance it stopped, `instance` names it with the epoch it ran at here and, once known, where
 * it moved to. The wire keeps only name, message and code, so the message spells out the epochs too.
 */
export class FencedError extends HalyardError {
  override readonly name = 'FencedError';
  constructor(
    readonly node: string,
    readonly instance?: { readonly name: string; readonly epoch: number; readonly movedTo?: { readonly node: string; readonly epoch: number } },
  ) {
    super(ClusterErrorCode.Fenced, `node ${node} is fenced off${instance === undefined ? '' : fencedInstanceDetail(instance)}`);
  }
}

function fencedInstanceDetail(i: NonNullable<FencedError['instance']>): string {
  const moved = i.movedTo === undefined ? '' : `; moved to node ${i.movedTo.node} at epoch ${i.movedTo.epoch}`;
  return `: instance ${i.name} (epoch ${i.epoch}) was stopped here${moved}`;
}

/** No live node can host the instance now (type not registered, locks, or the pinned node is not up). */
export class NoNodeAvailableError extends HalyardError {
  override readonly name = 'NoNodeAvailableError';
  constructor(readonly type: string) {
    super(ClusterErrorCode.NoNodeAvailable, `no node can host an instance of ${type} now`);
  }
}

/** Codes of the service errors below (`src/services/catalog/`, `src/services/instances/`). */
export const ServiceErrorCode = {
  InvalidConfig: 'ERR_INVALID_CONFIG',
  NotInstalled: 'ERR_NOT_INSTALLED',
  UnknownDependency: 'ERR_UNKNOWN_DEPENDENCY',
  DependantsAlive: 'ERR_DEPENDANTS_ALIVE',
  ServiceStart: 'ERR_SERVICE_START',
  ServiceRunning: 'ERR_SERVICE_RUNNING',
} as const;
export type ServiceErrorCode = (typeof ServiceErrorCode)[keyof typeof ServiceErrorCode];

/** One failing path of a config, as its schema reported it (`(root)` for the whole value). */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
}

/**
 * A start's config failed its service's schema. OCF class 6 (`ERR_CONFIGURED`):
 * fatal, the same config fails on every node, so nothing restarts it. The
 * message names every failing path, never the values (a config may hold secrets).
 */
export class InvalidConfigError extends HalyardError {
  override readonly name = 'InvalidConfigError';
  readonly ocf = 6;
  readonly field = 'config';
  constructor(
    readonly service: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(ServiceErrorCode.InvalidConfig, `${service}: invalid config: ${issues.map((i) => `config.${i.path}: ${i.message}`).join('; ')}`);
  }
}

/** The node lacks node labels the service `requires`. OCF class 5 (`ERR_INSTALLED`): placement may try another node. */
export class ServiceNotInstalledError extends HalyardError {
  override readonly name = 'ServiceNotInstalledError';
  readonly ocf = 5;
  constructor(
    readonly service: string,
    readonly node: string,
    readonly missing: readonly string[],
  ) {
    super(ServiceErrorCode.NotInstalled, `${service}: node ${node} lacks the required labels ${missing.join(', ')}`);
  }
}

/**
 * A context file or definition that cannot run: names the file (or
 * `(definition)`), the line where the format gives one, and the field.
 * Nothing of the context has started.
 */
export class InvalidContextError extends HalyardError {
  override readonly name = 'InvalidContextError';
  readonly ocf = 6;
  constructor(
    readonly file: string,
    readonly field: string,
    readonly reason: string,
    readonly line?: number,
  ) {
    super('ERR_INVALID_CONTEXT', `${file}${line === undefined ? '' : `:${line}`}: ${field}: ${reason}`);
  }
}

/** `dependsOn` of `service` names `dependency`, which no definition on the node provides. */
export class UnknownDependencyError extends HalyardError {
  override readonly name = 'UnknownDependencyError';
  readonly field = 'dependsOn';
  constructor(
    readonly service: string,
    readonly dependency: string,
  ) {
    super(ServiceErrorCode.UnknownDependency, `${service}: dependsOn names unknown service ${dependency}`);
  }
}

/** A stop with `{ dependants: 'refuse' }` found live dependants. */
export class DependantsAliveError extends HalyardError {
  override readonly name = 'DependantsAliveError';
  constructor(
    readonly service: string,
    readonly dependants: readonly string[],
  ) {
    super(ServiceErrorCode.DependantsAlive, `${service}: live dependants ${dependants.join(', ')}`);
  }
}

/** An instance could not start (setup threw, the logic failed, ready not reached in time); `ocf` is the OCF class reported. */
export class ServiceStartError extends HalyardError {
  override readonly name = 'ServiceStartError';
  constructor(
    readonly service: string,
    readonly reason: string,
    readonly ocf: number,
    cause?: unknown,
  ) {
    super(ServiceErrorCode.ServiceStart, `${service}: could not start: ${reason}`, { cause });
  }
}

/** `cleanup()` of an instance that is still alive: it must be stopped first. */
export class ServiceRunningError extends HalyardError {
  override readonly name = 'ServiceRunningError';
  constructor(
    readonly instance: string,
    readonly state: string,
  ) {
    super(ServiceErrorCode.ServiceRunning, `instance ${instance} is ${state}: stop it before cleanup`);
  }
}

/** Codes of the container errors below (worker and process containers, `src/services/containers/`). */
export const ContainerErrorCode = {
  ContainerLoad: 'ERR_CONTAINER_LOAD',
  ContainerExit: 'ERR_CONTAINER_EXIT',
  ContainerFrame: 'ERR_CONTAINER_FRAME',
} as const;
export type ContainerErrorCode = (typeof ContainerErrorCode)[keyof typeof ContainerErrorCode];

/**
 * The container could not load its logic: `field` is `module` (the URL did
 * not import) or `export` (the module has no such export, or it is not
 * XState logic).
 */
export class ContainerLoadError extends HalyardError {
  override readonly name = 'ContainerLoadError';
  constructor(
    readonly field: 'module' | 'export',
    readonly module: string,
    detail: string,
  ) {
    super(ContainerErrorCode.ContainerLoad, `container could not load ${field} of ${module}: ${detail}`);
  }
}

/**
 * A worker or process container ended without its logic finishing: the
 * instance's failure. `reason` is the real one: `exit code N`, `signal
 * SIGKILL`, `ERR_WORKER_OUT_OF_MEMORY`, or the uncaught error's message.
 */
export class ContainerExitError extends HalyardError {
  override readonly name = 'ContainerExitError';
  constructor(
    readonly container: 'worker' | 'process',
    readonly reason: string,
    readonly exitCode: number | null,
    readonly signal: string | null,
    cause?: unknown,
  ) {
    super(ContainerErrorCode.ContainerExit, `${container} container exited: ${reason}`, { cause });
  }
}

/** A message across a container's channel that is not a frame of its protocol; `field` names what was wrong. */
export class ContainerFrameError extends HalyardError {
  override readonly name = 'ContainerFrameError';
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(ContainerErrorCode.ContainerFrame, `bad container frame: ${field}: ${reason}`);
  }
}

/** Codes of the task errors below (`src/services/tasks/`). */
export const TaskErrorCode = {
  InvalidTaskTransition: 'ERR_INVALID_TASK_TRANSITION',
  UnknownTask: 'ERR_UNKNOWN_TASK',
  TaskFailed: 'ERR_TASK_FAILED',
} as const;
export type TaskErrorCode = (typeof TaskErrorCode)[keyof typeof TaskErrorCode];

/** A task status step that the status table does not allow; `from` and `to` name it (`field` is `status`). */
export class InvalidTaskTransitionError extends HalyardError {
  override readonly name = 'InvalidTaskTransitionError';
  readonly field = 'status';
  constructor(
    readonly from: string,
    readonly to: string,
    readonly task?: string,
  ) {
    super(TaskErrorCode.InvalidTaskTransition, `${task === undefined ? 'task' : `task ${task}`}: cannot go from ${from} to ${to}`);
  }
}

/** No task record has this id (`field` is `id`). */
export class UnknownTaskError extends HalyardError {
  override readonly name = 'UnknownTaskError';
  readonly field = 'id';
  constructor(readonly id: string) {
    super(TaskErrorCode.UnknownTask, `no task ${JSON.stringify(id).slice(0, 120)}`);
  }
}

/** The task is Failed: past `maxAttempts`, or a subtask failed and its parent chose to fail. `lastError` is the last attempt's message. */
export class TaskFailedError extends HalyardError {
  override readonly name = 'TaskFailedError';
  constructor(
    readonly id: string,
    readonly attempts: number,
    readonly lastError: string,
  ) {
    super(TaskErrorCode.TaskFailed, `task ${id} failed after ${attempts} attempt(s): ${lastError}`);
  }
}

/** Codes of the admin API's errors (`src/services/admin/`, `src/client/`). */
export const AdminErrorCode = {
  WriteRefused: 'ERR_ADMIN_WRITE_REFUSED',
  BadRequest: 'ERR_ADMIN_BAD_REQUEST',
  NotFound: 'ERR_ADMIN_NOT_FOUND',
  Connect: 'ERR_ADMIN_CONNECT',
} as const;
export type AdminErrorCode = (typeof AdminErrorCode)[keyof typeof AdminErrorCode];

/** A write verb (restart, stop) sent to a node that was not created with `admin: { write: true }`. */
export class AdminWriteRefusedError extends HalyardError {
  override readonly name = 'AdminWriteRefusedError';
  constructor(
    readonly verb: string,
    readonly node: string,
  ) {
    super(AdminErrorCode.WriteRefused, `${verb} refused: node ${node} does not allow admin writes (createNode({ admin: { write: true } }))`);
  }
}

/** An admin frame that is not JSON, has another `v`, names an unknown verb, or a bad argument (`field`). */
export class AdminRequestError extends HalyardError {
  override readonly name = 'AdminRequestError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(AdminErrorCode.BadRequest, `${field}: ${message}`);
  }
}

/** No node answered for that name (no service, instance or actor of that name). */
export class AdminNotFoundError extends HalyardError {
  override readonly name = 'AdminNotFoundError';
  constructor(readonly target: string) {
    super(AdminErrorCode.NotFound, `no service, instance or actor named ${target}`);
  }
}

/** The admin client could not reach the server or control socket (the message never carries credentials). */
export class AdminConnectError extends HalyardError {
  override readonly name = 'AdminConnectError';
  constructor(
    readonly target: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(AdminErrorCode.Connect, `cannot connect to ${target}: ${message}`, options);
  }
}

/** `halyard new` would write over a file that is already there (`--force` allows it). */
export class FileExistsError extends HalyardError {
  override readonly name = 'FileExistsError';
  constructor(readonly path: string) {
    super('ERR_FILE_EXISTS', `${path} already exists (use --force to overwrite it)`);
  }
}

/** A halyard config file (or `defineConfig` object) that cannot run: `file` and `field` say where. */
export class ConfigFileError extends HalyardError {
  override readonly name = 'ConfigFileError';
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_CONFIG_FILE', `${file}: ${field === '' ? '' : `${field}: `}${message}`, options);
  }
}
