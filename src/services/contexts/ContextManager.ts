/**
 * `node.contexts`: start contexts from files or definitions, find them by
 * transaction, and control them over the transport.
 *
 * ## Subjects (default prefix `halyard`)
 * | subject                                  | payload (JSON)                 | answer (JSON) |
 * |------------------------------------------|--------------------------------|---------------|
 * | `halyard.context.create`                 | `{ "definition": {context, services} }` | `{ ok, transaction, state }`; one node with service types answers (queue group `halyard-contexts`) |
 * | `halyard.context.create.<node>`          | the same                       | the same, from that node |
 * | `halyard.context.<transaction>.start`    | none                           | `{ ok, transaction, state }`: starts a stopped context again, same transaction |
 * | `halyard.context.<transaction>.stop`     | none                           | `{ ok, transaction, state }` once stopped |
 * | `halyard.context.<transaction>.restart`  | none                           | `{ ok, transaction, state }` with the **new** transaction |
 * | `halyard.context.<transaction>.events`   | published: every state change of the context and its services (`ContextEventMessage`) | none |
 * Only the node that runs a transaction answers for it; an unknown one gets
 * no answer (a request times out or finds no responders). Refusals answer
 * `{ ok: false, error: { name, code, message } }`.
 */
import { InvalidArgumentError, toWireError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { isPlainObject, kindOf } from '../../options.js';
import type { Msg, Subscription, Transport } from '../../transport/Transport.js';
import type { ServiceManager } from '../instances/ServiceManager.js';
import { Context, type ContextEventMessage } from './Context.js';
import { type ContextDefinition, isContextDefinition, validateContext } from './definition.js';
import { InvalidContextError } from '../../errors.js';
import { loadContextFile } from './loaders.js';
import { TRANSACTION } from './transaction.js';

export interface ContextsHost {
  readonly node: string;
  readonly services: ServiceManager;
  readonly logger: Logger;
  readonly transport: Transport;
  readonly prefix: string;
}

const VERBS = ['start', 'stop', 'restart'] as const;

export class ContextManager {
  private readonly host: ContextsHost;
  private readonly byTransaction = new Map<string, Context>();
  private readonly all = new Set<Context>();
  private readonly subs: Subscription[] = [];
  private readonly encoder = new TextEncoder();
  private closing = false;

  constructor(host: ContextsHost) {
    this.host = host;
    const t = host.transport;
    const create = (m: Msg) => void this.answer(m, () => this.create(m));
    // A node with no service types could only refuse: it stays out of the group that shares creates.
    if (host.services.catalog.names().length > 0) this.subs.push(t.subscribe(`${host.prefix}.context.create`, create, { queue: `${host.prefix}-contexts` }));
    this.subs.push(t.subscribe(`${host.prefix}.context.create.${host.node}`, create));
    for (const verb of VERBS) this.subs.push(t.subscribe(`${host.prefix}.context.*.${verb}`, (m) => this.control(m, verb)));
  }

  /** Subject events of `transaction` are published on. */
  eventsSubject(transaction: string): string {
    return `${this.host.prefix}.context.${transaction}.events`;
  }

  /** Start a context from a file path or a definition (`defineContext`, or a plain object checked like a file). */
  async start(fileOrDefinition: string | ContextDefinition | Record<string, unknown>): Promise<Context> {
    if (this.closing) throw new InvalidArgumentError('context', 'the node is shutting down');
    let def: ContextDefinition;
    if (typeof fileOrDefinition === 'string') def = await loadContextFile(fileOrDefinition);
    else if (isContextDefinition(fileOrDefinition)) def = fileOrDefinition;
    else if (isPlainObject(fileOrDefinition)) def = validateContext(fileOrDefinition, '(definition)');
    else throw new InvalidArgumentError('context', `must be a file path or a context definition, got ${kindOf(fileOrDefinition)}`);
    // Every type must be known before anything of the context starts.
    def.services.forEach((s, i) => {
      if (!this.host.services.catalog.has(s.service)) throw new InvalidContextError(def.source, `services[${i}].service`, `no service type ${s.service} on this node`);
    });
    const ctx = new Context(
      {
        services: this.host.services,
        logger: this.host.logger.child({ component: 'context', context: def.name }),
        publish: (c, e) => this.publish(c, e),
        retarget: (c, previous) => {
          if (previous !== undefined) this.byTransaction.delete(previous);
          this.byTransaction.set(c.transaction, c);
        },
      },
      def,
    );
    this.all.add(ctx);
    try {
      await ctx._start();
    } catch (err) {
      this.all.delete(ctx);
      this.byTransaction.delete(ctx.transaction);
      throw err;
    }
    return ctx;
  }

  /** The context of `transaction` on this node, stopped ones included until the node shuts down. */
  find(query: { readonly transaction: string }): Context | undefined {
    return this.byTransaction.get(query.transaction);
  }

  list(): Context[] {
    return [...this.all];
  }

  /** @internal Stop every context, then stop answering. */
  async _shutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.all].map((c) => c.stop()));
    for (const s of this.subs.splice(0)) s.unsubscribe();
  }

  private publish(ctx: Context, event: ContextEventMessage): void {
    const t = this.host.transport;
    if (t.isClosed) return;
    try {
      t.publish(this.eventsSubject(ctx.transaction), this.encoder.encode(JSON.stringify(event)));
    } catch (err) {
      this.host.logger.warn({ err: toWireError(err).message, eventType: event.type }, 'cannot publish context event');
    }
  }

  private async create(m: Msg): Promise<unknown> {
    const body = parseBody(m);
    if (!isPlainObject(body) || !isPlainObject(body.definition)) throw new InvalidArgumentError('definition', `the request is { "definition": { context, services } }, got ${kindOf(body)}`);
    const ctx = await this.start(body.definition);
    return { transaction: ctx.transaction, state: ctx.state };
  }

  private control(m: Msg, verb: (typeof VERBS)[number]): void {
    const transaction = m.subject.slice(`${this.host.prefix}.context.`.length, -(verb.length + 1));
    if (!TRANSACTION.test(transaction)) return;
    const ctx = this.byTransaction.get(transaction);
    // Another node's transaction, or none: stay silent so its owner answers.
    if (ctx === undefined) return;
    void this.answer(m, async () => {
      if (verb === 'stop') await ctx.stop();
      else if (verb === 'restart') await ctx.restart();
      else if (ctx.state === 'stopped') await ctx._start();
      return { transaction: ctx.transaction, state: ctx.state };
    });
  }

  private async answer(m: Msg, work: () => Promise<Record<string, unknown> | unknown>): Promise<void> {
    let reply: unknown;
    try {
      reply = { ok: true, ...(await work() as Record<string, unknown>) };
    } catch (err) {
      const w = toWireError(err);
      reply = { ok: false, error: { name: w.name, code: w.code, message: w.message } };
    }
    if (m.reply === undefined || this.host.transport.isClosed) return;
    this.host.transport.publish(m.reply, this.encoder.encode(JSON.stringify(reply)));
  }
}

function parseBody(m: Msg): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(m.data));
  } catch {
    throw new InvalidArgumentError('payload', 'must be JSON');
  }
}
