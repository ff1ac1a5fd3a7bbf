/**
 * The admin wire API (services/admin/protocol.ts) and its client
 * (src/client): every verb against the embedded bus, a real nats-server
 * and the control socket of an embedded node.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { connect, type HalyardClient, serveControlSocket, type ControlSocket } from '../src/client/index.js';
import { AdminNotFoundError, InvalidSpecError, RemoteError } from '../src/errors.js';
import type { HalyardEvent } from '../src/events.js';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { LocalBus, LocalTransport } from '../src/transport/LocalTransport.js';
import type { Transport } from '../src/transport/Transport.js';
import { chargeCounter } from './support/machines.js';
import { waitFor } from './support/wait.js';

const billing = defineService({ name: 'billing', version: '1.2.0', logic: chargeCounter(), ready: 'ready', tags: ['edge'] });
const ledger = defineService({ name: 'ledger', version: '0.1.0', logic: chargeCounter(), ready: 'ready' });

interface Backend {
  readonly kind: string;
  /** Node options that put a node on this backend's wire. */
  nodeOptions(): Partial<NodeOptions>;
  client(): Promise<HalyardClient>;
  /** A raw connection to the same wire, for frames the client would never send. */
  raw(): Promise<Transport>;
  close(): Promise<void>;
}

let seq = 0;
function localBackend(withSocket: boolean): Backend {
  const bus = new LocalBus();
  const prefix = `adm${++seq}`;
  let socket: ControlSocket | undefined;
  let dir: string | undefined;
  const opened: Transport[] = [];
  const transport = (name: string): Transport => {
    const t = new LocalTransport({ name, bus });
    opened.push(t);
    return t;
  };
  return {
    kind: withSocket ? 'control socket' : 'local bus',
    nodeOptions: () => ({ transport: { kind: 'local', bus }, prefix }),
    async client() {
      if (!withSocket) return connect({ transport: transport('tool'), prefix, gatherMs: 50 });
      dir ??= mkdtempSync(join(tmpdir(), 'halyard-sock-'));
      socket ??= await serveControlSocket({ path: join(dir, 'halyard.sock'), transport: transport('up'), prefix });
      return connect({ socket: socket.path, prefix, gatherMs: 50 });
    },
    raw: async () => transport('raw'),
    async close() {
      await socket?.close();
      await Promise.all(opened.map((t) => t.close()));
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

function natsBackend(): Backend {
  const servers = inject('natsUrl');
  const prefix = `adm${++seq}x${process.pid}`;
  const opened: Transport[] = [];
  return {
    kind: 'nats-server',
    nodeOptions: () => ({ transport: { kind: 'nats', servers }, prefix }),
    client: () => connect({ server: servers, prefix, gatherMs: 100 }),
    async raw() {
      const { NatsTransport } = await import('../src/transport/NatsTransport.js');
      const t = await NatsTransport.connect({ servers, name: 'raw' });
      opened.push(t);
      return t;
    },
    close: async () => {
      await Promise.all(opened.map((t) => t.close()));
    },
  };
}

describe.each([
  ['local bus', () => localBackend(false)],
  ['nats-server', natsBackend],
  ['control socket', () => localBackend(true)],
])('admin over %s', (_kind, make) => {
  let backend: Backend;
  let writer: Node;
  let reader: Node;
  let client: HalyardClient;

  beforeAll(async () => {
    backend = make();
    writer = await createNode({ name: 'w1', ...backend.nodeOptions(), services: [billing, ledger], admin: { write: true }, events: { publish: true }, labels: ['eu'] });
    reader = await createNode({ name: 'r1', ...backend.nodeOptions(), services: [ledger] });
    await writer.services.start('billing', { tags: ['blue'] });
    await reader.services.start('ledger');
    await writer.flush();
    await reader.flush();
    client = await backend.client();
  });
  afterAll(async () => {
    await client?.close();
    await writer?.shutdown();
    await reader?.shutdown();
    await backend?.close();
  });

  it('admin - nodes lists every node with its check, transport and write permission', async () => {
    const nodes = await client.nodes();
    expect(nodes.map((n) => n.node)).toEqual(['r1', 'w1']);
    const w = nodes[1];
    expect(w.check.code).toBe(0);
    expect(w.write).toBe(true);
    expect(nodes[0].write).toBe(false);
    expect(w.labels).toEqual(['eu']);
    expect(w.instances).toBe(1);
    expect(w.connected).toBe(true);
  });

  it('admin - services lists instances with tags, node, state, restarts and mailbox depth, filtered by tag and node', async () => {
    const all = await client.services();
    expect(all.services.map((s) => s.name)).toEqual(['billing', 'ledger']);
    expect(all.instances.map((i) => [i.service, i.node, i.state])).toEqual([
      ['billing', 'w1', 'running'],
      ['ledger', 'r1', 'running'],
    ]);
    const b = all.instances[0];
    expect(b.tags).toEqual(expect.arrayContaining(['edge', 'blue']));
    expect(b.mailbox.capacity).toBeGreaterThan(0);
    expect(b.mailbox.depth).toBe(0);
    expect((await client.services({ tag: 'blue' })).instances.map((i) => i.service)).toEqual(['billing']);
    expect((await client.services({ node: 'r1' })).instances.map((i) => i.service)).toEqual(['ledger']);
  });

  it('admin - info names a service and its instances; an unknown name is AdminNotFoundError', async () => {
    const info = await client.info('billing');
    expect(info.services).toEqual([{ name: 'billing', version: '1.2.0', dependsOn: [], cardinality: expect.any(String) }]);
    expect(info.instances.map((i) => i.node)).toEqual(['w1']);
    await expect(client.info('nosuch')).rejects.toBeInstanceOf(AdminNotFoundError);
  });

  it('admin - check, status, call and send reach a name through whichever node answers', async () => {
    expect((await client.check('ledger', 10)).code).toBe(0);
    expect((await client.status('billing')).node).toBe('w1');
    const before = await client.call<number>('billing', { type: 'CHARGE' });
    await client.send('billing', { type: 'CHARGE' });
    await waitFor(async () => (await client.call<number>('billing', { type: 'CHARGE' })) === before + 2, { timeout: 5000, message: 'the sent CHARGE counted' });
  });

  it('admin - a crash shows in tree restarts, the decision log and the logs tail', async () => {
    const events: HalyardEvent[] = [];
    const off = client.events((e) => events.push(e));
    // The subscription is in place once a round trip through the same link has come back.
    await client.nodes();
    await writer.flush();
    await client.send('billing', { type: 'CRASH' });
    const tree = await waitFor(
      async () => {
        const t = await client.tree();
        const child = t.find((n) => n.node === 'w1')?.supervisors.flatMap((s) => s.children).find((c) => c.restarts > 0);
        return child === undefined ? undefined : t;
      },
      { timeout: 5000, message: 'a child of w1 restarted' },
    );
    expect(tree.map((n) => n.node)).toEqual(['r1', 'w1']);
    const decisions = await client.decisions();
    expect(decisions.some((d) => d.node === 'w1' && d.directive === 'restart' && d.error === 'boom')).toBe(true);
    const childId = decisions[decisions.length - 1].childId;
    expect((await client.decisions({ child: childId })).every((d) => d.childId === childId)).toBe(true);
    expect((await client.decisions({ child: 'no-such-child' })).length).toBe(0);
    const lines = await client.logs({ node: 'w1' });
    expect(lines.some((l) => l.msg === 'supervisor.child.exited' && l.level === 'warn')).toBe(true);
    await waitFor(() => events.some((e) => e.type === 'supervisor.child.restarted' && e.node === 'w1'), { timeout: 5000, message: 'the restart event arrived' });
    off();
    expect((await client.services({ service: 'billing' })).instances[0].restarts).toBe(1);
  });

  it('admin - restart and stop are refused by a node that does not allow writes', async () => {
    const err = await client.restart('ledger').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect((err as RemoteError).code).toBe('ERR_ADMIN_WRITE_REFUSED');
    expect((err as RemoteError).message).toContain('r1');
    expect((await client.services({ node: 'r1' })).instances[0].state).toBe('running');
  });

  it('admin - restart and stop act on the node that allows writes', async () => {
    const before = (await client.services({ service: 'billing' })).instances[0].instance;
    const restarted = await client.restart('billing');
    expect(restarted.map((r) => r.node)).toEqual(['w1']);
    const after = (await client.services({ service: 'billing' })).instances.filter((i) => i.state === 'running');
    expect(after.length).toBe(1);
    expect(after[0].instance).toBe(restarted[0].done[0]);
    expect(after[0].instance).toBe(before); // a restart keeps the instance id (PM2 restart), and with it persisted state
    await client.stop(after[0].instance);
    expect((await client.services({ service: 'billing' })).instances.filter((i) => i.state === 'running')).toEqual([]);
    await expect(client.stop('nosuch')).rejects.toBeInstanceOf(RemoteError);
  });

  it('admin - a bad frame gets a typed error reply naming the field', async () => {
    const raw = await backend.raw();
    const ask = async (verb: string, body: string) => {
      const msg = await raw.request(`${client.subjects.adminNode('w1', verb)}`, new TextEncoder().encode(body), { timeout: 5000 });
      return JSON.parse(new TextDecoder().decode(msg.data));
    };
    expect(await ask('info', 'not json')).toMatchObject({ v: 1, ok: false, node: 'w1', error: { code: 'ERR_ADMIN_BAD_REQUEST', field: 'frame' } });
    expect(await ask('info', '{"v":2}')).toMatchObject({ ok: false, error: { field: 'v' } });
    expect(await ask('explode', '{"v":1}')).toMatchObject({ ok: false, error: { field: 'verb' } });
    expect(await ask('check', '{"v":1,"args":{"name":"ledger","level":7}}')).toMatchObject({ ok: false, error: { field: 'args.level' } });
    expect(await ask('call', '{"v":1,"args":{"name":"ledger","event":"x"}}')).toMatchObject({ ok: false, error: { field: 'args.event' } });
  });

  it('admin - a request without a reply subject is counted as a dead letter', async () => {
    const raw = await backend.raw();
    const before = reader.deadLetters.count('no-reply-subject');
    raw.publish(client.subjects.adminNode('r1', 'info'), new TextEncoder().encode('{"v":1}'));
    await raw.flush();
    await waitFor(() => reader.deadLetters.count('no-reply-subject') > before, { timeout: 5000, message: 'dead letter counted' });
  });
});

describe('admin options', () => {
  const nodes: Node[] = [];
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  });

  it('admin - a bad admin option is an InvalidSpecError naming the field', async () => {
    await expect(createNode({ name: 'x', admin: { write: 'yes' as unknown as boolean } })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'admin.write' });
    await expect(createNode({ name: 'x', admin: { writes: true } as never })).rejects.toBeInstanceOf(InvalidSpecError);
  });

  it('admin - a node created with admin: false answers no admin request', async () => {
    const bus = new LocalBus();
    nodes.push(await createNode({ name: 'quiet', transport: { kind: 'local', bus }, admin: false }));
    nodes.push(await createNode({ name: 'open', transport: { kind: 'local', bus } }));
    const client = await connect({ transport: new LocalTransport({ name: 'tool', bus }), gatherMs: 50 });
    expect((await client.nodes()).map((n) => n.node)).toEqual(['open']);
    await client.close();
  });
});

describe('control socket', () => {
  it('control socket - the socket file is owner-only and a second server on it is refused', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'halyard-sock-'));
    const path = join(dir, 'halyard.sock');
    const t = new LocalTransport({ name: 'up', bus: new LocalBus() });
    const s = await serveControlSocket({ path, transport: t });
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      await expect(serveControlSocket({ path, transport: t })).rejects.toMatchObject({ code: 'ERR_ADMIN_CONNECT' });
    } finally {
      await s.close();
      await t.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('control socket - connecting where no halyard up runs is an AdminConnectError', async () => {
    await expect(connect({ socket: join(tmpdir(), `none-${process.pid}.sock`) })).rejects.toMatchObject({ name: 'AdminConnectError' });
  });
});
