/**
 * containers - Status at level >= 10 adds the container's resource figures
 * (Linux /proc, the worker's own performance, the container's own heap and
 * event loop).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { type ContainerResources, type ContainerSnapshot, containerLogic, containerStatus, loadLogic } from '../src/services/containers/index.js';
import { waitFor } from './support/wait.js';

const fixture = new URL('./fixtures/counter.ts', import.meta.url);
const systems: ActorSystem[] = [];

afterEach(async () => {
  for (const s of systems.splice(0)) await Promise.all(s.actors().map((a) => a.stop('brutal_kill')));
});

function system(): ActorSystem {
  const s = new ActorSystem({ node: 'n1', askTimeout: 20_000 });
  systems.push(s);
  return s;
}

async function ready(ref: LocalActorRef): Promise<void> {
  await waitFor(() => (ref.getSnapshot() as ContainerSnapshot).ready, { timeout: 20_000, message: 'container ready' });
}

describe('containers - monitoring: Status at level 10 adds resource figures', () => {
  for (const kind of ['worker', 'process'] as const) {
    it(`containers - Status at level 10 of a ${kind} container carries pid, RSS, VMS, heap, CPU %, loop lag, open files, sockets, children, threads`, async () => {
      const ref = system().spawn(containerLogic({ container: kind, module: fixture, export: 'counter' }), { name: `mon-${kind}` });
      await ready(ref);
      const pid = await ref.ask<number>({ type: 'PID' });
      await expect(ref.ask<number>({ type: 'BUSY' })).resolves.toBeGreaterThan(0);

      const plain = await containerStatus(ref, 0);
      expect(plain).toMatchObject({ actor: `mon-${kind}`, lifecycle: 'running', state: 'running' });
      expect(plain.resources).toBeUndefined();

      const deep = await containerStatus(ref, 10);
      expect(deep).toMatchObject({ actor: `mon-${kind}`, lifecycle: 'running' });
      const r = deep.resources as ContainerResources;
      expect(r).toMatchObject({ container: kind, pid, sharedWithNode: kind === 'worker' });
      expect(r.rssBytes).toBeGreaterThan(1_000_000);
      expect(r.vmsBytes).toBeGreaterThanOrEqual(r.rssBytes!);
      expect(r.heapUsedBytes).toBeGreaterThan(0);
      expect(r.heapTotalBytes).toBeGreaterThanOrEqual(r.heapUsedBytes!);
      // The container burned ~200 ms of CPU since it started: the figure must see some of it.
      expect(r.cpuPercent).toBeGreaterThan(0);
      expect(r.eventLoopLagMs).toBeGreaterThanOrEqual(0);
      expect(r.openFiles).toBeGreaterThan(2);
      expect(r.sockets).toBeGreaterThanOrEqual(kind === 'process' ? 1 : 0);
      expect(r.threads).toBeGreaterThanOrEqual(1);
      if (kind === 'process') expect(r.childProcesses).toBe(0);
      else expect(r.childProcesses).toBeGreaterThanOrEqual(0);
      if (kind === 'worker') {
        expect(r.threadId).toBeGreaterThan(0);
        expect(r.eventLoopUtilization).toBeGreaterThanOrEqual(0);
      } else {
        expect(r.threadId).toBeNull();
        expect(r.eventLoopUtilization).toBeNull();
      }
    });
  }

  it('containers - Status at level 10 of an inline actor has no container figures; a bad level names the field', async () => {
    const ref = system().spawn(await loadLogic(fixture, 'counter'));
    const deep = await containerStatus(ref, 10);
    expect(deep.lifecycle).toBe('running');
    expect(deep.resources).toBeUndefined();
    await expect(containerStatus(ref, 5)).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'level' });
  });

  it('containers - a stopped container has no resource figures', async () => {
    const ref = system().spawn(containerLogic({ container: 'process', module: fixture, export: 'counter' }));
    await ready(ref);
    await ref.stop('brutal_kill');
    const deep = await containerStatus(ref, 20);
    expect(deep.lifecycle).toBe('stopped');
    expect(deep.resources).toBeUndefined();
  });
});
