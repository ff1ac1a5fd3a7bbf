/**
 * containers - one instance interface in every container: the same test body
 * runs the same logic inline, in a worker thread and in a child process.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { AnyActorLogic } from 'xstate';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { logicFor } from '../src/services/containers/index.js';
import { waitFor } from './support/wait.js';

const fixture = new URL('./fixtures/counter.ts', import.meta.url);
const systems: ActorSystem[] = [];

afterEach(async () => {
  for (const s of systems.splice(0)) {
    await Promise.all(s.actors().map((a) => a.stop('brutal_kill')));
  }
});

function system(): ActorSystem {
  const s = new ActorSystem({ node: 'n1', askTimeout: 10_000 });
  systems.push(s);
  return s;
}

function logicOf(kind: 'inline' | 'worker' | 'process'): Promise<AnyActorLogic> {
  return logicFor({ container: kind, module: fixture, export: 'counter' });
}

async function ready(ref: LocalActorRef): Promise<void> {
  const snap = () => ref.getSnapshot() as { hasTag(tag: string): boolean };
  await waitFor(() => snap().hasTag('ready'), { timeout: 20_000, message: `${ref.name ?? ref.id} ready` });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('containers - the same interface for threads and processes', () => {
  for (const kind of ['inline', 'worker', 'process'] as const) {
    it(`containers - the same interface for threads and processes (${kind}): tell, ask, check, status, stop with the logic's shutdown, kill`, async () => {
      const sys = system();
      const ref = sys.spawn(await logicOf(kind), { name: `counter-${kind}`, input: { start: 40 } });
      await ready(ref);

      ref.tell({ type: 'INC' });
      ref.tell({ type: 'INC' });
      await expect(ref.ask({ type: 'GET' })).resolves.toBe(42);
      const pid = await ref.ask<number>({ type: 'PID' });
      if (kind === 'process') expect(pid).not.toBe(process.pid);
      else expect(pid).toBe(process.pid);

      await expect(ref.check()).resolves.toMatchObject({ code: 0, label: 'OCF_SUCCESS', actor: `counter-${kind}` });
      await expect(ref.check(10)).resolves.toMatchObject({ code: 0 });
      await expect(ref.status()).resolves.toMatchObject({ actor: `counter-${kind}`, lifecycle: 'running', state: 'running', processed: 4 });

      // stop runs the logic's own shutdown: it ends in its final state 'closed'.
      const exit = await ref.stop(10_000);
      expect(exit).toMatchObject({ reason: 'shutdown', name: `counter-${kind}` });
      await expect(ref.status()).resolves.toMatchObject({ lifecycle: 'stopped', state: 'closed' });
      await expect(ref.check()).resolves.toMatchObject({ code: 7, label: 'OCF_NOT_RUNNING' });
      await expect(ref.ask({ type: 'GET' })).rejects.toMatchObject({ name: 'ActorNotRunningError' });
      if (kind === 'process') await waitFor(() => !alive(pid), { timeout: 10_000, message: `process ${pid} gone after stop` });

      // kill skips the shutdown.
      const victim = sys.spawn(await logicOf(kind), { name: `victim-${kind}` });
      await ready(victim);
      const victimPid = await victim.ask<number>({ type: 'PID' });
      await expect(victim.stop('brutal_kill')).resolves.toMatchObject({ reason: 'killed' });
      await expect(victim.status()).resolves.toMatchObject({ lifecycle: 'stopped', state: 'running' });
      if (kind === 'process') await waitFor(() => !alive(victimPid), { timeout: 10_000, message: `process ${victimPid} gone after kill` });
    });
  }

  for (const kind of ['worker', 'process'] as const) {
    it(`containers - events told and asked before the container is ready are delivered in order (${kind})`, async () => {
      const ref = system().spawn(await logicOf(kind), { input: { start: 1 } });
      for (let i = 0; i < 5; i++) ref.tell({ type: 'INC' });
      await expect(ref.ask({ type: 'GET' })).resolves.toBe(6);
    });
  }
});
