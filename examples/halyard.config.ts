/** The newcomer's config: `npx halyard up examples/halyard.config.ts`, then `halyard ls` and `halyard tree` in another shell. */
import { defineConfig } from '../src/config/index.js';

export default defineConfig({
  nodes: [{ name: 'n1', admin: { write: true } }, { name: 'n2' }],
  services: [
    {
      module: './services/greeter.ts',
      start: [
        { node: 'n1', config: { greeting: 'hello' }, tags: ['en'] },
        { node: 'n2', config: { greeting: 'bonjour' }, tags: ['fr'] },
      ],
    },
  ],
  env: { production: { nats: { servers: 'nats://127.0.0.1:4222' } } },
});
