/** The admin link over a `halyard up` control socket (frames in socketFrames.ts). */
import { connect as netConnect, type Socket } from 'node:net';
import { AdminConnectError, TransportClosedError, fromWireError, isWireError } from '../errors.js';
import { isPlainObject } from '../options.js';
import type { AdminLink, GatherOptions } from './AdminLink.js';
import { lineSplitter } from './socketFrames.js';

interface Pending {
  resolve(data: unknown): void;
  reject(err: unknown): void;
}

export class SocketLink implements AdminLink {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readonly listeners = new Map<number, (subject: string, data: string) => void>();
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on(
      'data',
      lineSplitter(
        (line) => this.onLine(line),
        () => this.fail(new AdminConnectError('control socket', 'answer too long')),
      ),
    );
    socket.on('close', () => this.fail(new TransportClosedError()));
    socket.on('error', () => {
      // 'close' follows and fails what is pending.
    });
  }

  static open(path: string): Promise<SocketLink> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(path);
      const onError = (err: NodeJS.ErrnoException): void => {
        const why = err.code === 'ENOENT' ? 'no control socket there (is `halyard up` running in this folder?)' : (err.code ?? err.message);
        reject(new AdminConnectError(path, why, { cause: err }));
      };
      socket.once('error', onError);
      socket.once('connect', () => {
        socket.off('error', onError);
        resolve(new SocketLink(socket));
      });
    });
  }

  request(subject: string, frame: string, timeout: number): Promise<string> {
    return this.call({ op: 'request', subject, frame, timeout }) as Promise<string>;
  }

  gather(subject: string, frame: string, options: GatherOptions): Promise<string[]> {
    return this.call({ op: 'gather', subject, frame, timeout: options.timeout, windowMs: options.windowMs }) as Promise<string[]>;
  }

  subscribe(subject: string, listener: (subject: string, data: string) => void): () => void {
    this.seq += 1;
    const id = this.seq;
    this.listeners.set(id, listener);
    this.write({ id, op: 'subscribe', subject });
    return () => {
      if (!this.listeners.delete(id)) return;
      this.write({ id, op: 'unsubscribe' });
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.end(resolve));
    this.socket.destroy();
  }

  private call(body: Record<string, unknown>): Promise<unknown> {
    if (this.closed) return Promise.reject(new TransportClosedError());
    this.seq += 1;
    const id = this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.write({ id, ...body });
    });
  }

  private write(frame: Record<string, unknown>): void {
    if (!this.socket.destroyed) this.socket.write(`${JSON.stringify(frame)}\n`);
  }

  private onLine(line: string): void {
    let frame: unknown;
    try {
      frame = JSON.parse(line);
    } catch {
      return;
    }
    if (!isPlainObject(frame) || typeof frame.id !== 'number') return;
    if (isPlainObject(frame.msg)) {
      const m = frame.msg;
      if (typeof m.subject === 'string' && typeof m.data === 'string') this.listeners.get(frame.id)?.(m.subject, m.data);
      return;
    }
    const p = this.pending.get(frame.id);
    if (p === undefined) return;
    this.pending.delete(frame.id);
    if (frame.ok === true) p.resolve(frame.data);
    else p.reject(isWireError(frame.error) ? fromWireError(frame.error) : new AdminConnectError('control socket', 'unreadable answer'));
  }

  private fail(err: unknown): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
