/**
 * The node side of the admin wire API (the contract is in protocol.ts):
 * three subscriptions per node, each request answered with one versioned
 * JSON reply. Nothing here throws at a peer: a bad frame gets an
 * `AdminRequestError` reply, a request without a reply subject is a
 * `no-reply-subject` dead letter.
 */
import type { ActorSystem } from '../../actors/ActorSystem.js';
import { DeadLetterReason } from '../../actors/DeadLetters.js';
import { type CheckLevel, type CheckResult, isCheckLevel, type StatusReport } from '../../actors/ocf.js';
import type { ActorRef } from '../../actors/types.js';
import type { Clock } from '../../clock.js';
import { AdminRequestError, AdminWriteRefusedError, describe, toLogError, toWireError } from '../../errors.js';
import type { Events } from '../../events.js';
import type { Logger } from '../../log.js';
import { isPlainObject } from '../../options.js';
import type { Supervision } from '../../supervision/index.js';
import type { Supervisor } from '../../supervision/types.js';
import type { Subscription, Transport, Msg } from '../../transport/Transport.js';
import type { Context } from '../contexts/Context.js';
import type { ContextManager } from '../contexts/ContextManager.js';
import { parseJsonContext, parseXmlContext, parseYamlContext } from '../contexts/loaders.js';
import type { ServiceInstance } from '../instances/ServiceInstance.js';
import type { ServiceManager } from '../instances/ServiceManager.js';
import type { Subjects } from '../remote/subjects.js';
import type { TaskRecord } from '../tasks/records.js';
import type { Tasks } from '../tasks/Tasks.js';
import { DEFAULT_LOG_SIZE, EventLog } from './EventLog.js';
import {
  ADMIN_QUEUE,
  ADMIN_VERBS,
  ADMIN_VERSION,
  type AdminReply,
  AdminVerb,
  type ChildRow,
  type ContextRow,
  type DecisionRow,
  type InstanceRow,
  type NodeInfo,
  type SupervisorRow,
  type TaskRow,
  WRITE_VERBS,
  type WriteData,
} from './protocol.js';

/** `createNode({ admin })`: `false` answers nothing; by default read verbs only. */
export type AdminOptions = false | { readonly write?: boolean; readonly logSize?: number };

/** What the responder needs from its node. */
export interface AdminHost {
  readonly name: string;
  readonly subjects: Subjects;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly system: ActorSystem;
  readonly supervision: Supervision;
  readonly services: ServiceManager;
  readonly contexts: ContextManager;
  /** Opened on first use: a node that is never asked about tasks never touches the tasks bucket. */
  tasks(): Tasks;
  readonly events: Events;
  readonly labels: readonly string[];
  readonly inCluster: boolean;
  readonly uptimeMs: number;
  check(name?: string, level?: CheckLevel): Promise<CheckResult>;
  status(name: string): Promise<StatusReport>;
  ref(name: string): ActorRef;
}

const MAX_TREE_DEPTH = 32;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class AdminResponder {
  private readonly subs: Subscription[];
  private readonly log: EventLog;
  private readonly restarts = new Map<string, number>();
  private readonly offs: Array<() => void> = [];
  private readonly write: boolean;

  constructor(
    private readonly host: AdminHost,
    options: Exclude<AdminOptions, false> = {},
  ) {
    this.write = options.write === true;
    this.log = new EventLog(host.name, options.logSize ?? DEFAULT_LOG_SIZE);
    this.offs.push(
      host.events.subscribe((e) => {
        if (e.type === 'supervisor.child.restarted') this.restarts.set(childKey(e.supervisor, e.childId), e.restarts);
        this.log.addEvent(e);
      }),
      host.services.onEvent((e) => this.log.addServiceEvent(e)),
    );
    const s = host.subjects;
    const t = host.transport;
    this.subs = [
      t.subscribe(s.adminNode(host.name, '*'), (m) => this.handle(m)),
      t.subscribe(s.adminAll('*'), (m) => this.handle(m)),
      t.subscribe(s.adminAny('*'), (m) => this.handle(m), { queue: ADMIN_QUEUE }),
    ];
  }

  close(): void {
    for (const sub of this.subs) sub.unsubscribe();
    for (const off of this.offs) off();
  }

  private handle(msg: Msg): void {
    if (msg.reply === undefined) {
      this.host.system.deadLetters.record(msg.subject, undefined, DeadLetterReason.NoReplySubject);
      return;
    }
    const reply = msg.reply;
    const verb = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
    void this.answer(verb, msg.data).then(
      (data) => this.send(reply, { v: ADMIN_VERSION, node: this.host.name, ok: true, data }),
      (err) => this.send(reply, { v: ADMIN_VERSION, node: this.host.name, ok: false, error: toWireError(err) }),
    );
  }

  private send(reply: string, frame: AdminReply): void {
    if (this.host.transport.isClosed) return;
    try {
      this.host.transport.publish(reply, encoder.encode(JSON.stringify(frame)));
    } catch (err) {
      // A reply too large for the connection still gets an answer the client can read.
      this.host.logger.warn({ err: toLogError(err) }, 'cannot send admin reply');
      if (frame.ok) {
        const fallback: AdminReply = { v: ADMIN_VERSION, node: this.host.name, ok: false, error: toWireError(err) };
        try {
          this.host.transport.publish(reply, encoder.encode(JSON.stringify(fallback)));
        } catch {
          // Nothing more to tell: the connection refuses even a small frame.
        }
      }
    }
  }

  private async answer(verb: string, data: Uint8Array): Promise<unknown> {
    if (!ADMIN_VERBS.has(verb)) throw new AdminRequestError('verb', `unknown admin verb ${JSON.stringify(verb.slice(0, 64))}`);
    const args = decodeArgs(data);
    if (WRITE_VERBS.has(verb) && !this.write) throw new AdminWriteRefusedError(verb, this.host.name);
    switch (verb as AdminVerb) {
      case AdminVerb.Info:
        return this.info();
      case AdminVerb.Services:
        return this.servicesData(optionalString(args, 'tag'), optionalString(args, 'service'));
      case AdminVerb.Tree:
        return { supervisors: this.host.supervision.supervisors().map((s) => this.supervisorRow(s, 0)) };
      case AdminVerb.Decisions:
        return { decisions: this.decisions(optionalString(args, 'child'), optionalNumber(args, 'since')) };
      case AdminVerb.Logs:
        return { lines: this.log.tail({ service: optionalString(args, 'service'), since: optionalNumber(args, 'since'), limit: optionalNumber(args, 'limit') }) };
      case AdminVerb.Check: {
        const level = args.level ?? 0;
        if (!isCheckLevel(level)) throw new AdminRequestError('args.level', 'must be 0, 10 or 20');
        return this.host.check(requiredString(args, 'name'), level);
      }
      case AdminVerb.Status:
        return this.host.status(requiredString(args, 'name'));
      case AdminVerb.Call: {
        const ref = this.host.ref(requiredString(args, 'name'));
        const timeout = optionalNumber(args, 'timeout');
        const reply = await ref.ask(eventArg(args), timeout === undefined ? undefined : { timeout });
        return { reply: reply === undefined ? null : reply };
      }
      case AdminVerb.Send:
        this.host.ref(requiredString(args, 'name')).tell(eventArg(args));
        return { sent: true };
      case AdminVerb.Restart:
        return this.restart(requiredString(args, 'name'));
      case AdminVerb.Stop:
        return this.stop(requiredString(args, 'name'));
      case AdminVerb.Contexts:
        return { contexts: this.host.contexts.list().map((c) => this.contextRow(c)) };
      case AdminVerb.ContextStart:
        return this.contextRow(await this.host.contexts.start(contextArg(args)));
      case AdminVerb.ContextStop:
      case AdminVerb.ContextRestart: {
        const ctx = this.host.contexts.find({ transaction: requiredString(args, 'transaction') });
        if (ctx === undefined) return { matched: 0, done: [] };
        await (verb === AdminVerb.ContextStop ? ctx.stop() : ctx.restart());
        return { matched: 1, done: [ctx.transaction] };
      }
      case AdminVerb.Tasks:
        return { tasks: (await this.host.tasks().list()).map(taskRow) };
      case AdminVerb.TaskStatus:
        return taskRow(await this.host.tasks().record(requiredString(args, 'id')));
      case AdminVerb.TaskSubmit:
        return { id: await this.host.tasks().submit(requiredString(args, 'name'), args.input ?? null) };
    }
  }

  private info(): Promise<NodeInfo> {
    const h = this.host;
    const mem = process.memoryUsage();
    return h.check(undefined, 10).then((check) => ({
      node: h.name,
      prefix: h.subjects.prefix,
      transport: h.transport.kind,
      connected: h.transport.isConnected,
      uptimeMs: h.uptimeMs,
      actors: h.system.size,
      instances: h.services.instances().filter((i) => i.isAlive()).length,
      labels: h.labels,
      cluster: h.inCluster,
      write: this.write,
      check,
      deadLetters: h.system.deadLetters.total,
      memory: { rssBytes: mem.rss, heapUsedBytes: mem.heapUsed },
    }));
  }

  private servicesData(tag: string | undefined, service: string | undefined) {
    const graph = this.host.services.graph();
    const instances = this.host.services
      .localInstances()
      .filter((i) => (tag === undefined || i.tags.includes(tag)) && (service === undefined || i.service === service || i.id === service))
      .map((i) => this.instanceRow(i));
    const services = graph.services
      .filter((s) => service === undefined || s.name === service || instances.some((i) => i.service === s.name))
      .map((s) => ({ name: s.name, version: s.version, dependsOn: s.dependsOn, cardinality: s.cardinality }));
    return { services, instances };
  }

  private instanceRow(i: ServiceInstance): InstanceRow {
    const cell = i.isAlive() ? this.host.system.lookup(i.actorName) : undefined;
    const report = cell?.statusReport();
    return {
      service: i.service,
      instance: i.id,
      node: i.node,
      state: i.state,
      tags: i.tags,
      actor: i.actorName,
      restarts: Math.max(0, i.incarnation - 1),
      mailbox: report === undefined ? { depth: 0, capacity: 0 } : { depth: report.mailbox.depth, capacity: report.mailbox.capacity },
      processed: report?.processed ?? 0,
      dependsOn: i.definition.dependsOn,
    };
  }

  private supervisorRow(sup: Supervisor, depth: number): SupervisorRow {
    const children: ChildRow[] = sup.whichChildren().map((c) => {
      const report = c.ref === undefined ? undefined : this.host.system.get(c.ref.id)?.statusReport();
      const nested = c.type === 'supervisor' && depth < MAX_TREE_DEPTH ? sup.childSupervisor(c.id) : undefined;
      return {
        id: c.id,
        type: c.type,
        restart: c.restart,
        status: c.status,
        actor: c.ref === undefined ? null : (c.ref.name ?? c.ref.id),
        restarts: this.restarts.get(childKey(sup.label, c.id)) ?? 0,
        mailbox: report === undefined ? null : { depth: report.mailbox.depth, capacity: report.mailbox.capacity },
        ...(nested !== undefined ? { supervisor: this.supervisorRow(nested, depth + 1) } : {}),
      };
    });
    return { label: sup.label, strategy: sup.strategy, phase: sup.phase, gaveUp: sup.gaveUp ?? null, children };
  }

  private decisions(child: string | undefined, since: number | undefined): DecisionRow[] {
    const query = { ...(child !== undefined ? { childId: child } : {}), ...(since !== undefined ? { since } : {}) };
    return this.host.supervision.coordinator.decisions(query).map((d) => ({
      node: this.host.name,
      seq: d.seq,
      at: d.at,
      supervisor: d.input.supervisor,
      childId: d.input.childId,
      reason: d.input.reason,
      ...(d.input.error !== undefined ? { error: d.input.error.message } : {}),
      directive: d.directive.type,
      rule: d.rule,
    }));
  }

  private contextRow(c: Context): ContextRow {
    return { node: this.host.name, name: c.name, transaction: c.transaction, state: c.state, services: c.services().map((i) => i.id) };
  }

  /** Instances of this node that `name` names: an instance id, else every live instance of a service. */
  private matching(name: string): ServiceInstance[] {
    const all = this.host.services.localInstances().filter((i) => i.isAlive());
    const byId = all.filter((i) => i.id === name);
    return byId.length > 0 ? byId : all.filter((i) => i.service === name);
  }

  private async restart(name: string): Promise<WriteData> {
    const found = this.matching(name);
    const done: string[] = [];
    for (const i of found) {
      const next = await this.host.services.restart(i);
      done.push(next.id);
    }
    return { matched: found.length, done };
  }

  private async stop(name: string): Promise<WriteData> {
    const found = this.matching(name);
    if (found.length === 0) {
      // Not a service: a plain named actor of this node, unless a supervisor would only restart it.
      const cell = this.host.system.lookup(name);
      if (cell === undefined) return { matched: 0, done: [] };
      await cell.stop();
      return { matched: 1, done: [name] };
    }
    for (const i of found) await i.stop();
    return { matched: found.length, done: found.map((i) => i.id) };
  }
}

function childKey(supervisor: string, childId: string): string {
  return `${supervisor}\u0000${childId}`;
}

function decodeArgs(data: Uint8Array): Readonly<Record<string, unknown>> {
  let frame: unknown;
  try {
    frame = data.length === 0 ? { v: ADMIN_VERSION } : JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new AdminRequestError('frame', `not JSON: ${describe(err)}`);
  }
  if (!isPlainObject(frame)) throw new AdminRequestError('frame', 'must be a JSON object { v: 1, args? }');
  if (frame.v !== ADMIN_VERSION) throw new AdminRequestError('v', `this node speaks admin v${ADMIN_VERSION}`);
  if (frame.args === undefined) return {};
  if (!isPlainObject(frame.args)) throw new AdminRequestError('args', 'must be an object');
  return frame.args;
}

function optionalString(args: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new AdminRequestError(`args.${key}`, 'must be a non-empty string');
  return v;
}

function requiredString(args: Readonly<Record<string, unknown>>, key: string): string {
  const v = optionalString(args, key);
  if (v === undefined) throw new AdminRequestError(`args.${key}`, 'is required');
  return v;
}

function optionalNumber(args: Readonly<Record<string, unknown>>, key: string): number | undefined {
  const v = args[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new AdminRequestError(`args.${key}`, 'must be a non-negative number');
  return v;
}

const CONTEXT_PARSERS: Readonly<Record<string, (text: string, file: string) => ReturnType<typeof parseYamlContext>>> = {
  yaml: parseYamlContext,
  yml: parseYamlContext,
  json: parseJsonContext,
  xml: parseXmlContext,
};

/** A context file sent as text: the node may not see the client's files, and a module file would run code on the node. */
function contextArg(args: Readonly<Record<string, unknown>>) {
  const file = requiredString(args, 'file');
  const parse = CONTEXT_PARSERS[file.slice(file.lastIndexOf('.') + 1).toLowerCase()];
  if (parse === undefined) throw new AdminRequestError('args.file', 'must end in .yaml, .yml, .json or .xml (a .ts context starts from code)');
  if (typeof args.text !== 'string') throw new AdminRequestError('args.text', 'must be the file text');
  return parse(args.text, file);
}

function taskRow(r: TaskRecord): TaskRow {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    attempt: r.attempt,
    maxAttempts: r.maxAttempts,
    ...(r.worker !== undefined ? { worker: r.worker } : {}),
    ...(r.parent !== undefined ? { parent: r.parent } : {}),
    ...(r.result !== undefined ? { result: r.result } : {}),
    ...(r.error !== undefined ? { error: r.error } : {}),
  };
}

function eventArg(args: Readonly<Record<string, unknown>>): { type: string } {
  const e = args.event;
  if (!isPlainObject(e) || typeof e.type !== 'string' || e.type.length === 0) {
    throw new AdminRequestError('args.event', 'must be an object with a string "type"');
  }
  return e as { type: string };
}

/** For the node's options check. */
export function assertAdminOptions(o: unknown, fail: (field: string, message: string) => never): void {
  if (o === undefined || o === false) return;
  if (!isPlainObject(o)) fail('admin', 'must be false or { write?, logSize? }');
  for (const k of Object.keys(o)) if (k !== 'write' && k !== 'logSize') fail(`admin.${k}`, 'is not an admin option (write, logSize)');
  if (o.write !== undefined && typeof o.write !== 'boolean') fail('admin.write', 'must be a boolean');
  if (o.logSize !== undefined && (!Number.isSafeInteger(o.logSize) || (o.logSize as number) < 1)) fail('admin.logSize', 'must be a positive integer');
}
