/** Entry point in the repo: `tsx tools/cli/cli.ts <verb>` (the shipped bin is halyard.ts, built by scripts/buildCli.mjs). */
import { main } from './main.js';

await main(process.argv.slice(2));
