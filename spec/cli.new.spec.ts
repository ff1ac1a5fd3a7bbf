/**
 * `halyard new service`, spawned as a user runs it: the generated module and
 * test type-check and pass under vitest, `halyard up` runs the generated
 * config entry, and bad names or existing files are refused with nothing written.
 *
 * The project folder is a temp folder inside the repo (.tmp/ is ignored), so
 * `xstate`, `valibot` and `vitest` resolve from the repo's node_modules; the
 * generated code imports `halyard`, which its tsconfig `paths` (tsc, tsx) and
 * its vitest alias point at this repo's src/index.ts.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from './support/wait.js';

const REPO = resolve('.');
const TSX = resolve('node_modules/.bin/tsx');
const BIN = resolve('node_modules/.bin');
const CLI = resolve('tools/cli/cli.ts');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function run(cmd: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((done) => {
    execFile(cmd, [...args], { cwd, env: { ...process.env, HALYARD_SERVER: '' }, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1;
      done({ code, stdout, stderr });
    });
  });
}
const halyard = (args: readonly string[], cwd: string): Promise<Run> => run(TSX, [CLI, ...args], cwd);

/** A project folder whose `halyard` import resolves to this repo's source. */
function project(): string {
  mkdirSync(join(REPO, '.tmp'), { recursive: true });
  const dir = mkdtempSync(join(REPO, '.tmp', 'new-'));
  const index = join(REPO, 'src', 'index.ts');
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, noEmit: true, types: ['node'], paths: { halyard: [index] } },
      include: ['services'],
    }),
  );
  writeFileSync(join(dir, 'vitest.config.ts'), `import { defineConfig } from 'vitest/config';\nexport default defineConfig({ resolve: { alias: { halyard: ${JSON.stringify(index)} } } });\n`);
  return dir;
}

async function startUp(config: string, cwd: string): Promise<ChildProcess> {
  const child = spawn(TSX, [CLI, 'up', config], { cwd, env: { ...process.env, HALYARD_SERVER: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout?.on('data', (d) => {
    text += String(d);
  });
  child.stderr?.on('data', (d) => {
    text += String(d);
  });
  await waitFor(() => text.includes('up: nodes') || child.exitCode !== null, { timeout: 60_000, message: 'halyard up started' });
  if (!text.includes('up: nodes')) throw new Error(`halyard up failed: ${text}`);
  return child;
}

async function stopUp(child: ChildProcess | undefined): Promise<void> {
  if (child === undefined || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await exited;
}

describe('cli new service', () => {
  const dirs: string[] = [];
  let up: ChildProcess | undefined;
  beforeAll(() => {
    dirs.push(project(), project(), project());
  });
  afterAll(async () => {
    await stopUp(up);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('new service - the generated modules type-check, their generated tests pass, and up runs them', async () => {
    const dir = dirs[0] as string;
    const one = await halyard(['new', 'service', 'OrderBook'], dir);
    expect(one.stderr).toBe('');
    expect(one.code).toBe(0);
    // Several at once, and the hand-written Standard Schema for a project without valibot.
    writeFileSync(join(dir, 'more.yaml'), '- Audit\n- name: LedgerV2\n');
    const more = await halyard(['--json', 'new', 'service', '--from', 'more.yaml', '--schema', 'plain'], dir);
    expect(more.code).toBe(0);
    expect(JSON.parse(more.stdout).services).toEqual(['audit', 'ledger-v2']);
    expect(readFileSync(join(dir, 'services', 'order-book.ts'), 'utf8')).toContain("from 'valibot'");
    expect(readFileSync(join(dir, 'services', 'audit.ts'), 'utf8')).toContain("'~standard'");

    const config = parseYaml(readFileSync(join(dir, 'halyard.config.yaml'), 'utf8'));
    expect(config.services.map((s: { module: string }) => s.module)).toEqual(['./services/order-book.ts', './services/audit.ts', './services/ledger-v2.ts']);

    const tsc = await run(join(BIN, 'tsc'), ['-p', 'tsconfig.json'], dir);
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.code).toBe(0);

    const tests = await run(join(BIN, 'vitest'), ['run', '--reporter=json'], dir);
    const report = JSON.parse(tests.stdout);
    expect(report.numFailedTests).toBe(0);
    expect(report.numPassedTests).toBe(6);
    expect(tests.code).toBe(0);

    up = await startUp('halyard.config.yaml', dir);
    const call = await halyard(['call', 'order-book', '{"type":"PING"}'], dir);
    expect(call.code).toBe(0);
    expect(JSON.parse(call.stdout)).toEqual({ greeting: 'hello from order-book', calls: 1 });
    const ls = JSON.parse((await halyard(['--json', 'ls'], dir)).stdout);
    expect(ls.instances.map((i: { service: string; state: string }) => `${i.service}:${i.state}`).sort()).toEqual(['audit:running', 'ledger-v2:running', 'order-book:running']);
    await stopUp(up);
    up = undefined;
  }, 240_000);

  it('new service - an entry goes into an existing halyard.config.ts and up runs it', async () => {
    const dir = dirs[1] as string;
    writeFileSync(
      join(dir, 'halyard.config.ts'),
      `import { defineConfig } from 'halyard';\n\nexport default defineConfig({\n  nodes: [{ name: 'main' }],\n  services: [],\n});\n`,
    );
    const r = await halyard(['new', 'service', 'Billing'], dir);
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'halyard.config.ts'), 'utf8')).toContain("{ module: './services/billing.ts', start: [{ config: { greeting: 'hello from billing' } }] },");
    up = await startUp('halyard.config.ts', dir);
    const call = await halyard(['call', 'billing', '{"type":"PING"}'], dir);
    expect(JSON.parse(call.stdout)).toEqual({ greeting: 'hello from billing', calls: 1 });
    await stopUp(up);
    up = undefined;
  }, 120_000);

  it('new service - an invalid name is refused with exit 1 and nothing written', async () => {
    const dir = dirs[2] as string;
    for (const bad of ['orderBook', 'Order.Book', 'Order-Book', '']) {
      const r = await halyard(['new', 'service', bad], dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^halyard: invalid argument: name: .* must be PascalCase/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    writeFileSync(join(dir, 'bad.yaml'), '- Good\n- not good\n');
    const from = await halyard(['new', 'service', '--from', 'bad.yaml'], dir);
    expect(from.code).toBe(1);
    expect(from.stderr).toContain('services.1.name');
    expect(existsSync(join(dir, 'services'))).toBe(false);
    expect(existsSync(join(dir, 'halyard.config.yaml'))).toBe(false);
  }, 120_000);

  it('new service - an existing file is never overwritten without --force', async () => {
    const dir = dirs[2] as string;
    mkdirSync(join(dir, 'services'), { recursive: true });
    writeFileSync(join(dir, 'services', 'payments.test.ts'), '// mine\n');
    const r = await halyard(['new', 'service', 'Payments'], dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('payments.test.ts already exists (use --force to overwrite it)');
    expect(readFileSync(join(dir, 'services', 'payments.test.ts'), 'utf8')).toBe('// mine\n');
    expect(existsSync(join(dir, 'services', 'payments.ts'))).toBe(false);

    const forced = await halyard(['new', 'service', 'Payments', '--force'], dir);
    expect(forced.code).toBe(0);
    expect(readFileSync(join(dir, 'services', 'payments.test.ts'), 'utf8')).toContain("payments - answers PING");
    // Forcing again rewrites the files but does not add the config entry twice.
    expect((await halyard(['new', 'service', 'Payments', '--force'], dir)).code).toBe(0);
    const config = parseYaml(readFileSync(join(dir, 'halyard.config.yaml'), 'utf8'));
    expect(config.services).toHaveLength(1);
  }, 120_000);
});
