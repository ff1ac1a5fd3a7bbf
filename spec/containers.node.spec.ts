/**
 * containers - a container instance has the same name and subjects as an
 * inline one: reached by name from another node over NATS (the container
 * itself holds no connection: its parent answers for it).
 */
import { describe, expect, inject, it } from 'vitest';
import { containerLogic } from '../src/services/containers/index.js';
import { createNode } from '../src/services/node/Node.js';

const fixture = new URL('./fixtures/counter.ts', import.meta.url);

describe('containers - names and subjects', () => {
  for (const container of ['worker', 'process'] as const) {
    it(`containers - a ${container} container is reached by name from another node over NATS: tell, ask, check, status`, async () => {
      const servers = inject('natsUrl');
      const prefix = `cont${process.pid}${container}`;
      const host = await createNode({ name: 'h1', prefix, transport: { kind: 'nats', servers } });
      const other = await createNode({ name: 'h2', prefix, transport: { kind: 'nats', servers } });
      try {
        host.spawn(containerLogic({ container, module: fixture, export: 'counter' }), { name: 'counted', input: { start: 10 } });
        // The name's subscription must reach the server before another node asks for it.
        await host.flush();
        const ref = other.ref('counted');
        ref.tell({ type: 'INC' });
        await expect(ref.ask({ type: 'GET' }, { timeout: 20_000 })).resolves.toBe(11);
        await expect(other.check('counted')).resolves.toMatchObject({ code: 0, node: 'h1' });
        await expect(other.status('counted')).resolves.toMatchObject({ node: 'h1', lifecycle: 'running', state: 'running' });
      } finally {
        await other.shutdown();
        await host.shutdown();
      }
    });
  }
});
