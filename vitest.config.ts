import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['spec/**/*.spec.ts'],
    globalSetup: ['spec/support/globalSetup.ts'],
    // Real servers and real sockets: generous, but a hang still fails.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Child processes (nats-server) and sockets are cleaner in forks than threads.
    pool: 'forks',
  },
});
