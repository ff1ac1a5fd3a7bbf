/** Entry point: `tsx tools/cli/cli.ts <verb>` (bin.mjs loads it through tsx). */
import { main } from './main.js';

await main(process.argv.slice(2));
