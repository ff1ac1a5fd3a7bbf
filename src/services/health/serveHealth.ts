/**
 * The health endpoints over HTTP, for a node (`createNode({ http })`) or any
 * other process that can say whether it is ready and render its metrics
 * (the observer mounts the same server with its own data source).
 *
 * ```ts
 * const health = await serveHealth({ port: 9464, ready: () => ({ ready: true }), metrics: () => registry.metrics() });
 * health.url;        // 'http://127.0.0.1:9464'
 * await health.close();
 * ```
 *
 * | path       | answer |
 * |------------|--------|
 * | `/alive`   | 200 `{"alive":true}` while the process serves at all (a liveness probe) |
 * | `/ready`   | 200 `{"ready":true}`, or 503 `{"ready":false,"reason":"..."}` |
 * | `/metrics` | 200 Prometheus text format (`text/plain; version=0.0.4`); 404 when no `metrics` source was given |
 * | other      | 404; a method other than GET or HEAD is 405 |
 *
 * It binds to loopback unless `host` says otherwise: metrics name services
 * and supervisors, which is more than an open port should tell the network.
 * A source that throws answers 500 with the error's message only (never its
 * stack), and the server goes on serving.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe } from '../../errors.js';
import { assertFunction, assertOptionsObject } from '../../options.js';
import { DEFAULT_HEALTH_HOST, assertHttpOptions } from './httpOptions.js';

/** What `/ready` answers: `reason` says what is missing when not ready. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason?: string;
}

export interface MetricsText {
  readonly contentType: string;
  readonly body: string;
}

export interface ServeHealthOptions {
  readonly port: number;
  readonly host?: string;
  readonly ready: () => Readiness | Promise<Readiness>;
  /** The `/metrics` body: a string (Prometheus text) or `{ contentType, body }`. */
  readonly metrics?: () => string | MetricsText | Promise<string | MetricsText>;
}

export interface HealthServer {
  readonly host: string;
  readonly port: number;
  /** `http://<host>:<port>` */
  readonly url: string;
  /** Stop listening and end open connections. Idempotent. */
  close(): Promise<void>;
}

const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

async function handle(options: ServeHealthOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' });
    res.end();
    return;
  }
  const path = (req.url ?? '/').split('?')[0];
  try {
    switch (path) {
      case '/alive':
        return json(res, 200, { alive: true });
      case '/ready': {
        const r = await options.ready();
        return json(res, r.ready ? 200 : 503, r.ready ? { ready: true } : { ready: false, reason: r.reason ?? 'not ready' });
      }
      case '/metrics': {
        if (options.metrics === undefined) return json(res, 404, { error: 'no metrics here' });
        const m = await options.metrics();
        const text = typeof m === 'string' ? { contentType: PROM_CONTENT_TYPE, body: m } : m;
        res.writeHead(200, { 'content-type': text.contentType, 'cache-control': 'no-store' });
        res.end(text.body);
        return;
      }
      default:
        return json(res, 404, { error: 'not found', paths: ['/alive', '/ready', '/metrics'] });
    }
  } catch (err) {
    // The message only: a stack may quote configuration.
    if (!res.headersSent) json(res, 500, { error: describe(err) });
    else res.destroy();
  }
}

/** Listen on `host:port` (loopback by default). Resolves once listening; rejects (EADDRINUSE, ...) if it cannot. */
export async function serveHealth(options: ServeHealthOptions): Promise<HealthServer> {
  assertOptionsObject(options, 'options', '{ port, host?, ready, metrics? }');
  const { ready, metrics, ...http } = options;
  assertHttpOptions(http, 'options', ['port', 'host']);
  assertFunction(ready, 'options.ready', 'a function () => { ready, reason? }');
  if (metrics !== undefined) assertFunction(metrics, 'options.metrics', 'a function () => string | { contentType, body }');
  const host = options.host ?? DEFAULT_HEALTH_HOST;
  const server: Server = createServer((req, res) => {
    void handle(options, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    host: address.address,
    port: address.port,
    url: `http://${urlHost}:${address.port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
