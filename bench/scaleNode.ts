/**
 * Several cluster nodes in one OS process, for bench/scale.ts (which
 * SIGKILLs the process to fail all of them at once).
 *
 * Env: HALYARD_NATS_URL, HALYARD_PREFIX, SCALE_NODES (comma-separated node
 * names), SCALE_ACTORS (local actors spawned on each node).
 * stdout: `READY <json>` once every node is up and its actors spawned, with
 * the process's memory; `STATS <json>` on `STATS` (stdin).
 * stdin: `STATS`; `STOP` (or stdin closing): shut every node down and exit.
 */
import { createNode, type Node } from '../src/index.js';
import { counterMachine } from '../spec/support/machines.js';

const names = (process.env.SCALE_NODES ?? 'a').split(',');
const actors = Number(process.env.SCALE_ACTORS ?? '0');
const nodes: Node[] = [];
// One at a time: nodes joining together all race for the same KV keys on a small machine.
for (const name of names) {
  const node = await createNode({
    name,
    prefix: process.env.HALYARD_PREFIX ?? 'halyard',
    transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', reconnectTimeWait: 100, maxReconnectAttempts: -1 },
    cluster: true,
  });
  node.register('counter', counterMachine);
  for (let i = 0; i < actors; i++) node.spawn(counterMachine);
  nodes.push(node);
}
await Promise.all(nodes.map((n) => n.flush()));

function stats(): string {
  global.gc?.();
  const m = process.memoryUsage();
  return JSON.stringify({ nodes: nodes.length, actors: nodes.length * actors, rss: m.rss, heapUsed: m.heapUsed });
}
process.stdout.write(`READY ${stats()}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled(nodes.map((n) => n.shutdown()));
  process.exit(0);
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
    const cmd = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (cmd === 'STATS') process.stdout.write(`STATS ${stats()}\n`);
    if (cmd === 'STOP') void stop();
  }
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
