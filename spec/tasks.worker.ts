/**
 * A task worker in its own OS process, for the SIGKILL test and the bench.
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_TASKS_BUCKET, HALYARD_TASKS_MODE (`hold`: a `job` never
 * finishes and prints `RUNNING <id>`; `noop`: a `job` returns at once).
 * stdout: `READY <node>` once the worker announced itself.
 */
import { Tasks } from '../src/services/tasks/Tasks.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';

const node = process.env.HALYARD_NODE ?? 'worker';
const transport = await NatsTransport.connect({ servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', name: `tasks-${node}` });
const tasks = new Tasks({ kv: transport.kv(), node, bucket: process.env.HALYARD_TASKS_BUCKET ?? 'halyard-tasks' });
const hold = process.env.HALYARD_TASKS_MODE === 'hold';
await tasks.define('job', (task) => {
  if (!hold) return null;
  process.stdout.write(`RUNNING ${task.id}\n`);
  return new Promise(() => {});
});
process.stdout.write(`READY ${node}\n`);
