/**
 * A Halyard node in its own OS process, for cross-process tests.
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_ACTOR.
 * Prints `READY` once its actor is reachable; shuts down on SIGTERM or on a
 * `STOP` line on stdin.
 */
import { createNode } from '../../src/index.js';
import { counterMachine } from './machines.js';

const node = await createNode({
  name: process.env.HALYARD_NODE ?? 'remote',
  prefix: process.env.HALYARD_PREFIX ?? 'halyard',
  transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222' },
});
node.spawn(counterMachine, { name: process.env.HALYARD_ACTOR ?? 'counter', input: { start: 100 } });
await node.flush();
process.stdout.write(`READY ${process.pid}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await node.shutdown();
  process.exit(0);
}
process.on('SIGTERM', () => void stop());
process.stdin.on('data', (d) => {
  if (String(d).includes('STOP')) void stop();
});
process.stdin.on('end', () => void stop());
