/**
 * The decision log tells what became of a restart: when the coordinator
 * decides `restart` but the service's setup for the next incarnation fails,
 * the instance ends and the logged decision carries
 * `outcome: { type: 'restart-failed', directive: stop, reason }`
 * (RecoveryCoordinator.ts, "Before a restart").
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { defineService } from '../src/services/catalog/index.js';
import { ServiceEventType } from '../src/services/instances/types.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { parseDecisionLines } from '../src/supervision/decisionLines.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

/** Setup succeeds until its `failOn`th call; CRASH throws in the logic. */
function flaky(failOn: number) {
  let setups = 0;
  return defineService({
    name: 'flaky',
    version: '1.0.0',
    logic: createMachine({
      initial: 'ready',
      states: {
        ready: {
          tags: ['ready'],
          on: {
            CRASH: {
              actions: () => {
                throw new Error('boom');
              },
            },
          },
        },
      },
    }),
    ready: 'ready',
    setup: () => {
      if (++setups === failOn) throw new Error(`setup ${setups} refused`);
      return setups;
    },
  });
}

async function node(failOn: number): Promise<Node> {
  // Every crash restarted (past the default intensity too): only setup decides whether the restart happens.
  const n = await createNode({ name: `ro${nodes.length + 1}`, services: [flaky(failOn)], supervision: { rules: [{ name: 'always', decide: () => ({ type: 'restart', bypassIntensity: true }) }] } });
  nodes.push(n);
  return n;
}

describe('supervision - the outcome of a decided restart', () => {
  it('supervision - a restart whose setup then fails is logged as restart-failed, and the instance ends', async () => {
    const n = await node(2);
    const p = await n.services.start('flaky');
    p.tell({ type: 'CRASH' });
    await p.waitTillStopped(5000);
    expect(p.state).toBe('failed');
    const decisions = n.coordinator.decisions({ supervisor: `_svc.${p.id}` });
    expect(decisions).toHaveLength(1);
    const [d] = decisions;
    // The decision stands as decided (replay gives the same), and says what became of it.
    expect(d?.directive.type).toBe('restart');
    expect(d?.outcome).toMatchObject({ type: 'restart-failed', directive: { type: 'stop' }, reason: 'the setup for the next incarnation failed' });
    expect(typeof d?.outcome?.at).toBe('number');
    // Exported and read back, the outcome is kept.
    expect(parseDecisionLines(n.coordinator.exportDecisions({ supervisor: `_svc.${p.id}` }))[0]?.outcome).toEqual(d?.outcome);
  });

  it('supervision - a restart carried out has no outcome in the decision log', async () => {
    const n = await node(99);
    const p = await n.services.start('flaky');
    const restarted = new Promise<void>((resolve) => {
      const off = n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id && p.incarnation === 2) {
          off();
          resolve();
        }
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    expect(p.state).toBe('running');
    const [d] = n.coordinator.decisions({ supervisor: `_svc.${p.id}` });
    expect(d?.directive.type).toBe('restart');
    expect(d?.outcome).toBeUndefined();
  });
});
