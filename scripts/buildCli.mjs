/**
 * Builds the `halyard` bin (`npm run build`, after the library): tools/cli
 * bundled into dist/tools/cli/halyard.js. Dependencies stay imports; the
 * CLI's imports of ../../src become imports of the package itself
 * (`halyard/client` for the client, `halyard` for the rest), which Node
 * resolves through package.json `exports` once installed.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { relative, resolve } from 'node:path';

const repo = fileURLToPath(new URL('..', import.meta.url));
const src = resolve(repo, 'src');

const selfImport = {
  name: 'halyard-self-import',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, (args) => {
      const target = resolve(args.resolveDir, args.path);
      const rel = relative(src, target);
      if (rel.startsWith('..')) return undefined;
      return { path: rel === 'client/index.js' ? 'halyard/client' : 'halyard', external: true };
    });
  },
};

await build({
  entryPoints: [resolve(repo, 'tools/cli/halyard.ts')],
  outfile: resolve(repo, 'dist/tools/cli/halyard.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  packages: 'external',
  banner: { js: '#!/usr/bin/env node' },
  plugins: [selfImport],
  logLevel: 'warning',
});
