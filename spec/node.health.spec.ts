/**
 * node health - what node.check says about actors that ended and trees that gave up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OCF } from '../src/actors/ocf.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});
async function open(name: string): Promise<Node> {
  const node = await createNode({ name });
  nodes.push(node);
  return node;
}

describe('node health', () => {
  it('node health - node.check(name) of an actor that reached a final state answers OCF_NOT_RUNNING, like ref.check()', async () => {
    const node = await open('h1');
    const c = node.spawn(counterMachine, { name: 'c' });
    c.tell({ type: 'FINISH' });
    await waitFor(() => c.exit !== undefined, { timeout: 5000, message: 'c reached its final state' });
    expect((await c.check()).code).toBe(OCF.NOT_RUNNING);
    const answer = await node.check('c');
    expect(answer.code).toBe(OCF.NOT_RUNNING);
    expect(answer.reason).toMatch(/final state/);
  });

  it('node health - node.check(name) of an actor that failed answers OCF_ERR_GENERIC with the error', async () => {
    const node = await open('h2');
    const c = node.spawn(counterMachine, { name: 'c' });
    c.tell({ type: 'BOOM' });
    await waitFor(() => c.exit !== undefined, { timeout: 5000, message: 'c failed' });
    const answer = await node.check('c');
    expect(answer.code).toBe(OCF.ERR_GENERIC);
    expect(answer.reason).toMatch(/boom/);
  });

  it('node health - a name that never existed is still NoSuchActorError', async () => {
    const node = await open('h3');
    await expect(node.check('nobody')).rejects.toMatchObject({ name: 'NoSuchActorError' });
  });

  it('node health - a node whose only supervisor gave up answers OCF_ERR_GENERIC at level 10, with the reason', async () => {
    const node = await open('h4');
    const sup = node.supervise({ intensity: 0, children: [{ id: 'c', start: counterMachine, name: 'c' }] }, { name: 'app' });
    await sup.whenIdle();
    expect((await node.check(10)).code).toBe(OCF.SUCCESS);
    node.ref('c').tell({ type: 'BOOM' });
    await sup.stopped;
    expect(sup.gaveUp).toBe('reached_max_restart_intensity');
    const answer = await node.check(10);
    expect(answer.code).toBe(OCF.ERR_GENERIC);
    expect(answer.reason).toMatch(/supervisor app gave up/);
    // Level 0 is "is the process alive": still yes.
    expect((await node.check(0)).code).toBe(OCF.SUCCESS);
  });

  it('node health - a node with one supervisor given up and another still running answers OCF_DEGRADED', async () => {
    const node = await open('h5');
    const doomed = node.supervise({ intensity: 0, children: [{ id: 'c', start: counterMachine, name: 'c' }] }, { name: 'doomed' });
    const alive = node.supervise({ children: [{ id: 'd', start: counterMachine, name: 'd' }] }, { name: 'alive' });
    await doomed.whenIdle();
    await alive.whenIdle();
    node.ref('c').tell({ type: 'BOOM' });
    await doomed.stopped;
    const answer = await node.check(10);
    expect(answer.code).toBe(OCF.DEGRADED);
    expect(answer.reason).toMatch(/supervisor doomed gave up.*still running/);
  });
});
