/**
 * Cluster messages: JSON objects with a namespaced, versioned `type`. Peer
 * data is validated here; anything malformed decodes to `undefined` and is
 * dropped by the receiver.
 *
 * | type                               | subject                  | fields |
 * |------------------------------------|--------------------------|--------|
 * | `halyard.cluster.v1.heartbeat`     | `<p>.hb.<node>`          | node, incarnation, seq |
 * | `halyard.cluster.v1.{join,leave,suspect,alive,down}` | `<p>.cluster.<event>` | node, incarnation, by |
 * | `halyard.cluster.v1.ping` → `pong` | `<p>.cluster.ping.<node>` | from → node, incarnation |
 * | `halyard.cluster.v1.probe` → `probe_result` | `<p>.cluster.probe.<helper>` | from, target, incarnation, timeoutMs → target, ack |
 * | `halyard.cluster.v1.member`        | KV members bucket, key `<node>` | node, incarnation, status (up/down/left), by, at |
 *
 * ## Host requests and exit reports (version field `v`)
 * | frame                      | subject                 | fields |
 * |----------------------------|-------------------------|--------|
 * | spawn / stop / list request | `<p>.clrpc.<node>`     | v, op, ... (Host.ts) |
 * | reply                      | the request's inbox     | v, ok, ... or v, ok: false, error |
 * | exit report                | `<p>.clexit.<node>`     | v, name, epoch, reason, error? (RemoteChildren.ts) |
 *
 * `v` is {@link RPC_VERSION}. A frame without `v` comes from a peer older
 * than versions and is read as version 1. A frame of any other version is
 * not read: a request is answered `DecodeError(unsupported-version)`, a
 * reply fails the request with it, and an exit report (no one to answer) is
 * counted as a `decode-error` dead letter.
 */
import { DecodeError, DecodeReason } from '../../errors.js';
import { decodeJson, encodeJson, isRecord } from './kv.js';

/** Version of the host's request, reply and exit-report frames. */
export const RPC_VERSION = 1;

/** Throws `DecodeError(unsupported-version)` unless `frame` is of {@link RPC_VERSION} (or from before versions: no `v`). */
export function assertRpcVersion(frame: Record<string, unknown>, what: string): void {
  const v = frame.v;
  if (v === undefined || v === RPC_VERSION) return;
  throw new DecodeError(DecodeReason.UnsupportedVersion, `${what} version ${String(v).slice(0, 30)}, expected ${RPC_VERSION}`);
}

export const ClusterMsg = {
  Heartbeat: 'halyard.cluster.v1.heartbeat',
  Join: 'halyard.cluster.v1.join',
  Leave: 'halyard.cluster.v1.leave',
  Suspect: 'halyard.cluster.v1.suspect',
  Alive: 'halyard.cluster.v1.alive',
  Down: 'halyard.cluster.v1.down',
  Ping: 'halyard.cluster.v1.ping',
  Pong: 'halyard.cluster.v1.pong',
  Probe: 'halyard.cluster.v1.probe',
  ProbeResult: 'halyard.cluster.v1.probe_result',
  Member: 'halyard.cluster.v1.member',
} as const;
export type ClusterMsg = (typeof ClusterMsg)[keyof typeof ClusterMsg];

export const EventKind = { Join: 'join', Leave: 'leave', Suspect: 'suspect', Alive: 'alive', Down: 'down' } as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

const EVENT_TYPES: Record<string, EventKind> = {
  [ClusterMsg.Join]: EventKind.Join,
  [ClusterMsg.Leave]: EventKind.Leave,
  [ClusterMsg.Suspect]: EventKind.Suspect,
  [ClusterMsg.Alive]: EventKind.Alive,
  [ClusterMsg.Down]: EventKind.Down,
};

export function eventType(kind: EventKind): ClusterMsg {
  return `halyard.cluster.v1.${kind}` as ClusterMsg;
}

export interface Heartbeat {
  readonly type: typeof ClusterMsg.Heartbeat;
  readonly node: string;
  readonly incarnation: number;
  readonly seq: number;
}

export interface MemberEvent {
  readonly kind: EventKind;
  readonly node: string;
  readonly incarnation: number;
  readonly by: string;
}

export const RecordStatus = { Up: 'up', Down: 'down', Left: 'left' } as const;
export type RecordStatus = (typeof RecordStatus)[keyof typeof RecordStatus];

/** A member's durable record in the members bucket (key = node name). */
export interface MemberRecord {
  readonly type: typeof ClusterMsg.Member;
  readonly node: string;
  readonly incarnation: number;
  readonly status: RecordStatus;
  /** Who wrote it: the node itself (up, left) or the judge (down). */
  readonly by: string;
  /** Wall-clock ms, informational only. */
  readonly at: number;
}

export interface Pong {
  readonly node: string;
  readonly incarnation: number;
}

export interface ProbeRequest {
  readonly from: string;
  readonly target: string;
  readonly incarnation: number;
  readonly timeoutMs: number;
}

export interface ProbeResult {
  readonly target: string;
  readonly ack: boolean;
}

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 256;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

export const encode = encodeJson;

export function heartbeat(node: string, incarnation: number, seq: number): Uint8Array {
  return encodeJson({ type: ClusterMsg.Heartbeat, node, incarnation, seq });
}

export function decodeHeartbeat(data: Uint8Array): Heartbeat | undefined {
  const v = decodeJson(data);
  if (!isRecord(v) || v.type !== ClusterMsg.Heartbeat || !isName(v.node) || !isCount(v.incarnation) || !isCount(v.seq)) return undefined;
  return { type: ClusterMsg.Heartbeat, node: v.node, incarnation: v.incarnation, seq: v.seq };
}

export function memberEvent(kind: EventKind, node: string, incarnation: number, by: string): Uint8Array {
  return encodeJson({ type: eventType(kind), node, incarnation, by });
}

export function decodeMemberEvent(data: Uint8Array): MemberEvent | undefined {
  const v = decodeJson(data);
  if (!isRecord(v) || typeof v.type !== 'string') return undefined;
  const kind = EVENT_TYPES[v.type];
  if (kind === undefined || !isName(v.node) || !isCount(v.incarnation) || !isName(v.by)) return undefined;
  return { kind, node: v.node, incarnation: v.incarnation, by: v.by };
}

export function memberRecord(node: string, incarnation: number, status: RecordStatus, by: string): Uint8Array {
  const record: MemberRecord = { type: ClusterMsg.Member, node, incarnation, status, by, at: Date.now() };
  return encodeJson(record);
}

export function decodeMemberRecord(v: unknown): MemberRecord | undefined {
  if (!isRecord(v) || v.type !== ClusterMsg.Member || !isName(v.node) || !isCount(v.incarnation) || !isName(v.by)) return undefined;
  if (v.status !== RecordStatus.Up && v.status !== RecordStatus.Down && v.status !== RecordStatus.Left) return undefined;
  return { type: ClusterMsg.Member, node: v.node, incarnation: v.incarnation, status: v.status, by: v.by, at: typeof v.at === 'number' ? v.at : 0 };
}

export function ping(from: string): Uint8Array {
  return encodeJson({ type: ClusterMsg.Ping, from });
}

export function pong(node: string, incarnation: number): Uint8Array {
  return encodeJson({ type: ClusterMsg.Pong, node, incarnation });
}

export function decodePong(data: Uint8Array): Pong | undefined {
  const v = decodeJson(data);
  if (!isRecord(v) || v.type !== ClusterMsg.Pong || !isName(v.node) || !isCount(v.incarnation)) return undefined;
  return { node: v.node, incarnation: v.incarnation };
}

export function probeRequest(from: string, target: string, incarnation: number, timeoutMs: number): Uint8Array {
  return encodeJson({ type: ClusterMsg.Probe, from, target, incarnation, timeoutMs });
}

export function decodeProbeRequest(data: Uint8Array): ProbeRequest | undefined {
  const v = decodeJson(data);
  if (!isRecord(v) || v.type !== ClusterMsg.Probe || !isName(v.from) || !isName(v.target) || !isCount(v.incarnation)) return undefined;
  if (typeof v.timeoutMs !== 'number' || !(v.timeoutMs > 0) || v.timeoutMs > 60_000) return undefined;
  return { from: v.from, target: v.target, incarnation: v.incarnation, timeoutMs: v.timeoutMs };
}

export function probeResult(target: string, ack: boolean): Uint8Array {
  return encodeJson({ type: ClusterMsg.ProbeResult, target, ack });
}

export function decodeProbeResult(data: Uint8Array): ProbeResult | undefined {
  const v = decodeJson(data);
  if (!isRecord(v) || v.type !== ClusterMsg.ProbeResult || !isName(v.target) || typeof v.ack !== 'boolean') return undefined;
  return { target: v.target, ack: v.ack };
}
