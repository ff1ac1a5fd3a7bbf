/**
 * A cluster node in its own OS process that runs a supervisor, for the
 * watched-set adoption tests (SIGKILL it: survivors adopt its children).
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_CLUSTER (JSON cluster options).
 * stdout: `READY <node>`; `SUPERVISED <name>` or `SUPERVISEFAIL <error name> <message>`.
 * stdin: `SUPERVISE <json { spec, options }>` runs `cluster.supervise(spec, options)`.
 */
import { createNode } from '../../src/index.js';
import { counterMachine } from '../support/machines.js';

const name = process.env.HALYARD_NODE ?? 'child';
const node = await createNode({
  name,
  prefix: process.env.HALYARD_PREFIX ?? 'halyard',
  transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', reconnectTimeWait: 100, maxReconnectAttempts: -1 },
  cluster: process.env.HALYARD_CLUSTER ? JSON.parse(process.env.HALYARD_CLUSTER) : true,
});
node.register('counter', counterMachine);
await node.flush();
process.stdout.write(`READY ${name}\n`);

async function supervise(json: string): Promise<void> {
  const { spec, options } = JSON.parse(json);
  try {
    const sup = await node.cluster!.supervise(spec, options);
    process.stdout.write(`SUPERVISED ${sup.label}\n`);
  } catch (err) {
    const e = err as Error;
    process.stdout.write(`SUPERVISEFAIL ${e.name} ${e.message}\n`);
  }
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  let nl = buffered.indexOf('\n');
  while (nl !== -1) {
    const line = buffered.slice(0, nl).trim();
    buffered = buffered.slice(nl + 1);
    if (line.startsWith('SUPERVISE ')) void supervise(line.slice('SUPERVISE '.length));
    nl = buffered.indexOf('\n');
  }
});
process.stdin.on('end', () => void node.shutdown().then(() => process.exit(0)));
