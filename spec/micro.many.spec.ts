/**
 * Many instances: 1 000 instances on 10 responders (10 connections, as 10
 * nodes would have) answer one `$SRV.INFO`, every answer arrives and is
 * counted once. Counts, not times (the bench row times it).
 */
import { Svcm } from '@nats-io/services';
import { connect } from '@nats-io/transport-node';
import { afterEach, expect, inject, it } from 'vitest';
import { MicroResponder } from '../src/services/micro/MicroResponder.js';
import { controlSubject } from '../src/services/micro/microSubjects.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { gather, infoProblems, uniqueName } from './micro.support.js';

const natsUrl = inject('natsUrl');
const NODES = 10;
const PER_NODE = 100;

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function populate(transports: Transport[], name: string): void {
  transports.forEach((transport, n) => {
    const responder = new MicroResponder({ transport });
    open.push(responder);
    for (let i = 0; i < PER_NODE; i++) {
      responder.register({
        name,
        id: `n${n}-i${i}`,
        version: '1.0.0',
        metadata: { node: `n${n}` },
        endpoints: { work: `${name}.work` },
      });
    }
  });
}

it('micro - 1 000 instances on 10 responders all answer one $SRV.INFO from the official client', async () => {
  const name = uniqueName('fleet');
  const transports: Transport[] = [];
  for (let n = 0; n < NODES; n++) {
    const t = await NatsTransport.connect({ servers: natsUrl, name: `micro-fleet-${n}` });
    open.push(t);
    transports.push(t);
  }
  populate(transports, name);
  await Promise.all(transports.map((t) => t.flush()));
  const nc = await connect({ servers: natsUrl, name: 'micro-fleet-client' });
  open.push(nc);
  // The client stops gathering after a gap between replies (300 ms by default); on a loaded
  // machine one event-loop stall could end the listing early, so the gap is widened: the count is the point.
  const client = new Svcm(nc).client({ strategy: 'stall', stall: 2000, maxWait: 20_000 });
  const infos = [];
  for await (const info of await client.info()) if (info.name === name) infos.push(info);
  expect(infos).toHaveLength(NODES * PER_NODE);
  expect(new Set(infos.map((i) => i.id)).size).toBe(NODES * PER_NODE);
  expect(new Set(infos.map((i) => i.metadata?.node)).size).toBe(NODES);
  for (const i of infos.slice(0, 10)) expect(infoProblems(i)).toEqual([]);
});

it('micro - 1 000 instances on 10 responders all answer one $SRV.INFO on the embedded transport', async () => {
  const name = uniqueName('fleet');
  const bus = new LocalBus();
  const transports: Transport[] = [];
  for (let n = 0; n < NODES; n++) {
    const t = new LocalTransport({ name: `micro-fleet-${n}`, bus });
    open.push(t);
    transports.push(t);
  }
  populate(transports, name);
  const asker = new LocalTransport({ name: 'micro-fleet-asker', bus });
  open.push(asker);
  const { msgs, json } = await gather(asker, controlSubject('INFO'), NODES * PER_NODE, { names: new Set([name]) });
  expect(msgs).toHaveLength(NODES * PER_NODE);
  expect(new Set(json().map((i) => i.id)).size).toBe(NODES * PER_NODE);
});
