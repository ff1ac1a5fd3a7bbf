/**
 * The README's code blocks are tests, so the README cannot drift from the code (issue 7, defect 4).
 *
 * What each block is and how it is marked is in spec/support/readmeBlocks.ts. Programs are written to files in the
 * packed consumer (spec/support/packedConsumer.ts: what a user installs), compiled there by one `tsc --strict` run
 * without skipLibCheck, and run with node, all at once, each with its own nats-server (JetStream on) in `NATS_URL`
 * and a deadline. `run` blocks run in this checkout. Every run must exit 0 and print what the README says it prints.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { packedConsumer, repo, tsc } from './support/packedConsumer.js';
import { collapse, expectedOutput, mappedPaths, parseReadme, type ReadmeBlock } from './support/readmeBlocks.js';

/** Per run: a README program must finish well inside this. */
const RUN_DEADLINE_MS = 30_000;
const TSC_DEADLINE_MS = 180_000;

const readme = parseReadme(readFileSync(join(repo, 'README.md'), 'utf8'));
type Program = ReadmeBlock & { kind: 'program' };
const programs = readme.blocks.filter((b): b is Program => b.kind === 'program');
const commands = readme.blocks.filter((b) => b.kind === 'run');
const fileOf = (b: ReadmeBlock) => `block-${b.line}.ts`;
const title = (b: ReadmeBlock) => `the ${b.heading.replace(/^The /, '')} block`;

interface Ran {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

function exec(
  file: string,
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeout?: number },
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { timeout: RUN_DEADLINE_MS, ...options, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const e = err as (Error & { code?: number | string; signal?: string }) | null;
        const code = e === null ? 0 : typeof e.code === 'number' ? e.code : null;
        resolve({ code, signal: e?.signal ?? null, stdout, stderr });
      },
    );
  });
}

/** What a failed run shows: how it ended and its output. */
function report(ran: Ran): string {
  return `exit ${ran.code ?? `by ${ran.signal}`}\n--- stdout ---\n${ran.stdout}\n--- stderr ---\n${ran.stderr}`;
}

describe('readme - blocks', () => {
  it('readme - every code block is a program, a command run with its output, or marked not-run with a reason', () => {
    expect(readme.problems).toEqual([]);
    expect(programs.length).toBeGreaterThanOrEqual(4);
    expect(commands.length).toBeGreaterThanOrEqual(1);
  });

  it('readme - every path in a map of the tree exists in the checkout', () => {
    const maps = readme.blocks.filter((b) => b.kind === 'paths');
    expect(maps.length).toBeGreaterThan(0);
    const missing = maps.flatMap((b) => mappedPaths(b.code).filter((p) => !existsSync(join(repo, p))).map((p) => `README.md:${b.line}: ${p}`));
    expect(missing).toEqual([]);
  });

  it('readme - an unmarked shell block, a run with no output block and a program that prints nothing are named by line', () => {
    const text = [
      '# T',
      '```sh',
      'ls',
      '```',
      '<!-- readme: run "npm start" -->',
      '```sh',
      'npm start',
      '```',
      '```ts',
      "console.log('x');",
      '```',
      '<!-- readme: not-run () -->',
      '```',
      'x',
      '```',
    ].join('\n');
    const { problems } = parseReadme(text);
    expect(problems).toEqual([
      'README.md:2: a ```sh block that is neither a ts program nor marked: add <!-- readme: not-run (why) --> or run "cmd" above it',
      'README.md:13: unknown marker "not-run ()": use not-run (why), run "cmd", output of "cmd", paths (why) or expect-tsc TSnnnn (why)',
      'README.md:6: "npm start" is run but no <!-- readme: output of "npm start" --> block says what it prints',
      'README.md:9: the program has no // → comment saying what it prints',
    ]);
  });

  it('readme - what a program prints is read from its → comments, in order', () => {
    const code = "console.log(1); // → 1\n// → { a: 1,\n// →   b: 2 }\nconsole.log('x')  // a plain comment";
    expect(expectedOutput(code)).toEqual(['1', '{ a: 1,', 'b: 2 }']);
    expect(collapse(expectedOutput(code).join('\n'))).toBe(collapse('1\n{\n  a: 1,\n  b: 2\n}\n'));
  });
});

describe('readme - programs in the packed consumer', () => {
  let dir = '';
  let diagnostics: string[] = [];
  const servers: NatsServerHandle[] = [];
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
  });

  beforeAll(async () => {
    const consumer = await packedConsumer();
    dir = join(consumer.dir, 'readme');
    await mkdir(dir, { recursive: true });
    for (const b of programs) await writeFile(join(dir, fileOf(b)), b.code);
    await writeFile(
      join(consumer.dir, 'tsconfig.readme.json'),
      JSON.stringify({
        extends: './tsconfig.base.json',
        // Emitted even with type errors, so an expect-tsc block still runs.
        compilerOptions: { noEmit: false, noEmitOnError: false, rootDir: 'readme', outDir: 'readme/out' },
        include: programs.map((b) => `readme/${fileOf(b)}`),
      }),
    );
    // tsc checks every declaration file (no skipLibCheck), which takes a while on a loaded machine.
    const checked = await exec('node', [tsc, '-p', 'tsconfig.readme.json'], { cwd: consumer.dir, timeout: TSC_DEADLINE_MS });
    if (checked.code === null) throw new Error(`tsc did not finish within ${TSC_DEADLINE_MS} ms\n${report(checked)}`);
    diagnostics = checked.stdout.split('\n').filter((l) => l.includes('error TS'));
  }, 400_000);

  /** Run a compiled program with node, with a nats-server of its own when it reads NATS_URL. */
  async function runProgram(b: Program, server?: NatsServerHandle): Promise<Ran> {
    let nats = server;
    if (nats === undefined && b.code.includes('process.env.NATS_URL')) {
      nats = await startNatsServer({ jetstream: true });
      servers.push(nats);
    }
    const env = { ...process.env, ...(nats !== undefined ? { NATS_URL: nats.url } : {}) };
    return exec('node', [join('out', fileOf(b).replace(/\.ts$/, '.js'))], { cwd: dir, env });
  }

  /**
   * Run a compiled program and SIGKILL it as soon as it has printed everything its → comments say, before its own
   * shutdown: a crash that leaves the cluster's records behind. Resolves with what it printed, or rejects at the deadline.
   */
  function runAndKill(b: Program, server: NatsServerHandle): Promise<string> {
    const want = collapse(expectedOutput(b.code).join('\n'));
    const child = spawn('node', [join('out', fileOf(b).replace(/\.ts$/, '.js'))], {
      cwd: dir,
      env: { ...process.env, NATS_URL: server.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${title(b)} did not print what its → comments say within ${RUN_DEADLINE_MS} ms\n${stdout}\n${stderr}`));
      }, RUN_DEADLINE_MS);
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
        if (collapse(stdout) === want) child.kill('SIGKILL');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      child.once('exit', (_code, signal) => {
        clearTimeout(timer);
        if (signal === 'SIGKILL') resolve(stdout);
        else reject(new Error(`${title(b)} ended before it was killed\n${stdout}\n${stderr}`));
      });
    });
  }

  function expectPrinted(b: Program, ran: Ran): void {
    const where = `${title(b)} (README.md:${b.line})`;
    expect(ran.code, `${where} must exit 0\n${report(ran)}`).toBe(0);
    expect(collapse(ran.stdout), `${where} must print what its → comments say\n${report(ran)}`).toBe(
      collapse(expectedOutput(b.code).join('\n')),
    );
  }

  it('readme - every ts block typechecks with --strict and no skipLibCheck against the packed package', () => {
    const failures: string[] = [];
    for (const b of programs) {
      const own = diagnostics.filter((l) => l.startsWith(`readme/${fileOf(b)}(`));
      if (b.expectTsc.length === 0) {
        failures.push(...own.map((l) => `README.md:${b.line} (${b.heading}): ${l}`));
      } else if (own.length === 0) {
        failures.push(`README.md:${b.line} (${b.heading}) typechecks clean now: remove its expect-tsc marker`);
      } else {
        const unexpected = own.filter((l) => !b.expectTsc.some((c) => l.includes(`error ${c}:`)));
        failures.push(...unexpected.map((l) => `README.md:${b.line} (${b.heading}), beyond its expect-tsc ${b.expectTsc.join(' ')}: ${l}`));
      }
    }
    // An error outside the blocks (in the package's own declarations) fails too: that is what a user would see.
    const ours = (l: string) => programs.some((b) => l.startsWith(`readme/${fileOf(b)}(`));
    failures.push(...diagnostics.filter((l) => !ours(l)));
    expect(failures).toEqual([]);
  });

  for (const b of programs) {
    it.concurrent(`readme - ${title(b)} runs as written and prints what its → comments say`, async () => {
      expectPrinted(b, await runProgram(b));
    }, 60_000);
  }

  const cluster = programs.find((b) => b.code.includes('cluster: true'));
  it.concurrent('readme - the Cluster block runs again on the same JetStream store after a full stop', async () => {
    expect(cluster, 'a README program with cluster: true').toBeDefined();
    const b = cluster as Program;
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    expectPrinted(b, await runProgram(b, server));
    expectPrinted(b, await runProgram(b, server));
  }, 90_000);

  it.concurrent('readme - the Cluster block runs again on the same JetStream store after its process is SIGKILLed', async () => {
    expect(cluster, 'a README program with cluster: true').toBeDefined();
    const b = cluster as Program;
    const server = await startNatsServer({ jetstream: true });
    servers.push(server);
    expect(collapse(await runAndKill(b, server))).toBe(collapse(expectedOutput(b.code).join('\n')));
    expectPrinted(b, await runProgram(b, server));
  }, 90_000);
});

describe('readme - commands in this checkout', () => {
  for (const b of commands) {
    if (b.kind !== 'run') continue;
    it.concurrent(`readme - "${b.command}" exits 0 and prints the README's output block`, async () => {
      const ran = await exec('sh', ['-c', b.command], { cwd: repo });
      expect(ran.code, `"${b.command}" must exit 0\n${report(ran)}`).toBe(0);
      const output = readme.blocks.find((o) => o.kind === 'output' && o.command === b.command);
      const want = (output?.code ?? '').split('\n').map((l) => l.trim()).filter((l) => l !== '');
      expect(want.length).toBeGreaterThan(0);
      // The README's lines, in order, among everything printed (log lines may come between them).
      const got = ran.stdout.split('\n').map((l) => l.trim());
      let at = 0;
      const missing: string[] = [];
      for (const line of want) {
        const found = got.indexOf(line, at);
        if (found < 0) missing.push(line);
        else at = found + 1;
      }
      expect(missing, `lines of the README's output of "${b.command}" it did not print in that order\n${report(ran)}`).toEqual([]);
    }, 60_000);
  }
});
