/**
 * A TCP proxy on loopback, between clients and a server (nats-server), that
 * can cut, slow down or break the link: the partition tool of the cluster
 * tests.
 *
 * ```ts
 * const proxy = await startTcpProxy({ port: server.port });
 * const nc = await NatsTransport.connect({ servers: proxy.url, name: 'p' });
 * proxy.blackhole();   // partition: nothing crosses, in either direction
 * proxy.heal();        // the link works again
 * ```
 *
 * | call          | effect |
 * |---------------|--------|
 * | `blackhole()` | Connections stay open and new ones are accepted, but no byte crosses, either way. Bytes are held back (both sockets paused), not dropped: like a real partition, where TCP retransmits until the link heals, so the streams are intact afterwards. |
 * | `delay(ms)`   | Every chunk is forwarded `ms` later, order kept. `delay(0)` removes the delay. |
 * | `reset()`     | Destroys every open connection, both sides (the client sees a reset and reconnects). The mode is kept. |
 * | `heal()`      | Back to normal: no blackhole, no delay; held-back bytes flow. |
 * | `close()`     | Stops listening and destroys every connection. Idempotent. |
 *
 * A connection accepted during a blackhole dials the server only when healed.
 */
import net from 'node:net';
import { once } from './wait.js';

export interface TcpProxyOptions {
  /** Server port on `host`. */
  readonly port: number;
  /** Server host. Default `127.0.0.1`. */
  readonly host?: string;
}

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  /** Open client connections. */
  readonly connections: number;
  readonly isBlackholed: boolean;
  blackhole(): void;
  delay(ms: number): void;
  reset(): void;
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  readonly client: net.Socket;
  upstream: net.Socket | undefined;
  /** Client bytes received before the upstream connected. */
  readonly early: Buffer[];
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const host = options.host ?? '127.0.0.1';
  const pairs = new Set<Pair>();
  let blackholed = false;
  let delayMs = 0;
  let closed = false;

  const forward = (to: net.Socket | undefined, chunk: Buffer, pair: Pair): void => {
    const send = () => {
      if (to === undefined) pair.early.push(chunk);
      else if (!to.destroyed) to.write(chunk);
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  };

  const destroy = (pair: Pair): void => {
    pairs.delete(pair);
    pair.client.destroy();
    pair.upstream?.destroy();
  };

  const dial = (pair: Pair): void => {
    if (pair.upstream !== undefined || pair.client.destroyed) return;
    const upstream = net.connect({ host, port: options.port });
    pair.upstream = upstream;
    upstream.setNoDelay(true);
    upstream.on('connect', () => {
      for (const chunk of pair.early.splice(0)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => forward(pair.client, chunk, pair));
    upstream.on('error', () => destroy(pair));
    upstream.on('close', () => destroy(pair));
    if (blackholed) upstream.pause();
  };

  const server = net.createServer((client) => {
    if (closed) {
      client.destroy();
      return;
    }
    client.setNoDelay(true);
    const pair: Pair = { client, upstream: undefined, early: [] };
    pairs.add(pair);
    client.on('data', (chunk: Buffer) => forward(pair.upstream, chunk, pair));
    client.on('error', () => destroy(pair));
    client.on('close', () => destroy(pair));
    if (blackholed) client.pause();
    else dial(pair);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening', 5000);
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('tcp proxy: no address');
  const port = address.port;

  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get isBlackholed() {
      return blackholed;
    },
    blackhole() {
      blackholed = true;
      for (const pair of pairs) {
        pair.client.pause();
        pair.upstream?.pause();
      }
    },
    delay(ms: number) {
      if (!(ms >= 0) || !Number.isFinite(ms)) throw new Error('delay: ms must be a finite number >= 0');
      delayMs = ms;
    },
    reset() {
      for (const pair of [...pairs]) destroy(pair);
    },
    heal() {
      blackholed = false;
      delayMs = 0;
      for (const pair of pairs) {
        if (pair.upstream === undefined) dial(pair);
        pair.upstream?.resume();
        pair.client.resume();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const pair of [...pairs]) destroy(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
