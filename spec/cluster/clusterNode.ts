/**
 * A cluster node (createNode with `cluster`) in its own OS process, for the
 * failover, fencing and coordinator tests.
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_CLUSTER (JSON
 * cluster options, or empty for the defaults).
 * Registers `counter` (many), `locked` (per-node) and `single` (singleton).
 * stdout: `READY <node>`, `LEADER <node>` when it becomes the cluster coordinator,
 * `FENCED <count>` when it fences itself, `BURNED <ms>`.
 * stdin: `BURN <busyMs> <totalMs>` keeps the event loop busy in chunks; `STOP` leaves.
 */
import { createNode } from '../../src/index.js';
import { counterMachine } from '../support/machines.js';

const name = process.env.HALYARD_NODE ?? 'child';
const options = process.env.HALYARD_CLUSTER ? JSON.parse(process.env.HALYARD_CLUSTER) : true;
const node = await createNode({
  name,
  prefix: process.env.HALYARD_PREFIX ?? 'halyard',
  transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', reconnectTimeWait: 100, maxReconnectAttempts: -1 },
  cluster: options,
});
node.register('counter', counterMachine);
node.register('locked', counterMachine, { cardinality: 'per-node' });
node.register('single', counterMachine, { cardinality: 'singleton' });
await node.flush();
process.stdout.write(`READY ${name}\n`);

let leader = false;
let fences = 0;
setInterval(() => {
  const c = node.cluster!;
  if (c.isCoordinator !== leader) {
    leader = c.isCoordinator;
    if (leader) process.stdout.write(`LEADER ${name}\n`);
  }
  if (c.fences !== fences) {
    fences = c.fences;
    process.stdout.write(`FENCED ${fences}\n`);
  }
}, 10);

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
    await new Promise((resolve) => setTimeout(resolve, 0));
    await new Promise((resolve) => setImmediate(resolve));
  }
  process.stdout.write(`BURNED ${Math.round(performance.now() - start)}\n`);
}

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.shutdown();
  process.exit(0);
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  let nl = buffered.indexOf('\n');
  while (nl !== -1) {
    const [cmd, a, b] = buffered.slice(0, nl).trim().split(' ');
    buffered = buffered.slice(nl + 1);
    if (cmd === 'BURN') void burn(Number(a), Number(b));
    if (cmd === 'STOP') void stop();
    nl = buffered.indexOf('\n');
  }
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
