/**
 * `createObserver(options)`: a web page that shows a running system, served
 * by a separate component that connects as an ordinary client, so the
 * watched nodes carry no web server.
 *
 * ```ts
 * const obs = await createObserver({ server: 'nats://127.0.0.1:4222' });
 * console.log(obs.url);   // http://127.0.0.1:<port>/
 * await obs.close();
 * ```
 *
 * | option       | default       | meaning |
 * |--------------|---------------|---------|
 * | `server`     | —             | NATS URL(s) to connect to (or `client`, or `transport`) |
 * | `transport`  | —             | a connected Transport (the embedded bus); not closed by the observer |
 * | `client`     | —             | a `HalyardClient` you already hold; not closed by the observer |
 * | `prefix`     | `halyard`     | subject prefix of the watched nodes |
 * | `port`       | `0`           | TCP port; 0 picks a free one (see `url`) |
 * | `host`       | `127.0.0.1`   | bind address; a non-loopback one is refused unless `exposed: true` |
 * | `exposed`    | `false`       | allow a non-loopback `host` (the page has no login) |
 * | `allowWrite` | `false`       | show the restart button and accept `POST /api/restart` |
 * | `refreshMs`  | `1000`        | how often the observer asks the nodes for what a page watches |
 *
 * ## HTTP
 * | path                   | what |
 * |------------------------|------|
 * | `GET /`, `/observer.js`| the page: plain HTML and one ES module, no build step |
 * | `GET /events?view=a,b` | server-sent events: one `section` event per watched section when it changed |
 * | `POST /api/check`      | `{ name, level? }` → the OCF `CheckResult` |
 * | `POST /api/status`     | `{ name }` → the `StatusReport` |
 * | `POST /api/restart`    | `{ name }` → `{ restarted }`; 403 `ERR_OBSERVER_READ_ONLY` without `allowWrite` |
 *
 * Sections are `nodes`, `tree`, `services` and `decisions`. The page says
 * which it shows (a collapsed panel is not watched), and the observer only
 * asks the nodes for sections some page watches. Updates are pushed:
 * an event from a node (`events: { publish: true }`) triggers a refresh at
 * once, and the `refreshMs` round covers nodes that publish none and
 * notices a node that stopped answering (shown `down`).
 *
 * POSTs must carry `content-type: application/json`, which a page of another
 * origin cannot send without a CORS preflight this server never grants, and
 * on loopback the `Host` header must name this server, against DNS rebinding.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHECK_LEVELS, type CheckLevel } from '../../src/actors/ocf.js';
import { connect, type HalyardClient } from '../../src/client/index.js';
import { InvalidArgumentError, toWireError } from '../../src/errors.js';
import type { Transport } from '../../src/transport/Transport.js';
import { isLoopback, SECTIONS, type Section } from './sections.js';
import { Snapshot } from './Snapshot.js';

export interface ObserverOptions {
  readonly server?: string | readonly string[];
  readonly transport?: Transport;
  readonly client?: HalyardClient;
  readonly prefix?: string;
  readonly port?: number;
  readonly host?: string;
  readonly exposed?: boolean;
  readonly allowWrite?: boolean;
  readonly refreshMs?: number;
}

export interface Observer {
  /** `http://<host>:<port>/` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const assets = {
  '/': { file: 'page.html', type: 'text/html; charset=utf-8' },
  '/observer.js': { file: 'observer.js', type: 'text/javascript; charset=utf-8' },
  '/observer.css': { file: 'observer.css', type: 'text/css; charset=utf-8' },
} as const;

function resolveOptions(o: ObserverOptions) {
  if (typeof o !== 'object' || o === null) throw new InvalidArgumentError('options', 'must be { server | transport | client, port?, host?, allowWrite? }');
  const sources = [o.server, o.transport, o.client].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new InvalidArgumentError('server', 'give exactly one of server, transport or client');
  const port = o.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('port', 'must be an integer 0..65535');
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0) throw new InvalidArgumentError('host', 'must be a non-empty string');
  if (!isLoopback(host) && o.exposed !== true) {
    throw new InvalidArgumentError('host', `${host} is not loopback; the page has no login, pass exposed: true to serve it beyond this machine`);
  }
  if (o.allowWrite !== undefined && typeof o.allowWrite !== 'boolean') throw new InvalidArgumentError('allowWrite', 'must be a boolean');
  const refreshMs = o.refreshMs ?? 1000;
  if (!Number.isFinite(refreshMs) || refreshMs < 50) throw new InvalidArgumentError('refreshMs', 'must be a number of ms, at least 50');
  return { port, host, exposed: o.exposed === true, allowWrite: o.allowWrite === true, refreshMs };
}

export async function createObserver(options: ObserverOptions): Promise<Observer> {
  const opts = resolveOptions(options);
  const prefix = options.prefix ?? 'halyard';
  const owned = options.client === undefined;
  const client =
    options.client ??
    (options.transport !== undefined
      ? await connect({ transport: options.transport, prefix, gatherMs: 100 })
      : await connect({ server: options.server as string | readonly string[], prefix, gatherMs: 100 }));
  const snapshot = new Snapshot(client, opts.refreshMs, opts.allowWrite);
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => sendJson(res, 500, { error: toWireError(err) }));
  });
  let address = '';

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!opts.exposed && !hostAllowed(req.headers.host, address)) return sendJson(res, 421, { error: { code: 'ERR_OBSERVER_HOST', message: 'unexpected Host header' } });
    const url = new URL(req.url ?? '/', 'http://observer');
    if (req.method === 'GET' && url.pathname in assets) {
      const a = assets[url.pathname as keyof typeof assets];
      res.writeHead(200, { 'content-type': a.type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      res.end(readFileSync(new URL(a.file, import.meta.url)));
      return;
    }
    if (req.method === 'GET' && url.pathname === '/events') return stream(url, req, res);
    if (req.method === 'POST' && url.pathname.startsWith('/api/')) return api(url.pathname.slice(5), req, res);
    sendJson(res, 404, { error: { code: 'ERR_OBSERVER_NOT_FOUND', message: 'no such page' } });
  }

  function stream(url: URL, req: IncomingMessage, res: ServerResponse): void {
    const view = (url.searchParams.get('view') ?? SECTIONS.join(','))
      .split(',')
      .filter((s): s is Section => (SECTIONS as readonly string[]).includes(s));
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    res.write(`event: hello\ndata: ${JSON.stringify({ allowWrite: opts.allowWrite })}\n\n`);
    const off = snapshot.watch(new Set(view), (section, data) => {
      res.write(`event: section\ndata: ${JSON.stringify({ section, data })}\n\n`);
    });
    req.on('close', off);
  }

  async function api(verb: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
      return sendJson(res, 415, { error: { code: 'ERR_OBSERVER_BAD_REQUEST', field: 'content-type', message: 'must be application/json' } });
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req)) as Record<string, unknown>;
    } catch {
      return sendJson(res, 400, { error: { code: 'ERR_OBSERVER_BAD_REQUEST', field: 'body', message: 'must be a JSON object' } });
    }
    const name = typeof body?.name === 'string' && body.name.length > 0 ? body.name : undefined;
    if (name === undefined) return sendJson(res, 400, { error: { code: 'ERR_OBSERVER_BAD_REQUEST', field: 'name', message: 'must be a non-empty string' } });
    try {
      if (verb === 'check') {
        const level = (body.level ?? 0) as CheckLevel;
        if (!CHECK_LEVELS.includes(level)) return sendJson(res, 400, { error: { code: 'ERR_OBSERVER_BAD_REQUEST', field: 'level', message: 'must be 0, 10 or 20' } });
        return sendJson(res, 200, await client.check(name, level));
      }
      if (verb === 'status') return sendJson(res, 200, await client.status(name));
      if (verb === 'restart') {
        if (!opts.allowWrite) {
          return sendJson(res, 403, { error: { code: 'ERR_OBSERVER_READ_ONLY', message: 'this observer was started without allowWrite (--allow-write)' } });
        }
        const done = await client.restart(name);
        snapshot.poke();
        return sendJson(res, 200, { restarted: done });
      }
    } catch (err) {
      return sendJson(res, 502, { error: toWireError(err) });
    }
    sendJson(res, 404, { error: { code: 'ERR_OBSERVER_NOT_FOUND', message: `no verb ${JSON.stringify(verb.slice(0, 32))}` } });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new InvalidArgumentError('port', `cannot listen on ${opts.host}:${opts.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  }).catch(async (err: unknown) => {
    snapshot.close();
    if (owned) await client.close();
    throw err;
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  address = `${urlHost}:${port}`;
  return {
    url: `http://${address}/`,
    port,
    async close() {
      snapshot.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => (server as Server).close(() => resolve()));
      if (owned) await client.close();
    },
  };
}

function hostAllowed(host: string | undefined, address: string): boolean {
  if (host === undefined) return false;
  if (host === address) return true;
  // Loopback pages may be reached by either loopback name.
  const port = address.slice(address.lastIndexOf(':') + 1);
  return host === `localhost:${port}` || host === `127.0.0.1:${port}` || host === `[::1]:${port}`;
}

const MAX_BODY = 16 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}
