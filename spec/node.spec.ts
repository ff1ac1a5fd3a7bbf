import fc from 'fast-check';
import { Packr } from 'msgpackr';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { DeadLetterReason } from '../src/actors/DeadLetters.js';
import { NoSuchActorError, RemoteError } from '../src/errors.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { decodeEnvelope, encodeEnvelope } from '../src/services/remote/envelope.js';
import { LocalBus } from '../src/transport/LocalBus.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

interface Fixture {
  label: string;
  node(name: string, extra?: Partial<NodeOptions>): Promise<Node>;
  raw(): Promise<Transport>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

let prefixSeq = 0;

function localFixture(): Fixture {
  const bus = new LocalBus();
  const prefix = `t${++prefixSeq}`;
  return {
    label: 'local',
    async node(name, extra) {
      const n = await createNode({ name, transport: { kind: 'local', bus }, prefix, ...extra });
      cleanups.push(() => n.shutdown());
      return n;
    },
    async raw() {
      const t = new LocalTransport({ name: 'raw', bus });
      cleanups.push(() => t.close());
      return t;
    },
  };
}

function natsFixture(): Fixture {
  const servers = inject('natsUrl');
  // A fresh prefix per test keeps tests on the shared server apart.
  const prefix = `t${process.pid}x${++prefixSeq}`;
  return {
    label: 'nats',
    async node(name, extra) {
      const n = await createNode({ name, transport: { kind: 'nats', servers }, prefix, ...extra });
      cleanups.push(() => n.shutdown());
      return n;
    },
    async raw() {
      const t = await NatsTransport.connect({ servers, name: 'raw-client' });
      cleanups.push(() => t.close());
      return t;
    },
  };
}

function prefixOf(n: Node): string {
  return n.subjects.prefix;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

describe.each([
  ['local', localFixture],
  ['nats', natsFixture],
])('node over %s', (_label, makeFixture) => {
  it('node - ask and tell by name across nodes', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const b = await f.node('b');
    a.spawn(counterMachine, { name: 'counter', input: { start: 10 } });
    await a.flush();
    const ref = b.ref('counter');
    for (let i = 0; i < 50; i++) ref.tell({ type: 'INC' });
    await expect(ref.ask({ type: 'GET' }, { timeout: 5000 })).resolves.toBe(60);
  });

  it('node - ask to a name nobody serves fails fast with NoSuchActorError', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    // A long deadline: only a fast "no responders" can settle this within the test timeout.
    await expect(a.ref('nobody').ask({ type: 'GET' }, { timeout: 60_000 })).rejects.toBeInstanceOf(NoSuchActorError);
  });

  it('node - a tell to a name nobody serves is counted as a dead letter', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    a.ref('nobody').tell({ type: 'INC' });
    await waitFor(() => a.deadLetters.count(DeadLetterReason.NoSuchActor) === 1, { timeout: 5000, message: 'dead letter' });
  });

  it('node - instances of one name share the load through a queue group', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const b = await f.node('b');
    const c = await f.node('c');
    const wa = a.spawn(counterMachine, { name: 'worker' });
    const wb = b.spawn(counterMachine, { name: 'worker' });
    await Promise.all([a.flush(), b.flush()]);
    const n = 200;
    for (let i = 0; i < n; i++) c.ref('worker').tell({ type: 'INC' });
    await waitFor(
      async () => (await wa.ask<number>({ type: 'GET' })) + (await wb.ask<number>({ type: 'GET' })) === n,
      { timeout: 10_000, message: 'all messages delivered once' },
    );
    // And nothing more: each message went to exactly one instance.
    await c.transport.flush();
    expect((await wa.ask<number>({ type: 'GET' })) + (await wb.ask<number>({ type: 'GET' }))).toBe(n);
  });

  it('node - check and status by name across nodes, and of a remote node', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const b = await f.node('b');
    a.spawn(counterMachine, { name: 'counter' });
    await a.flush();
    await expect(b.check('counter', 10)).resolves.toMatchObject({ code: 0, label: 'OCF_SUCCESS', actor: 'counter', node: 'a', level: 10 });
    const s = await b.status('counter');
    expect(s).toMatchObject({ actor: 'counter', node: 'a', lifecycle: 'running', state: 'counting' });
    await expect(b.remoteNode('a').check()).resolves.toMatchObject({ code: 0, actor: 'a' });
    await expect(b.remoteNode('a').status()).resolves.toMatchObject({ node: 'a', names: expect.arrayContaining(['counter']) });
  });

  it('node - an actor that throws while answering a remote ask returns a typed error', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const b = await f.node('b');
    a.spawn(counterMachine, { name: 'counter' });
    await a.flush();
    const err = await b.ref('counter').ask({ type: 'BOOM' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ code: 'ERR_ACTOR_FAILED' });
    // The failure stays with that actor.
    await expect(a.check()).resolves.toMatchObject({ code: 0 });
  });

  it('node - every actor has an address on the node wildcard subject', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const raw = await f.raw();
    const anon = a.spawn(counterMachine);
    expect(anon.address).toBe(`${prefixOf(a)}.actor.a.${anon.id}`);
    const r = await raw.request(anon.address, encodeEnvelope({ v: 1, k: 'ask', t: anon.id, c: '1', b: { type: 'GET' } }), { timeout: 5000 });
    expect(decodeEnvelope(r.data)).toMatchObject({ k: 'reply', b: 0 });
  });

  it('node - a plain client sends JSON and gets JSON back', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const raw = await f.raw();
    a.spawn(counterMachine, { name: 'counter' });
    await a.flush();
    const subject = `${prefixOf(a)}.svc.counter`;
    const headers = { 'content-type': 'application/json' };
    raw.publish(subject, enc.encode(JSON.stringify({ type: 'ADD', by: 41 })), { headers });
    raw.publish(subject, enc.encode(JSON.stringify({ type: 'INC' })), { headers });
    const r = await raw.request(subject, enc.encode(JSON.stringify({ type: 'GET' })), { timeout: 5000, headers });
    expect(JSON.parse(dec.decode(r.data))).toBe(42);
    const bad = await raw.request(subject, enc.encode('{"type": '), { timeout: 5000, headers });
    expect(bad.headers?.get('halyard-error')).toBe('1');
    expect(JSON.parse(dec.decode(bad.data))).toMatchObject({ name: 'DecodeError', code: 'ERR_DECODE' });
    const check = await raw.request(subject, new Uint8Array(0), { timeout: 5000, headers: { ...headers, 'halyard-op': 'check' } });
    expect(JSON.parse(dec.decode(check.data))).toMatchObject({ code: 0, label: 'OCF_SUCCESS' });
  });

  it('node - malformed and oversize frames are answered with typed errors and counted', async () => {
    const foreign = new Packr({ useRecords: false });
    const f = makeFixture();
    const a = await f.node('a', { limits: { maxBytes: 4096, maxDepth: 16 } });
    const raw = await f.raw();
    const c = a.spawn(counterMachine, { name: 'counter' });
    await a.flush();
    const subject = `${prefixOf(a)}.svc.counter`;
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 0, maxLength: 256 }),
          fc.uint8Array({ minLength: 4097, maxLength: 6000 }),
          fc.integer({ min: 17, max: 400 }).map((d) => new Uint8Array([...new Array(d).fill(0x91), 0xc0])),
          // Packed as a foreign msgpack client would: Halyard's own encoder refuses some bodies (a `__proto__` key) that a peer may still send.
          fc.jsonValue().map((v) => foreign.pack({ v: 1, k: 'ask', t: 'counter', b: v })),
        ),
        async (frame) => {
          let decodesAsEvent = false;
          try {
            const env = decodeEnvelope(frame, { maxBytes: 4096, maxDepth: 16 });
            const b = env.b as { type?: unknown } | undefined;
            decodesAsEvent = (env.k === 'ask' || env.k === 'tell' || env.k === 'check' || env.k === 'status') && (env.k !== 'ask' && env.k !== 'tell' || (typeof b === 'object' && b !== null && !Array.isArray(b) && typeof b.type === 'string' && b.type.length > 0));
          } catch {
            decodesAsEvent = false;
          }
          fc.pre(!decodesAsEvent);
          sent++;
          const r = await raw.request(subject, frame, { timeout: 5000 });
          // Every error reply is marked; a frame that happens to parse as JSON is answered in JSON.
          expect(r.headers?.get('halyard-error')).toBe('1');
          const isJson = r.headers?.get('content-type') === 'application/json';
          const body = isJson ? (JSON.parse(new TextDecoder().decode(r.data)) as { code: string }) : (decodeEnvelope(r.data).b as { code: string });
          if (!isJson) expect(decodeEnvelope(r.data).k).toBe('error');
          expect(String(body.code)).toMatch(/^ERR_(DECODE|FRAME_TOO_LARGE|FRAME_TOO_DEEP|INVALID_EVENT|INVALID_ARGUMENT)$/);
        },
      ),
      { numRuns: 150, verbose: true },
    );
    const dl = a.deadLetters.byReason();
    expect((dl[DeadLetterReason.Decode] ?? 0) + (dl[DeadLetterReason.FrameTooLarge] ?? 0) + (dl[DeadLetterReason.InvalidEvent] ?? 0) + (dl[DeadLetterReason.Unroutable] ?? 0)).toBe(sent);
    await expect(c.ask({ type: 'GET' })).resolves.toBe(0);
    await expect(a.check()).resolves.toMatchObject({ code: 0 });
  });

  it('node - shutdown stops actors, rejects later use, and reports NOT_RUNNING', async () => {
    const f = makeFixture();
    const a = await f.node('a');
    const c = a.spawn(counterMachine, { name: 'counter' });
    await a.shutdown();
    expect(c.lifecycle).toBe('stopped');
    await expect(a.check()).resolves.toMatchObject({ code: 7 });
    expect(() => a.spawn(counterMachine)).toThrow(/shut down/);
  });
});

describe('node - options', () => {
  it('node - invalid options name the field', async () => {
    await expect(createNode({ name: 'a b' })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'name' });
    await expect(createNode({ name: 'a', transport: { kind: 'carrier-pigeon' } as never })).rejects.toMatchObject({ field: 'transport.kind' });
    await expect(createNode({ name: 'a', limits: { maxBytes: 0 } })).rejects.toMatchObject({ field: 'limits.maxBytes' });
    await expect(createNode({ name: 'a', mailbox: { capacity: -1 } })).rejects.toMatchObject({ field: 'mailbox.capacity' });
  });
});
