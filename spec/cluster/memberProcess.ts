/**
 * A cluster member in its own OS process, for the SIGKILL and busy-node tests.
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX.
 * stdout lines: `READY <node> <incarnation>`, then `CHANGE <type> <node> <incarnation> <status>`
 * for every membership change, and `BURNED <ms>` after a burn.
 * stdin lines: `BURN <busyMs> <totalMs>` blocks the event loop in chunks of
 * `busyMs` (one loop turn between chunks) for `totalMs`; `STOP` leaves gracefully.
 */
import { bucketName, Membership, openKv } from '../../src/services/cluster/index.js';
import { NatsTransport } from '../../src/transport/NatsTransport.js';

const node = process.env.HALYARD_NODE ?? 'child';
const prefix = process.env.HALYARD_PREFIX ?? 'halyard';
const transport = await NatsTransport.connect({ servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', name: `${prefix}-${node}` });
const kv = await openKv(transport, bucketName(prefix, 'members'));
const membership = await Membership.start({ node, transport, kv, prefix });
membership.on('change', (c) => {
  process.stdout.write(`CHANGE ${c.type} ${c.member.node} ${c.member.incarnation} ${c.member.status}\n`);
});
process.stdout.write(`READY ${node} ${membership.incarnation}\n`);

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Busy: the event loop is blocked.
  }
}

async function burn(busyMs: number, totalMs: number): Promise<void> {
  const start = performance.now();
  while (performance.now() - start < totalMs) {
    spin(Math.min(busyMs, totalMs - (performance.now() - start)));
    // One whole turn of the loop between chunks: timers (heartbeats), then I/O
    // (poll), then check. A bare setImmediate queued from the poll phase would
    // run before any timer, gluing two chunks into one longer block.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.stdout.write(`BURNED ${Math.round(performance.now() - start)}\n`);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await membership.stop();
  await transport.close();
  process.exit(0);
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  let nl = buffered.indexOf('\n');
  while (nl !== -1) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    const [cmd, a, b] = line.split(' ');
    if (cmd === 'BURN') void burn(Number(a), Number(b));
    if (cmd === 'STOP') void stop();
    nl = buffered.indexOf('\n');
  }
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
