/**
 * A stock NATS micro client lists Halyard services: the official
 * `@nats-io/services` client (`Svcm(nc).client()`) discovers, pings,
 * inspects and reads the stats of instances registered with the
 * `MicroResponder`, at the three levels, and every answer passes the ADR-32
 * schema checks. Also the example registration the node is meant to make:
 * an endpoint served on the transport, counted in STATS, its errors seen by
 * the client as a `ServiceError`.
 */
import { ServiceError, Svcm } from '@nats-io/services';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { OCF } from '../src/actors/ocf.js';
import { MicroResponder } from '../src/services/micro/MicroResponder.js';
import { MicroErrorCode, serviceErrorHeaders } from '../src/services/micro/serviceError.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { gather, infoProblems, pingProblems, statsProblems, uniqueName } from './micro.support.js';

const natsUrl = inject('natsUrl');

async function collect<T>(iter: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of iter) out.push(x);
  return out;
}

describe('micro - the official @nats-io/services client', () => {
  let nc: NatsConnection;
  let transport: NatsTransport;
  let responder: MicroResponder;
  const orders = uniqueName('orders');
  const ledger = uniqueName('ledger');
  const names = new Set([orders, ledger]);
  const ours = <T extends { name: string }>(xs: T[]) => xs.filter((x) => names.has(x.name));

  beforeAll(async () => {
    nc = await connect({ servers: natsUrl, name: 'micro-official-client' });
    transport = await NatsTransport.connect({ servers: natsUrl, name: 'micro-node' });
    // The registration a node makes for each running service instance (see MicroResponder's module comment).
    responder = new MicroResponder({ transport });
    for (const id of ['o1', 'o2']) {
      const reg = responder.register({
        name: orders,
        id,
        version: '3.1.4',
        description: 'Takes orders',
        metadata: { node: 'n1' },
        endpoints: { place: `${orders}.place`, cancel: { subject: `${orders}.cancel`, queueGroup: 'cancellers' } },
        check: () => OCF.SUCCESS,
        status: () => ({ lifecycle: 'running' }),
      });
      // The instance layer serves its endpoints itself and counts every request through the registration.
      const place = reg.endpoint('place');
      transport.subscribe(
        `${orders}.place`,
        (msg) => {
          const mark = place.begin();
          const order = JSON.parse(new TextDecoder().decode(msg.data)) as { qty: number };
          if (order.qty <= 0) {
            const description = 'qty must be positive';
            transport.publish(msg.reply!, new Uint8Array(0), { headers: serviceErrorHeaders(MicroErrorCode.BadRequest, description) });
            place.end(mark, description);
            return;
          }
          transport.publish(msg.reply!, new TextEncoder().encode(JSON.stringify({ placed: order.qty, by: id })));
          place.end(mark);
        },
        { queue: 'q' },
      );
    }
    responder.register({ name: ledger, id: 'l1', version: '1.0.0-beta.2' });
  });

  afterAll(async () => {
    responder.close();
    await transport.close();
    await nc.close();
  });

  it('micro - the official client discovers Halyard services with PING at all three levels', async () => {
    const client = new Svcm(nc).client();
    const all = ours(await collect(await client.ping()));
    expect(all.map((p) => `${p.name}/${p.id}`).sort()).toEqual([`${ledger}/l1`, `${orders}/o1`, `${orders}/o2`]);
    for (const p of all) expect(pingProblems(p)).toEqual([]);
    expect((await collect(await client.ping(orders))).map((p) => p.id).sort()).toEqual(['o1', 'o2']);
    const one = await collect(await client.ping(orders, 'o2'));
    expect(one).toEqual([{ type: 'io.nats.micro.v1.ping_response', name: orders, id: 'o2', version: '3.1.4', metadata: { node: 'n1' } }]);
  });

  it('micro - the official client inspects Halyard services with INFO, endpoints and queue groups included', async () => {
    const client = new Svcm(nc).client();
    const all = ours(await collect(await client.info()));
    expect(all).toHaveLength(3);
    for (const i of all) expect(infoProblems(i)).toEqual([]);
    const [o1] = await collect(await client.info(orders, 'o1'));
    expect(o1!.description).toBe('Takes orders');
    expect(o1!.endpoints).toEqual([
      { name: 'place', subject: `${orders}.place`, queue_group: 'q', metadata: {} },
      { name: 'cancel', subject: `${orders}.cancel`, queue_group: 'cancellers', metadata: {} },
      { name: 'check', subject: `$SRV.CHECK.${orders}.o1`, metadata: {} },
      { name: 'status', subject: `$SRV.STATUS.${orders}.o1`, metadata: {} },
    ]);
    expect(await collect(await client.info(orders))).toHaveLength(2);
  });

  it('micro - the official client reads the stats of requests served on a Halyard endpoint, errors included', async () => {
    for (const qty of [1, 2, 0, 3]) {
      const reply = await nc.request(`${orders}.place`, JSON.stringify({ qty }), { timeout: 10_000 });
      if (qty === 0) {
        expect(ServiceError.isServiceError(reply)).toBe(true);
        expect(ServiceError.toServiceError(reply)).toMatchObject({ code: 400, message: 'qty must be positive' });
      } else {
        expect(ServiceError.isServiceError(reply)).toBe(false);
        expect(reply.json<{ placed: number }>().placed).toBe(qty);
      }
    }
    const client = new Svcm(nc).client();
    const stats = await collect(await client.stats(orders));
    expect(stats).toHaveLength(2);
    for (const s of stats) expect(statsProblems(s)).toEqual([]);
    const place = stats.map((s) => s.endpoints!.find((e) => e.name === 'place')!);
    expect(place.reduce((n, e) => n + e.num_requests, 0)).toBe(4);
    expect(place.reduce((n, e) => n + e.num_errors, 0)).toBe(1);
    expect(place.map((e) => e.last_error)).toContain('qty must be positive');
    const all = ours(await collect(await client.stats()));
    expect(all).toHaveLength(3);
    for (const s of all) expect(statsProblems(s)).toEqual([]);
    expect(await collect(await client.stats(ledger, 'l1'))).toHaveLength(1);
  });

  it('micro - for a name no one serves, the official client fails with no responders', async () => {
    const client = new Svcm(nc).client();
    await expect(collect(await client.ping(uniqueName('nobody')))).rejects.toThrow(/no responders/i);
  });

  it('micro - CHECK and STATUS of the same instances answer a plain NATS request beside the micro verbs', async () => {
    const checks = await gather(transport, `$SRV.CHECK.${orders}`, 2);
    expect(checks.json().map((c) => c.label)).toEqual(['OCF_SUCCESS', 'OCF_SUCCESS']);
    const [status] = (await gather(transport, `$SRV.STATUS.${orders}.o2`, 1)).json();
    expect(status).toMatchObject({ type: 'io.halyard.micro.v1.status_response', id: 'o2', status: { lifecycle: 'running' } });
  });
});
