/**
 * The node's recent events as log lines, in a bounded ring, for the admin
 * `logs` verb. It keeps the event stream (src/events.ts) and the service
 * events, not the pino output: those are structured, carry no payloads or
 * stacks, and exist on every node whatever logger the user gave it.
 */
import type { HalyardEvent } from '../../events.js';
import type { ServiceEvent } from '../instances/types.js';
import type { LogLine } from './protocol.js';

export const DEFAULT_LOG_SIZE = 500;

const WARN_TYPES: ReadonlySet<string> = new Set([
  'supervisor.child.exited',
  'supervisor.gave_up',
  'dead_letter',
  'cluster.gave_up',
  'halyard.service.could-not-start.v1',
  'halyard.service.failed.v1',
]);

export class EventLog {
  private readonly ring: LogLine[] = [];
  private seq = 0;

  constructor(
    private readonly node: string,
    private readonly size: number = DEFAULT_LOG_SIZE,
  ) {}

  addEvent(e: HalyardEvent): void {
    const { v: _v, seq: _seq, at, node: _node, type, ...fields } = e;
    this.push(at, type, fields, undefined);
  }

  addServiceEvent(e: ServiceEvent): void {
    const { type, at, node: _node, service, ...rest } = e;
    // Config may hold secrets: the line says that it changed, not to what.
    const { config: _config, error: _error, ...fields } = rest as Record<string, unknown>;
    this.push(at, type, fields, service);
  }

  /** Lines after `since` (a seq), newest last, at most `limit`, optionally of one service. */
  tail(query: { readonly since?: number; readonly limit?: number; readonly service?: string } = {}): LogLine[] {
    const since = query.since ?? 0;
    const lines = this.ring.filter((l) => l.seq > since && (query.service === undefined || l.service === query.service));
    const limit = query.limit ?? lines.length;
    return lines.slice(Math.max(0, lines.length - limit));
  }

  private push(at: number, msg: string, fields: Record<string, unknown>, service: string | undefined): void {
    this.seq += 1;
    const line: LogLine = {
      seq: this.seq,
      at,
      node: this.node,
      level: WARN_TYPES.has(msg) ? 'warn' : 'info',
      msg,
      ...(service !== undefined ? { service } : {}),
      fields,
    };
    this.ring.push(line);
    if (this.ring.length > this.size) this.ring.shift();
  }
}
