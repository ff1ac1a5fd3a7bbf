/**
 * The `$SRV` responder on both transports, through plain requests: the three
 * levels of every verb, the ADR-32 JSON, CHECK and STATUS, error headers, and
 * "no responders" for what nobody registered. The same suite runs on the
 * embedded LocalTransport and on a real nats-server.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { OCF } from '../src/actors/ocf.js';
import { ManualClock } from '../src/clock.js';
import { NoRespondersError } from '../src/errors.js';
import { MicroResponder } from '../src/services/micro/MicroResponder.js';
import type { MicroInstance } from '../src/services/micro/microSpec.js';
import { controlSubject } from '../src/services/micro/microSubjects.js';
import { readServiceError } from '../src/services/micro/serviceError.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { gather, infoProblems, pingProblems, statsProblems, uniqueName } from './micro.support.js';

const natsUrl = inject('natsUrl');
const STARTED = new Date('2026-01-02T03:04:05.678Z');
const enc = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

type MakeTransport = () => Promise<Transport>;

const transports: [string, MakeTransport][] = [
  ['LocalTransport', async () => new LocalTransport({ name: 'micro-local', bus: new LocalBus() })],
  ['NatsTransport', () => NatsTransport.connect({ servers: natsUrl, name: 'micro-nats' })],
];

function payments(name: string, id: string, extra: Partial<MicroInstance> = {}): MicroInstance {
  return {
    name,
    id,
    version: '1.4.0',
    description: 'Charges cards',
    metadata: { node: 'n1' },
    started: STARTED,
    endpoints: {
      charge: `${name}.charge`,
      refund: { subject: `${name}.refund`, queueGroup: 'refunders', metadata: { kind: 'write' } },
      audit: { subject: `${name}.audit.>`, queueGroup: null },
    },
    ...extra,
  };
}

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function setup(make: MakeTransport, clock?: ManualClock) {
  const transport = await make();
  open.push(transport);
  const responder = new MicroResponder({ transport, clock });
  open.push(responder);
  const a = uniqueName('pay');
  const b = uniqueName('ledger');
  const regs = {
    a1: responder.register(payments(a, 'a1')),
    a2: responder.register(payments(a, 'a2')),
    b1: responder.register({ name: b, id: 'b1', version: '0.1.0-rc.1+build.7', started: STARTED }),
  };
  return { transport, responder, a, b, names: new Set([a, b]), regs };
}

describe.each(transports)('micro on %s', (_label, make) => {
  it('micro - PING, INFO and STATS answer at $SRV.<VERB>, .<name> and .<name>.<id>, one reply per instance', async () => {
    const { transport, a, b, names } = await setup(make);
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      const sentinel = controlSubject('PING', b, 'b1');
      const all = await gather(transport, controlSubject(verb), 3, { names, exact: sentinel });
      expect(all.msgs.length).toBe(3);
      expect(all.json().map((r) => `${r.name}/${r.id}`).sort()).toEqual([`${a}/a1`, `${a}/a2`, `${b}/b1`].sort());
      const byName = await gather(transport, controlSubject(verb, a), 2, { exact: sentinel });
      expect(byName.msgs.length).toBe(2);
      expect(byName.json().map((r) => r.id).sort()).toEqual(['a1', 'a2']);
      const one = await gather(transport, controlSubject(verb, a, 'a2'), 1, { exact: sentinel });
      expect(one.msgs.length).toBe(1);
      expect(one.json()[0]).toMatchObject({ type: `io.nats.micro.v1.${verb.toLowerCase()}_response`, name: a, id: 'a2' });
    }
  });

  it('micro - every PING, INFO and STATS reply validates against the ADR-32 schema', async () => {
    const { transport, names } = await setup(make);
    const check = { PING: pingProblems, INFO: infoProblems, STATS: statsProblems } as const;
    for (const verb of ['PING', 'INFO', 'STATS'] as const) {
      const replies = (await gather(transport, controlSubject(verb), 3, { names })).json();
      for (const r of replies) expect(check[verb](r), `${verb} ${JSON.stringify(r)}`).toEqual([]);
    }
  });

  it('micro - INFO lists the declared endpoints with subject and queue group, plus check and status', async () => {
    const { transport, a } = await setup(make);
    const [info] = (await gather(transport, controlSubject('INFO', a, 'a1'), 1)).json();
    expect(info).toEqual({
      type: 'io.nats.micro.v1.info_response',
      name: a,
      id: 'a1',
      version: '1.4.0',
      metadata: { node: 'n1' },
      description: 'Charges cards',
      endpoints: [
        { name: 'charge', subject: `${a}.charge`, queue_group: 'q', metadata: {} },
        { name: 'refund', subject: `${a}.refund`, queue_group: 'refunders', metadata: { kind: 'write' } },
        { name: 'audit', subject: `${a}.audit.>`, metadata: {} },
        { name: 'check', subject: `$SRV.CHECK.${a}.a1`, metadata: {} },
        { name: 'status', subject: `$SRV.STATUS.${a}.a1`, metadata: {} },
      ],
    });
  });

  it('micro - STATS counts requests, errors and the last error, with times in nanoseconds', async () => {
    const clock = new ManualClock(1000);
    const { transport, a, regs } = await setup(make, clock);
    const charge = regs.a1.endpoint('charge');
    let t = charge.begin();
    clock.advance(2);
    charge.end(t);
    t = charge.begin();
    clock.advance(4);
    charge.end(t, new Error('card declined'));
    const [stats] = (await gather(transport, controlSubject('STATS', a, 'a1'), 1)).json();
    expect(stats.started).toBe('2026-01-02T03:04:05.678Z');
    expect(stats.endpoints[0]).toEqual({
      name: 'charge',
      subject: `${a}.charge`,
      queue_group: 'q',
      num_requests: 2,
      num_errors: 1,
      last_error: 'card declined',
      processing_time: 6_000_000,
      average_processing_time: 3_000_000,
    });
    expect(stats.endpoints[1]).toMatchObject({ name: 'refund', num_requests: 0, num_errors: 0, last_error: '', processing_time: 0 });
    regs.a1.resetStats();
    const [after] = (await gather(transport, controlSubject('STATS', a, 'a1'), 1)).json();
    expect(after.endpoints[0]).toMatchObject({ num_requests: 0, num_errors: 0, last_error: '', processing_time: 0 });
  });

  it('micro - CHECK answers the OCF code of the instance check at each of the three levels', async () => {
    const transport = await make();
    open.push(transport);
    const responder = new MicroResponder({ transport });
    open.push(responder);
    const name = uniqueName('chk');
    const levels: number[] = [];
    for (const id of ['c1', 'c2']) {
      responder.register({
        name,
        id,
        version: '1.0.0',
        check: (level) => {
          levels.push(level);
          return level >= 10 && id === 'c2' ? { code: OCF.DEGRADED, reason: 'queue filling' } : OCF.SUCCESS;
        },
      });
    }
    const all = await gather(transport, controlSubject('CHECK'), 2, { names: new Set([name]), body: enc({ level: 10 }) });
    const byId = Object.fromEntries(all.json().map((r) => [r.id, r]));
    expect(byId.c1).toEqual({ type: 'io.halyard.micro.v1.check_response', name, id: 'c1', version: '1.0.0', metadata: {}, level: 10, code: 0, label: 'OCF_SUCCESS', reason: '' });
    expect(byId.c2).toMatchObject({ level: 10, code: 190, label: 'OCF_DEGRADED', reason: 'queue filling' });
    const named = await gather(transport, controlSubject('CHECK', name), 2, { body: enc(20) });
    expect(named.json().map((r) => r.level)).toEqual([20, 20]);
    const one = await gather(transport, controlSubject('CHECK', name, 'c2'), 1);
    expect(one.json()[0]).toMatchObject({ id: 'c2', level: 0, code: 0 });
    expect(levels.sort()).toEqual([0, 10, 10, 20, 20]);
  });

  it('micro - a check that throws answers OCF_ERR_GENERIC with its message', async () => {
    const transport = await make();
    open.push(transport);
    const responder = new MicroResponder({ transport });
    open.push(responder);
    const name = uniqueName('chk');
    responder.register({ name, id: 'x', version: '1.0.0', check: async () => Promise.reject(new Error('pool exhausted')) });
    const [r] = (await gather(transport, controlSubject('CHECK', name, 'x'), 1)).json();
    expect(r).toMatchObject({ code: OCF.ERR_GENERIC, label: 'OCF_ERR_GENERIC', reason: 'pool exhausted' });
  });

  it('micro - STATUS answers what the instance status callback returns, at the three levels', async () => {
    const transport = await make();
    open.push(transport);
    const responder = new MicroResponder({ transport });
    open.push(responder);
    const name = uniqueName('sts');
    let calls = 0;
    for (const id of ['s1', 's2']) {
      responder.register({ name, id, version: '2.0.0', started: STARTED, status: () => ({ lifecycle: 'running', calls: ++calls, id }) });
    }
    const all = await gather(transport, controlSubject('STATUS'), 2, { names: new Set([name]) });
    expect(all.json().map((r) => r.status.id).sort()).toEqual(['s1', 's2']);
    const [one] = (await gather(transport, controlSubject('STATUS', name, 's2'), 1)).json();
    expect(one).toEqual({
      type: 'io.halyard.micro.v1.status_response',
      name,
      id: 's2',
      version: '2.0.0',
      metadata: {},
      started: STARTED.toISOString(),
      status: { lifecycle: 'running', calls: 3, id: 's2' },
    });
    expect((await gather(transport, controlSubject('STATUS', name), 2)).msgs.length).toBe(2);
  });

  it('micro - a bad CHECK level is answered with Nats-Service-Error headers and counted as an error of the check endpoint', async () => {
    const { transport, a } = await setup(make);
    const { msgs } = await gather(transport, controlSubject('CHECK', a, 'a1'), 1, { body: enc({ level: 5 }) });
    expect(readServiceError(msgs[0]!.headers)).toEqual({ code: 400, description: 'level must be 0, 10 or 20, bare or as {"level": n}' });
    const body = JSON.parse(new TextDecoder().decode(msgs[0]!.data));
    expect(body).toMatchObject({ type: 'io.halyard.micro.v1.error_response', name: a, id: 'a1', error: { code: 400 } });
    const [stats] = (await gather(transport, controlSubject('STATS', a, 'a1'), 1)).json();
    const check = stats.endpoints.find((e: { name: string }) => e.name === 'check');
    expect(check).toMatchObject({ num_requests: 1, num_errors: 1, last_error: 'level must be 0, 10 or 20, bare or as {"level": n}' });
  });

  it('micro - a STATUS callback that throws is answered with Nats-Service-Error-Code 500 and its message', async () => {
    const transport = await make();
    open.push(transport);
    const responder = new MicroResponder({ transport });
    open.push(responder);
    const name = uniqueName('sts');
    responder.register({
      name,
      id: 'x',
      version: '1.0.0',
      status: () => {
        throw new Error('snapshot\nunavailable');
      },
    });
    const { msgs } = await gather(transport, controlSubject('STATUS', name, 'x'), 1);
    expect(msgs[0]!.headers?.get('Nats-Service-Error-Code')).toBe('500');
    expect(msgs[0]!.headers?.get('Nats-Service-Error')).toBe('snapshot unavailable');
  });

  it('micro - a name or id nobody registered gets no responders at once, not a wait', async () => {
    const { transport, a } = await setup(make);
    for (const verb of ['PING', 'INFO', 'STATS', 'CHECK', 'STATUS'] as const) {
      await expect(transport.request(controlSubject(verb, uniqueName('nobody')), new Uint8Array(0), { timeout: 20_000 })).rejects.toBeInstanceOf(NoRespondersError);
      await expect(transport.request(controlSubject(verb, a, 'a9'), new Uint8Array(0), { timeout: 20_000 })).rejects.toBeInstanceOf(NoRespondersError);
    }
  });

  it('micro - an unregistered instance stops answering, and the last one of a name takes its subscriptions along', async () => {
    const { transport, responder, a, b, regs } = await setup(make);
    regs.a1.unregister();
    regs.a1.unregister();
    expect(regs.a1.isRegistered).toBe(false);
    await expect(transport.request(controlSubject('PING', a, 'a1'), new Uint8Array(0), { timeout: 20_000 })).rejects.toBeInstanceOf(NoRespondersError);
    const left = await gather(transport, controlSubject('PING', a), 1, { exact: controlSubject('PING', b, 'b1') });
    expect(left.json().map((r) => r.id)).toEqual(['a2']);
    regs.a2.unregister();
    await expect(transport.request(controlSubject('INFO', a), new Uint8Array(0), { timeout: 20_000 })).rejects.toBeInstanceOf(NoRespondersError);
    expect(responder.instances()).toEqual([{ name: b, id: 'b1' }]);
    // The id is free again once unregistered.
    responder.register(payments(a, 'a1'));
    expect((await gather(transport, controlSubject('PING', a, 'a1'), 1)).msgs.length).toBe(1);
  });
});

it('micro - a plain request over LocalTransport gets the same JSON as over NATS', async () => {
  const answers: Record<string, unknown[]> = {};
  const name = uniqueName('same');
  for (const [label, make] of transports) {
    const clock = new ManualClock();
    const transport = await make();
    open.push(transport);
    const responder = new MicroResponder({ transport, clock });
    open.push(responder);
    const reg = responder.register(payments(name, 'x1', { check: () => ({ code: 190, reason: 'slow' }), status: () => ({ ok: true }) }));
    const t = reg.endpoint('refund').begin();
    clock.advance(1.5);
    reg.endpoint('refund').end(t, 'refused');
    const got: unknown[] = [];
    for (const verb of ['PING', 'INFO', 'STATS', 'CHECK', 'STATUS'] as const) {
      got.push(...(await gather(transport, controlSubject(verb, name, 'x1'), 1)).json());
    }
    answers[label] = got;
    for (const o of open.splice(0).reverse()) await o.close();
  }
  expect(answers.LocalTransport).toEqual(answers.NatsTransport);
  expect(answers.LocalTransport).toHaveLength(5);
});
