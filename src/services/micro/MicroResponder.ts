/**
 * `MicroResponder`: NATS micro (`$SRV`, ADR-32) discovery for the service
 * instances of one node, over the transport seam, so it answers the same on
 * NATS and on the embedded `LocalTransport`.
 *
 * ## Contract
 * - `register(instance)` validates the instance (`microSpec.ts`, an
 *   `InvalidSpecError` naming the field; a second `name`/`id` pair is a
 *   `DuplicateNameError`) and returns a {@link MicroRegistration}: the
 *   instance's endpoint recorders and `unregister()`.
 * - Every registered instance answers, one JSON reply each, on
 *   `$SRV.<VERB>`, `$SRV.<VERB>.<name>` and `$SRV.<VERB>.<name>.<id>` for
 *   `PING`, `INFO`, `STATS` (ADR-32, `responses.ts`) and `CHECK`, `STATUS`
 *   (OCF, through the registration's callbacks).
 * - INFO and STATS list the declared endpoints plus `check` and `status`,
 *   whose subjects are `$SRV.CHECK|STATUS.<name>.<id>`; the responder counts
 *   those two itself. Declared endpoints are counted by the instance layer
 *   through `registration.endpoint(name)`.
 * - CHECK takes an optional body: a level `0`, `10` or `20`, bare or as
 *   `{"level": n}`; empty means 0. A check that throws answers
 *   `OCF_ERR_GENERIC` with its message (as actors do, see `ocf.ts`).
 * - Errors (a bad CHECK body, a STATUS callback that throws, a callback past
 *   `callbackTimeoutMs`) answer an `error_response` with the
 *   `Nats-Service-Error` headers, and count in that endpoint's `num_errors`.
 * - Nothing but JSON is ever sent on `$SRV` subjects: the official JS client
 *   drops a whole listing on one reply it cannot parse.
 * - A request without a reply subject, or a reply the transport refuses, is a
 *   dead letter (`no-reply-subject`, `frame-too-large`, `permission-denied`,
 *   `transport-down`) in `options.deadLetters`.
 *
 * ## Subscriptions
 * The same filters a Go micro service holds, so a request for a name or id
 * nobody has gets the server's "no responders" at once rather than waiting
 * out the client's deadline. They are shared: per verb one `$SRV.<VERB>`
 * subscription while any instance is registered, one `$SRV.<VERB>.<name>` per
 * name while it has instances, and one `$SRV.<VERB>.<name>.<id>` per
 * instance, none in a queue group (every instance must answer).
 *
 * ## For the node (one responder per node)
 * The node owns one responder on its own transport and dead letters,
 * registers each instance once it is running and unregisters it when it
 * stops (`spec/micro.node.spec.ts` is this example, running):
 * ```ts
 * const micro = new MicroResponder({ transport: node.transport, deadLetters: node.deadLetters, logger });
 * const reg = micro.register({
 *   name: 'payments', id: 'p1', version: '1.4.0', description: 'Charges cards',
 *   metadata: { node: node.name }, endpoints: { charge: 'halyard.svc.payments' },
 *   check: (level) => ref.check(level), status: () => ref.status(),
 * });
 * // per endpoint request: const t = reg.endpoint('charge').begin(); ...; reg.endpoint('charge').end(t, err);
 * reg.unregister();   // the instance stopped
 * micro.close();      // the node shuts down
 * ```
 */
import type { DeadLetters } from '../../actors/DeadLetters.js';
import { DeadLetterReason } from '../../actors/DeadLetters.js';
import { type CheckLevel, isCheckLevel, OCF, ocfLabel, type UserCheckAnswer } from '../../actors/ocf.js';
import { type Clock, monotonicClock } from '../../clock.js';
import { DuplicateNameError, InvalidArgumentError, TransportClosedError } from '../../errors.js';
import { type Logger, nullLogger } from '../../log.js';
import type { Msg, Subscription, Transport } from '../../transport/Transport.js';
import { EndpointStats } from './EndpointStats.js';
import { _normalizeInstance, type _Instance, type MicroInstance } from './microSpec.js';
import { controlSubject, MICRO_VERBS, MicroVerb } from './microSubjects.js';
import {
  type _EndpointView,
  type CheckResponse,
  type ErrorResponse,
  _endpointInfo,
  _endpointStatsInfo,
  type InfoResponse,
  MicroResponseType,
  type MicroResponse,
  type PingResponse,
  type StatsResponse,
  type StatusResponse,
} from './responses.js';
import { MicroErrorCode, serviceErrorDescription, serviceErrorHeaders } from './serviceError.js';

export interface MicroResponderOptions {
  readonly transport: Transport;
  /** Times requests and callback deadlines. Default: the monotonic clock. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** Where unanswerable requests and refused replies are counted. */
  readonly deadLetters?: DeadLetters;
  /** Longest a check or status callback may take before an error (504) is answered. Default 5000 ms. */
  readonly callbackTimeoutMs?: number;
}

export const DEFAULT_CALLBACK_TIMEOUT_MS = 5000;

/** One instance's place in a responder. */
export interface MicroRegistration {
  readonly name: string;
  readonly id: string;
  /** False once unregistered (or the responder closed). */
  readonly isRegistered: boolean;
  /** The recorder of a declared endpoint; `InvalidArgumentError('endpoint')` for a name not declared. */
  endpoint(name: string): EndpointStats;
  /** Zero every endpoint's counters, `check` and `status` included. */
  resetStats(): void;
  /** Stop answering for this instance. Idempotent. */
  unregister(): void;
}

interface Entry {
  readonly spec: _Instance;
  readonly endpoints: readonly _EndpointView[];
  readonly byName: ReadonlyMap<string, EndpointStats>;
  readonly check: EndpointStats;
  readonly status: EndpointStats;
  subs: Subscription[];
  registered: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class MicroResponder {
  readonly #transport: Transport;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #deadLetters: DeadLetters | undefined;
  readonly #timeoutMs: number;
  /** name → id → entry, in registration order (the order replies go out). */
  readonly #names = new Map<string, Map<string, Entry>>();
  readonly #nameSubs = new Map<string, Subscription[]>();
  #rootSubs: Subscription[] = [];
  #size = 0;
  #closed = false;

  constructor(options: MicroResponderOptions) {
    if (typeof options !== 'object' || options === null || typeof options.transport?.subscribe !== 'function') {
      throw new InvalidArgumentError('transport', 'a Transport is required');
    }
    const timeout = options.callbackTimeoutMs ?? DEFAULT_CALLBACK_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) throw new InvalidArgumentError('callbackTimeoutMs', 'expected a positive number of ms');
    this.#transport = options.transport;
    this.#clock = options.clock ?? monotonicClock;
    this.#log = options.logger ?? nullLogger();
    this.#deadLetters = options.deadLetters;
    this.#timeoutMs = timeout;
  }

  /** Number of registered instances. */
  get size(): number {
    return this.#size;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The registered instances, as `{ name, id }`, in registration order. */
  instances(): { name: string; id: string }[] {
    const out: { name: string; id: string }[] = [];
    for (const ids of this.#names.values()) for (const e of ids.values()) out.push({ name: e.spec.name, id: e.spec.id });
    return out;
  }

  register(instance: MicroInstance): MicroRegistration {
    if (this.#closed) throw new TransportClosedError('the $SRV responder is closed');
    const spec = _normalizeInstance(instance, () => new Date());
    if (this.#names.get(spec.name)?.has(spec.id)) throw new DuplicateNameError(`${spec.name}.${spec.id}`);
    const entry = this.#entry(spec);
    const created: Subscription[] = [];
    try {
      if (this.#size === 0) {
        this.#rootSubs = this.#subscribeAll(created, undefined, undefined, () => this.#all());
      }
      if (!this.#nameSubs.has(spec.name)) {
        const name = spec.name;
        this.#nameSubs.set(name, this.#subscribeAll(created, name, undefined, () => this.#names.get(name)?.values() ?? []));
      }
      entry.subs = this.#subscribeAll(created, spec.name, spec.id, () => (entry.registered ? [entry] : []));
    } catch (err) {
      for (const s of created) s.unsubscribe();
      if (this.#size === 0) this.#rootSubs = [];
      if (!this.#names.has(spec.name)) this.#nameSubs.delete(spec.name);
      throw err;
    }
    let ids = this.#names.get(spec.name);
    if (ids === undefined) {
      ids = new Map();
      this.#names.set(spec.name, ids);
    }
    ids.set(spec.id, entry);
    entry.registered = true;
    this.#size++;
    return this.#registration(entry);
  }

  /** Unregister everything and stop answering. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ids of this.#names.values()) {
      for (const e of ids.values()) {
        e.registered = false;
        for (const s of e.subs) s.unsubscribe();
      }
    }
    for (const subs of this.#nameSubs.values()) for (const s of subs) s.unsubscribe();
    for (const s of this.#rootSubs) s.unsubscribe();
    this.#names.clear();
    this.#nameSubs.clear();
    this.#rootSubs = [];
    this.#size = 0;
  }

  #entry(spec: _Instance): Entry {
    const byName = new Map<string, EndpointStats>();
    const endpoints: _EndpointView[] = spec.endpoints.map((e) => {
      const stats = new EndpointStats(this.#clock);
      byName.set(e.name, stats);
      return { ...e, stats };
    });
    const check = new EndpointStats(this.#clock);
    const status = new EndpointStats(this.#clock);
    const control = (name: string, verb: MicroVerb, stats: EndpointStats): _EndpointView => ({
      name,
      subject: controlSubject(verb, spec.name, spec.id),
      queueGroup: undefined,
      metadata: {},
      stats,
    });
    endpoints.push(control('check', MicroVerb.Check, check), control('status', MicroVerb.Status, status));
    return { spec, endpoints, byName, check, status, subs: [], registered: false };
  }

  #registration(entry: Entry): MicroRegistration {
    return {
      name: entry.spec.name,
      id: entry.spec.id,
      get isRegistered() {
        return entry.registered;
      },
      endpoint: (name) => {
        const stats = entry.byName.get(name);
        if (stats === undefined) {
          const shown = JSON.stringify(String(name).slice(0, 100));
          throw new InvalidArgumentError('endpoint', `${shown} is not declared by ${entry.spec.name}`);
        }
        return stats;
      },
      resetStats: () => {
        for (const e of entry.endpoints) (e.stats as EndpointStats).reset();
      },
      unregister: () => this.#unregister(entry),
    };
  }

  #unregister(entry: Entry): void {
    if (!entry.registered) return;
    entry.registered = false;
    for (const s of entry.subs) s.unsubscribe();
    entry.subs = [];
    const { name, id } = entry.spec;
    const ids = this.#names.get(name);
    ids?.delete(id);
    if (ids !== undefined && ids.size === 0) {
      this.#names.delete(name);
      for (const s of this.#nameSubs.get(name) ?? []) s.unsubscribe();
      this.#nameSubs.delete(name);
    }
    if (--this.#size === 0) {
      for (const s of this.#rootSubs) s.unsubscribe();
      this.#rootSubs = [];
    }
  }

  *#all(): Iterable<Entry> {
    for (const ids of this.#names.values()) yield* ids.values();
  }

  #subscribeAll(created: Subscription[], name: string | undefined, id: string | undefined, targets: () => Iterable<Entry>): Subscription[] {
    const subs: Subscription[] = [];
    for (const verb of MICRO_VERBS) {
      const sub = this.#transport.subscribe(controlSubject(verb, name, id), (msg) => this.#onRequest(verb, msg, targets));
      created.push(sub);
      subs.push(sub);
    }
    return subs;
  }

  #onRequest(verb: MicroVerb, msg: Msg, targets: () => Iterable<Entry>): void {
    const reply = msg.reply;
    if (reply === undefined || reply === '') {
      this.#deadLetters?.record(msg.subject, { type: verb }, DeadLetterReason.NoReplySubject);
      return;
    }
    // A copy: a callback may unregister instances while we answer.
    for (const entry of Array.from(targets())) {
      switch (verb) {
        case MicroVerb.Ping:
          this.#send(reply, verb, this.#ping(entry.spec));
          break;
        case MicroVerb.Info:
          this.#send(reply, verb, this.#info(entry));
          break;
        case MicroVerb.Stats:
          this.#send(reply, verb, this.#stats(entry));
          break;
        case MicroVerb.Check:
          void this.#check(entry, msg.data, reply);
          break;
        case MicroVerb.Status:
          void this.#status(entry, reply);
          break;
      }
    }
  }

  #identity(spec: _Instance) {
    return { name: spec.name, id: spec.id, version: spec.version, metadata: spec.metadata };
  }

  #ping(spec: _Instance): PingResponse {
    return { type: MicroResponseType.Ping, ...this.#identity(spec) };
  }

  #info(entry: Entry): InfoResponse {
    const { spec } = entry;
    return {
      type: MicroResponseType.Info,
      ...this.#identity(spec),
      description: spec.description,
      endpoints: entry.endpoints.map(_endpointInfo),
    };
  }

  #stats(entry: Entry): StatsResponse {
    const { spec } = entry;
    return {
      type: MicroResponseType.Stats,
      ...this.#identity(spec),
      started: spec.started,
      endpoints: entry.endpoints.map(_endpointStatsInfo),
    };
  }

  async #check(entry: Entry, body: Uint8Array, reply: string): Promise<void> {
    const mark = entry.check.begin();
    const level = parseLevel(body);
    if (level === undefined) {
      const why = 'level must be 0, 10 or 20, bare or as {"level": n}';
      this.#fail(entry, entry.check, mark, reply, MicroVerb.Check, MicroErrorCode.BadRequest, why);
      return;
    }
    let answer: { code: number; reason: string };
    const callback = entry.spec.check;
    if (callback === undefined) {
      answer = { code: OCF.SUCCESS, reason: 'registered; no check given' };
    } else {
      try {
        answer = normalizeAnswer(await this.#deadline(() => callback(level)));
      } catch (err) {
        if (err instanceof CallbackTimeout) {
          this.#fail(entry, entry.check, mark, reply, MicroVerb.Check, MicroErrorCode.Timeout, err.message);
          return;
        }
        answer = { code: OCF.ERR_GENERIC, reason: serviceErrorDescription(err) };
      }
    }
    const res: CheckResponse = {
      type: MicroResponseType.Check,
      ...this.#identity(entry.spec),
      level,
      code: answer.code,
      label: ocfLabel(answer.code),
      reason: answer.reason,
    };
    this.#send(reply, MicroVerb.Check, res);
    entry.check.end(mark);
  }

  async #status(entry: Entry, reply: string): Promise<void> {
    const mark = entry.status.begin();
    let status: Readonly<Record<string, unknown>> = {};
    const callback = entry.spec.status;
    if (callback !== undefined) {
      try {
        const got = await this.#deadline(callback);
        if (typeof got !== 'object' || got === null || Array.isArray(got)) throw new Error('status callback returned no object');
        status = got;
      } catch (err) {
        const code = err instanceof CallbackTimeout ? MicroErrorCode.Timeout : MicroErrorCode.Failed;
        this.#fail(entry, entry.status, mark, reply, MicroVerb.Status, code, serviceErrorDescription(err));
        return;
      }
    }
    const res: StatusResponse = { type: MicroResponseType.Status, ...this.#identity(entry.spec), started: entry.spec.started, status };
    if (!this.#send(reply, MicroVerb.Status, res)) {
      // A status that cannot be encoded (a cycle, a BigInt) is the callback's error, not a silent loss.
      this.#fail(entry, entry.status, mark, reply, MicroVerb.Status, MicroErrorCode.Failed, 'status could not be sent as JSON');
      return;
    }
    entry.status.end(mark);
  }

  #fail(entry: Entry, stats: EndpointStats, mark: number, reply: string, verb: MicroVerb, code: number, description: string): void {
    const res: ErrorResponse = { type: MicroResponseType.Error, ...this.#identity(entry.spec), error: { code, description } };
    this.#send(reply, verb, res, serviceErrorHeaders(code, description));
    stats.end(mark, description);
  }

  /** Run a callback with the responder's deadline; a sync throw becomes a rejection. */
  #deadline<T>(fn: () => T | Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.#clock.setTimer(() => reject(new CallbackTimeout(this.#timeoutMs)), this.#timeoutMs);
      new Promise<T>((r) => r(fn())).then(
        (v) => {
          this.#clock.clearTimer(timer);
          resolve(v);
        },
        (e) => {
          this.#clock.clearTimer(timer);
          reject(e);
        },
      );
    });
  }

  /** Encode and publish one reply; false only when it cannot be encoded (a refused publish is a dead letter). */
  #send(reply: string, verb: MicroVerb, body: MicroResponse, headers?: Record<string, string>): boolean {
    let data: Uint8Array;
    try {
      data = encoder.encode(JSON.stringify(body));
    } catch (err) {
      this.#log.warn({ verb, err: serviceErrorDescription(err) }, '$SRV reply not encodable');
      return false;
    }
    try {
      this.#transport.publish(reply, data, headers === undefined ? undefined : { headers });
      return true;
    } catch (err) {
      const name = (err as { name?: unknown }).name;
      const reason =
        name === 'FrameTooLargeError'
          ? DeadLetterReason.FrameTooLarge
          : name === 'PermissionDeniedError'
            ? DeadLetterReason.PermissionDenied
            : DeadLetterReason.TransportDown;
      this.#deadLetters?.record(reply, { type: verb }, reason);
      this.#log.warn({ verb, reason }, '$SRV reply not sent');
      return true;
    }
  }
}

class CallbackTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function parseLevel(body: Uint8Array): CheckLevel | undefined {
  if (body.length === 0) return 0;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(body));
  } catch {
    return undefined;
  }
  if (typeof value === 'object' && value !== null) value = (value as { level?: unknown }).level ?? 0;
  return isCheckLevel(value) ? value : undefined;
}

function normalizeAnswer(answer: UserCheckAnswer): { code: number; reason: string } {
  if (typeof answer === 'number' && Number.isInteger(answer) && answer >= 0) return { code: answer, reason: '' };
  if (typeof answer === 'object' && answer !== null && Number.isInteger(answer.code) && answer.code >= 0) {
    return { code: answer.code, reason: typeof answer.reason === 'string' ? answer.reason : '' };
  }
  return { code: OCF.ERR_GENERIC, reason: 'check returned no OCF code' };
}
