/**
 * The control socket's frames: newline-delimited JSON, one object a line.
 * The socket carries admin frames (services/admin/protocol.ts) as strings,
 * so a tool speaks the same API over NATS and over the socket.
 *
 * client → `halyard up`:
 * - `{ id, op: 'request', subject, frame, timeout }`: the first answer
 * - `{ id, op: 'gather', subject, frame, timeout, windowMs }`: every answer
 * - `{ id, op: 'subscribe', subject }`, `{ id, op: 'unsubscribe' }`
 *
 * `halyard up` → client: `{ id, ok: true, data }` (a string, or strings for
 * a gather), `{ id, ok: false, error }` (a WireError), `{ id, msg: { subject, data } }`
 * for a subscription.
 *
 * Only `<prefix>.admin.>` and `<prefix>.events.*` subjects are carried: the
 * socket is a door to the admin API, not to the embedded bus.
 */
export const MAX_LINE_BYTES = 2 * 1024 * 1024;

export interface SocketRequest {
  readonly id: number;
  readonly op: 'request' | 'gather' | 'subscribe' | 'unsubscribe';
  readonly subject?: string;
  readonly frame?: string;
  readonly timeout?: number;
  readonly windowMs?: number;
}

/** Split a stream into lines, refusing a line longer than the limit. */
export function lineSplitter(onLine: (line: string) => void, onTooLong: () => void): (chunk: Buffer) => void {
  let buffered = '';
  return (chunk) => {
    buffered += chunk.toString('utf8');
    let at = buffered.indexOf('\n');
    while (at >= 0) {
      const line = buffered.slice(0, at);
      buffered = buffered.slice(at + 1);
      if (line.length > 0) onLine(line);
      at = buffered.indexOf('\n');
    }
    if (buffered.length > MAX_LINE_BYTES) {
      buffered = '';
      onTooLong();
    }
  };
}
