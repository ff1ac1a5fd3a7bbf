/**
 * Contexts controlled over the wire: create, start, stop and restart by
 * transaction, state changes on `<prefix>.context.<transaction>.events`.
 * The same cases on the embedded transport and on a real nats-server.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createMachine } from 'xstate';
import { defineService } from '../src/services/catalog/index.js';
import { ContextEventType } from '../src/services/contexts/index.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { LocalBus } from '../src/transport/LocalTransport.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

const idle = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'], on: { DONE: 'done' } }, done: { type: 'final' } } });
const services = ['stand', 'walk'].map((name) => defineService({ name, version: '1.0.0', logic: idle, ready: 'ready' }));
const DEFINITION = { context: 'echo', services: [{ id: 'stand', service: 'stand', on_start: 'start walk' }, { id: 'walk', service: 'walk' }] };
const enc = new TextEncoder();
const dec = new TextDecoder();
let seq = 0;

/** A host node that runs contexts, and a client node with no services that talks to it over the transport. */
async function pair(transport: () => NodeOptions['transport']): Promise<{ host: Node; client: Node; prefix: string }> {
  const prefix = `ctx${process.pid}x${++seq}`;
  const host = await createNode({ name: `host${seq}`, prefix, transport: transport(), services });
  const client = await createNode({ name: `client${seq}`, prefix, transport: transport() });
  nodes.push(client, host);
  return { host, client, prefix };
}

async function call(client: Node, subject: string, body?: unknown): Promise<Record<string, unknown>> {
  const m = await client.transport.request(subject, enc.encode(body === undefined ? '' : JSON.stringify(body)), { timeout: 5000 });
  return JSON.parse(dec.decode(m.data)) as Record<string, unknown>;
}

const kinds: Array<[string, () => () => NodeOptions['transport']]> = [
  [
    'embedded',
    () => {
      const bus = new LocalBus();
      return () => ({ kind: 'local', bus });
    },
  ],
  ['nats', () => () => ({ kind: 'nats', servers: inject('natsUrl') })],
];

describe.each(kinds)('contexts - wire (%s)', (_kind, transportFor) => {
  it('contexts - a context is created, restarted and stopped by transaction id over the wire', async () => {
    const { host, client, prefix } = await pair(transportFor());
    const created = await call(client, `${prefix}.context.create`, { definition: DEFINITION });
    expect(created).toMatchObject({ ok: true, state: 'running' });
    const first = created.transaction as string;
    expect(first).toMatch(/^[A-Z2-7]{20}$/);
    const ctx = host.contexts.find({ transaction: first })!;
    expect(ctx.state).toBe('running');

    const restarted = await call(client, `${prefix}.context.${first}.restart`);
    expect(restarted).toMatchObject({ ok: true, state: 'running' });
    expect(restarted.transaction).not.toBe(first);
    expect(ctx.transaction).toBe(restarted.transaction);

    const stopped = await call(client, `${prefix}.context.${ctx.transaction}.stop`);
    expect(stopped).toMatchObject({ ok: true, transaction: ctx.transaction, state: 'stopped' });
    expect(ctx.services()).toEqual([]);
    const again = await call(client, `${prefix}.context.${ctx.transaction}.start`);
    expect(again).toMatchObject({ ok: true, state: 'running' });
    // A create addressed to one node is answered by it.
    const targeted = await call(client, `${prefix}.context.create.${host.name}`, { definition: DEFINITION });
    expect(host.contexts.find({ transaction: targeted.transaction as string })?.state).toBe('running');
  });

  it("contexts - every state change of a context and of its services is published on the transaction's events subject", async () => {
    const { host, client, prefix } = await pair(transportFor());
    const seen: Array<{ type: string; transaction: string; state?: string; id?: string; event?: string }> = [];
    const sub = client.transport.subscribe(`${prefix}.context.*.events`, (m) => seen.push(JSON.parse(dec.decode(m.data))));
    await client.transport.flush();
    const ctx = await host.contexts.start(DEFINITION);
    await waitFor(() => ctx.services().length === 2, { timeout: 5000, message: 'walk started' });
    await ctx.stop();
    await waitFor(() => seen.some((e) => e.type === ContextEventType.State && e.state === 'stopped'), { timeout: 5000, message: 'stopped published' });
    sub.unsubscribe();
    expect(seen.every((e) => e.transaction === ctx.transaction)).toBe(true);
    const states = seen.filter((e) => e.type === ContextEventType.State).map((e) => e.state);
    expect(states[0]).toBe('starting');
    expect(states).toContain('running');
    expect(states.at(-1)).toBe('stopped');
    const serviceEvents = seen.filter((e) => e.type === ContextEventType.Service).map((e) => `${e.id} ${e.event}`);
    expect(serviceEvents).toEqual(expect.arrayContaining(['stand halyard.service.started.v1', 'walk halyard.service.started.v1', 'walk halyard.service.exited.v1', 'stand halyard.service.exited.v1']));
  });

  it('contexts - a bad definition over the wire is answered with a typed refusal naming the field, nothing started', async () => {
    const { host, client, prefix } = await pair(transportFor());
    const bad = await call(client, `${prefix}.context.create`, { definition: { context: 'echo', services: [{ id: 'stand', service: 'stand', on_start: 'start nobody' }] } });
    expect(bad).toMatchObject({ ok: false, error: { name: 'InvalidContextError', code: 'ERR_INVALID_CONTEXT' } });
    expect((bad.error as { message: string }).message).toContain('services[0].on_start');
    expect(await call(client, `${prefix}.context.create`, 'not an object' as never)).toMatchObject({ ok: false, error: { name: 'InvalidArgumentError' } });
    expect(host.services.find().list()).toEqual([]);
  });
});
