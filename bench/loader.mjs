/**
 * A minimal TypeScript loader for the benchmarks, in place of tsx.
 *
 * tsx compiles with esbuild's `keepNames`, which wraps every function that
 * gets an inferred name (`{ error: (e) => … }`, `logger: (…) => …`) in an
 * `Object.defineProperty(fn, 'name', …)` call at the moment the closure is
 * created. Compiled code (`tsc`, the published build) has no such call.
 * Measured on ActorCell, whose constructor makes three such closures, it
 * added about 1.2 KB per actor and cost about a quarter of the spawn rate,
 * which would be charged to Halyard and not to the bare XState baseline
 * (XState runs from its own compiled dist). This loader strips types with
 * esbuild and nothing else, so both sides run code as a build would.
 *
 * Resolution: a relative `./x.js` that does not exist is retried as
 * `./x.ts` (the sources use NodeNext `.js` specifiers).
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { transform } from 'esbuild';

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    if (err?.code === 'ERR_MODULE_NOT_FOUND' && /^\.{1,2}\//.test(specifier) && specifier.endsWith('.js')) {
      return next(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw err;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context);
  const path = fileURLToPath(url);
  const { code } = await transform(await readFile(path, 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: `node${process.versions.node}`,
    sourcefile: path,
    sourcemap: 'inline',
    // The project's settings (tsconfig.json): ES2022 class fields, type-only imports marked.
    tsconfigRaw: { compilerOptions: { useDefineForClassFields: true, verbatimModuleSyntax: true } },
  });
  return { format: 'module', source: code, shortCircuit: true };
}
