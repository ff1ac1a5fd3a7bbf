/**
 * health - `createNode({ http })` serves `/alive`, `/ready` and `/metrics`;
 * off by default, on loopback when on; `/ready` follows the transport, the
 * cluster and the services. `serveHealth` serves other processes the same way.
 */
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { InvalidSpecError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { serveHealth, type HealthServer } from '../src/services/health/index.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
const servers: NatsServerHandle[] = [];
const healths: HealthServer[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
  await Promise.all(healths.splice(0).map((h) => h.close()));
  await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
});

async function node(options: Omit<NodeOptions, 'name'> & { name?: string }): Promise<Node> {
  const n = await createNode({ name: `h${nodes.length + 1}`, ...options });
  nodes.push(n);
  return n;
}

async function get(url: string): Promise<{ status: number; body: unknown; type: string | null }> {
  const r = await fetch(url);
  const text = await r.text();
  const type = r.headers.get('content-type');
  return { status: r.status, type, body: type?.startsWith('application/json') ? JSON.parse(text) : text };
}

/** `ready` once it has seen GO. */
const warming = createMachine({ initial: 'warming', states: { warming: { on: { GO: 'ready' } }, ready: { tags: ['ready'] } } });
const warm = defineService({ name: 'warm', version: '1.0.0', logic: warming, ready: 'ready' });

describe('health - endpoints', () => {
  it('health - the endpoints are off by default: a node without http has no health server', async () => {
    const n = await node({});
    expect(n.health).toBeUndefined();
  });

  it('health - with http the endpoints bind to 127.0.0.1 and answer /alive, /ready and /metrics', async () => {
    const n = await node({ http: { port: 0 } });
    const h = n.health!;
    expect(h.host).toBe('127.0.0.1');
    expect(h.url).toBe(`http://127.0.0.1:${h.port}`);
    await expect(get(`${h.url}/alive`)).resolves.toMatchObject({ status: 200, body: { alive: true } });
    await expect(get(`${h.url}/ready`)).resolves.toMatchObject({ status: 200, body: { ready: true } });
    const m = await get(`${h.url}/metrics`);
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(m.body).toContain('halyard_transport_connected{node="h1"} 1');
    await expect(get(`${h.url}/nope`)).resolves.toMatchObject({ status: 404 });
    const post = await fetch(`${h.url}/ready`, { method: 'POST' });
    expect(post.status).toBe(405);
  });

  it('health - the default host is not reachable on another interface', async () => {
    const n = await node({ http: { port: 0 } });
    const other = Object.values(networkInterfaces())
      .flat()
      .find((a) => a !== undefined && a.family === 'IPv4' && !a.internal);
    // A machine with loopback only has nothing else to try; the host assertion above still holds.
    if (other === undefined) return;
    await expect(fetch(`http://${other.address}:${n.health!.port}/alive`)).rejects.toThrow();
  });

  it('health - unknown http keys and a bad port are refused naming the field, and nothing listens', async () => {
    await expect(createNode({ name: 'bad', http: { port: 0, hots: 'x' } as never })).rejects.toMatchObject({ name: 'InvalidSpecError', field: 'http.hots' });
    await expect(createNode({ name: 'bad', http: { port: 70000 } })).rejects.toMatchObject({ field: 'http.port' });
    await expect(createNode({ name: 'bad', http: {} as never })).rejects.toMatchObject({ field: 'http.port' });
    await expect(createNode({ name: 'bad', http: { port: 0, host: '' } })).rejects.toMatchObject({ field: 'http.host' });
    await expect(createNode({ name: 'bad', http: { port: 0, services: ['ok', 3] } as never })).rejects.toMatchObject({ field: 'http.services[1]' });
    await expect(createNode({ name: 'bad', http: 9464 as never })).rejects.toBeInstanceOf(InvalidSpecError);
  });

  it('health - a port already taken fails createNode and leaves no node behind', async () => {
    const first = await node({ http: { port: 0 } });
    await expect(createNode({ name: 'second', http: { port: first.health!.port } })).rejects.toMatchObject({ code: 'EADDRINUSE' });
  });

  it('health - /ready turns true only once the configured services are ready, and names what is missing', async () => {
    const n = await node({ services: [warm], http: { port: 0, services: ['warm'] } });
    const url = `${n.health!.url}/ready`;
    await expect(get(url)).resolves.toEqual({ status: 503, type: 'application/json', body: { ready: false, reason: 'service warm not running (no instance)' } });
    const starting = n.services.start('warm');
    await waitFor(() => n.whereis('warm'), { timeout: 10_000, message: 'warm spawned' });
    await expect(get(url)).resolves.toMatchObject({ status: 503, body: { ready: false, reason: 'service warm not running (starting)' } });
    n.whereis('warm')!.tell({ type: 'GO' });
    await starting;
    await expect(get(url)).resolves.toMatchObject({ status: 200, body: { ready: true } });
  });

  it('health - /ready turns false with a reason when the NATS server stops', async () => {
    const server = await startNatsServer();
    servers.push(server);
    const n = await node({ transport: { kind: 'nats', servers: server.url, reconnectTimeWait: 50, maxReconnectAttempts: -1 }, http: { port: 0 } });
    const url = `${n.health!.url}/ready`;
    await expect(get(url)).resolves.toMatchObject({ status: 200 });
    await server.stop();
    const down = await waitFor(async () => {
      const r = await get(url);
      return r.status === 503 ? r : undefined;
    }, { timeout: 10_000, message: '/ready 503 after the server stopped' });
    expect(down.body).toEqual({ ready: false, reason: 'transport nats disconnected' });
  });

  it('health - after shutdown the health port no longer listens', async () => {
    const n = await createNode({ name: 'closing', http: { port: 0 } });
    const url = `${n.health!.url}/alive`;
    await expect(get(url)).resolves.toMatchObject({ status: 200 });
    await n.shutdown();
    await expect(fetch(url)).rejects.toThrow();
  });

  it('health - a clustered node is ready once createNode has joined it to the cluster', async () => {
    const n = await node({ cluster: true, http: { port: 0 } });
    // createNode resolves once joined, so a clustered node is ready at once.
    await expect(get(`${n.health!.url}/ready`)).resolves.toMatchObject({ status: 200 });
    expect(n.cluster!.valid).toBe(true);
  });
});

describe('health - serveHealth for other processes', () => {
  it('health - serveHealth serves a given data source and a throwing source answers 500 with its message only', async () => {
    let ready = false;
    const h = await serveHealth({
      port: 0,
      ready: () => (ready ? { ready: true } : { ready: false, reason: 'warming up' }),
      metrics: () => {
        throw new Error('registry gone');
      },
    });
    healths.push(h);
    expect(h.host).toBe('127.0.0.1');
    await expect(get(`${h.url}/ready`)).resolves.toMatchObject({ status: 503, body: { ready: false, reason: 'warming up' } });
    ready = true;
    await expect(get(`${h.url}/ready`)).resolves.toMatchObject({ status: 200, body: { ready: true } });
    const m = await get(`${h.url}/metrics`);
    expect(m).toMatchObject({ status: 500, body: { error: 'registry gone' } });
    expect(JSON.stringify(m.body)).not.toContain('at ');
    await expect(get(`${h.url}/alive`)).resolves.toMatchObject({ status: 200 });
  });

  it('health - serveHealth without metrics answers 404 on /metrics, and refuses bad options naming the field', async () => {
    const h = await serveHealth({ port: 0, ready: () => ({ ready: true }) });
    healths.push(h);
    await expect(get(`${h.url}/metrics`)).resolves.toMatchObject({ status: 404 });
    await expect(serveHealth({ port: 0 } as never)).rejects.toMatchObject({ field: 'options.ready' });
    await expect(serveHealth({ port: 0, services: [], ready: () => ({ ready: true }) } as never)).rejects.toMatchObject({ field: 'options.services' });
  });
});
