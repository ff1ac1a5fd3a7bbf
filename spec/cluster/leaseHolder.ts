/**
 * A lease contender in its own OS process, for the SIGSTOP test.
 *
 * Env: HALYARD_NATS_URL, HALYARD_BUCKET, HALYARD_LEASE, HALYARD_HOLDER.
 * stdout lines (t = wall-clock ms with sub-ms precision, comparable across processes):
 *   `READY`, `ACQUIRED <epoch> <t>`, `LOST <reason> <t>`, and `WORK <epoch> <t>`
 *   every 10 ms while `lease.held` is true (the singleton's "work", gated the
 *   way real singleton work must be: a synchronous check before each step).
 */
import { Lease, openKv } from '../../src/services/cluster/index.js';
import { NatsTransport } from '../../src/transport/NatsTransport.js';

const now = () => performance.timeOrigin + performance.now();
const transport = await NatsTransport.connect({ servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', name: 'lease-holder' });
const kv = await openKv(transport, process.env.HALYARD_BUCKET ?? 'halyard-leases');
const lease = new Lease({ kv, name: process.env.HALYARD_LEASE ?? 'singleton', holder: process.env.HALYARD_HOLDER ?? 'child' });
lease.on('acquired', (epoch) => process.stdout.write(`ACQUIRED ${epoch} ${now().toFixed(3)}\n`));
lease.on('lost', (reason) => process.stdout.write(`LOST ${reason} ${now().toFixed(3)}\n`));
setInterval(() => {
  if (lease.held) process.stdout.write(`WORK ${lease.epoch} ${now().toFixed(3)}\n`);
}, 10);
lease.start();
process.stdout.write('READY\n');
process.on('SIGTERM', () => {
  void lease.stop().then(() => transport.close()).then(() => process.exit(0));
});
