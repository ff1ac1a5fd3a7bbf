/**
 * services - `$SRV`: every running service instance of a node is listed by
 * the node's responder (PING, INFO, STATS, CHECK, STATUS), with its version,
 * declared endpoints and node, and is gone once it stops. Over NATS with the
 * official `@nats-io/services` client, and on the embedded transport.
 */
import { Svcm } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { ServiceEventType } from '../src/services/instances/index.js';
import { countWorker } from './fixtures/services.js';
import { gather, infoProblems, pingProblems, statsProblems, uniqueName } from './micro.support.js';

const natsUrl = inject('natsUrl');

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

function payments(name: string) {
  return defineService({
    name,
    version: '1.4.0',
    description: 'Charges cards',
    endpoints: { charge: 'CHARGE', refund: 'REFUND' },
    logic: createMachine({
      types: {} as { context: { n: number } },
      context: { n: 0 },
      initial: 'ready',
      states: {
        ready: {
          tags: ['ready'],
          on: {
            CHARGE: { actions: [assign({ n: ({ context }) => context.n + 1 }), reply(({ context }) => context.n)] },
            REFUND: { actions: reply(() => 'refunded') },
          },
        },
      },
    }),
    ready: 'ready',
  });
}

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

describe('services - $SRV over NATS with the official client', () => {
  let nc: NatsConnection;
  beforeAll(async () => {
    nc = await connect({ servers: natsUrl, name: 'services-micro-client' });
  });
  afterAll(async () => {
    await nc.close();
  });

  it('services - a started service is discovered by PING and INFO with its version and endpoints, counted by STATS; after stop it is gone', async () => {
    const name = uniqueName('payments');
    const node = await createNode({ name: uniqueName('sm'), transport: { kind: 'nats', servers: natsUrl }, services: [payments(name)] });
    nodes.push(node);
    const p = await node.services.start(name);
    const client = new Svcm(nc).client();

    const pings = await collect(await client.ping(name));
    expect(pings).toEqual([{ type: 'io.nats.micro.v1.ping_response', name, id: p.id, version: '1.4.0', metadata: { node: node.name, container: 'inline' } }]);
    for (const r of pings) expect(pingProblems(r)).toEqual([]);

    const [info] = await collect(await client.info(name, p.id));
    expect(infoProblems(info)).toEqual([]);
    expect(info).toMatchObject({ name, id: p.id, version: '1.4.0', description: 'Charges cards' });
    expect(info!.endpoints).toEqual([
      { name: 'charge', subject: `halyard.svc.${p.actorName}`, queue_group: p.actorName, metadata: {} },
      { name: 'refund', subject: `halyard.svc.${p.actorName}`, queue_group: p.actorName, metadata: {} },
      { name: 'check', subject: `$SRV.CHECK.${name}.${p.id}`, metadata: {} },
      { name: 'status', subject: `$SRV.STATUS.${name}.${p.id}`, metadata: {} },
    ]);

    await p.ask({ type: 'CHARGE' });
    await p.ask({ type: 'CHARGE' });
    const [stats] = await collect(await client.stats(name, p.id));
    expect(statsProblems(stats)).toEqual([]);
    expect(stats!.endpoints!.find((e) => e.name === 'charge')).toMatchObject({ num_requests: 2, num_errors: 0 });

    const [check] = (await gather(node.transport, `$SRV.CHECK.${name}.${p.id}`, 1)).json();
    expect(check).toMatchObject({ name, id: p.id, label: 'OCF_SUCCESS' });
    const [status] = (await gather(node.transport, `$SRV.STATUS.${name}`, 1)).json();
    expect(status.status).toMatchObject({ service: name, instance: p.id, instanceState: 'running' });

    await p.stop();
    await expect(collect(await client.ping(name))).rejects.toThrow(/no responders/i);
  });
});

it('services - on the embedded transport a started service answers $SRV INFO, and after stop no one answers', async () => {
  const name = uniqueName('payments');
  const node = await createNode({ name: 'sm-local', services: [payments(name)] });
  nodes.push(node);
  const a = await node.services.start(name);
  const b = await node.services.start(name);
  const infos = (await gather(node.transport, `$SRV.INFO.${name}`, 2)).json();
  expect(infos.map((i) => i.id).sort()).toEqual([a.id, b.id].sort());
  for (const i of infos) expect(infoProblems(i)).toEqual([]);
  expect(infos.every((i) => i.version === '1.4.0' && i.metadata.node === 'sm-local')).toBe(true);

  await a.stop();
  expect((await gather(node.transport, `$SRV.PING.${name}`, 1, { exact: `$SRV.PING.${name}.${b.id}` })).json().map((r) => r.id)).toEqual([b.id]);
  await b.stop();
  await expect(node.transport.request(`$SRV.PING.${name}`, new Uint8Array(0), { timeout: 5000 })).rejects.toMatchObject({ name: 'NoRespondersError' });
});

it('services - a worker-contained service is listed with its container, and its $SRV CHECK follows it through a restart by its supervisor', async () => {
  const node = await createNode({ name: 'sm-worker', services: [countWorker], askTimeout: 20_000 });
  nodes.push(node);
  const p = await node.services.start(countWorker.name, { config: { start: 0 }, timeout: 20_000 });
  const [info] = (await gather(node.transport, `$SRV.INFO.${countWorker.name}.${p.id}`, 1)).json();
  expect(info).toMatchObject({ id: p.id, metadata: { node: 'sm-worker', container: 'worker' } });
  expect(info.endpoints.map((e: { name: string }) => e.name)).toEqual(['get', 'check', 'status']);

  const restarted = new Promise<void>((resolve) => {
    node.services.onEvent((e) => {
      if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
    });
  });
  p.tell({ type: 'CRASH' });
  await restarted;
  await expect(p.ask({ type: 'GET' })).resolves.toBe(0);
  const [check] = (await gather(node.transport, `$SRV.CHECK.${countWorker.name}.${p.id}`, 1)).json();
  expect(check).toMatchObject({ id: p.id, label: 'OCF_SUCCESS' });
  const [stats] = (await gather(node.transport, `$SRV.STATS.${countWorker.name}.${p.id}`, 1)).json();
  expect(statsProblems(stats)).toEqual([]);
  expect(stats.endpoints.find((e: { name: string }) => e.name === 'get')).toMatchObject({ num_requests: 1 });
}, 60_000);
