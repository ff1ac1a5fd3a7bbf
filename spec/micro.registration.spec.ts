/**
 * Registering with the `$SRV` responder: names and versions checked with
 * typed errors naming the field, the endpoint-stats recorder on an injected
 * clock, callback deadlines, requests nobody can answer, and closing. Runs on
 * the embedded transport; no server needed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DeadLetterReason, DeadLetters } from '../src/actors/DeadLetters.js';
import { ManualClock } from '../src/clock.js';
import { DuplicateNameError, InvalidArgumentError, InvalidSpecError, TransportClosedError } from '../src/errors.js';
import { EndpointStats } from '../src/services/micro/EndpointStats.js';
import { MicroResponder } from '../src/services/micro/MicroResponder.js';
import { isSemver, type MicroInstance } from '../src/services/micro/microSpec.js';
import { controlSubject } from '../src/services/micro/microSubjects.js';
import { readServiceError } from '../src/services/micro/serviceError.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import { infoProblems, pingProblems, statsProblems } from './micro.support.js';
import { waitFor } from './support/wait.js';

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

function local(clock?: ManualClock, deadLetters?: DeadLetters) {
  const transport = new LocalTransport({ name: 'micro-reg', bus: new LocalBus() });
  const responder = new MicroResponder({ transport, clock, deadLetters, callbackTimeoutMs: 1000 });
  open.push(transport, responder);
  return { transport, responder };
}

const good: MicroInstance = { name: 'payments', id: 'p1', version: '1.4.0' };

function refusal(spec: unknown): InvalidSpecError {
  const { responder } = local();
  try {
    responder.register(spec as MicroInstance);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidSpecError);
    expect(responder.size).toBe(0);
    return err as InvalidSpecError;
  }
  throw new Error(`accepted ${JSON.stringify(spec)}`);
}

describe('micro - registration checks', () => {
  it.each([
    ['name', { ...good, name: 'pay.ments' }],
    ['name', { ...good, name: '' }],
    ['name', { ...good, name: 'pay ments' }],
    ['name', { ...good, name: 'p*' }],
    ['id', { ...good, id: 'a.b' }],
    ['id', { ...good, id: undefined }],
    ['version', { ...good, version: '1.4' }],
    ['version', { ...good, version: 'v1.4.0' }],
    ['version', { ...good, version: '01.4.0' }],
    ['version', { ...good, version: '1.4.0-' }],
    ['version', { ...good, version: '1.4.0+' }],
    ['version', { ...good, version: undefined }],
    ['description', { ...good, description: 7 }],
    ['metadata.region', { ...good, metadata: { region: 1 } }],
    ['endpoints.bad.name', { ...good, endpoints: { 'bad.name': 'x' } }],
    ['endpoints.check', { ...good, endpoints: { check: 'x' } }],
    ['endpoints.status', { ...good, endpoints: { status: 'x' } }],
    ['endpoints.charge.subject', { ...good, endpoints: { charge: 'a..b' } }],
    ['endpoints.charge.subject', { ...good, endpoints: { charge: { subject: 'has space' } } }],
    ['endpoints.charge.queueGroup', { ...good, endpoints: { charge: { subject: 'c', queueGroup: 'a b' } } }],
    ['endpoints.charge.metadata.k', { ...good, endpoints: { charge: { subject: 'c', metadata: { k: false } } } }],
    ['started', { ...good, started: new Date('nope') }],
    ['check', { ...good, check: 'yes' }],
    ['status', { ...good, status: {} }],
  ])('micro - a bad %s is refused with an InvalidSpecError naming it', (field, spec) => {
    const err = refusal(spec);
    expect(err.field).toBe(field);
    expect(err.code).toBe('ERR_INVALID_SPEC');
    expect(err.message).toContain(field);
  });

  it('micro - versions are strict semver', () => {
    for (const v of ['0.0.0', '1.4.0', '10.20.30', '1.0.0-alpha', '1.0.0-rc.1+build.7', '1.0.0+20130313144700', '1.0.0-0.3.7']) {
      expect(isSemver(v), v).toBe(true);
    }
    for (const v of ['1', '1.2', '1.2.3.4', '1.02.3', '1.2.3-01', 'latest', ' 1.2.3', '1.2.3 ']) expect(isSemver(v), v).toBe(false);
  });

  it('micro - the same name and id twice on one responder is a DuplicateNameError; another id is fine', () => {
    const { responder } = local();
    responder.register(good);
    expect(() => responder.register(good)).toThrow(DuplicateNameError);
    responder.register({ ...good, id: 'p2' });
    expect(responder.size).toBe(2);
  });

  it('micro - a registration keeps no reference to the caller objects', async () => {
    const { transport, responder } = local();
    const metadata: Record<string, string> = { region: 'eu' };
    responder.register({ ...good, metadata });
    metadata.region = 'us';
    const reply = await transport.request(controlSubject('PING', 'payments', 'p1'), new Uint8Array(0), { timeout: 5000 });
    expect(JSON.parse(new TextDecoder().decode(reply.data)).metadata).toEqual({ region: 'eu' });
  });

  it('micro - an endpoint that was not declared has no recorder', () => {
    const { responder } = local();
    const reg = responder.register({ ...good, endpoints: { charge: 'pay.charge' } });
    expect(reg.endpoint('charge')).toBeInstanceOf(EndpointStats);
    expect(() => reg.endpoint('refund')).toThrow(InvalidArgumentError);
  });
});

describe('micro - endpoint stats', () => {
  it('micro - every request counts, an error counts twice as request and error, times add up in nanoseconds', () => {
    const clock = new ManualClock(50);
    const stats = new EndpointStats(clock);
    expect(stats.snapshot()).toEqual({ numRequests: 0, numErrors: 0, lastError: '', processingTimeNs: 0, averageProcessingTimeNs: 0 });
    const a = stats.begin();
    clock.advance(0.25);
    stats.end(a);
    const b = stats.begin();
    clock.advance(1);
    stats.end(b, new Error('first'));
    stats.record(0.75, 'second');
    expect(stats.snapshot()).toEqual({ numRequests: 3, numErrors: 2, lastError: 'second', processingTimeNs: 2_000_000, averageProcessingTimeNs: 666_667 });
    stats.reset();
    expect(stats.snapshot()).toEqual({ numRequests: 0, numErrors: 0, lastError: '', processingTimeNs: 0, averageProcessingTimeNs: 0 });
  });
});

describe('micro - answering', () => {
  it('micro - a check that does not answer in time gets Nats-Service-Error-Code 504 and counts as an error', async () => {
    const clock = new ManualClock();
    const { transport, responder } = local(clock);
    responder.register({ ...good, check: () => new Promise<number>(() => {}) });
    const pending = transport.request(controlSubject('CHECK', 'payments', 'p1'), new Uint8Array(0), { timeout: 10_000 });
    await waitFor(() => clock.pendingTimers > 0, { timeout: 5000, message: 'the check deadline armed' });
    clock.advance(1000);
    const reply = await pending;
    expect(readServiceError(reply.headers)).toEqual({ code: 504, description: 'no answer within 1000 ms' });
    const stats = await transport.request(controlSubject('STATS', 'payments', 'p1'), new Uint8Array(0), { timeout: 5000 });
    const check = JSON.parse(new TextDecoder().decode(stats.data)).endpoints.find((e: { name: string }) => e.name === 'check');
    expect(check).toMatchObject({ num_requests: 1, num_errors: 1, last_error: 'no answer within 1000 ms', processing_time: 1_000_000_000 });
  });

  it('micro - a $SRV request without a reply subject is a dead letter, not an answer', async () => {
    const deadLetters = new DeadLetters();
    const { transport, responder } = local(undefined, deadLetters);
    responder.register(good);
    transport.publish(controlSubject('PING', 'payments'), new Uint8Array(0));
    await waitFor(() => deadLetters.count(DeadLetterReason.NoReplySubject) === 1, { timeout: 5000, message: 'the dead letter' });
  });

  it('micro - a status that cannot be sent as JSON is answered with an error, not dropped', async () => {
    const { transport, responder } = local();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    responder.register({ ...good, status: () => cyclic });
    const reply = await transport.request(controlSubject('STATUS', 'payments', 'p1'), new Uint8Array(0), { timeout: 5000 });
    expect(readServiceError(reply.headers)).toEqual({ code: 500, description: 'status could not be sent as JSON' });
  });

  it('micro - a closed responder answers nothing and refuses registrations', async () => {
    const { transport, responder } = local();
    const reg = responder.register(good);
    responder.close();
    responder.close();
    expect(reg.isRegistered).toBe(false);
    expect(responder.size).toBe(0);
    expect(() => responder.register({ ...good, id: 'p2' })).toThrow(TransportClosedError);
    await expect(transport.request(controlSubject('PING'), new Uint8Array(0), { timeout: 5000 })).rejects.toMatchObject({ name: 'NoRespondersError' });
  });

  it('micro - a responder on a closed transport refuses to register and keeps nothing', async () => {
    const { transport, responder } = local();
    await transport.close();
    expect(() => responder.register(good)).toThrow(TransportClosedError);
    expect(responder.size).toBe(0);
    expect(responder.instances()).toEqual([]);
  });
});

describe('micro - the schema checks the specs use', () => {
  // The fields a list of problems names ("version: ..." → "version").
  const fields = (problems: string[]) => [...new Set(problems.map((p) => p.slice(0, p.indexOf(':'))))];

  it('micro - the ADR-32 checks reject what the schemas forbid', () => {
    const id = { name: 'a', id: 'x', version: '1.0.0', metadata: {} };
    expect(pingProblems({ type: 'io.nats.micro.v1.ping_response', ...id })).toEqual([]);
    expect(fields(pingProblems({ type: 'io.nats.micro.v1.ping_response', ...id, version: '1.0' }))).toEqual(['version']);
    expect(fields(pingProblems({ type: 'io.nats.micro.v1.info_response', ...id, name: 'a.b' }))).toEqual(['type', 'name']);
    expect(fields(pingProblems({ type: 'io.nats.micro.v1.ping_response', ...id, metadata: undefined }))).toEqual(['metadata']);
    expect(fields(infoProblems({ type: 'io.nats.micro.v1.info_response', ...id, endpoints: [] }))).toEqual(['description']);
    const badEndpoint = { type: 'io.nats.micro.v1.info_response', ...id, description: '', endpoints: [{ name: 'e', subject: '' }] };
    expect(fields(infoProblems(badEndpoint))).toEqual(['endpoints[0].subject', 'endpoints[0].metadata']);
    const ep = { name: 'e', subject: 's', num_requests: 1, num_errors: 0, last_error: '', processing_time: 5, average_processing_time: 5 };
    const stats = { type: 'io.nats.micro.v1.stats_response', ...id, started: '2026-01-02T03:04:05.678Z', endpoints: [ep] };
    expect(statsProblems(stats)).toEqual([]);
    expect(fields(statsProblems({ ...stats, started: 'yesterday' }))).toEqual(['started']);
    expect(fields(statsProblems({ ...stats, endpoints: [{ ...ep, processing_time: 1.5 }] }))).toEqual(['endpoints[0].processing_time']);
    expect(fields(statsProblems({ ...stats, endpoints: [{ ...ep, last_error: undefined }] }))).toEqual(['endpoints[0].last_error']);
  });
});
