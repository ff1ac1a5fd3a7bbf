/**
 * The library as a user gets it: `npm run build`, `npm pack`, and the tarball installed into a scratch consumer
 * project (ES modules, `@types/node` 20, the README's `overrides` advice for Node 20).
 *
 * Built once per test run and shared by the spec files that need it (package.spec.ts, readme.spec.ts): vitest runs
 * them in parallel forks, and two builds at once would write `dist/` under each other. The first caller takes the
 * lock (`mkdir` is atomic) and builds; the others wait for its `ready` or `failed` file. The directory lives in the
 * run's scratch directory (globalSetup.ts), which is removed when the run ends.
 *
 * The consumer has `tsconfig.base.json` (`--strict`, no `skipLibCheck`, NodeNext); each spec writes its own files and
 * a tsconfig extending it. `tsc` is this repository's TypeScript.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { inject } from 'vitest';
import { waitFor } from './wait.js';

const run = promisify(execFile);
export const repo = fileURLToPath(new URL('../..', import.meta.url));
export const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');

export interface PackedConsumer {
  /** The consumer project's directory; `node_modules/halyard` is the packed tarball. */
  readonly dir: string;
  /** What `npm install` printed there (stdout and stderr). */
  readonly installOutput: string;
}

const BUILD_DEADLINE_MS = 180_000;

export const baseTsconfig = {
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
};

async function build(root: string): Promise<PackedConsumer> {
  const packDir = join(root, 'pack');
  const dir = join(root, 'project');
  await mkdir(packDir);
  await mkdir(dir);
  await run('npm', ['run', 'build'], { cwd: repo });
  const packed = await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: repo });
  const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'halyard-consumer',
      private: true,
      type: 'module',
      // valibot: the README's Services block shows a Standard Schema library.
      dependencies: { halyard: `file:${join(packDir, filename)}`, '@types/node': '^20.19.0', valibot: '^1.5.0' },
      // The README's advice for Node 20 consumers; package.spec checks it is enough.
      overrides: { '@nats-io/nuid': '2.0.3' },
    }),
  );
  await writeFile(join(dir, 'tsconfig.base.json'), JSON.stringify(baseTsconfig));
  const install = await run('npm', ['install', '--no-audit', '--no-fund'], { cwd: dir });
  return { dir, installOutput: `${install.stdout}${install.stderr}` };
}

let mine: Promise<PackedConsumer> | undefined;

/** The run's packed consumer, building it if no other spec file has. */
export function packedConsumer(): Promise<PackedConsumer> {
  mine ??= (async () => {
    const root = join(inject('runDir'), 'consumer');
    const ready = join(root, 'ready.json');
    const failed = join(root, 'failed.txt');
    const took = await mkdir(root).then(
      () => true,
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'EEXIST') return false;
        throw err;
      },
    );
    if (took) {
      try {
        const consumer = await build(root);
        // Written aside and renamed, so a waiter never reads half a file.
        await writeFile(`${ready}.tmp`, JSON.stringify(consumer));
        await rename(`${ready}.tmp`, ready);
        return consumer;
      } catch (err) {
        const e = err as Error & { stdout?: string; stderr?: string };
        const why = `${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`;
        await writeFile(`${failed}.tmp`, why);
        await rename(`${failed}.tmp`, failed);
        throw err;
      }
    }
    const outcome = await waitFor(
      () =>
        readFile(ready, 'utf8').then(
          (text) => ({ ok: JSON.parse(text) as PackedConsumer }),
          () => readFile(failed, 'utf8').then((why) => ({ failed: why }), () => undefined),
        ),
      { timeout: BUILD_DEADLINE_MS, interval: 100, message: 'the packed consumer built by another spec file' },
    );
    if ('failed' in outcome) throw new Error(`building the packed consumer failed in another spec file:\n${outcome.failed}`);
    return outcome.ok;
  })();
  return mine;
}
