/**
 * The package as a user installs it (spec/support/packedConsumer.ts): its type declarations compile in a strict
 * consumer without skipLibCheck, and it installs on Node 20 without engine warnings. The README's blocks are run
 * in the same consumer by readme.spec.ts.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { packedConsumer, tsc } from './support/packedConsumer.js';

const run = promisify(execFile);

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

describe('package', () => {
  it('package - the packed library typechecks in a strict consumer project without skipLibCheck', async () => {
    const { dir: consumer, installOutput } = await packedConsumer();
    // The README's overrides advice is enough for a Node 20 consumer.
    expect(installOutput).not.toContain('EBADENGINE');

    await writeFile(join(consumer, 'consumer.ts'), consumerSource);
    await writeFile(
      join(consumer, 'tsconfig.package.json'),
      JSON.stringify({ extends: './tsconfig.base.json', include: ['consumer.ts'] }),
    );
    const checked = await run('node', [tsc, '-p', 'tsconfig.package.json'], { cwd: consumer }).catch(
      (err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? 'tsc failed' }),
    );
    expect(`${checked.stdout}${checked.stderr}`).toBe('');

    const imported = await run('node', ['-e', "import('halyard').then(m=>{if(!m.createNode)process.exit(1)})"], {
      cwd: consumer,
    });
    expect(imported.stderr).toBe('');
  }, 200_000);

  it('package - Node and Cluster internals are absent from the shipped types and reachable through halyard/internal', async () => {
    const { dir: consumer } = await packedConsumer();
    // Each @ts-expect-error is itself an error when the member it guards is visible: tsc prints nothing only
    // when every internal is gone from the public Node and Cluster types.
    await writeFile(
      join(consumer, 'internals.ts'),
      `import { createNode, type Node } from 'halyard';
import { clusterInternals, nodeInternals } from 'halyard/internal';

export function touch(node: Node): unknown[] {
  const c = node.cluster!;
  return [
    // @ts-expect-error internal
    node.system,
    // @ts-expect-error internal
    node.transport,
    // @ts-expect-error internal
    node.supervision,
    // @ts-expect-error internal
    c.membership,
    // @ts-expect-error internal
    c.registry,
    // @ts-expect-error internal
    c.staleRejected,
    // @ts-expect-error internal
    c.fences,
    // @ts-expect-error internal
    c.sweeps,
    nodeInternals(node).system.names(),
    clusterInternals(c).membership.members(),
    clusterInternals(c).fences + clusterInternals(c).sweeps + clusterInternals(c).staleRejected,
  ];
}
void createNode;
`,
    );
    await writeFile(
      join(consumer, 'tsconfig.internals.json'),
      JSON.stringify({ extends: './tsconfig.base.json', include: ['internals.ts'] }),
    );
    const checked = await run('node', [tsc, '-p', 'tsconfig.internals.json'], { cwd: consumer }).catch(
      (err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: err.stderr ?? 'tsc failed' }),
    );
    expect(`${checked.stdout}${checked.stderr}`).toBe('');
    const imported = await run('node', ['-e', "import('halyard/internal').then(m=>{if(!m.nodeInternals)process.exit(1)})"], {
      cwd: consumer,
    });
    expect(imported.stderr).toBe('');
  }, 200_000);

  it('package - the halyard bin runs from the installed package, without tsx', async () => {
    const { dir: consumer } = await packedConsumer();
    // tsx is a dev dependency of the repo only: the bin must not need it.
    expect(existsSync(join(consumer, 'node_modules', 'tsx'))).toBe(false);
    const help = await run('npx', ['--no-install', 'halyard', '--help'], { cwd: consumer });
    expect(help.stdout).toMatch(/^Usage: halyard /);
    for (const verb of ['up', 'ls', 'context', 'tasks', 'new']) expect(help.stdout).toMatch(new RegExp(`\\n  ${verb} `));

    // A verb that does work: the scaffold, with valibot since the consumer has it.
    const made = await run('npx', ['--no-install', 'halyard', '--json', 'new', 'service', 'Billing', '--dir', 'app'], { cwd: consumer });
    expect(JSON.parse(made.stdout).services).toEqual(['billing']);
    expect(await readFile(join(consumer, 'app', 'services', 'billing.ts'), 'utf8')).toContain("from 'valibot'");
    expect(await readFile(join(consumer, 'app', 'halyard.config.yaml'), 'utf8')).toContain('module: ./services/billing.ts');
  }, 200_000);
});
