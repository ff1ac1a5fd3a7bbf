/**
 * `halyard context ...` and `halyard tasks ...`, spawned as a user runs them,
 * against the control socket of an embedded `halyard up` and against a real
 * nats-server, `--json` parsed. The example config (examples/halyard.config.ts)
 * runs n1, which allows writes, and n2, which refuses them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitFor } from './support/wait.js';

const TSX = resolve('node_modules/.bin/tsx');
const CLI = resolve('tools/cli/cli.ts');
const CONFIG = resolve('examples/halyard.config.ts');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function halyard(args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(TSX, [CLI, ...args], { cwd, env: { ...process.env, HALYARD_SERVER: '' }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      done({ code, stdout, stderr });
    });
  });
}

async function json(args: readonly string[], cwd: string): Promise<any> {
  const r = await halyard(['--json', ...args], cwd);
  if (r.code !== 0) throw new Error(`halyard ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

describe.each([
  ['control socket', (): string[] => []],
  ['nats-server', (): string[] => ['--server', inject('natsUrl'), '--prefix', `clictx${process.pid}`]],
])('cli contexts and tasks over %s', (kind, flags) => {
  let cwd: string;
  let up: ChildProcess | undefined;
  const conn = flags();

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'halyard-cli-ctx-'));
    writeFileSync(join(cwd, 'hello.yaml'), 'context: hello\nservices:\n  - { id: g, service: greeter, config: { greeting: hi } }\n');
    writeFileSync(join(cwd, 'bad.yaml'), 'context: bad\nservices:\n  - { id: g, service: nosuch }\n');
    const child = spawn(TSX, [CLI, ...conn, 'up', CONFIG], { cwd, env: { ...process.env, HALYARD_SERVER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    up = child;
    let text = '';
    child.stdout?.on('data', (d) => {
      text += String(d);
    });
    child.stderr?.on('data', (d) => {
      text += String(d);
    });
    await waitFor(() => text.includes('up: nodes') || child.exitCode !== null, { timeout: 60_000, message: 'halyard up started' });
    if (!text.includes('up: nodes')) throw new Error(`halyard up failed: ${text}`);
  }, 90_000);
  afterAll(async () => {
    if (up !== undefined && up.exitCode === null) {
      const exited = new Promise((r) => up?.once('exit', r));
      up.kill('SIGINT');
      await exited;
    }
    rmSync(cwd, { recursive: true, force: true });
  });

  it(`cli - context start, ls, restart and stop drive a context by its transaction (${kind})`, async () => {
    const started = await json([...conn, 'context', 'start', 'hello.yaml'], cwd);
    // n2 refuses writes, so the start goes to n1.
    expect(started).toMatchObject({ node: 'n1', name: 'hello', state: 'running' });
    expect(started.services).toHaveLength(1);
    const tx: string = started.transaction;

    const ls = await json([...conn, 'context', 'ls'], cwd);
    expect(ls.map((c: { transaction: string; state: string }) => [c.transaction, c.state])).toEqual([[tx, 'running']]);
    // The context's greeter answers like any other instance.
    const instance = started.services[0];
    expect(JSON.parse((await halyard([...conn, 'call', instance, '{"type":"GREET"}'], cwd)).stdout)).toBe('hi');

    const restarted = await json([...conn, 'context', 'restart', tx], cwd);
    expect(restarted).toHaveLength(1);
    const tx2: string = restarted[0].done[0];
    expect(tx2).not.toBe(tx);
    expect((await json([...conn, 'context', 'ls'], cwd)).find((c: { transaction: string }) => c.transaction === tx2)?.state).toBe('running');

    const stopped = await json([...conn, 'context', 'stop', tx2], cwd);
    expect(stopped).toEqual([{ node: 'n1', done: [tx2] }]);
    expect((await json([...conn, 'context', 'ls'], cwd)).find((c: { transaction: string }) => c.transaction === tx2)?.state).toBe('stopped');

    const human = await halyard([...conn, 'context', 'ls'], cwd);
    expect(human.stdout.split('\n')[0]).toMatch(/^NODE\s+CONTEXT\s+TRANSACTION\s+STATE/);
  }, 120_000);

  it(`cli - context refusals name the problem and exit 1 (${kind})`, async () => {
    const unknownType = await halyard([...conn, 'context', 'start', 'bad.yaml'], cwd);
    expect(unknownType.code).toBe(1);
    expect(unknownType.stderr).toContain('services[0].service');
    expect(unknownType.stderr).not.toMatch(/\n\s+at /);
    const missing = await halyard([...conn, 'context', 'stop', 'NOSUCHTX'], cwd);
    expect(missing.code).toBe(1);
    // n1 does not hold it and n2 refuses writes, so n2 may be the one that holds it: the refusal is what is said.
    expect(missing.stderr).toMatch(/^halyard: (.*NOSUCHTX|contextStop refused: node n2)/);
    const noFile = await halyard([...conn, 'context', 'start', 'absent.yaml'], cwd);
    expect(noFile.code).toBe(1);
    expect(noFile.stderr).toBe('halyard: cannot read absent.yaml: ENOENT\n');
  }, 60_000);

  it(`cli - tasks submit stores a task that tasks ls and tasks status show (${kind})`, async () => {
    const { id } = await json([...conn, 'tasks', 'submit', 'resize', '{"w":640}'], cwd);
    expect(typeof id).toBe('string');
    // No node defines `resize`, so it stays Unassigned with no attempt spent.
    const status = await json([...conn, 'tasks', 'status', id], cwd);
    expect(status).toMatchObject({ id, name: 'resize', status: 'Unassigned', attempt: 0 });
    const ls = await json([...conn, 'tasks', 'ls'], cwd);
    expect(ls.map((t: { id: string }) => t.id)).toContain(id);

    const unknown = await halyard([...conn, 'tasks', 'status', 'NOSUCHTASK'], cwd);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('NOSUCHTASK');
    const badInput = await halyard([...conn, 'tasks', 'submit', 'resize', '{nope'], cwd);
    expect(badInput.code).toBe(1);
    expect(badInput.stderr).toContain('the task input is not JSON');
  }, 60_000);
});
