/**
 * `node --import ./bench/register.mjs`: installs bench/loader.mjs (see there
 * for why not tsx). esbuild comes with tsx; should it ever be missing, tsx
 * itself is used, with a warning that closure costs are then overstated.
 */
import { register } from 'node:module';

try {
  await import('esbuild');
  register('./loader.mjs', import.meta.url);
} catch {
  process.emitWarning('bench: esbuild not found, loading TypeScript with tsx (its keepNames transform inflates per-actor costs)');
  await import('tsx/esm');
}
