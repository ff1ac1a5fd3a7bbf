/**
 * The server end of the control socket: `halyard up` on the embedded
 * transport opens it so that other `halyard` commands can reach its nodes
 * without a NATS server, like PM2's daemon socket. The socket file is
 * created owner-only (mode 0600): whoever can open it can restart services.
 * A stale file (no one listening) is replaced; a live one is refused.
 */
import { chmodSync, unlinkSync } from 'node:fs';
import { connect as netConnect, createServer, type Server, type Socket } from 'node:net';
import { AdminConnectError, AdminRequestError, toWireError } from '../errors.js';
import { isPlainObject } from '../options.js';
import type { Transport } from '../transport/Transport.js';
import { TransportLink } from './AdminLink.js';
import { lineSplitter, type SocketRequest } from './socketFrames.js';

export interface ControlSocket {
  readonly path: string;
  close(): Promise<void>;
}

const MAX_TIMEOUT_MS = 120_000;

function inUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = netConnect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

export async function serveControlSocket(options: { readonly path: string; readonly transport: Transport; readonly prefix?: string }): Promise<ControlSocket> {
  const { path, transport } = options;
  const prefix = options.prefix ?? 'halyard';
  if (await inUse(path)) throw new AdminConnectError(path, 'a halyard control socket is already served there');
  try {
    unlinkSync(path);
  } catch {
    // Nothing to replace.
  }
  const link = new TransportLink(transport, false);
  const allowed = (subject: unknown): subject is string =>
    typeof subject === 'string' && (subject.startsWith(`${prefix}.admin.`) || subject.startsWith(`${prefix}.events.`)) && !subject.includes('>');
  const sockets = new Set<Socket>();

  const serve = (socket: Socket): void => {
    sockets.add(socket);
    const subs = new Map<number, () => void>();
    const send = (frame: Record<string, unknown>): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(frame)}\n`);
    };
    const handle = async (req: SocketRequest): Promise<void> => {
      if (req.op === 'unsubscribe') {
        subs.get(req.id)?.();
        subs.delete(req.id);
        return;
      }
      if (!allowed(req.subject)) throw new AdminRequestError('subject', `only ${prefix}.admin.* and ${prefix}.events.* are served here`);
      const timeout = Math.min(typeof req.timeout === 'number' && req.timeout > 0 ? req.timeout : 5000, MAX_TIMEOUT_MS);
      switch (req.op) {
        case 'request':
          send({ id: req.id, ok: true, data: await link.request(req.subject, String(req.frame ?? ''), timeout) });
          return;
        case 'gather': {
          const windowMs = Math.min(typeof req.windowMs === 'number' && req.windowMs > 0 ? req.windowMs : 250, timeout);
          send({ id: req.id, ok: true, data: await link.gather(req.subject, String(req.frame ?? ''), { timeout, windowMs }) });
          return;
        }
        case 'subscribe':
          subs.set(
            req.id,
            link.subscribe(req.subject, (subject, data) => send({ id: req.id, msg: { subject, data } })),
          );
          return;
        default:
          throw new AdminRequestError('op', 'must be request, gather, subscribe or unsubscribe');
      }
    };
    socket.on(
      'data',
      lineSplitter(
        (line) => {
          let req: unknown;
          try {
            req = JSON.parse(line);
          } catch {
            return socket.destroy();
          }
          if (!isPlainObject(req) || typeof req.id !== 'number') return socket.destroy();
          handle(req as unknown as SocketRequest).catch((err) => send({ id: req.id, ok: false, error: toWireError(err) }));
        },
        () => socket.destroy(),
      ),
    );
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      sockets.delete(socket);
      for (const off of subs.values()) off();
      subs.clear();
    });
  };

  const server: Server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new AdminConnectError(path, err.code ?? err.message, { cause: err })));
    // The umask covers the moment between bind and chmod, so the socket is never open to others.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => resolve());
    } finally {
      process.umask(previous);
    }
  });
  chmodSync(path, 0o600);
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
