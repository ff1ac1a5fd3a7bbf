/**
 * services - containers: a service whose definition says `container: 'worker'`
 * or `'process'` is started through `node.services.start` like an inline one
 * and has the same interface and lifecycle. One test body runs over the three.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ContainerLoadError, ServiceStartError } from '../src/errors.js';
import { ServiceEventType } from '../src/services/instances/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { countElsewhere, countInline, countProcess, countWorker } from './fixtures/services.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});
async function node(): Promise<Node> {
  const n = await createNode({ name: `c${nodes.length + 1}`, services: [countInline, countWorker, countProcess, countElsewhere], askTimeout: 20_000 });
  nodes.push(n);
  return n;
}

const kinds = { inline: countInline, worker: countWorker, process: countProcess } as const;

describe('services - the same interface for threads and processes', () => {
  for (const [kind, def] of Object.entries(kinds)) {
    it(`services - the same interface for threads and processes (${kind}): ready, tell, ask, check, status, crash restarted, stop, kill`, async () => {
      const n = await node();
      const p = await n.services.start(def.name, { config: { start: 40 }, timeout: 20_000 });
      expect(p.state).toBe('running');

      p.tell({ type: 'INC' });
      p.tell({ type: 'INC' });
      await expect(p.ask({ type: 'GET' })).resolves.toBe(42);
      const pid = await p.ask<number>({ type: 'PID' });
      if (kind === 'process') expect(pid).not.toBe(process.pid);
      else expect(pid).toBe(process.pid);
      await expect(p.ask({ type: 'MAIN' })).resolves.toBe(kind !== 'worker');
      await expect(p.check()).resolves.toMatchObject({ code: 0, label: 'OCF_SUCCESS' });
      await expect(p.status()).resolves.toMatchObject({ service: def.name, instance: p.id, instanceState: 'running', lifecycle: 'running' });

      // A crash inside the container is the instance's failure, restarted by its supervisor with a fresh context.
      const restarted = new Promise<void>((resolve) => {
        n.services.onEvent((e) => {
          if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
        });
      });
      p.tell({ type: 'CRASH' });
      await restarted;
      expect(p.state).toBe('running');
      expect(p.incarnation).toBe(2);
      await expect(p.ask({ type: 'GET' })).resolves.toBe(40);
      expect(n.services.events().some((e) => e.type === ServiceEventType.Failed && e.instance === p.id)).toBe(true);

      // stop runs the logic's own shutdown (a final state: exited with reason shutdown).
      await p.stop();
      expect(p.state).toBe('stopped');
      expect(n.services.events().some((e) => e.type === ServiceEventType.Exited && e.instance === p.id && e.reason === 'shutdown')).toBe(true);
      await p.stop();

      const q = await n.services.start(def.name, { config: { start: 1 }, timeout: 20_000 });
      await expect(q.ask({ type: 'GET' })).resolves.toBe(1);
      await q.kill();
      expect(q.state).toBe('stopped');
      expect(n.services.events().some((e) => e.type === ServiceEventType.Exited && e.instance === q.id && e.reason === 'killed')).toBe(true);
    }, 60_000);
  }
});

it('services - a module URL that does not export the service is a typed error naming the export, nothing started', async () => {
  const n = await node();
  const err = await n.services.start(countElsewhere.name, { config: { start: 0 } }).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ServiceStartError);
  expect((err as ServiceStartError).cause).toBeInstanceOf(ContainerLoadError);
  expect((err as ServiceStartError).cause).toMatchObject({ field: 'export' });
  expect((err as ServiceStartError).ocf).toBe(5);
  expect(n.services.find().byType(countElsewhere.name).alive().size).toBe(0);
  expect(n.services.events().find((e) => e.service === countElsewhere.name)).toMatchObject({ type: ServiceEventType.CouldNotStart, ocf: 5 });
});
