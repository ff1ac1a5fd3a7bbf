/**
 * The client side of a host's RPC server (Host.ts): one request on
 * `<prefix>.clrpc.<node>` (versioned, wire.ts), answered `{ ok: true, ... }`
 * or `{ ok: false, error }` (a wire error, rebuilt here).
 */
import { fromWireError, InvalidSpecError, isWireError, ServiceLockedError } from '../../errors.js';
import type { Transport } from '../../transport/Transport.js';
import { decodeJson, encodeJson, isRecord } from './kv.js';
import type { SpawnRequest } from './records.js';
import type { ClusterSubjects } from './subjects.js';
import { assertRpcVersion, RPC_VERSION } from './wire.js';

const RPC_TIMEOUT_MS = 2000;

const LOCKS: ReadonlySet<unknown> = new Set(['per-node', 'singleton', 'name']);

/** A host's lock refusal as the class the caller can act on (a start racing the coordinator checks `lock === 'name'`). */
function lockRefusal(v: unknown): ServiceLockedError | undefined {
  if (!isRecord(v) || typeof v.type !== 'string' || !LOCKS.has(v.lock)) return undefined;
  const holder = typeof v.holder === 'string' ? v.holder.slice(0, 256) : undefined;
  return new ServiceLockedError(v.type.slice(0, 256), v.lock as ServiceLockedError['lock'], holder);
}

export class HostClient {
  readonly #transport: Transport;
  readonly #subjects: ClusterSubjects;

  constructor(transport: Transport, subjects: ClusterSubjects) {
    this.#transport = transport;
    this.#subjects = subjects;
  }

  async request(node: string, body: Record<string, unknown>): Promise<Record<string, unknown>> {
    const msg = await this.#transport.request(this.#subjects.rpc(node), encodeJson({ v: RPC_VERSION, ...body }), { timeout: RPC_TIMEOUT_MS });
    const v = decodeJson(msg.data);
    if (!isRecord(v)) throw new InvalidSpecError('reply', 'malformed cluster reply');
    assertRpcVersion(v, 'cluster reply');
    if (v.ok !== true) throw lockRefusal(v.locked) ?? (isWireError(v.error) ? fromWireError(v.error) : new Error('cluster request failed'));
    return v;
  }

  /** Ask `node` to start an instance; resolves with its epoch. */
  async spawn(node: string, req: SpawnRequest): Promise<number> {
    const r = await this.request(node, req as unknown as Record<string, unknown>);
    if (typeof r.epoch !== 'number') throw new InvalidSpecError('reply.epoch', 'missing');
    return r.epoch;
  }

  /** Ask `node` to stop its instance `name` of tenure `epoch`; true once stopped. */
  async stop(node: string, name: string, epoch: number, kill = false): Promise<boolean> {
    const r = await this.request(node, { op: 'stop', name, epoch, ...(kill ? { kill: true } : {}) });
    return r.stopped === true;
  }
}
