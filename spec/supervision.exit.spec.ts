/**
 * supervision - exit reasons reach the supervisor as values: a child ended
 * with `exitActor` is reported with that reason, `nodedown` included, and an
 * error's code is never read as a reason.
 */
import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { exitActor } from '../src/actors/ActorCell.js';
import type { LocalActorRef } from '../src/actors/types.js';
import { NodeDownError } from '../src/errors.js';
import type { Supervisor } from '../src/supervision/types.js';
import { harness, settle, worker } from './support/supervision.js';

function ref(sup: Supervisor, id: string): LocalActorRef {
  const r = sup.whichChildren().find((c) => c.id === id)?.ref;
  if (!r) throw new Error(`no running child ${id}`);
  return r;
}

/** Throws a NodeDownError of its own on LOST: an instance that called a node that is down and let it escape. */
const callsADownNode = setup({
  actions: {
    lost: () => {
      throw new NodeDownError('n9');
    },
  },
}).createMachine({ initial: 'up', states: { up: { on: { LOST: { actions: 'lost' } } } } });

describe('supervision - exit reasons as values', () => {
  it('supervision - a child ended with exitActor is reported with that reason', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise(
      { intensity: 10, children: ['n', 's', 'k', 'e'].map((id) => ({ id, start: worker, restart: 'transient' as const })) },
      { name: 'top' },
    );
    exitActor(ref(sup, 'n'), 'normal');
    exitActor(ref(sup, 's'), 'shutdown');
    exitActor(ref(sup, 'k'), 'killed');
    exitActor(ref(sup, 'e'), 'error', new Error('given up'));
    await settle(sup);
    const decided = supervision.coordinator.decisions({ supervisor: 'top' }).map((d) => [d.input.childId, d.input.reason, d.directive.type]);
    expect(decided).toEqual([
      ['n', 'normal', 'ignore'],
      ['s', 'shutdown', 'ignore'],
      ['k', 'killed', 'restart'],
      ['e', 'error', 'restart'],
    ]);
    await sup.stop();
  });

  it('supervision - a child that exits nodedown is reported nodedown, from the exit signal', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'r', start: worker, restart: 'transient' }] }, { name: 'top' });
    exitActor(ref(sup, 'r'), 'nodedown', new NodeDownError('n2'));
    await settle(sup);
    const [d] = supervision.coordinator.decisions({ supervisor: 'top' });
    expect(d?.input).toMatchObject({ childId: 'r', reason: 'nodedown' });
    expect(d?.directive.type).toBe('restart');
    await sup.stop();
  });

  it('supervision - a local child whose own logic throws a NodeDownError is reported error, not nodedown', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'c', start: callsADownNode }] }, { name: 'top' });
    ref(sup, 'c').tell({ type: 'LOST' });
    await settle(sup);
    const [d] = supervision.coordinator.decisions({ supervisor: 'top' });
    expect(d?.input).toMatchObject({ childId: 'c', reason: 'error', error: { code: 'ERR_NODE_DOWN' } });
    await sup.stop();
  });
});
