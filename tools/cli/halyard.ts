/**
 * The shipped `halyard` bin: scripts/buildCli.mjs bundles this file and the
 * CLI into dist/tools/cli/halyard.js, importing the library as the package
 * itself (`halyard`, `halyard/client`) so its code ships once.
 *
 * tsx is not a dependency: when the project has it, it is registered so
 * `halyard up` can load a `halyard.config.ts` and `.ts` service modules;
 * without it, YAML configs and `.js` modules work.
 */
import { main } from './main.js';

try {
  const { register } = await import('tsx/esm/api');
  register();
} catch {
  // No tsx in this project: only .ts files will fail to load, each with a ConfigFileError naming it.
}

await main(process.argv.slice(2));
