import { afterEach, describe, expect, inject, it } from 'vitest';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  for (const n of nodes.splice(0).reverse()) await n.shutdown();
});

async function open(name: string, prefix: string, nats: boolean): Promise<Node> {
  const n = await createNode({
    name,
    prefix,
    transport: nats ? { kind: 'nats', servers: inject('natsUrl') } : { kind: 'local' },
  });
  nodes.push(n);
  return n;
}

let seq = 0;

describe.each([['local'], ['nats']])('node supervision over %s', (kind) => {
  it('node - a supervised named actor is restarted and reachable by name again, across nodes', async () => {
    const prefix = `sup${process.pid}x${++seq}`;
    const a = await open('a', prefix, kind === 'nats');
    const b = await open('b', prefix, kind === 'nats');
    const sup = a.supervise(
      { strategy: 'one_for_one', intensity: 3, period: 5000, children: [{ id: 'counter', start: counterMachine, name: 'counter' }] },
      { name: 'app' },
    );
    await a.flush();
    const ref = b.ref('counter');
    ref.tell({ type: 'INC' });
    await expect(ref.ask({ type: 'GET' })).resolves.toBe(1);
    const first = sup.whichChildren()[0]!.ref!;
    ref.tell({ type: 'BOOM' });
    await waitFor(() => sup.whichChildren()[0]?.ref !== first && sup.whichChildren()[0]?.status === 'running', {
      timeout: 5000,
      message: 'restart',
    });
    // The restarted child starts from its initial state, under the same name.
    await expect(ref.ask({ type: 'GET' })).resolves.toBe(0);
    const decisions = a.coordinator.decisions();
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ rule: 'otp-default', directive: { type: 'restart' }, input: { childId: 'counter', reason: 'error' } });
  });

  it('node - supervisors and the coordinator answer Check and Status by name', async () => {
    const prefix = `sup${process.pid}x${++seq}`;
    const a = await open('a', prefix, kind === 'nats');
    const b = await open('b', prefix, kind === 'nats');
    a.supervise({ children: [{ id: 'w1', start: counterMachine }, { id: 'w2', start: counterMachine }] }, { name: 'app' });
    await a.flush();
    await expect(b.check('app')).resolves.toMatchObject({ code: 0, label: 'OCF_SUCCESS', actor: 'app', node: 'a' });
    const status = await b.status('app');
    expect(JSON.stringify(status)).toContain('w1');
    expect(JSON.stringify(status)).toContain('w2');
    await expect(b.check('_coordinator')).resolves.toMatchObject({ code: 0, actor: '_coordinator' });
  });
});

describe('node - monitors and shutdown', () => {
  it('node - monitor delivers one down with the exit reason, and noproc for the dead', async () => {
    const a = await open('a', `mon${++seq}`, false);
    const c = a.spawn(counterMachine, { name: 'c' });
    const m = a.monitor('c');
    c.tell({ type: 'BOOM' });
    await expect(m.down).resolves.toMatchObject({ reason: 'error', name: 'c' });
    await expect(a.monitor('c').down).resolves.toMatchObject({ reason: 'noproc' });
  });

  it('node - shutdown stops supervision trees without restarting their children', async () => {
    const a = await open('a', `shut${++seq}`, false);
    const sup = a.supervise({ children: [{ id: 'w', start: counterMachine, name: 'w' }] }, { name: 'app' });
    await a.shutdown();
    await expect(sup.stopped).resolves.toEqual({ reason: 'shutdown' });
    expect(a.coordinator.decisions()).toHaveLength(0);
    expect(a.system.size).toBe(0);
    expect(a.deadLetters.count(DeadLetterReason.ActorStopped)).toBe(0);
  });
});
