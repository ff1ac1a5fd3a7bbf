/**
 * The `halyard` CLI, spawned as a user runs it (tsx tools/cli/cli.ts): every
 * verb against the control socket of an embedded `halyard up` and against a
 * real nats-server, `--json` parsed, `check`'s exit code, and bad input.
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

function halyard(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((done) => {
    execFile(TSX, [CLI, ...args], { cwd, env: { ...process.env, HALYARD_SERVER: '', ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      done({ code, stdout, stderr });
    });
  });
}

async function startUp(args: readonly string[], cwd: string): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(TSX, [CLI, ...args], { cwd, env: { ...process.env, HALYARD_SERVER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += String(d);
  });
  child.stderr?.on('data', (d) => {
    text += String(d);
  });
  await waitFor(() => text.includes('up: nodes') || child.exitCode !== null, { timeout: 60_000, message: 'halyard up started' });
  if (!text.includes('up: nodes')) throw new Error(`halyard up failed: ${text}`);
  return { child, output: () => text };
}

async function stopUp(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

describe.each([
  ['control socket', (): string[] => []],
  ['nats-server', (): string[] => ['--server', inject('natsUrl'), '--prefix', `cli${process.pid}`]],
])('cli over %s', (kind, flags) => {
  let cwd: string;
  let up: { child: ChildProcess; output: () => string };
  const conn = flags();

  beforeAll(async () => {
    cwd = mkdtempSync(join(tmpdir(), 'halyard-cli-'));
    up = await startUp([...conn, 'up', CONFIG], cwd);
  }, 90_000);
  afterAll(async () => {
    if (up !== undefined) await stopUp(up.child);
    rmSync(cwd, { recursive: true, force: true });
  });

  it(`cli - read verbs answer with parseable --json (${kind})`, async () => {
    const nodes = await halyard([...conn, '--json', 'nodes'], cwd);
    expect(nodes.code).toBe(0);
    expect(JSON.parse(nodes.stdout).map((n: { node: string }) => n.node)).toEqual(['n1', 'n2']);

    const ls = JSON.parse((await halyard([...conn, '--json', 'ls', '--tag', 'fr'], cwd)).stdout);
    expect(ls.instances.map((i: { node: string }) => i.node)).toEqual(['n2']);
    const byNode = JSON.parse((await halyard([...conn, '--json', 'ls', '--node', 'n1'], cwd)).stdout);
    expect(byNode.instances.map((i: { tags: string[] }) => i.tags)).toEqual([['example', 'en']]);

    const info = JSON.parse((await halyard([...conn, '--json', 'info', 'greeter'], cwd)).stdout);
    expect(info.services[0]).toMatchObject({ name: 'greeter', version: '1.0.0' });

    const tree = JSON.parse((await halyard([...conn, '--json', 'tree'], cwd)).stdout);
    expect(tree.map((n: { node: string }) => n.node)).toEqual(['n1', 'n2']);
    expect(tree[0].supervisors[0].children[0]).toMatchObject({ status: 'running', restarts: 0 });

    const top = JSON.parse((await halyard([...conn, '--json', 'top', '--once'], cwd)).stdout);
    expect(top.length).toBe(2);

    const status = JSON.parse((await halyard([...conn, '--json', 'status', 'greeter'], cwd)).stdout);
    expect(status.lifecycle).toBe('running');

    const human = await halyard([...conn, 'ls'], cwd);
    expect(human.stdout.split('\n')[0]).toMatch(/^SERVICE\s+INSTANCE\s+NODE\s+STATE/);
  }, 120_000);

  it(`cli - check exits with the OCF code (${kind})`, async () => {
    const ok = await halyard([...conn, '--json', 'check', 'greeter', '--level', '10'], cwd);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).code).toBe(0);
    const missing = await halyard([...conn, '--json', 'check', 'nosuch'], cwd);
    expect(missing.code).not.toBe(0);
    if (missing.stdout.length > 0) expect(missing.code).toBe(JSON.parse(missing.stdout).code);
  }, 60_000);

  it(`cli - call, send, logs, decisions, restart and stop (${kind})`, async () => {
    const call = await halyard([...conn, 'call', 'greeter', '{"type":"GREET"}'], cwd);
    expect(call.code).toBe(0);
    expect(['hello', 'bonjour']).toContain(JSON.parse(call.stdout));
    expect((await halyard([...conn, 'send', 'greeter', '{"type":"GREET"}'], cwd)).stdout.trim()).toBe('sent');

    const logs = await halyard([...conn, '--json', 'logs', '--node', 'n1'], cwd);
    const lines = logs.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.some((l: { msg: string }) => l.msg === 'halyard.service.started.v1')).toBe(true);
    expect(Array.isArray(JSON.parse((await halyard([...conn, '--json', 'decisions'], cwd)).stdout))).toBe(true);

    // n2 refuses writes, n1 allows them (examples/halyard.config.ts).
    const restart = await halyard([...conn, '--json', 'restart', 'greeter'], cwd);
    expect(restart.code).toBe(0);
    expect(JSON.parse(restart.stdout).map((r: { node: string }) => r.node)).toEqual(['n1']);
    const rolling = await halyard([...conn, '--json', 'restart', 'greeter', '--rolling'], cwd);
    expect(rolling.code).toBe(1);
    // n1 goes first and comes back; n2 then refuses, and the rolling restart stops there.
    expect(rolling.stderr).toContain('refused: node n2');
    const n1 = JSON.parse((await halyard([...conn, '--json', 'ls', '--node', 'n1'], cwd)).stdout).instances.find((i: { state: string }) => i.state === 'running').instance;
    const stop = await halyard([...conn, 'stop', n1], cwd);
    expect(stop.code).toBe(0);
    expect(stop.stdout).toContain(`n1: stopped ${n1}`);
  }, 120_000);
});

describe('cli - bad input', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'halyard-cli-bad-'));
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));
  const noTrace = (r: Run): void => {
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^halyard: /);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  };

  it('cli - an unknown verb or flag is a one-line error and a non-zero exit', async () => {
    const verb = await halyard(['explode'], cwd);
    noTrace(verb);
    expect(verb.stderr).toContain("unknown command 'explode'");
    const flag = await halyard(['ls', '--colour'], cwd);
    noTrace(flag);
    expect(flag.stderr).toContain("unknown option '--colour'");
  }, 60_000);

  it('cli - a bad config file names the file and field', async () => {
    const file = join(cwd, 'bad.yaml');
    writeFileSync(file, 'nodes:\n  - name: a\n    colour: red\n');
    const r = await halyard(['up', file], cwd);
    noTrace(r);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toContain('nodes[0].colour');
  }, 60_000);

  it('cli - a server that refuses, or no control socket, is a clear error without the password', async () => {
    const refused = await halyard(['--server', 'nats://alice:s3cr3t@127.0.0.1:1', '--password', 'hunter22', 'nodes'], cwd);
    noTrace(refused);
    expect(refused.stderr).toContain('cannot connect to nats://127.0.0.1:1');
    expect(refused.stderr).not.toContain('s3cr3t');
    expect(refused.stderr).not.toContain('hunter22');
    const nosocket = await halyard(['nodes'], cwd);
    noTrace(nosocket);
    expect(nosocket.stderr).toContain('halyard up');
  }, 60_000);
});
