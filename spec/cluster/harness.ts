/**
 * Shared harness of the cluster tests: NATS connections, unique cluster
 * prefixes (so tests sharing one nats-server never see each other), members
 * that record every change they see, and cleanup.
 */
import { Kvm } from '@nats-io/kv';
import { Membership, type MembershipChange, type MembershipOptions } from '../../src/services/cluster/Membership.js';
import { bucketName, type KV, openKv } from '../../src/services/cluster/index.js';
import { NatsTransport } from '../../src/transport/NatsTransport.js';
import type { Transport } from '../../src/transport/Transport.js';

let counter = 0;

/** A prefix no other test uses: `c<pid>x<n>`. */
export function uniquePrefix(tag = 'c'): string {
  return `${tag}${process.pid}x${++counter}${Math.random().toString(36).slice(2, 6)}`;
}

export async function connect(servers: string, name: string): Promise<NatsTransport> {
  // Reconnect fast in tests: a healed partition or restarted server is back within a few hundred ms.
  return NatsTransport.connect({ servers, name, reconnectTimeWait: 100, maxReconnectAttempts: -1 });
}

export interface TestMember {
  readonly name: string;
  readonly transport: NatsTransport;
  readonly membership: Membership;
  /** Every change this member saw, with the test clock time it saw it. */
  readonly changes: Array<MembershipChange & { at: number }>;
  statusOf(node: string): string | undefined;
}

export interface StartMemberOptions extends Partial<Omit<MembershipOptions, 'node' | 'transport' | 'kv'>> {
  /** Connect through this URL (a proxy) instead of the server's. */
  readonly via?: string;
  readonly transport?: Transport;
}

/** Members of one test cluster, stopped and cleaned up by `close()`. */
export class TestCluster {
  readonly prefix: string;
  readonly members = new Map<string, TestMember>();
  readonly #servers: string;
  readonly #transports: NatsTransport[] = [];
  #kv: KV | undefined;

  constructor(servers: string, prefix = uniquePrefix()) {
    this.#servers = servers;
    this.prefix = prefix;
  }

  get bucket(): string {
    return bucketName(this.prefix, 'members');
  }

  async kvFor(transport: NatsTransport): Promise<KV> {
    return openKv(transport, this.bucket);
  }

  async start(name: string, options: StartMemberOptions = {}): Promise<TestMember> {
    const transport = await connect(options.via ?? this.#servers, `${this.prefix}-${name}`);
    this.#transports.push(transport);
    const kv = await openKv(transport, this.bucket);
    this.#kv ??= kv;
    const changes: Array<MembershipChange & { at: number }> = [];
    const { via: _via, transport: wrapped, ...rest } = options;
    const membership = await Membership.start({ ...rest, node: name, transport: wrapped ?? transport, kv, prefix: this.prefix });
    membership.on('change', (c) => changes.push({ ...c, at: performance.now() }));
    const member: TestMember = {
      name,
      transport,
      membership,
      changes,
      statusOf: (node) => membership.member(node)?.status,
    };
    this.members.set(name, member);
    return member;
  }

  /** True when every listed member sees exactly `nodes` up. */
  allSee(observers: Iterable<string>, nodes: readonly string[]): boolean {
    for (const o of observers) {
      const m = this.members.get(o)!.membership;
      const up = m
        .members()
        .filter((x) => x.status === 'up')
        .map((x) => x.node);
      if (up.length !== nodes.length || nodes.some((n) => !up.includes(n))) return false;
    }
    return true;
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.members.values()].map((m) => m.membership.stop()));
    const kv = this.#kv;
    const first = this.#transports.find((t) => !t.isClosed && t.isConnected);
    if (kv !== undefined && first !== undefined) {
      await new Kvm(first._connection).open(this.bucket).then((b) => b.destroy()).catch(() => {});
    }
    await Promise.allSettled(this.#transports.map((t) => t.close()));
  }
}

/** Percentile (0..100) of `values`, nearest-rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
