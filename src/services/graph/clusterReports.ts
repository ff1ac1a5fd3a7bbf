/**
 * Service reports cluster-wide: `node.cluster.reports(query)` answers, from
 * any node, the reports (`coordinator.reports()`: started, could-not-start,
 * failed, exited, config-changed) of instances on every live member.
 *
 * ```ts
 * const { reports, unreachable } = await node.cluster!.reports({ service: 'payments', kind: 'failed' });
 * ```
 *
 * ## Why a request to each node, not KV
 * Each node's Recovery Coordinator keeps its reports in memory, bounded and
 * with configs redacted already. Copying every report into JetStream KV
 * would cost a replicated write per lifecycle event on the hot path of every
 * start and stop, and a history to trim; a query is rare and can pay for a
 * fan-out instead. The price: a node that is down has taken its reports
 * with it (its instances' `failed` and `exited` reports on their new nodes
 * remain), which is said, never hidden: `unreachable` names every member
 * asked that did not answer in time.
 *
 * ## Protocol
 * `reports` on each member's host RPC subject (Host.ts), `{ query }` →
 * `{ reports, truncated }`: at most {@link REPORTS_MAX_PER_NODE} matching
 * reports, the newest, oldest first (a reply stays well under NATS's 1 MiB).
 * The query is checked on the asking node first (`InvalidArgumentError`).
 * `since` is a per-node cursor (`seq` numbers each coordinator's reports):
 * pass it with `node` to page through one node.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { ServiceReport, ServiceReportQuery } from '../../supervision/reports.js';

export const REPORTS_MAX_PER_NODE = 500;

export interface ClusterReportQuery extends ServiceReportQuery {
  /** Only this node's reports. */
  readonly node?: string;
}

export interface ClusterReports {
  /** Node by node (in name order), each node's oldest first. */
  readonly reports: readonly ServiceReport[];
  /** Members asked that did not answer (down, partitioned, or too slow). */
  readonly unreachable: readonly string[];
  /** Nodes that had more matching reports than one answer carries (the newest are given). */
  readonly truncated: readonly string[];
}

export interface ReportSources {
  readonly self: string;
  /** Members to ask (live ones). */
  members(): readonly string[];
  /** This node's coordinator. */
  local(query: ServiceReportQuery): ServiceReport[];
  /** Ask `node`'s host. */
  request(node: string, body: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** The query a host answers, from the wire: only the known fields, of the right types. */
export function reportQueryOf(v: unknown): ServiceReportQuery {
  if (typeof v !== 'object' || v === null) return {};
  const q = v as Record<string, unknown>;
  return {
    ...(typeof q.since === 'number' ? { since: q.since } : {}),
    ...(typeof q.service === 'string' ? { service: q.service } : {}),
    ...(typeof q.instance === 'string' ? { instance: q.instance } : {}),
    ...(typeof q.kind === 'string' ? { kind: q.kind as ServiceReportQuery['kind'] } : {}),
  };
}

/** A host's answer to `reports`: the newest matching, bounded. */
export function answerReports(local: (q: ServiceReportQuery) => ServiceReport[], query: ServiceReportQuery): Record<string, unknown> {
  const all = local(query);
  return { reports: all.slice(-REPORTS_MAX_PER_NODE), truncated: all.length > REPORTS_MAX_PER_NODE };
}

export async function clusterReports(src: ReportSources, query: ClusterReportQuery = {}): Promise<ClusterReports> {
  if (typeof query !== 'object' || query === null) throw new InvalidArgumentError('query', 'must be { node?, since?, service?, instance?, kind? }');
  if (query.node !== undefined && typeof query.node !== 'string') throw new InvalidArgumentError('query.node', 'must be a node name');
  const { node, ...rest } = query;
  // Checked here first: a bad query is the caller's error, not every node's.
  src.local(rest);
  const wire = reportQueryOf(rest);
  const members = [...new Set([src.self, ...src.members()])].filter((m) => node === undefined || m === node).sort();
  const answers = await Promise.all(
    members.map(async (m): Promise<{ node: string; reports?: ServiceReport[]; truncated?: boolean }> => {
      if (m === src.self) {
        const a = answerReports(src.local, wire);
        return { node: m, reports: a.reports as ServiceReport[], truncated: a.truncated === true };
      }
      try {
        const r = await src.request(m, { op: 'reports', query: wire });
        return { node: m, reports: Array.isArray(r.reports) ? (r.reports as ServiceReport[]) : [], truncated: r.truncated === true };
      } catch {
        return { node: m };
      }
    }),
  );
  return {
    reports: answers.flatMap((a) => a.reports ?? []),
    unreachable: answers.filter((a) => a.reports === undefined).map((a) => a.node),
    truncated: answers.filter((a) => a.truncated === true).map((a) => a.node),
  };
}
