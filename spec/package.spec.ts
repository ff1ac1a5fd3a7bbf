import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('..', import.meta.url));
const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

// What a consumer writes: the public names from the package root, used where their types must line up.
const consumerSource = `import {
  ChildRunningError,
  createNode,
  InvalidSpecError,
  reply,
  type CheckResult,
  type ExitSignal,
  type LocalActorRef,
  type NodeOptions,
  type SupervisorSpec,
} from 'halyard';
import { assign, setup } from 'xstate';

const counterMachine = setup({ types: { context: {} as { n: number }, input: {} as { start: number } } }).createMachine({
  context: ({ input }) => ({ n: input.start }),
  on: {
    INC: { actions: assign({ n: ({ context }) => context.n + 1 }) },
    GET: { actions: reply(({ context }: { context: { n: number } }) => context.n) },
  },
});

const options: NodeOptions = { name: 'n1', transport: { kind: 'local' } };
const node = await createNode(options);
const counter: LocalActorRef = node.spawn(counterMachine, { name: 'counter', input: { start: 0 } });
counter.tell({ type: 'INC' });
const n: unknown = await counter.ask({ type: 'GET' }, { timeout: 1000 });
const check: CheckResult = await node.check('counter');
const code: number = check.code;
counter.onExit((exit: ExitSignal) => {
  const reason: 'normal' | 'error' | 'shutdown' | 'killed' = exit.reason;
  void reason;
});

const spec: SupervisorSpec = {
  strategy: 'one_for_one',
  children: [{ id: 'counter', start: { logic: counterMachine, input: { start: 1 } }, restart: 'transient' }],
};
const sup = node.supervise(spec, { name: 'app' });
try {
  await sup.deleteChild('counter');
} catch (err) {
  if (err instanceof ChildRunningError || err instanceof InvalidSpecError) {
    const name: string = err.name;
    void name;
  }
}
void n;
void code;
`;

// A README block is self-contained when it names nothing it does not define or import; the others are fragments
// that lean on earlier prose (a `node`, a `sup`) and are only listed.
const undefinedName = /error TS(2304|2552|2582):/;

describe('package', () => {
  let scratch: string | undefined;
  let consumerReady: string | undefined;
  afterAll(async () => {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true });
  });

  it('package - the packed library typechecks in a strict consumer project without skipLibCheck', async () => {
    scratch = await mkdtemp(join(tmpdir(), 'halyard-package-'));
    const packDir = join(scratch, 'pack');
    const consumer = join(scratch, 'consumer');
    await mkdir(packDir);
    await mkdir(consumer);

    await run('npm', ['run', 'build'], { cwd: repo });
    const packed = await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: repo });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    const tarball = join(packDir, filename);

    await writeFile(
      join(consumer, 'package.json'),
      JSON.stringify({
        name: 'halyard-consumer',
        private: true,
        type: 'module',
        dependencies: { halyard: `file:${tarball}`, '@types/node': '^20.19.0' },
        // The README's advice for Node 20 consumers; the install below checks it is enough.
        overrides: { '@nats-io/nuid': '2.0.3' },
      }),
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          lib: ['ES2023'],
          types: ['node'],
          strict: true,
          skipLibCheck: false,
          noEmit: true,
        },
        include: ['consumer.ts'],
      }),
    );
    await writeFile(join(consumer, 'consumer.ts'), consumerSource);

    const install = await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: consumer });
    expect(`${install.stdout}${install.stderr}`).not.toContain('EBADENGINE');

    const checked = await run('node', [tsc, '-p', '.'], { cwd: consumer }).catch(
      (err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? 'tsc failed' }),
    );
    expect(`${checked.stdout}${checked.stderr}`).toBe('');

    const imported = await run('node', ['-e', "import('halyard').then(m=>{if(!m.createNode)process.exit(1)})"], {
      cwd: consumer,
    });
    expect(imported.stderr).toBe('');
    consumerReady = consumer;
  }, 120_000);

  it('package - the self-contained README ts blocks typecheck in that consumer', async () => {
    expect(consumerReady, 'the packed-library test above must pass first').toBeDefined();
    const consumer = consumerReady as string;
    const readme = await readFile(join(repo, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({
      line: readme.slice(0, m.index).split('\n').length,
      file: `readme-${readme.slice(0, m.index).split('\n').length}.ts`,
      code: m[1] ?? '',
    }));
    expect(blocks.length).toBeGreaterThan(0);
    // export {} makes each block a module, so top-level await is allowed and blocks do not share names.
    for (const b of blocks) await writeFile(join(consumer, b.file), `${b.code}\nexport {};\n`);
    await writeFile(
      join(consumer, 'tsconfig.readme.json'),
      JSON.stringify({ extends: './tsconfig.json', include: blocks.map((b) => b.file) }),
    );
    const checked = await run('node', [tsc, '-p', 'tsconfig.readme.json'], { cwd: consumer }).catch(
      (err: { stdout?: string }) => ({ stdout: err.stdout ?? '' }),
    );
    const diagnostics = checked.stdout.split('\n').filter((l) => l.includes('error TS'));
    const fragments: number[] = [];
    const failures: string[] = [];
    for (const b of blocks) {
      const own = diagnostics.filter((l) => l.startsWith(`${b.file}(`));
      if (own.some((l) => undefinedName.test(l))) fragments.push(b.line);
      else failures.push(...own.map((l) => `README.md block at line ${b.line}: ${l}`));
    }
    console.info(`README ts blocks that are fragments (not typechecked): lines ${fragments.join(', ') || 'none'}`);
    expect(fragments.length).toBeLessThan(blocks.length);
    expect(failures).toEqual([]);
  }, 120_000);
});
