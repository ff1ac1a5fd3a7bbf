/**
 * NatsTransport: the conformance suite against the run's shared nats-server,
 * plus what only a real server can show: how nats.js v3 surfaces "no
 * responders", reconnection after a server restart, giving up, and keeping
 * credentials out of every output.
 */
import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { TransportClosedError, TransportError } from '../src/errors.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import type { Msg, TransportStatus } from '../src/transport/Transport.js';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { waitFor } from './support/wait.js';
import { describeTransportConformance } from './transport.conformance.js';

const EMPTY = new Uint8Array(0);
const natsUrl = inject('natsUrl');

describeTransportConformance('NatsTransport', async () => {
  const handlerErrors: unknown[] = [];
  const onError = (err: unknown) => handlerErrors.push(err);
  const a = await NatsTransport.connect({ servers: natsUrl, name: 'conf-a', onError });
  const b = await NatsTransport.connect({ servers: natsUrl, name: 'conf-b', onError });
  return {
    a,
    b,
    handlerErrors,
    async cleanup() {
      await Promise.all([a.close(), b.close()]);
    },
  };
});

describe('NatsTransport', () => {
  const servers: NatsServerHandle[] = [];
  const transports: NatsTransport[] = [];
  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(servers.splice(0).map((s) => s.stop()));
  });

  async function ownServer(args: string[] = []): Promise<NatsServerHandle> {
    const server = await startNatsServer({ args });
    servers.push(server);
    return server;
  }

  it('nats no responders - nats.js v3 delivers the 503 status to a plain subscription as a message', async () => {
    // The raw client, to pin down what NatsTransport relies on.
    const nc = await connect({ servers: natsUrl, name: 'raw' });
    try {
      const inbox = `raw.${randomBytes(6).toString('hex')}`;
      const got: { code?: number; hasError?: boolean; status?: string; size: number; keys: string[] }[] = [];
      nc.subscribe(inbox, {
        callback: (err, m) => {
          expect(err).toBeNull();
          got.push({
            code: m.headers?.code,
            hasError: m.headers?.hasError,
            status: m.headers?.status,
            size: m.data.length,
            keys: m.headers?.keys() ?? [],
          });
        },
      });
      await nc.flush();
      nc.publish(`${inbox}.nobody`, EMPTY, { reply: inbox });
      await waitFor(() => got.length === 1, { timeout: 5000, message: 'status message' });
      expect(got[0]).toEqual({ code: 503, hasError: true, status: '503', size: 0, keys: [] });
    } finally {
      await nc.close();
    }
  });

  it('nats reconnect - a server restart emits disconnected, reconnecting, reconnected and subscriptions resume', async () => {
    const server = await ownServer();
    const t = await NatsTransport.connect({ servers: server.url, name: 'restart', reconnectTimeWait: 50 });
    transports.push(t);
    const statuses: TransportStatus[] = [];
    t.onStatus((s) => statuses.push(s));
    const got: Msg[] = [];
    t.subscribe('restart.x', (m) => got.push(m));
    await t.flush();

    await server.restart();
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), { timeout: 20_000, message: 'reconnected status' });
    const types = statuses.map((s) => s.type);
    expect(types).toContain('disconnected');
    expect(types).toContain('reconnecting');
    expect(types.indexOf('disconnected')).toBeLessThan(types.indexOf('reconnected'));
    expect(t.isConnected).toBe(true);

    // A fresh connection publishes: only a resubscribed server-side interest can deliver it.
    const other = await NatsTransport.connect({ servers: server.url, name: 'restart-other' });
    transports.push(other);
    other.publish('restart.x', new Uint8Array([1]));
    await waitFor(() => got.length === 1, { timeout: 10_000, message: 'delivery after restart' });
  });

  it('nats reconnect - while the server is down isConnected is false', async () => {
    const server = await ownServer();
    const t = await NatsTransport.connect({ servers: server.url, name: 'down', reconnectTimeWait: 50 });
    transports.push(t);
    const statuses: TransportStatus[] = [];
    t.onStatus((s) => statuses.push(s));
    await server.stop();
    await waitFor(() => statuses.some((s) => s.type === 'disconnected'), { timeout: 10_000, message: 'disconnected' });
    expect(t.isConnected).toBe(false);
    expect(t.isClosed).toBe(false);
  });

  it('nats give up - after maxReconnectAttempts the transport is closed', async () => {
    const server = await ownServer();
    const t = await NatsTransport.connect({ servers: server.url, name: 'give-up', maxReconnectAttempts: 2, reconnectTimeWait: 20 });
    transports.push(t);
    const statuses: TransportStatus[] = [];
    t.onStatus((s) => statuses.push(s));
    const pending = t.request('give.up', EMPTY, { timeout: 120_000 }).catch((e: unknown) => e);
    server.kill('SIGKILL');
    await waitFor(() => statuses.some((s) => s.type === 'closed'), { timeout: 20_000, message: 'closed status' });
    expect(t.isClosed).toBe(true);
    expect(() => t.publish('give.up', EMPTY)).toThrow(TransportClosedError);
    expect(await pending).toBeInstanceOf(TransportClosedError);
  });

  it('nats connect - an unreachable server rejects with TransportError', async () => {
    const server = await ownServer();
    const url = server.url;
    await server.stop();
    await expect(NatsTransport.connect({ servers: url, name: 'nobody-home', timeout: 2000 })).rejects.toBeInstanceOf(TransportError);
  });

  it('nats secrets - credentials never appear in errors, logs, status, toString, toJSON or inspect', async () => {
    const token = `tok-${randomBytes(12).toString('hex')}`;
    const wrong = `wrong-${randomBytes(12).toString('hex')}`;
    const urlPass = `urlpass-${randomBytes(12).toString('hex')}`;
    const server = await ownServer(['--auth', token]);
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (line: string) => void lines.push(line) });
    const leaks = (s: string) => [token, wrong, urlPass].filter((secret) => s.includes(secret));

    // Right token: connected, and nothing shows it.
    const t = await NatsTransport.connect({ servers: server.url, name: 'secret', token, logger, reconnectTimeWait: 50 });
    transports.push(t);
    const statuses: TransportStatus[] = [];
    t.onStatus((s) => statuses.push(s));
    expect(t.isConnected).toBe(true);
    for (const shown of [String(t), JSON.stringify(t), inspect(t, { depth: 10, showHidden: true }), `${t}`]) {
      expect(leaks(shown)).toEqual([]);
    }

    // Wrong token, and a password in the URL: the errors do not repeat them.
    const failures: unknown[] = [];
    await NatsTransport.connect({ servers: server.url, name: 'bad', token: wrong, logger, timeout: 2000 }).catch((e) =>
      failures.push(e),
    );
    const userUrl = server.url.replace('nats://', `nats://someone:${urlPass}@`);
    await NatsTransport.connect({ servers: userUrl, name: 'bad-url', pass: urlPass, logger, timeout: 2000 }).catch((e) =>
      failures.push(e),
    );
    expect(failures).toHaveLength(2);
    for (const err of failures) {
      expect(err).toBeInstanceOf(TransportError);
      expect(leaks(String(err))).toEqual([]);
      expect(leaks(inspect(err, { depth: 10 }))).toEqual([]);
      expect(leaks(JSON.stringify({ message: (err as Error).message, stack: (err as Error).stack }))).toEqual([]);
    }

    // A restart produces status details and log lines: none carry the token.
    await server.restart();
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), { timeout: 20_000, message: 'reconnected' });
    await t.close();
    expect(leaks(JSON.stringify(statuses))).toEqual([]);
    expect(lines.length).toBeGreaterThan(0);
    expect(leaks(lines.join('\n'))).toEqual([]);
  });

  it('nats options - missing name or servers throw InvalidArgumentError', async () => {
    await expect(NatsTransport.connect({ servers: natsUrl, name: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    await expect(NatsTransport.connect({ servers: [], name: 'x' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
  });

  it('nats payload - maxPayload comes from the server', async () => {
    const t = await NatsTransport.connect({ servers: natsUrl, name: 'max' });
    transports.push(t);
    expect(t.maxPayload).toBe(1024 * 1024);
  });
});
