/**
 * services - monitor: `node.services.monitor(name, { everyMs })` publishes an
 * instance's resource figures on `<prefix>.monitor.<service>.<instance>`
 * until stopped, for inline, worker and process instances.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { InvalidArgumentError } from '../src/errors.js';
import type { MonitorMessage } from '../src/services/instances/monitor.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { countInline, countProcess, countWorker } from './fixtures/services.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});
async function node(options: Omit<NodeOptions, 'name'> = {}): Promise<Node> {
  const n = await createNode({ name: `mon${nodes.length + 1}`, services: [countInline, countWorker, countProcess], askTimeout: 20_000, ...options });
  nodes.push(n);
  return n;
}

function listen(n: Node, subject: string): MonitorMessage[] {
  const got: MonitorMessage[] = [];
  n.transport.subscribe(subject, (msg) => got.push(JSON.parse(new TextDecoder().decode(msg.data)) as MonitorMessage));
  return got;
}

describe('services - monitor', () => {
  for (const def of [countWorker, countProcess]) {
    const kind = def.name.slice('count-'.length);
    it(`services - monitor publishes the ${kind} container's resource figures on its documented subject until stopped`, async () => {
      const n = await node();
      const p = await n.services.start(def.name, { config: { start: 0 }, timeout: 20_000 });
      const pid = await p.ask<number>({ type: 'PID' });
      const subject = `halyard.monitor.${def.name}.${p.id}`;
      const got = listen(n, 'halyard.monitor.>');
      const m = n.services.monitor(def.name, { everyMs: 20 });
      expect(m.subject).toBe(subject);
      await waitFor(() => got.length >= 2, { timeout: 20_000, message: 'two monitor messages' });
      m.stop();
      const [first, second] = got as [MonitorMessage, MonitorMessage];
      expect(first).toMatchObject({ type: 'io.halyard.v1.monitor', service: def.name, instance: p.id, node: n.name, incarnation: 1, seq: 1 });
      expect(second.seq).toBe(2);
      const r = first.resources;
      expect(r).toMatchObject({ container: kind, pid, sharedWithNode: kind === 'worker' });
      expect(r.rssBytes).toBeGreaterThan(1_000_000);
      expect(r.vmsBytes).toBeGreaterThanOrEqual(r.rssBytes!);
      expect(r.heapUsedBytes).toBeGreaterThan(0);
      expect(r.cpuPercent).toBeGreaterThanOrEqual(0);
      expect(r.eventLoopLagMs).toBeGreaterThanOrEqual(0);
      expect(r.openFiles).toBeGreaterThan(2);
      expect(r.sockets).toBeGreaterThanOrEqual(0);
      expect(r.childProcesses).toBeGreaterThanOrEqual(0);
      expect(r.threads).toBeGreaterThanOrEqual(1);
    });
  }

  it('services - monitor of an inline instance publishes the node process figures every everyMs of the node clock, and nothing once stopped', async () => {
    const clock = new ManualClock();
    const n = await node({ clock });
    const p = await n.services.start(countInline.name, { config: { start: 0 } });
    const got = listen(n, `halyard.monitor.${countInline.name}.${p.id}`);
    const m = n.services.monitor(p.id, { everyMs: 1000 });
    await waitFor(() => got.length === 1, { timeout: 5000, message: 'the first figures, at once' });
    expect(got[0]!.resources).toMatchObject({ container: 'inline', pid: process.pid, sharedWithNode: true, threadId: null });
    expect(got[0]!.resources.heapUsedBytes).toBeGreaterThan(0);
    clock.advance(1000);
    await waitFor(() => got.length === 2, { timeout: 5000, message: 'the second figures, one interval later' });
    m.stop();
    clock.advance(5000);
    await n.flush();
    expect(got.map((g) => g.seq)).toEqual([1, 2]);
  });

  it('services - monitor stops by itself when its instance stops', async () => {
    const clock = new ManualClock();
    const n = await node({ clock });
    const p = await n.services.start(countInline.name, { config: { start: 0 } });
    const got = listen(n, 'halyard.monitor.>');
    using _m = n.services.monitor(countInline.name, { everyMs: 10 });
    await waitFor(() => got.length === 1, { timeout: 5000, message: 'the first figures' });
    await p.stop();
    clock.advance(100);
    await n.flush();
    expect(got).toHaveLength(1);
  });

  it('services - monitor refuses an unknown instance and bad options, naming the field', async () => {
    const n = await node();
    await n.services.start(countInline.name, { config: { start: 0 } });
    expect(() => n.services.monitor('nobody', { everyMs: 100 })).toThrow(InvalidArgumentError);
    expect(() => n.services.monitor('nobody', { everyMs: 100 })).toThrow(/name/);
    expect(() => n.services.monitor(countInline.name, { everyMs: 0 })).toThrow(expect.objectContaining({ field: 'options.everyMs' }));
    expect(() => n.services.monitor(countInline.name, { everyMs: 10, every: 1 } as never)).toThrow(expect.objectContaining({ field: 'options.every' }));
    expect(() => n.services.monitor(countInline.name, undefined as never)).toThrow(expect.objectContaining({ field: 'options' }));
  });
});
