/**
 * actors - the exit primitive: `exitActor(ref, reason, error?)` ends an actor
 * with a reason given as a value, from outside its logic or from inside its
 * own step, and the exit signal carries exactly that reason.
 */
import { describe, expect, it } from 'vitest';
import { fromCallback, setup } from 'xstate';
import { exitActor } from '../src/actors/ActorCell.js';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { OCF } from '../src/actors/ocf.js';
import type { ExitSignal, LocalActorRef } from '../src/actors/types.js';
import { ManualClock } from '../src/clock.js';
import { ActorNotRunningError, InvalidArgumentError, NodeDownError } from '../src/errors.js';
import { counterMachine } from './support/machines.js';
import { within } from './support/supervision.js';

function system(): ActorSystem {
  return new ActorSystem({ node: 'n1', clock: new ManualClock() });
}

function exitOf(ref: LocalActorRef): Promise<ExitSignal> {
  return within(new Promise<ExitSignal>((resolve) => ref.onExit(resolve)), `exit of ${ref.id}`);
}

describe('actors - exit primitive', () => {
  it.each([
    { reason: 'normal', lifecycle: 'done' },
    { reason: 'shutdown', lifecycle: 'stopped' },
    { reason: 'killed', lifecycle: 'stopped' },
  ] as const)('actors - exitActor($reason) ends the actor with exit reason $reason and lifecycle $lifecycle', async ({ reason, lifecycle }) => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { name: 'c', input: { start: 0 } });
    const exited = exitOf(ref);
    exitActor(ref, reason);
    expect(ref.exit).toEqual({ id: ref.id, name: 'c', node: 'n1', reason, ...(reason === 'normal' ? { output: undefined } : {}) });
    expect(ref.lifecycle).toBe(lifecycle);
    expect(await exited).toBe(ref.exit);
    // The name is free again at once, as after any exit.
    expect(sys.lookup('c')).toBeUndefined();
  });

  it('actors - exitActor(error) ends the actor failed, with the error as a value (no throw in its logic)', async () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    const boom = new Error('given up');
    exitActor(ref, 'error', boom);
    expect(ref.exit).toMatchObject({ reason: 'error', error: boom });
    expect(ref.exit?.nodeDown).toBeUndefined();
    expect(ref.lifecycle).toBe('failed');
    const check = await ref.check();
    expect(check.code).toBe(OCF.ERR_GENERIC);
    expect(check.reason).toContain('given up');
  });

  it('actors - a nodedown exit is an error exit with the NodeDownError, marked nodeDown', () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    const lost = new NodeDownError('n2');
    exitActor(ref, 'nodedown', lost);
    expect(ref.exit).toMatchObject({ reason: 'error', error: lost, nodeDown: true });
  });

  it('actors - exitActor answers what was queued: asks are rejected, tells become dead letters', async () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { name: 'q', input: { start: 0 } });
    const before = sys.deadLetters.count(DeadLetterReason.ActorStopped);
    // Both queued behind the synchronous exit below: the dispatcher has not run yet.
    ref.tell({ type: 'INC' });
    const asked = ref.ask({ type: 'GET' });
    exitActor(ref, 'shutdown');
    await expect(within(asked, 'queued ask')).rejects.toBeInstanceOf(ActorNotRunningError);
    expect(sys.deadLetters.count(DeadLetterReason.ActorStopped)).toBe(before + 1);
  });

  it('actors - exitActor from inside the actor’s own step ends it with that reason once the step is done', async () => {
    const sys = system();
    let self: LocalActorRef | undefined;
    const trace: string[] = [];
    const logic = setup({}).createMachine({
      initial: 'up',
      states: {
        up: {
          on: {
            QUIT: {
              actions: [
                () => {
                  exitActor(self!, 'killed');
                },
                () => trace.push('rest of the step ran'),
              ],
            },
          },
        },
      },
    });
    self = sys.spawn(logic);
    const exited = exitOf(self);
    self.tell({ type: 'QUIT' });
    expect((await exited).reason).toBe('killed');
    expect(trace).toEqual(['rest of the step ran']);
    expect(self.lifecycle).toBe('stopped');
  });

  it('actors - exitActor while the actor is still starting ends it before spawn returns (a failed start)', () => {
    const sys = system();
    // As the cluster's stand-in does: the actor learns its ref on spawn, and an invoke that runs during start exits it.
    const holder: { ref?: LocalActorRef } = {};
    sys.onSpawn((cell) => {
      holder.ref = cell;
    });
    const logic = setup({
      actors: {
        place: fromCallback(() => {
          exitActor(holder.ref!, 'error', new Error('no node can host it'));
        }),
      },
    }).createMachine({ invoke: { src: 'place' } });
    const ref = sys.spawn(logic);
    expect(ref.exit).toMatchObject({ reason: 'error', error: { message: 'no node can host it' } });
    expect(ref.lifecycle).toBe('failed');
    expect(sys.get(ref.id)).toBeUndefined();
  });

  it('actors - exitActor on an actor that has exited changes nothing', async () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    await ref.stop('brutal_kill');
    const first = ref.exit;
    exitActor(ref, 'error', new Error('late'));
    expect(ref.exit).toBe(first);
    expect(ref.exit?.reason).toBe('killed');
  });

  it('actors - exitActor refuses a reason that is not an exit reason, naming the field', () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    expect(() => exitActor(ref, 'gone' as never)).toThrow(InvalidArgumentError);
    expect(() => exitActor(ref, 'gone' as never)).toThrow(/reason/);
    expect(ref.lifecycle).toBe('running');
  });
});

describe('actors - exit listeners', () => {
  it('actors - every exit listener hears the exit once, in the order they were added, a listener added twice once', async () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    const heard: string[] = [];
    const a = () => heard.push('a');
    ref.onExit(a);
    ref.onExit(a);
    ref.onExit(() => heard.push('b'));
    ref.onExit(() => heard.push('c'));
    const last = exitOf(ref);
    exitActor(ref, 'shutdown');
    await last;
    expect(heard).toEqual(['a', 'b', 'c']);
  });

  it('actors - a listener cancelled after the exit but before its delivery is not called, the others are', async () => {
    for (const cancel of ['first', 'second'] as const) {
      const sys = system();
      const ref = sys.spawn(counterMachine, { input: { start: 0 } });
      const heard: string[] = [];
      const offFirst = ref.onExit(() => heard.push('first'));
      const offSecond = ref.onExit(() => heard.push('second'));
      const last = exitOf(ref);
      exitActor(ref, 'shutdown');
      // The exit is decided; its notification is still queued.
      expect(heard).toEqual([]);
      (cancel === 'first' ? offFirst : offSecond)();
      await last;
      expect(heard).toEqual([cancel === 'first' ? 'second' : 'first']);
    }
  });

  it('actors - a listener that replaces a cancelled one is called, and only it', async () => {
    const sys = system();
    const ref = sys.spawn(counterMachine, { input: { start: 0 } });
    const heard: string[] = [];
    const off = ref.onExit(() => heard.push('old'));
    off();
    ref.onExit(() => heard.push('new'));
    const last = exitOf(ref);
    exitActor(ref, 'shutdown');
    await last;
    expect(heard).toEqual(['new']);
  });
});
