/**
 * `connect(options)`: an admin client over NATS, the control socket of a
 * `halyard up`, or a Transport you already hold (a LocalTransport on the
 * bus of an embedded node).
 *
 * | option      | meaning |
 * |-------------|---------|
 * | `server`    | NATS URL(s), as the nats CLI's `--server` |
 * | `creds`     | path of a `.creds` file (JWT + nkey seed) |
 * | `user`, `password`, `token` | as the nats CLI's flags |
 * | `tls`       | `{ cert?, key?, ca? }`: file paths (`--tlscert`, `--tlskey`, `--tlsca`) |
 * | `socket`    | path of a `halyard up` control socket, instead of `server` |
 * | `transport` | a connected Transport, instead of either (not closed by the client) |
 * | `prefix`    | subject prefix, default `halyard` |
 * | `timeout`, `gatherMs` | see {@link ClientTimeouts} |
 *
 * Connection failures are `AdminConnectError`s whose message names the
 * server without its user info and never quotes a credential.
 */
import { readFileSync } from 'node:fs';
import { credsAuthenticator } from '@nats-io/transport-node';
import { AdminConnectError, AdminRequestError, describe } from '../errors.js';
import { isPlainObject } from '../options.js';
import { NatsTransport } from '../transport/NatsTransport.js';
import type { Transport } from '../transport/Transport.js';
import { TransportLink } from './AdminLink.js';
import { type ClientTimeouts, HalyardClient } from './HalyardClient.js';
import { SocketLink } from './SocketLink.js';

export interface TlsFiles {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

interface Common extends ClientTimeouts {
  readonly prefix?: string;
}

export type ConnectOptions =
  | (Common & {
      readonly server: string | readonly string[];
      readonly creds?: string;
      readonly user?: string;
      readonly password?: string;
      readonly token?: string;
      readonly tls?: TlsFiles;
    })
  | (Common & { readonly socket: string })
  | (Common & { readonly transport: Transport });

/** A server URL fit for a message: scheme, host and port only. */
export function redactServer(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

function readFile(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new AdminRequestError(field, `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? describe(err)}`);
  }
}

export async function connect(options: ConnectOptions): Promise<HalyardClient> {
  if (!isPlainObject(options as unknown)) throw new AdminRequestError('options', 'must be { server, ... }, { socket } or { transport }');
  const prefix = options.prefix ?? 'halyard';
  if ('transport' in options) return new HalyardClient(new TransportLink(options.transport, false), prefix, options);
  if ('socket' in options) {
    if (typeof options.socket !== 'string' || options.socket.length === 0) throw new AdminRequestError('socket', 'must be a path');
    return new HalyardClient(await SocketLink.open(options.socket), prefix, options);
  }
  if (!('server' in options)) throw new AdminRequestError('options', 'needs server, socket or transport');
  const servers = typeof options.server === 'string' ? [options.server] : [...options.server];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.length === 0)) throw new AdminRequestError('server', 'must be a URL or a list of URLs');
  const tls = options.tls;
  const tlsOptions =
    tls === undefined
      ? undefined
      : {
          ...(tls.cert !== undefined ? { certFile: tls.cert } : {}),
          ...(tls.key !== undefined ? { keyFile: tls.key } : {}),
          ...(tls.ca !== undefined ? { caFile: tls.ca } : {}),
        };
  const authenticator = options.creds === undefined ? undefined : credsAuthenticator(new TextEncoder().encode(readFile(options.creds, 'creds')));
  const target = servers.map(redactServer).join(',');
  let transport: NatsTransport;
  try {
    transport = await NatsTransport.connect({
      servers,
      name: 'halyard-admin',
      ...(options.user !== undefined ? { user: options.user } : {}),
      ...(options.password !== undefined ? { pass: options.password } : {}),
      ...(options.token !== undefined ? { token: options.token } : {}),
      ...(authenticator !== undefined ? { authenticator } : {}),
      ...(tlsOptions !== undefined ? { tls: tlsOptions } : {}),
      // A tool that cannot reach its server should say so, not wait for it to come back.
      maxReconnectAttempts: 0,
    });
  } catch (err) {
    const text = [options.password, options.token].reduce<string>((m, secret) => (secret ? m.split(secret).join('***') : m), describe(err));
    throw new AdminConnectError(target, redactServer(text).replace(`cannot connect to ${target}: `, ''), { cause: err });
  }
  return new HalyardClient(new TransportLink(transport, true), prefix, options);
}
