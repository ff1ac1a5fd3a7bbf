import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { NoSuchActorError } from '../src/errors.js';
import { createNode } from '../src/services/node/Node.js';

const script = fileURLToPath(new URL('./support/remoteNode.ts', import.meta.url));
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});

/** Start a node in another OS process and wait for its READY line (with a deadline). */
async function startRemote(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`remote node not ready within 20 s: ${out}`)), 20_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      if (out.includes('READY')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`remote node exited early with ${code}: ${out}`));
    });
  });
  return child;
}

describe('node - two OS processes over NATS', () => {
  it('node - a node in another process is reached by name, and its loss is a fast typed error', async () => {
    const servers = inject('natsUrl');
    const prefix = `proc${process.pid}`;
    const child = await startRemote({ HALYARD_NATS_URL: servers, HALYARD_NODE: 'p2', HALYARD_PREFIX: prefix, HALYARD_ACTOR: 'counter' });
    const local = await createNode({ name: 'p1', prefix, transport: { kind: 'nats', servers } });
    try {
      const ref = local.ref('counter');
      ref.tell({ type: 'INC' });
      await expect(ref.ask({ type: 'GET' }, { timeout: 5000 })).resolves.toBe(101);
      await expect(local.check('counter')).resolves.toMatchObject({ code: 0, node: 'p2' });
      await expect(local.remoteNode('p2').status()).resolves.toMatchObject({ node: 'p2', names: expect.arrayContaining(['counter']) });
      child.stdin!.write('STOP\n');
      await once(child, 'exit');
      expect(child.exitCode).toBe(0);
      await expect(ref.ask({ type: 'GET' }, { timeout: 30_000 })).rejects.toBeInstanceOf(NoSuchActorError);
    } finally {
      await local.shutdown();
    }
  });
});
