/**
 * Vitest global setup: one nats-server (with JetStream) for the whole run, and
 * a scratch directory for what spec files build once and share
 * (`inject('runDir')`, see packedConsumer.ts), removed when the run ends.
 *
 * Its URL reaches tests as `inject('natsUrl')` and, for code outside vitest's
 * injection, as `process.env.HALYARD_TEST_NATS_URL`. Tests that stop, kill or
 * restart a server start their own with `startNatsServer()` instead of
 * touching this one. A missing nats-server fails the run (with instructions):
 * NATS tests are never skipped.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startNatsServer } from './natsServer.js';

declare module 'vitest' {
  interface ProvidedContext {
    natsUrl: string;
    runDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const server = await startNatsServer({ jetstream: true });
  project.provide('natsUrl', server.url);
  const runDir = await mkdtemp(join(tmpdir(), 'halyard-run-'));
  project.provide('runDir', runDir);
  process.env.HALYARD_TEST_NATS_URL = server.url;
  return async () => {
    await server.stop();
    await rm(runDir, { recursive: true, force: true });
  };
}
