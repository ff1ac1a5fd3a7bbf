/**
 * A cluster node (createNode with `cluster`) in its own OS process, for the
 * failover, fencing and coordinator tests.
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_CLUSTER (JSON
 * cluster options, or empty for the defaults).
 * Registers `counter` (many), `locked` (per-node) and `single` (singleton).
 * stdout: `READY <node>`, `LEADER <node>` when it becomes the cluster coordinator,
 * `FENCED <count>` when it fences itself, `BURNED <ms>`.
 * stdin: `BURN <busyMs> <totalMs>` keeps the event loop busy in chunks; `STOP` leaves;
 * `SEE <n1,n2,...>` answers `SEEN` once those nodes are up here with their types known;
 * `START <json spec>` runs `cluster.start` and answers `STARTED <name> <node> <epoch>` or
 * `STARTFAIL <name> <error name> <message>`; `STOPINST <name>` answers `STOPINST <name> <true|false>`
 * or `STOPINSTFAIL <name> <error name>`.
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

async function see(nodes: string[]): Promise<void> {
  const c = node.cluster!;
  const ok = (): boolean => nodes.every((n) => c.nodes().some((m) => m.node === n && m.status === 'up') && c.typesOf(n) !== undefined);
  while (!ok()) await new Promise((resolve) => setTimeout(resolve, 5));
  process.stdout.write('SEEN\n');
}

async function start(json: string): Promise<void> {
  const spec = JSON.parse(json);
  try {
    const r = await node.cluster!.start(spec);
    process.stdout.write(`STARTED ${r.name} ${r.node} ${r.epoch}\n`);
  } catch (err) {
    const e = err as Error;
    process.stdout.write(`STARTFAIL ${spec.name} ${e.name} ${e.message}\n`);
  }
}

async function stopInstance(inst: string): Promise<void> {
  try {
    process.stdout.write(`STOPINST ${inst} ${await node.cluster!.stopInstance(inst)}\n`);
  } catch (err) {
    process.stdout.write(`STOPINSTFAIL ${inst} ${(err as Error).name}\n`);
  }
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  let nl = buffered.indexOf('\n');
  while (nl !== -1) {
    const line = buffered.slice(0, nl).trim();
    const [cmd, a, b] = line.split(' ');
    buffered = buffered.slice(nl + 1);
    if (cmd === 'SEE') void see(a!.split(','));
    if (cmd === 'START') void start(line.slice('START '.length));
    if (cmd === 'STOPINST') void stopInstance(a!);
    if (cmd === 'BURN') void burn(Number(a), Number(b));
    if (cmd === 'STOP') void stop();
    nl = buffered.indexOf('\n');
  }
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
