import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { describe, expect, inject, it } from 'vitest';
import type { ActorCell } from '../src/actors/ActorCell.js';
import { ActorSystem } from '../src/actors/ActorSystem.js';
import { DeadLetterReason, DeadLetters } from '../src/actors/DeadLetters.js';
import { monotonicClock } from '../src/clock.js';
import { StaleEpochError } from '../src/errors.js';
import { nullLogger } from '../src/log.js';
import { Inbound } from '../src/services/remote/Inbound.js';
import { Requester } from '../src/services/remote/Requester.js';
import { decodeEnvelope, encodeEnvelope } from '../src/services/remote/envelope.js';
import { DEFAULT_LIMITS } from '../src/services/remote/frameGuard.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { counterMachine } from './support/machines.js';

describe('fencing - epochs on replies', () => {
  it('fencing - a reply stamped with an older epoch than the known owner is rejected and counted', async () => {
    const bus = new LocalBus();
    const asker = new LocalTransport({ name: 'asker', bus });
    const responder = new LocalTransport({ name: 'responder', bus });
    const dead = new DeadLetters();
    const known = new Map([['svc', 7]]);
    const req = new Requester(asker, monotonicClock, dead, DEFAULT_LIMITS, (t) => known.get(t));
    let epoch = 6;
    responder.subscribe('x.svc', (msg) => {
      responder.publish(msg.reply!, encodeEnvelope({ v: 1, k: 'reply', t: '', b: 'stale-or-not', e: epoch }));
    });
    await expect(req.request('x.svc', 'ask', 'svc', { type: 'GET' }, 5000)).rejects.toBeInstanceOf(StaleEpochError);
    expect(dead.count(DeadLetterReason.StaleEpoch)).toBe(1);
    epoch = 7;
    await expect(req.request('x.svc', 'ask', 'svc', { type: 'GET' }, 5000)).resolves.toBe('stale-or-not');
    // A name with no known epoch (not a cluster instance) is not judged.
    await expect(req.request('x.svc', 'ask', 'other', { type: 'GET' }, 5000)).resolves.toBe('stale-or-not');
    req.close('t');
    await asker.close();
    await responder.close();
  });

  it('fencing - an instance stamps its epoch on its replies', async () => {
    const bus = new LocalBus();
    const host = new LocalTransport({ name: 'host', bus });
    const client = new LocalTransport({ name: 'client', bus });
    const system = new ActorSystem({ node: 'h' });
    const cell = system.spawn(counterMachine, { name: 'svc' });
    const inbound = new Inbound(host, system.deadLetters, DEFAULT_LIMITS, nullLogger(), (name) => (name === 'svc' ? 42 : undefined));
    host.subscribe('x.svc', (msg) => inbound.handle(msg, cell as ActorCell, 'svc'));
    const r = await client.request('x.svc', encodeEnvelope({ v: 1, k: 'ask', t: 'svc', b: { type: 'GET' } }), { timeout: 5000 });
    expect(decodeEnvelope(r.data)).toMatchObject({ k: 'reply', b: 0, e: 42 });
    await host.close();
    await client.close();
  });

  it('fencing - a JSON reply to a plain NATS client carries the instance epoch in a halyard-epoch header', async () => {
    const host = await NatsTransport.connect({ servers: inject('natsUrl'), name: 'epoch-host' });
    const plain = await connect({ servers: inject('natsUrl'), name: 'epoch-plain-client' });
    const system = new ActorSystem({ node: 'h' });
    try {
      const cell = system.spawn(counterMachine, { name: 'svc' });
      const inbound = new Inbound(host, system.deadLetters, DEFAULT_LIMITS, nullLogger(), (name) => (name === 'svc' ? 42 : undefined));
      const subject = `epoch${process.pid}.svc`;
      host.subscribe(subject, (msg) => inbound.handle(msg, cell as ActorCell, 'svc'));
      host.subscribe(`${subject}.node`, (msg) => inbound.handle(msg, system.get(cell.id), 'node-health'));
      await host.flush();
      const headers = natsHeaders();
      headers.set('content-type', 'application/json');
      const r = await plain.request(subject, JSON.stringify({ type: 'GET' }), { timeout: 5000, headers });
      expect(r.json()).toBe(0);
      expect(r.headers?.get('content-type')).toBe('application/json');
      expect(r.headers?.get('halyard-epoch')).toBe('42');
      expect(r.headers?.get('halyard-error')).toBe('');
      // A Check of something that is not a cluster instance has no epoch to report.
      const checkHeaders = natsHeaders();
      checkHeaders.set('content-type', 'application/json');
      checkHeaders.set('halyard-op', 'check');
      const check = await plain.request(`${subject}.node`, new Uint8Array(0), { timeout: 5000, headers: checkHeaders });
      expect(check.json()).toMatchObject({ code: 0 });
      expect(check.headers?.get('halyard-epoch')).toBe('');
    } finally {
      await plain.close();
      await host.close();
    }
  });
});
