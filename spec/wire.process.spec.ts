/**
 * wire - process lifetime and logs: a pending ask keeps the process alive,
 * and local failures are logged with their real class and stack.
 */
import { spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { createNode } from '../src/services/node/Node.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

function run(script: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b) => {
      out += b;
    });
    child.stderr.on('data', (b) => {
      out += b;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit: ${out}`));
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function capture(): { logger: pino.Logger; lines: Record<string, unknown>[]; raw: string[] } {
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      raw.push(String(chunk));
      cb();
    },
  });
  const logger = pino({ level: 'info' }, stream);
  return {
    logger,
    raw,
    get lines() {
      return raw.map((l) => JSON.parse(l) as Record<string, unknown>);
    },
  };
}

describe('wire - process lifetime', () => {
  it('wire - an unanswered ask on the local transport ends in its TimeoutError, not a silent exit 13', async () => {
    const { code, out } = await run('spec/wire/unansweredAsk.ts');
    expect(out).toContain('caught TimeoutError: no reply from silent within 200 ms');
    expect(code).toBe(0);
  });
});

describe('wire - logs', () => {
  it('wire - a local failure is logged with its class and stack, not ERR_REMOTE', async () => {
    const log = capture();
    const node = await createNode({ name: 'loud', logger: log.logger });
    try {
      const c = node.spawn(counterMachine, { name: 'c' });
      c.tell({ type: 'BOOM' });
      const line = await waitFor(() => log.lines.find((l) => l.msg === 'actor failed'), { timeout: 5000, message: 'failure logged' });
      const err = line.err as { name: string; message: string; code?: string; stack?: string };
      expect(err.name).toBe('Error');
      expect(err.message).toBe('boom');
      expect(err.code).toBeUndefined();
      expect(err.stack).toContain('boom');
      expect(err.stack).toMatch(/machines\.ts/);
    } finally {
      await node.shutdown();
    }
  });

  it('wire - a supervisor logs a crashed child with the real class and stack, not ERR_REMOTE', async () => {
    const log = capture();
    const node = await createNode({ name: 'sup-loud', logger: log.logger });
    try {
      const sup = node.supervise({ children: [{ id: 'c', start: counterMachine, name: 'c' }] }, { name: 'app' });
      await sup.whenIdle();
      node.ref('c').tell({ type: 'BOOM' });
      const line = await waitFor(() => log.lines.find((l) => l.msg === 'child terminated'), { timeout: 5000, message: 'child terminated logged' });
      const err = line.err as { name: string; code?: string; stack?: string };
      expect(err.name).toBe('Error');
      expect(err.code).toBeUndefined();
      expect(err.stack).toMatch(/machines\.ts/);
    } finally {
      await node.shutdown();
    }
  });

  it('wire - status log lines carry node and actor once', async () => {
    const log = capture();
    const node = await createNode({ name: 'loud2', logger: log.logger });
    try {
      node.spawn(counterMachine, { name: 'c' });
      await node.status('c');
      await node.status();
      const lines = log.raw.filter((l) => l.includes('"msg":"status"'));
      expect(lines).toHaveLength(2);
      for (const l of lines) {
        expect(l.match(/"node":/g)).toHaveLength(1);
        expect((l.match(/"actor":/g) ?? []).length).toBeLessThanOrEqual(1);
      }
    } finally {
      await node.shutdown();
    }
  });
});
