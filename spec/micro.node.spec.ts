/**
 * The hook for the node: one `MicroResponder` per node, on the node's own
 * transport and dead letters, and a registration per running instance whose
 * CHECK and STATUS are the actor's own (`ref.check`, `ref.status`). This is
 * the example registration the node is meant to make.
 */
import { afterEach, expect, it } from 'vitest';
import { OCF } from '../src/actors/ocf.js';
import { createNode, type Node } from '../src/index.js';
import { MicroResponder } from '../src/services/micro/MicroResponder.js';
import { controlSubject } from '../src/services/micro/microSubjects.js';
import { gather } from './micro.support.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

it('micro - a node registers a running actor: $SRV CHECK and STATUS answer with the actor own Check and Status', async () => {
  const node = await createNode({ name: 'm1' });
  nodes.push(node);
  const micro = new MicroResponder({ transport: node.transport, deadLetters: node.deadLetters });
  const ref = node.spawn(counterMachine, { name: 'counter' });
  const reg = micro.register({
    name: 'counter',
    id: 'c1',
    version: '1.0.0',
    metadata: { node: node.name },
    endpoints: { inc: 'halyard.svc.counter' },
    check: (level) => ref.check(level),
    status: () => ref.status(),
  });
  ref.tell({ type: 'INC' });
  const [check] = (await gather(node.transport, controlSubject('CHECK', 'counter', 'c1'), 1)).json();
  expect(check).toMatchObject({ name: 'counter', id: 'c1', metadata: { node: 'm1' }, code: OCF.SUCCESS, label: 'OCF_SUCCESS' });
  const [status] = (await gather(node.transport, controlSubject('STATUS', 'counter'), 1)).json();
  expect(status.status).toMatchObject({ actor: 'counter', node: 'm1', lifecycle: 'running' });

  ref.tell({ type: 'FINISH' });
  await waitFor(() => ref.exit !== undefined, { timeout: 5000, message: 'the counter finished' });
  const [after] = (await gather(node.transport, controlSubject('CHECK', 'counter', 'c1'), 1)).json();
  expect(after).toMatchObject({ code: OCF.NOT_RUNNING, label: 'OCF_NOT_RUNNING' });

  // The node unregisters a stopped instance and closes its responder when it shuts down.
  reg.unregister();
  micro.close();
  await expect(node.transport.request(controlSubject('PING', 'counter'), new Uint8Array(0), { timeout: 5000 })).rejects.toMatchObject({
    name: 'NoRespondersError',
  });
});
