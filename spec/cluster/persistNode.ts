/**
 * A clustered node with the persisted services of persistDefs.ts, in its own
 * OS process, for SIGKILL tests of persisted cluster instances. Its state
 * store is the default on NATS: JetStream KV, which a survivor reads.
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_CLUSTER (JSON options, or empty).
 * stdout: `READY <node>`.
 */
import { createNode } from '../../src/index.js';
import { crashFreshCounter, persistedCounter } from './persistDefs.js';

const name = process.env.HALYARD_NODE ?? 'child';
const node = await createNode({
  name,
  prefix: process.env.HALYARD_PREFIX ?? 'halyard',
  transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', reconnectTimeWait: 100, maxReconnectAttempts: -1 },
  cluster: process.env.HALYARD_CLUSTER ? JSON.parse(process.env.HALYARD_CLUSTER) : true,
  services: [persistedCounter, crashFreshCounter],
});
await node.flush();
process.stdout.write(`READY ${name}\n`);
