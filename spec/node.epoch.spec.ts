import { describe, expect, it } from 'vitest';
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
});
