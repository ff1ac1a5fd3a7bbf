/**
 * Slow consumers: nats-server cuts off a client that stops reading, without
 * telling it why. Against a real server with a tiny `max_pending` and a short
 * `write_deadline`, this process is made the slow consumer by blocking its
 * event loop (a synchronous child process floods the subject meanwhile);
 * the transport reports `slow-consumer` (inferred), counts it, and a node's
 * status report shows the count. A restart with no stall stays a plain
 * disconnect. The stall watch's arithmetic is checked without a runtime.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createNode, type Node } from '../src/services/node/Node.js';
import { LoopStallWatch, TICK_MS, WINDOW_MS } from '../src/transport/LoopStallWatch.js';
import { NatsTransport, SLOW_CONSUMER_STALL_MS } from '../src/transport/NatsTransport.js';
import type { TransportStats, TransportStatus } from '../src/transport/Transport.js';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { waitFor } from './support/wait.js';

/** Small limits so a blocked reader is cut off after a few hundred KiB (max_payload must not exceed max_pending). */
const SLOW_CONFIG = 'max_payload: 65536\nmax_pending: 262144\nwrite_deadline: "500ms"\n';
const FLOOD_MESSAGES = 1000;
const FLOOD_SIZE = 32 * 1024;

/**
 * A publisher in its own process: publishes `count` messages of `size` bytes
 * to `subject`, flushes, and exits no sooner than `forMs` after it started,
 * so the consumer it blocks stays blocked past the server's write deadline
 * however fast the machine is; prints how many it sent.
 */
const FLOOD_SCRIPT = `
import { connect } from '@nats-io/transport-node';
const [url, subject, count, size, forMs] = process.argv.slice(1);
const nc = await connect({ servers: url });
const payload = new Uint8Array(Number(size));
const started = performance.now();
let sent = 0;
for (; sent < Number(count); sent++) nc.publish(subject, payload);
await nc.flush();
await nc.close();
const left = Number(forMs) - (performance.now() - started);
if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
process.stdout.write(String(sent));
`;
/** Longer than the server's write_deadline (500 ms) and than SLOW_CONSUMER_STALL_MS. */
const FLOOD_MS = 1500;

/**
 * Floods `subject` from a child process while this process's event loop is
 * blocked (spawnSync returns when the child exits), so nothing here reads the
 * socket while the server's buffers for this client fill.
 */
function floodWhileBlocked(url: string, subject: string): number {
  const args = [url, subject, String(FLOOD_MESSAGES), String(FLOOD_SIZE), String(FLOOD_MS)];
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', FLOOD_SCRIPT, ...args], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  expect(r.status, `flood child failed: ${r.stderr?.toString()}`).toBe(0);
  return Number(r.stdout.toString());
}

describe('nats slow consumer', () => {
  const servers: NatsServerHandle[] = [];
  const transports: NatsTransport[] = [];
  const nodes: Node[] = [];
  afterEach(async () => {
    await Promise.allSettled(nodes.splice(0).map((n) => n.shutdown()));
    await Promise.allSettled(transports.splice(0).map((t) => t.close()));
    await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
  });

  async function transportOn(config: string, name: string): Promise<{ server: NatsServerHandle; t: NatsTransport; statuses: TransportStatus[] }> {
    const server = await startNatsServer({ config });
    servers.push(server);
    const t = await NatsTransport.connect({ servers: server.url, name, reconnectTimeWait: 50 });
    transports.push(t);
    const statuses: TransportStatus[] = [];
    t.onStatus((s) => statuses.push(s));
    return { server, t, statuses };
  }

  it('nats slow consumer - a connection the server cuts off while the event loop is blocked is reported as slow-consumer, counted, and shown in the node status', async () => {
    const { server, t, statuses } = await transportOn(SLOW_CONFIG, 'slow');
    const node = await createNode({ name: 'slow-node', transport: t });
    nodes.push(node);
    let received = 0;
    t.subscribe('slow.flood', () => received++);
    await t.flush();

    const sent = floodWhileBlocked(server.url, 'slow.flood');
    expect(sent).toBeGreaterThanOrEqual(FLOOD_MESSAGES);

    const slow = await waitFor(() => statuses.find((s) => s.type === 'slow-consumer'), { timeout: 20_000, message: 'slow-consumer status' });
    // The server's own account of why it closed the connection: the ground truth the inference is checked against.
    expect(server.log).toMatch(/Slow Consumer Detected/);
    expect(slow.inferred).toBe(true);
    expect(slow.stalledMs).toBeGreaterThanOrEqual(SLOW_CONSUMER_STALL_MS);
    expect(slow.detail).toMatch(/slow consumer \(inferred/);
    const types = statuses.map((s) => s.type);
    expect(types.indexOf('disconnected')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('disconnected')).toBeLessThan(types.indexOf('slow-consumer'));
    // The server dropped what it held for us: fewer arrived than were sent.
    expect(received).toBeLessThan(sent);

    expect(t.stats()).toMatchObject({ slowConsumers: 1, disconnects: 1 });
    const report = node.statusReport();
    expect((report.transportStats as TransportStats).slowConsumers).toBe(1);

    // The connection comes back and the subscription with it.
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), { timeout: 20_000, message: 'reconnected' });
    const before = received;
    t.publish('slow.flood', new Uint8Array([1]));
    await waitFor(() => received > before, { timeout: 10_000, message: 'delivery after reconnect' });
    expect(t.stats()).toMatchObject({ reconnects: 1, slowConsumers: 1 });
  });

  it('nats slow consumer - a server restart while the event loop runs freely is a plain disconnect, not slow-consumer', async () => {
    const { server, t, statuses } = await transportOn('', 'restart');
    await server.restart();
    await waitFor(() => statuses.some((s) => s.type === 'reconnected'), { timeout: 20_000, message: 'reconnected' });
    expect(statuses.map((s) => s.type)).not.toContain('slow-consumer');
    expect(t.stats()).toMatchObject({ disconnects: 1, reconnects: 1, slowConsumers: 0 });
  });
});

describe('loop stall watch', () => {
  it('loop stall watch - a late tick is a stall, remembered for the window and then forgotten', () => {
    const w = new LoopStallWatch({ now: () => 0, setTimer: () => ({}), clearTimer: () => {} });
    // On time: no stall.
    w.record(TICK_MS);
    w.record(2 * TICK_MS);
    expect(w.recentStall(2 * TICK_MS)).toBe(0);
    // A tick 700 ms late.
    const lateAt = 3 * TICK_MS + 700;
    w.record(lateAt);
    expect(w.recentStall(lateAt)).toBe(700);
    // Still remembered inside the window, with ticks on time since.
    let now = lateAt;
    while (now + TICK_MS <= lateAt + WINDOW_MS) {
      now += TICK_MS;
      w.record(now);
    }
    expect(w.recentStall(now)).toBe(700);
    // Past the window: gone.
    now += TICK_MS;
    w.record(now);
    now += TICK_MS;
    w.record(now);
    expect(w.recentStall(now)).toBe(0);
  });

  it('loop stall watch - a stall still under way counts before its late tick runs', () => {
    const w = new LoopStallWatch({ now: () => 0, setTimer: () => ({}), clearTimer: () => {} });
    w.record(TICK_MS);
    // Asked 1 s after the last tick, before the overdue tick has run.
    expect(w.recentStall(TICK_MS + 1000)).toBe(1000 - TICK_MS);
  });

  it('loop stall watch - timer jitter under 10 ms is not kept as a stall', () => {
    const w = new LoopStallWatch({ now: () => 0, setTimer: () => ({}), clearTimer: () => {} });
    w.record(TICK_MS + 5);
    expect(w.recentStall(TICK_MS + 5)).toBe(0);
  });
});
