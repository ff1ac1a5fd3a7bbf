/**
 * Test support for supervision specs: a fresh system on a ManualClock, the
 * worker machines the specs share, and deadline helpers.
 *
 * Tests wait for events, never for wall time: `settle()` waits until the
 * dispatcher and the given supervisors are idle; `within()` puts a real-time
 * deadline on any wait so that a hang fails with a message instead of the
 * runner's timeout.
 */
import { assign, setup } from 'xstate';
import { ActorSystem } from '../../src/actors/ActorSystem.js';
import { reply } from '../../src/actors/reply.js';
import { SHUTDOWN_EVENT } from '../../src/actors/types.js';
import { ManualClock } from '../../src/clock.js';
import { Supervision, type SupervisionOptions } from '../../src/supervision/index.js';
import type { Supervisor } from '../../src/supervision/types.js';

export interface Harness {
  readonly clock: ManualClock;
  readonly system: ActorSystem;
  readonly supervision: Supervision;
}

export function harness(options: SupervisionOptions = {}): Harness {
  const clock = new ManualClock(1_000);
  const system = new ActorSystem({ node: 'n1', clock });
  const supervision = new Supervision(system, options);
  return { clock, system, supervision };
}

/** Fail with `what` if `p` has not settled within `ms` of wall time. */
export async function within<T>(p: Promise<T>, what: string, ms = 2_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline: ${what} not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait until the dispatcher and these supervisors (with their subtrees) are idle. */
export async function settle(...sups: Supervisor[]): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (const s of sups) await within(s.whenIdle(), `supervisor ${s.label} idle`);
  }
}

/** Let the dispatcher run everything queued (a few macrotask turns). */
export async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}

export const CRASH = { type: 'CRASH' } as const;
export const FINISH = { type: 'FINISH' } as const;
export const PING = { type: 'PING' } as const;

/** A worker: CRASH throws, FINISH reaches a final state, PING answers 'pong', INPUT answers its input. Does not handle shutdown. */
export const worker = setup({
  types: { context: {} as { input: unknown; pings: number }, input: {} as unknown },
  actions: {
    crash: () => {
      throw new Error('crash on request');
    },
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ input, pings: 0 }),
  initial: 'up',
  states: {
    up: {
      on: {
        CRASH: { actions: 'crash' },
        FINISH: 'done',
        PING: { actions: [assign({ pings: ({ context }) => context.pings + 1 }), reply('pong')] },
        INPUT: { actions: reply(({ context }: { context: { input: unknown } }) => context.input) },
      },
    },
    done: { type: 'final' },
  },
});

/** Handles `halyard.shutdown` and ends at once. */
export const graceful = setup({}).createMachine({
  id: 'graceful',
  initial: 'up',
  states: {
    up: { on: { [SHUTDOWN_EVENT]: 'done', PING: { actions: reply('pong') } } },
    done: { type: 'final' },
  },
});

/** Handles `halyard.shutdown` but never finishes: must be killed. */
export const stubborn = setup({}).createMachine({
  id: 'stubborn',
  initial: 'up',
  states: {
    up: { on: { [SHUTDOWN_EVENT]: 'draining' } },
    draining: { on: { DRAINED: 'done' } },
    done: { type: 'final' },
  },
});

/** Throws from its initial entry: fails to start. */
export const broken = setup({
  actions: {
    boom: () => {
      throw new Error('cannot start');
    },
  },
}).createMachine({ id: 'broken', entry: 'boom' });

/** Live actor names, for orphan checks. */
export function liveNames(system: ActorSystem): string[] {
  return system
    .actors()
    .map((a) => a.name)
    .filter((n): n is string => n !== undefined)
    .sort();
}
