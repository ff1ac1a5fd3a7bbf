import { beforeAll, describe, expect, it } from 'vitest';
import { createNode } from '../../src/index.js';
import { parameterized } from './fixtures/replyInfers.js';
import { type FixtureReport, typecheckFixtures } from './typecheck.js';

// One compile for all fixtures: the checker's cost is loading XState's types, not the fixtures.
const fixtures = [
  'readmeApi.ts',
  'readmeApiTyped.ts',
  'replyInfers.ts',
  'replyChecks.ts',
  'askTyped.ts',
  'askFallback.ts',
] as const;
let reports: Map<string, FixtureReport>;

function expectClean(name: (typeof fixtures)[number]): void {
  const report = reports.get(name);
  expect(report, `${name} was not compiled`).toBeDefined();
  expect(report?.asWritten).toEqual([]);
  expect(report?.unmet).toEqual([]);
}

describe('types', () => {
  beforeAll(() => {
    reports = typecheckFixtures(fixtures);
  }, 120_000);

  it('types - the README API block compiles with --strict as written, reply(({ context }) => context.n) included', () => {
    expectClean('readmeApi.ts');
  });

  it('types - the README API block with its GET answer declared by AskEvent gives ask a number', () => {
    expectClean('readmeApiTyped.ts');
  });

  it('types - reply takes { context, event } typed from the machine it is used in', () => {
    expectClean('replyInfers.ts');
  });

  it('types - reply and replyTo refuse an answer of the wrong type where the event declares one', () => {
    expectClean('replyChecks.ts');
  });

  it('types - ask resolves to the answer type the logic declares for the event asked', () => {
    expectClean('askTyped.ts');
  });

  it('types - ask stays unknown where nothing declares an answer, and takes the type a caller names', () => {
    expectClean('askFallback.ts');
  });

  // The one fixture that is also run: its reply's expression takes the action's params, as XState passes them.
  it('types - a parameterized reply answers from its params at run time, as its type says', async () => {
    const node = await createNode({ name: 'types' });
    try {
      expect(await node.spawn(parameterized).ask({ type: 'GET' }, { timeout: 5000 })).toBe(1);
    } finally {
      await node.shutdown();
    }
  });
});
