/**
 * A client of the admin wire API (services/admin/protocol.ts): what the
 * `halyard` CLI and the observer use to see and steer nodes from outside.
 *
 * ```ts
 * const c = await connect({ server: 'nats://127.0.0.1:4222' });   // or { socket: '.halyard.sock' }
 * console.log(await c.nodes(), await c.services({ tag: 'edge' }));
 * await c.close();
 * ```
 *
 * | method                          | subject (prefix `halyard`)     | result |
 * |---------------------------------|--------------------------------|--------|
 * | `nodes()`                       | `admin.all.info`, gathered      | `NodeInfo[]`, by node name |
 * | `services({ tag?, node? })`     | `admin.all.services` (or `admin.node.<node>.services`) | `{ services, instances }` across nodes |
 * | `info(name)`                    | `admin.all.services` for one service or instance id | `{ name, services, instances }`, `AdminNotFoundError` if none |
 * | `check(name, level?)`           | `admin.any.check`              | a `CheckResult` (its `code` is the OCF code) |
 * | `status(name)`                  | `admin.any.status`             | a `StatusReport` |
 * | `call(name, event, { timeout })`| `admin.any.call`               | the reply |
 * | `send(name, event)`             | `admin.any.send`               | once a node took it |
 * | `tree()`                        | `admin.all.tree`, gathered      | `{ node, supervisors }[]` |
 * | `decisions({ child?, since? })` | `admin.all.decisions`          | `DecisionRow[]`, by node then seq |
 * | `logs({ node?, service?, since?, limit? })` | `admin.all.logs`   | `LogLine[]`, by node then seq |
 * | `restart(name)` / `stop(name)`  | `admin.all.restart` / `stop`   | `{ node, done }[]` of the nodes that acted |
 * | `contexts()`                    | `admin.all.contexts`, gathered | `ContextRow[]`, by node then name |
 * | `contextStart(file, text, { node? })` | `admin.node.<node>.contextStart`, on a node that allows writes | the new `ContextRow` |
 * | `contextStop(tx)` / `contextRestart(tx)` | `admin.all.contextStop` / `contextRestart` | `{ node, done }[]` (`done`: the transaction, the new one after a restart) |
 * | `tasks()` / `taskStatus(id)`    | `admin.any.tasks` / `taskStatus` | `TaskRow[]` / a `TaskRow` |
 * | `taskSubmit(name, input, { node? })` | `admin.node.<node>.taskSubmit`, on a node that allows writes | the task id |
 * | `events(listener, { node? })`   | `events.*` (nodes with `events: { publish: true }`) | unsubscribe function |
 *
 * Errors a node answered are rethrown as `RemoteError` carrying the node's
 * `name` (as `remoteName`) and `code`, so `AdminWriteRefusedError` shows as
 * code `ERR_ADMIN_WRITE_REFUSED`.
 */
import type { CheckLevel, CheckResult, StatusReport } from '../actors/ocf.js';
import { AdminNotFoundError, AdminRequestError, fromWireError, isWireError, type WireError } from '../errors.js';
import type { HalyardEvent } from '../events.js';
import { isPlainObject } from '../options.js';
import {
  ADMIN_VERSION,
  type AdminReply,
  AdminVerb,
  type ContextRow,
  type ContextsData,
  type TaskRow,
  type TasksData,
  type DecisionRow,
  type DecisionsData,
  type InstanceRow,
  type LogLine,
  type LogsData,
  type NodeInfo,
  type ServiceRow,
  type ServicesData,
  type SupervisorRow,
  type TreeData,
  type WriteData,
} from '../services/admin/protocol.js';
import { Subjects } from '../services/remote/subjects.js';
import type { AdminLink } from './AdminLink.js';

export interface ClientTimeouts {
  /** Deadline of one request, and the longest a gather takes, ms. Default 5000. */
  readonly timeout?: number;
  /** After the last node answered a gather, how long to wait for another, ms. Default 250. */
  readonly gatherMs?: number;
}

export interface NodeTree {
  readonly node: string;
  readonly supervisors: readonly SupervisorRow[];
}

export interface WriteResult {
  readonly node: string;
  readonly done: readonly string[];
}

export interface ServiceInfo {
  readonly name: string;
  readonly services: readonly ServiceRow[];
  readonly instances: readonly InstanceRow[];
}

export class HalyardClient {
  readonly subjects: Subjects;
  private readonly timeout: number;
  private readonly gatherMs: number;

  /** @internal Use {@link connect}. */
  constructor(
    private readonly link: AdminLink,
    prefix: string,
    timeouts: ClientTimeouts = {},
  ) {
    this.subjects = new Subjects(prefix);
    this.timeout = timeouts.timeout ?? 5000;
    this.gatherMs = timeouts.gatherMs ?? 250;
  }

  async nodes(): Promise<NodeInfo[]> {
    const answers = await this.all<NodeInfo>(AdminVerb.Info);
    return answers.map((a) => a.data).sort((a, b) => a.node.localeCompare(b.node));
  }

  async services(filter: { readonly tag?: string; readonly node?: string; readonly service?: string } = {}): Promise<ServicesData> {
    const args = { ...(filter.tag !== undefined ? { tag: filter.tag } : {}), ...(filter.service !== undefined ? { service: filter.service } : {}) };
    const answers =
      filter.node === undefined
        ? await this.all<ServicesData>(AdminVerb.Services, args)
        : [{ node: filter.node, data: await this.one<ServicesData>(this.subjects.adminNode(filter.node, AdminVerb.Services), args) }];
    const services = new Map<string, ServiceRow>();
    const instances: InstanceRow[] = [];
    for (const a of answers) {
      for (const s of a.data.services) if (!services.has(s.name)) services.set(s.name, s);
      instances.push(...a.data.instances);
    }
    instances.sort((x, y) => x.service.localeCompare(y.service) || x.node.localeCompare(y.node) || x.instance.localeCompare(y.instance));
    return { services: [...services.values()].sort((x, y) => x.name.localeCompare(y.name)), instances };
  }

  async info(name: string): Promise<ServiceInfo> {
    assertTarget(name);
    const { services, instances } = await this.services({ service: name });
    if (services.length === 0 && instances.length === 0) throw new AdminNotFoundError(name);
    return { name, services, instances };
  }

  check(name: string, level: CheckLevel = 0): Promise<CheckResult> {
    assertTarget(name);
    return this.one(this.subjects.adminAny(AdminVerb.Check), { name, level });
  }

  status(name: string): Promise<StatusReport> {
    assertTarget(name);
    return this.one(this.subjects.adminAny(AdminVerb.Status), { name });
  }

  async call<R = unknown>(name: string, event: { readonly type: string }, options: { readonly timeout?: number } = {}): Promise<R> {
    assertTarget(name);
    assertEvent(event);
    const timeout = options.timeout ?? this.timeout;
    // The node's ask deadline comes first, so its TimeoutError (naming the actor) is what the caller sees.
    const data = await this.one<{ reply: R }>(this.subjects.adminAny(AdminVerb.Call), { name, event, timeout }, timeout + 1000);
    return data.reply;
  }

  async send(name: string, event: { readonly type: string }): Promise<void> {
    assertTarget(name);
    assertEvent(event);
    await this.one(this.subjects.adminAny(AdminVerb.Send), { name, event });
  }

  async tree(): Promise<NodeTree[]> {
    const answers = await this.all<TreeData>(AdminVerb.Tree);
    return answers.map((a) => ({ node: a.node, supervisors: a.data.supervisors })).sort((a, b) => a.node.localeCompare(b.node));
  }

  async decisions(query: { readonly child?: string; readonly since?: number; readonly node?: string } = {}): Promise<DecisionRow[]> {
    const args = { ...(query.child !== undefined ? { child: query.child } : {}), ...(query.since !== undefined ? { since: query.since } : {}) };
    const answers = await this.allOrOne<DecisionsData>(AdminVerb.Decisions, args, query.node);
    return answers.flatMap((a) => a.data.decisions).sort((a, b) => a.node.localeCompare(b.node) || a.seq - b.seq);
  }

  async logs(query: { readonly node?: string; readonly service?: string; readonly since?: number; readonly limit?: number } = {}): Promise<LogLine[]> {
    const { node, ...rest } = query;
    const args = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
    const answers = await this.allOrOne<LogsData>(AdminVerb.Logs, args, node);
    return answers.flatMap((a) => a.data.lines).sort((a, b) => a.node.localeCompare(b.node) || a.seq - b.seq);
  }

  restart(name: string, options: { readonly node?: string } = {}): Promise<WriteResult[]> {
    assertTarget(name);
    return this.write(AdminVerb.Restart, { name }, name, options.node);
  }

  stop(name: string, options: { readonly node?: string } = {}): Promise<WriteResult[]> {
    assertTarget(name);
    return this.write(AdminVerb.Stop, { name }, name, options.node);
  }

  async contexts(): Promise<ContextRow[]> {
    const answers = await this.all<ContextsData>(AdminVerb.Contexts);
    return answers.flatMap((a) => a.data.contexts).sort((a, b) => a.node.localeCompare(b.node) || a.name.localeCompare(b.name));
  }

  /** Start a context from a file's text (`file` names it and its format by extension). */
  async contextStart(file: string, text: string, options: { readonly node?: string } = {}): Promise<ContextRow> {
    assertField(file, 'file');
    return this.one(await this.writerSubject(AdminVerb.ContextStart, options.node), { file, text }, this.timeout * 6);
  }

  contextStop(transaction: string): Promise<WriteResult[]> {
    assertField(transaction, 'transaction');
    return this.write(AdminVerb.ContextStop, { transaction }, transaction, undefined);
  }

  contextRestart(transaction: string): Promise<WriteResult[]> {
    assertField(transaction, 'transaction');
    return this.write(AdminVerb.ContextRestart, { transaction }, transaction, undefined);
  }

  async tasks(): Promise<TaskRow[]> {
    return [...(await this.one<TasksData>(this.subjects.adminAny(AdminVerb.Tasks))).tasks];
  }

  taskStatus(id: string): Promise<TaskRow> {
    assertField(id, 'id');
    return this.one(this.subjects.adminAny(AdminVerb.TaskStatus), { id });
  }

  async taskSubmit(name: string, input: unknown, options: { readonly node?: string } = {}): Promise<string> {
    assertField(name, 'name');
    const data = await this.one<{ id: string }>(await this.writerSubject(AdminVerb.TaskSubmit, options.node), { name, input: input ?? null });
    return data.id;
  }

  /** Every event the nodes publish (`events: { publish: true }`), or one node's. Returns a function that stops the feed. */
  events(listener: (event: HalyardEvent) => void, options: { readonly node?: string } = {}): () => void {
    const subject = this.subjects.events(options.node ?? '*');
    return this.link.subscribe(subject, (_subject, data) => {
      let event: unknown;
      try {
        event = JSON.parse(data);
      } catch {
        return; // not an event of ours: a tool must not die of a stray publish
      }
      if (isPlainObject(event) && event.v === 1 && typeof event.type === 'string') listener(event as unknown as HalyardEvent);
    });
  }

  close(): Promise<void> {
    return this.link.close();
  }

  // ── internals ──────────────────────────────────────────────────────────

  /** Where a write that one node does goes: the node asked for, else the first that allows writes (else any, which refuses with the reason). */
  private async writerSubject(verb: string, node: string | undefined): Promise<string> {
    if (node !== undefined) return this.subjects.adminNode(node, verb);
    const writer = (await this.nodes()).find((n) => n.write);
    return writer === undefined ? this.subjects.adminAny(verb) : this.subjects.adminNode(writer.node, verb);
  }

  private async write(verb: string, args: Record<string, unknown>, name: string, node: string | undefined): Promise<WriteResult[]> {
    const frame = encodeRequest(args);
    const raw =
      node === undefined
        ? await this.link.gather(this.subjects.adminAll(verb), frame, { timeout: this.timeout * 6, windowMs: this.gatherMs })
        : [await this.link.request(this.subjects.adminNode(node, verb), frame, this.timeout * 6)];
    const acted: WriteResult[] = [];
    let refusal: WireError | undefined;
    for (const r of raw.map(decodeReply)) {
      if (r.ok) {
        const d = r.data as WriteData;
        if (d.matched > 0) acted.push({ node: r.node, done: d.done });
      } else refusal ??= r.error;
    }
    // A node that refused (write not allowed) may be the one holding the name: say so rather than "not found".
    if (acted.length === 0 && refusal !== undefined) throw fromWireError(refusal);
    if (acted.length === 0) throw new AdminNotFoundError(name);
    return acted.sort((a, b) => a.node.localeCompare(b.node));
  }

  private async one<T>(subject: string, args?: Record<string, unknown>, timeout = this.timeout): Promise<T> {
    const reply = decodeReply(await this.link.request(subject, encodeRequest(args), timeout));
    if (!reply.ok) throw fromWireError(reply.error);
    return reply.data as T;
  }

  private async all<T>(verb: string, args?: Record<string, unknown>): Promise<Array<{ node: string; data: T }>> {
    const raw = await this.link.gather(this.subjects.adminAll(verb), encodeRequest(args), { timeout: this.timeout, windowMs: this.gatherMs });
    const out: Array<{ node: string; data: T }> = [];
    for (const r of raw.map(decodeReply)) {
      if (!r.ok) throw fromWireError(r.error);
      out.push({ node: r.node, data: r.data as T });
    }
    return out;
  }

  private async allOrOne<T>(verb: string, args: Record<string, unknown>, node: string | undefined): Promise<Array<{ node: string; data: T }>> {
    if (node === undefined) return this.all<T>(verb, args);
    return [{ node, data: await this.one<T>(this.subjects.adminNode(node, verb), args) }];
  }
}

function encodeRequest(args?: Record<string, unknown>): string {
  return JSON.stringify(args === undefined ? { v: ADMIN_VERSION } : { v: ADMIN_VERSION, args });
}

/** A reply we cannot read is an error of its own, not a crash. */
function decodeReply(text: string): AdminReply {
  let frame: unknown;
  try {
    frame = JSON.parse(text);
  } catch {
    throw new AdminRequestError('reply', 'a node answered something that is not JSON');
  }
  if (!isPlainObject(frame) || frame.v !== ADMIN_VERSION || typeof frame.node !== 'string' || typeof frame.ok !== 'boolean') {
    throw new AdminRequestError('reply', `a node answered a frame that is not admin v${ADMIN_VERSION}`);
  }
  if (frame.ok === false && !isWireError(frame.error)) throw new AdminRequestError('reply.error', 'an error reply without a readable error');
  return frame as unknown as AdminReply;
}

function assertTarget(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new AdminRequestError('name', 'must be a non-empty string');
}

function assertField(value: unknown, field: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw new AdminRequestError(field, 'must be a non-empty string');
}

function assertEvent(event: unknown): void {
  if (!isPlainObject(event) || typeof event.type !== 'string' || event.type.length === 0) {
    throw new AdminRequestError('event', 'must be an object with a string "type"');
  }
}
