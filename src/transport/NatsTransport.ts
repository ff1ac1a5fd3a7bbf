/**
 * `NatsTransport`: the {@link Transport} seam on a real NATS connection
 * (`@nats-io/transport-node` v3). Passes the same conformance suite as
 * `LocalTransport` (see `Transport.ts` for the binding contract).
 *
 * ## Options (`NatsTransport.connect(options)`)
 * | option                 | required | default   | meaning                                        |
 * |------------------------|----------|-----------|------------------------------------------------|
 * | `servers`              | yes      |           | URL or URLs (`nats://host:port`)               |
 * | `name`                 | yes      |           | connection name, shown in server monitoring    |
 * | `token`                | no       |           | token auth, passed through to the client       |
 * | `user`, `pass`         | no       |           | user/password auth, passed through             |
 * | `authenticator`        | no       |           | nkey / creds / jwt authenticators, passed through |
 * | `tls`                  | no       |           | TLS options, passed through                    |
 * | `maxReconnectAttempts` | no       | -1        | -1 = reconnect forever                         |
 * | `reconnectTimeWait`    | no       | client's (2000 ms) | wait between attempts to one server   |
 * | `reconnectBufferBytes` | no       | 8 MiB     | frames held while disconnected, replayed in order on reconnect; past it, publish throws `TransportError` |
 * | `pingInterval`         | no       | client's (2 min)   | keep-alive interval                   |
 * | `timeout`              | no       | client's (20 s)    | connect timeout                       |
 * | `noRandomize`          | no       | false     | try `servers` in the order given (the client shuffles them otherwise) |
 * | `kv`                   | no       |           | `{ replicas?, timeoutMs? }` of `kv()`'s buckets: `replicas: 3` on a 3-server cluster |
 * | `logger`               | no       | silent    | pino logger; a child `{component: 'transport'}` is used |
 * | `onError`              | no       | logger / warning | receives errors thrown by handlers      |
 *
 * ## Secrets
 * User info in server URLs (`nats://user:pass@host`, `nats://token@host`)
 * is lifted out (`serverCredentials.ts`: the v3 client ignores it) and
 * passed as `user`/`pass` or `token`; URLs whose credentials disagree with
 * each other or with the explicit options throw `InvalidArgumentError`
 * (`servers`). Credentials (`token`, `pass`, `authenticator`, `tls`, and
 * URL user info) go to the client and nowhere else: they are not kept
 * on the instance, not logged, and scrubbed from every error message, status
 * detail, `toString()`, `toJSON()` and `util.inspect` output.
 *
 * ## Behaviour
 * - Subjects, queue names and headers are validated here, before the client
 *   sees them, so both transports throw the same errors.
 * - `publish` copies `data`: nats.js keeps a reference to the caller's buffer
 *   until its next flush (a microtask later, or until reconnect when
 *   disconnected), so without the copy a reused buffer would corrupt what is
 *   sent. `LocalTransport` copies too; the two behave alike.
 * - Handlers are guarded (`guardHandler.ts`): nats.js runs callbacks inside
 *   its socket reader, and a throw there silently kills the reader.
 * - `request` does not use `nc.request()`: one `_INBOX.<nuid>.*`
 *   subscription per connection plus a correlation map (`RequestMux`). The
 *   server answers a request nobody subscribes to with an empty message whose
 *   headers carry status `503`; nats.js v3 hands that to a plain subscription
 *   as an ordinary message (`msg.headers.code === 503`, `data.length === 0`),
 *   which surfaces as `msg.noResponders === true` and rejects the request with
 *   `NoRespondersError` at once.
 * - A connect refused in the TLS handshake rejects with `TlsHandshakeError`
 *   (a `TransportError`) whose `reason` and message say which side refused
 *   what, at once rather than after the connect timeout (`tlsFailure.ts`,
 *   and FIRST_CONNECT below for how).
 * - Client status events map to `TransportStatus`: `disconnect` →
 *   `disconnected`, `reconnecting` (once per dial attempt) → `reconnecting`,
 *   `reconnect` → `reconnected`, `error` → `error`; the connection closing,
 *   for whatever reason, → `closed` (once). A silent disconnect just after
 *   an event-loop stall is followed by `slow-consumer` (inferred; see
 *   "Slow consumers" at `#maybeSlowConsumer`).
 * - `stats()` counts disconnects, reconnects and slow-consumer cut-offs, with
 *   the client's message and byte totals. nats.js has no client-side pending
 *   limit for callback subscriptions (its `slow` option is for iterators), so
 *   the client itself drops nothing; what a slow consumer loses is dropped by
 *   the server, which does not say how much.
 *
 * ## Lifecycle
 * ```
 *   connect() ──► open ◄──► disconnected/reconnecting ──► reconnected
 *                  │
 *   close() ──► draining (nc.drain(): subscriptions drained, outbound flushed) ──► closed
 * ```
 * While draining, `publish` works until nats.js stops accepting publishes;
 * `subscribe` throws and `request` rejects with `TransportClosedError`. If
 * the drain does not finish within {@link DRAIN_TIMEOUT_MS} (e.g. the server
 * is unreachable), the connection is closed without it.
 */
import {
  type Authenticator,
  ClosedConnectionError,
  connect,
  createInbox,
  DrainingConnectionError,
  type MsgHdrs,
  type NatsConnection,
  type Msg as NatsMsg,
  type NodeConnectionOptions,
  PermissionViolationError,
  headers as natsHeaders,
  type Status,
} from '@nats-io/transport-node';
import {
  describe,
  HalyardError,
  InvalidArgumentError,
  TlsHandshakeError,
  TransportClosedError,
  TransportError,
} from '../errors.js';
import { type Clock, monotonicClock } from '../clock.js';
import { type Logger, nullLogger } from '../log.js';
import { guardHandler, type HandlerErrorListener, handlerErrorReporter } from './guardHandler.js';
import { assertFrameFits } from './headers.js';
import { LoopStallWatch } from './LoopStallWatch.js';
import { assertJetStreamKvStoreOptions, JetStreamKvStore, type JetStreamKvStoreOptions } from './kv/JetStreamKvStore.js';
import { RequestMux } from './RequestMux.js';
import { StatusListeners } from './StatusListeners.js';
import { NatsMsgView, NatsSubscriptionView } from './natsViews.js';
import { splitServerCredentials } from './serverCredentials.js';
import { tlsHandshakeFailure } from './tlsFailure.js';
import { assertPublishSubject, assertQueueName, assertSubscribeSubject } from './subject.js';
import type {
  Msg,
  MsgHandler,
  PublishOptions,
  RequestOptions,
  StatusListener,
  SubscribeOptions,
  Subscription,
  Transport,
  TransportStats,
} from './Transport.js';

export interface NatsTransportOptions {
  readonly servers: string | readonly string[];
  readonly name: string;
  readonly token?: string;
  readonly user?: string;
  readonly pass?: string;
  readonly authenticator?: Authenticator | Authenticator[];
  readonly tls?: NodeConnectionOptions['tls'];
  readonly maxReconnectAttempts?: number;
  readonly reconnectTimeWait?: number;
  /** Bytes of frames held while disconnected and replayed on reconnect. Default 8 MiB. */
  readonly reconnectBufferBytes?: number;
  readonly pingInterval?: number;
  readonly timeout?: number;
  readonly noRandomize?: boolean;
  /** Options of the store `kv()` gives (`JetStreamKvStore`). */
  readonly kv?: JetStreamKvStoreOptions;
  readonly logger?: Logger;
  readonly onError?: HandlerErrorListener;
  /** Time source for `request()` deadlines. Default {@link monotonicClock}. */
  readonly clock?: Clock;
}

/** Used for `maxPayload` before the server's INFO is known (nats-server's default). */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/** Longest `close()` waits for `nc.drain()` before closing without it. */
export const DRAIN_TIMEOUT_MS = 10_000;

const REDACTED = '[redacted]';
/** `scheme://userinfo@` or a bare `userinfo@host`. */
const URL_USERINFO = /(^|[\s,(]|[a-z][a-z0-9+.-]*:\/\/)[^\s/@,()]+@/gi;

/**
 * FIRST_CONNECT: nats.js (3.4) waits for the first PONG until its connect
 * timeout (20 s by default) when the socket closes after the transport is up
 * but before the PONG, which is exactly what a server requiring client
 * certificates does under TLS 1.3: the client's side of the handshake
 * completes, then the server sends an alert and closes. With `reconnect`
 * off, that close ends the attempt at once with the socket's error (the
 * alert), which `tlsFailure.ts` turns into a clear error. Reconnecting is
 * then switched on for the life of the connection by writing the option
 * nats.js reads on every disconnect (`ProtocolHandler.options` is the
 * connection's `options` object). The cost: a socket closed in that window
 * on the first of several servers ends the connect without trying the
 * others, where it used to try them after waiting out the timeout.
 */
function enableReconnect(nc: NatsConnection): boolean {
  const options = (nc as { options?: { reconnect?: boolean } }).options;
  if (typeof options !== 'object' || options === null) return false;
  options.reconnect = true;
  return true;
}

/** Private key material and its passphrase, when given inline: scrubbed like passwords. */
function tlsSecrets(tls: NatsTransportOptions['tls']): string[] {
  if (tls === undefined || tls === null) return [];
  const out: string[] = [];
  for (const value of [tls.key, (tls as { passphrase?: unknown }).passphrase]) {
    if (typeof value === 'string') out.push(value);
    else if (value instanceof Uint8Array) out.push(new TextDecoder().decode(value));
  }
  return out;
}

/** Removes URL user info and every known secret from `text`. */
function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  return out.replace(URL_USERINFO, `$1${REDACTED}@`);
}

const State = { Open: 'open', Draining: 'draining', Closed: 'closed' } as const;
type State = (typeof State)[keyof typeof State];

interface OfflineFrame {
  readonly subject: string;
  readonly data: Uint8Array;
  readonly reply: string | undefined;
  readonly headers: MsgHdrs | undefined;
}

/** Bytes held while disconnected, by default (nats.go's ReconnectBufSize). */
export const DEFAULT_RECONNECT_BUFFER = 8 * 1024 * 1024;

/**
 * A silent disconnect within a few seconds of an event-loop stall at least
 * this long is reported as `slow-consumer`: longer than common GC pauses and
 * timer lateness on a busy machine, yet well within what it takes to be cut
 * off at high rates (a server's `max_pending`, 64 MiB by default, fills in
 * well under a second at 1 Gbit/s); `write_deadline` defaults to 10 s.
 */
export const SLOW_CONSUMER_STALL_MS = 250;

export class NatsTransport implements Transport {
  readonly kind = 'nats' as const;
  readonly name: string;
  readonly #nc: NatsConnection;
  readonly #servers: readonly string[];
  readonly #secrets: readonly string[];
  readonly #logger: Logger;
  readonly #report: HandlerErrorListener;
  readonly #status: StatusListeners;
  #state: State = State.Open;
  #connected = true;
  /** Frames published while disconnected, replayed in order on reconnect. */
  #offline: OfflineFrame[] | undefined;
  #offlineBytes = 0;
  readonly #offlineLimit: number;
  #mux: RequestMux | undefined;
  readonly #clock: Clock;
  #closing: Promise<void> | undefined;
  readonly #stall = new LoopStallWatch();
  /** What the server or client said about the connection since it last came up; a disconnect after none is silent. */
  #warned: string | undefined;
  #disconnects = 0;
  #reconnects = 0;
  #slowConsumers = 0;
  #kv: JetStreamKvStore | undefined;
  #kvOptions: JetStreamKvStoreOptions | undefined;

  /** Connect to NATS. Rejects with `TransportError` (credentials scrubbed) when the connection fails. */
  static async connect(options: NatsTransportOptions): Promise<NatsTransport> {
    if (typeof options?.name !== 'string' || options.name.length === 0) {
      throw new InvalidArgumentError('name', 'must be a non-empty string');
    }
    const servers = typeof options.servers === 'string' ? [options.servers] : options.servers;
    if (!Array.isArray(servers) || servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.length === 0)) {
      throw new InvalidArgumentError('servers', 'must be a non-empty URL or a non-empty array of URLs');
    }
    assertJetStreamKvStoreOptions(options.kv, 'kv');
    const split = splitServerCredentials(servers, options);
    const { credentials } = split;
    const secrets = [options.token, options.pass, ...split.secrets, ...tlsSecrets(options.tls)].filter(
      (s): s is string => typeof s === 'string' && s.length > 0,
    );
    const shownServers = split.servers.map((s) => scrub(s, secrets));
    const logger = (options.logger ?? nullLogger()).child({ component: 'transport', transport: options.name });

    const co: NodeConnectionOptions = {
      servers: [...split.servers],
      name: options.name,
      maxReconnectAttempts: options.maxReconnectAttempts ?? -1,
    };
    // Only defined values: nats.js merges options over its defaults, so an
    // explicit `undefined` would erase a default.
    if (credentials.token !== undefined) co.token = credentials.token;
    if (credentials.user !== undefined) co.user = credentials.user;
    if (credentials.pass !== undefined) co.pass = credentials.pass;
    if (options.authenticator !== undefined) co.authenticator = options.authenticator;
    if (options.tls !== undefined) co.tls = options.tls;
    if (options.reconnectTimeWait !== undefined) co.reconnectTimeWait = options.reconnectTimeWait;
    if (options.pingInterval !== undefined) co.pingInterval = options.pingInterval;
    if (options.timeout !== undefined) co.timeout = options.timeout;
    if (options.noRandomize !== undefined) co.noRandomize = options.noRandomize;
    // Off until the first connect succeeds: see FIRST_CONNECT at enableReconnect.
    co.reconnect = false;

    let nc: NatsConnection;
    try {
      nc = await connect(co);
    } catch (err) {
      const tls = tlsHandshakeFailure(err, {
        tls: (options.tls !== undefined && options.tls !== null) || split.servers.some((s) => /^tls:\/\//i.test(s)),
        clientCertificate: options.tls?.cert !== undefined || options.tls?.certFile !== undefined,
      });
      const raw = tls?.detail ?? describe(err);
      const detail = scrub(raw, secrets);
      const message = `cannot connect to ${shownServers.join(', ')}: ${detail}`;
      logger.warn({ servers: shownServers, reason: detail }, 'cannot connect');
      // Keep the client's error as `cause` only when it carried no secret.
      const cause = detail === raw && scrub(describe(err), secrets) === describe(err) ? err : undefined;
      if (tls !== undefined) throw new TlsHandshakeError(tls.reason, message, cause);
      throw new TransportError(message, cause);
    }
    if (!enableReconnect(nc)) {
      // A nats.js that no longer exposes its options: fail loudly rather than run a connection that never reconnects.
      await nc.close().catch(() => {});
      throw new TransportError('cannot enable reconnects: this nats.js version keeps its connection options private');
    }
    logger.info({ servers: shownServers }, 'connected');
    const transport = new NatsTransport(
      nc,
      options.name,
      shownServers,
      secrets,
      logger,
      handlerErrorReporter(options.onError, logger),
      options.reconnectBufferBytes ?? DEFAULT_RECONNECT_BUFFER,
      options.clock ?? monotonicClock,
    );
    transport.#kvOptions = options.kv;
    return transport;
  }

  private constructor(
    nc: NatsConnection,
    name: string,
    servers: readonly string[],
    secrets: readonly string[],
    logger: Logger,
    report: HandlerErrorListener,
    offlineLimit: number,
    clock: Clock,
  ) {
    this.#nc = nc;
    this.#clock = clock;
    this.#offlineLimit = offlineLimit;
    this.name = name;
    this.#servers = servers;
    this.#secrets = secrets;
    this.#logger = logger;
    this.#report = report;
    this.#status = new StatusListeners(report);
    this.#stall.start();
    this.#watch();
  }

  get isClosed(): boolean {
    return this.#state !== State.Open;
  }

  get isConnected(): boolean {
    return this.#connected && this.#state !== State.Closed && !this.#nc.isClosed();
  }

  get maxPayload(): number {
    return this.#nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  }

  /**
   * @internal The nats.js connection underneath, for tests and tools that
   * manage JetStream directly. Not part of the transport seam: Halyard's own
   * key-value use goes through {@link kv}.
   */
  get _connection(): NatsConnection {
    return this.#nc;
  }

  publish(subject: string, data: Uint8Array, options?: PublishOptions): void {
    if (this.#state === State.Closed) throw this.#closedError();
    assertPublishSubject(subject);
    const reply = options?.reply;
    if (reply !== undefined) assertPublishSubject(reply);
    const headers = this.#checkPayload(data, options?.headers);
    this.#send(subject, new Uint8Array(data), reply, headers);
  }

  /** @internal See {@link Transport._publishOwned}. */
  _publishOwned(subject: string, data: Uint8Array, reply?: string): void {
    if (this.#state === State.Closed) throw this.#closedError();
    this.#checkPayload(data, undefined);
    this.#send(subject, data, reply, undefined);
  }

  subscribe(subject: string, handler: MsgHandler, options?: SubscribeOptions): Subscription {
    if (this.#state !== State.Open) throw this.#closedError();
    assertSubscribeSubject(subject);
    const queue = options?.queue;
    if (queue !== undefined) assertQueueName(queue);
    const guarded = guardHandler(handler, this.#report);
    const callback = (err: Error | null, m: NatsMsg): void => {
      if (err !== null) this.#subscriptionError(subject, err);
      else guarded(new NatsMsgView(m));
    };
    try {
      const sub = this.#nc.subscribe(subject, queue === undefined ? { callback } : { queue, callback });
      return new NatsSubscriptionView(subject, queue, sub);
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  request(subject: string, data: Uint8Array, options: RequestOptions): Promise<Msg> {
    if (this.#state !== State.Open) return Promise.reject(this.#closedError());
    assertPublishSubject(subject);
    const headers = this.#checkPayload(data, options.headers);
    let mux: RequestMux;
    try {
      mux = this.#mux ??= this.#startMux();
    } catch (err) {
      return Promise.reject(this.#mapError(err));
    }
    const { reply, promise } = mux.add(subject, options.timeout);
    try {
      this.#send(subject, new Uint8Array(data), reply, headers);
    } catch (err) {
      mux.cancel(reply, err instanceof TransportError ? err : this.#mapError(err));
    }
    return promise;
  }

  async flush(): Promise<void> {
    if (this.#state === State.Closed) throw this.#closedError();
    try {
      await this.#nc.flush();
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  newInbox(): string {
    return createInbox();
  }

  onStatus(listener: StatusListener): () => void {
    return this.#status.add(listener);
  }

  stats(): TransportStats {
    const c = this.#nc.stats();
    return {
      disconnects: this.#disconnects,
      reconnects: this.#reconnects,
      slowConsumers: this.#slowConsumers,
      inMsgs: c.inMsgs,
      inBytes: c.inBytes,
      outMsgs: c.outMsgs,
      outBytes: c.outBytes,
    };
  }

  /** JetStream KV on this connection (buckets on the server, shared with every client of its JetStream domain). */
  kv(): JetStreamKvStore {
    if (this.#kv === undefined) {
      this.#kv = new JetStreamKvStore(this.#nc, this.#kvOptions);
      if (this.#state !== State.Open) void this.#kv.close();
    }
    return this.#kv;
  }

  close(): Promise<void> {
    this.#closing ??= this.#drain();
    return this.#closing;
  }

  toString(): string {
    return `NatsTransport(${this.name})`;
  }

  toJSON(): Record<string, unknown> {
    return {
      kind: this.kind,
      name: this.name,
      servers: this.#servers,
      connected: this.isConnected,
      closed: this.isClosed,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `NatsTransport ${JSON.stringify(this.toJSON())}`;
  }

  async #drain(): Promise<void> {
    if (this.#state === State.Open) this.#state = State.Draining;
    // Watches end before their consumers are drained away underneath them.
    void this.#kv?.close();
    if (!this.#nc.isClosed()) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), DRAIN_TIMEOUT_MS);
        timer.unref();
      });
      try {
        const outcome = await Promise.race([this.#nc.drain().then(() => 'drained' as const), timedOut]);
        if (outcome === 'timeout') {
          this.#logger.warn({ timeoutMs: DRAIN_TIMEOUT_MS }, 'drain timed out; closing');
          await this.#nc.close();
        }
      } catch (err) {
        // Already closing or closed underneath us: closing is what we wanted.
        this.#logger.debug({ reason: this.#scrub(describe(err)) }, 'drain failed; closing');
        await this.#nc.close().catch(() => {});
      } finally {
        clearTimeout(timer);
      }
    }
    await this.#nc.closed();
    this.#finish(undefined);
  }

  /** Called once the client connection is closed, by `close()` or by the client giving up. */
  #finish(err: Error | undefined): void {
    if (this.#state === State.Closed) return;
    this.#state = State.Closed;
    this.#connected = false;
    this.#stall.stop();
    void this.#kv?.close();
    this.#mux?.rejectAll(this.#closedError());
    const detail = err === undefined ? undefined : this.#scrub(err.message);
    if (detail === undefined) this.#logger.info('closed');
    else this.#logger.warn({ reason: detail }, 'closed');
    this.#status.emit(detail === undefined ? { type: 'closed' } : { type: 'closed', detail });
  }

  #watch(): void {
    const statuses = this.#nc.status();
    void (async () => {
      for await (const s of statuses) this.#clientStatus(s);
    })().catch((err: unknown) => {
      this.#logger.debug({ reason: this.#scrub(describe(err)) }, 'status iterator ended');
    });
    void this.#nc.closed().then((err) => {
      this.#finish(err instanceof Error ? err : undefined);
    });
  }

  #clientStatus(s: Status): void {
    switch (s.type) {
      case 'disconnect': {
        this.#connected = false;
        this.#disconnects++;
        const server = this.#scrub(s.server);
        const detail = `disconnected from ${server}`;
        this.#logger.warn(detail);
        this.#status.emit({ type: 'disconnected', detail });
        this.#maybeSlowConsumer(server);
        break;
      }
      case 'reconnecting':
        this.#logger.debug('reconnecting');
        this.#status.emit({ type: 'reconnecting' });
        break;
      case 'reconnect': {
        this.#connected = true;
        this.#reconnects++;
        this.#warned = undefined;
        this.#replay();
        const detail = `reconnected to ${this.#scrub(s.server)}`;
        this.#logger.info(detail);
        this.#status.emit({ type: 'reconnected', detail });
        break;
      }
      case 'error': {
        const detail = this.#scrub(describe(s.error));
        if (s.error instanceof PermissionViolationError) {
          // Reported apart from other errors: the node counts the lost message and fails asks to the subject at once.
          const operation = s.error.operation === 'publish' ? 'publish' : 'subscribe';
          this.#logger.warn({ subject: s.error.subject, operation }, 'permission denied');
          this.#status.emit({ type: 'permission-denied', detail, subject: s.error.subject, operation });
          break;
        }
        this.#warned = 'error';
        this.#logger.warn({ reason: detail }, 'connection error');
        this.#status.emit({ type: 'error', detail });
        break;
      }
      case 'ldm':
        this.#warned = 'ldm';
        this.#logger.warn('server entered lame duck mode');
        break;
      case 'staleConnection':
      case 'forceReconnect':
        this.#warned = s.type;
        this.#logger.debug({ status: s.type }, 'client status');
        break;
      default:
        this.#logger.debug({ status: s.type }, 'client status');
    }
  }

  /**
   * Slow consumers. nats-server closes a client that does not read fast
   * enough (its unread data passes `max_pending`, or a write to it blocks
   * past `write_deadline`) without sending `-ERR` first: the client sees only
   * the socket closing, and nats.js reports a plain `disconnect`. So the
   * cause is inferred, from two facts: the close was silent (no server error,
   * lame duck notice, stale-connection or forced reconnect since the
   * connection came up, and not our own close), and this process's event
   * loop, which is what reads the socket, had stalled for at least
   * {@link SLOW_CONSUMER_STALL_MS} within the last few seconds. A client cut
   * off while its loop kept up (a slow network) shows as a plain
   * `disconnected`; a silent close for another reason during a stall (a
   * proxy dropping the connection) would be mislabelled. Messages the server
   * had queued for the connection are lost and the client cannot count them.
   */
  #maybeSlowConsumer(server: string): void {
    if (this.#state !== State.Open || this.#warned !== undefined) return;
    const stalledMs = Math.round(this.#stall.recentStall());
    if (stalledMs < SLOW_CONSUMER_STALL_MS) return;
    this.#slowConsumers++;
    const detail =
      `${server} closed the connection without a reason just after this process's event loop stalled for ${stalledMs} ms: ` +
      'most likely cut off as a slow consumer (inferred; nats-server does not tell the client). ' +
      'What the server had queued for this connection is lost, uncounted';
    this.#logger.warn({ stalledMs, inferred: true }, 'slow consumer disconnect');
    this.#status.emit({ type: 'slow-consumer', detail, inferred: true, stalledMs });
  }

  /**
   * Hand a frame to the client, or hold it while disconnected. nats.js empties
   * its own outbound buffer at every reconnect attempt, so what it buffered
   * during an outage would vanish without a trace; we keep our own bounded
   * buffer instead (as nats.go's ReconnectBufSize) and replay it in order on
   * reconnect. Past the bound, publishing throws a TransportError the caller
   * counts: nothing is lost in silence.
   */
  #send(subject: string, data: Uint8Array, reply: string | undefined, headers: MsgHdrs | undefined): void {
    if (this.#offline !== undefined || !this.#connected) {
      const size = data.byteLength + subject.length + (reply?.length ?? 0);
      if (this.#offlineBytes + size > this.#offlineLimit) {
        throw new TransportError(`${this.name} is disconnected and its reconnect buffer (${this.#offlineLimit} bytes) is full`);
      }
      this.#offline ??= [];
      this.#offline.push({ subject, data, reply, headers });
      this.#offlineBytes += size;
      return;
    }
    try {
      this.#publishNow(subject, data, reply, headers);
    } catch (err) {
      throw this.#mapError(err);
    }
  }

  #publishNow(subject: string, data: Uint8Array, reply: string | undefined, headers: MsgHdrs | undefined): void {
    if (reply === undefined && headers === undefined) this.#nc.publish(subject, data);
    else this.#nc.publish(subject, data, { reply, headers });
  }

  #replay(): void {
    const frames = this.#offline;
    this.#offline = undefined;
    this.#offlineBytes = 0;
    if (!frames) return;
    for (const f of frames) {
      try {
        this.#publishNow(f.subject, f.data, f.reply, f.headers);
      } catch (err) {
        this.#logger.warn({ reason: this.#scrub(describe(err)) }, 'replay after reconnect failed');
      }
    }
    this.#logger.info({ frames: frames.length }, 'replayed frames held while disconnected');
  }

  #subscriptionError(subject: string, err: Error): void {
    const detail = `subscription ${subject}: ${this.#scrub(describe(err))}`;
    this.#logger.warn(detail);
    this.#status.emit({ type: 'error', detail });
  }

  #startMux(): RequestMux {
    const mux = new RequestMux(createInbox(), this.#clock);
    this.#nc.subscribe(mux.filter, {
      callback: (err, m) => {
        if (err !== null) this.#subscriptionError(mux.filter, err);
        else mux.dispatch(new NatsMsgView(m));
      },
    });
    return mux;
  }

  /** Validates headers and size; returns the client's headers object. */
  #checkPayload(data: Uint8Array, headers: Readonly<Record<string, string>> | undefined): MsgHdrs | undefined {
    assertFrameFits(data, headers, this.maxPayload);
    if (headers === undefined) return undefined;
    const h = natsHeaders();
    for (const key in headers) h.append(key, headers[key]!);
    return h;
  }

  #mapError(err: unknown): Error {
    if (err instanceof HalyardError) return err;
    if (err instanceof ClosedConnectionError || err instanceof DrainingConnectionError || this.#nc.isClosed()) {
      return this.#closedError();
    }
    const raw = describe(err);
    const detail = this.#scrub(raw);
    return new TransportError(detail, detail === raw ? err : undefined);
  }

  #scrub(text: string): string {
    return scrub(text, this.#secrets);
  }

  #closedError(): TransportClosedError {
    return new TransportClosedError(`transport ${this.name} is closed`);
  }

}
