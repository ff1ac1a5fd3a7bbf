import { afterEach, describe, expect, inject, it } from 'vitest';
import type { NatsTransport } from '../src/transport/NatsTransport.js';
import { connect } from './cluster/harness.js';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.js';
import { waitFor } from './support/wait.js';

const proxies: TcpProxy[] = [];
const transports: NatsTransport[] = [];

afterEach(async () => {
  await Promise.allSettled(transports.splice(0).map((t) => t.close()));
  for (const p of proxies.splice(0)) await p.close();
});

describe('cluster - tcp proxy', () => {
  it('cluster - blackhole holds traffic back both ways, heal lets it through, reset breaks the connection', async () => {
    const proxy = await startTcpProxy({ port: Number(new URL(inject('natsUrl')).port) });
    proxies.push(proxy);
    const direct = await connect(inject('natsUrl'), 'proxy-direct');
    const cut = await connect(proxy.url, 'proxy-cut');
    transports.push(direct, cut);
    const subject = `proxytest.${process.pid}`;
    const toCut: string[] = [];
    const toDirect: string[] = [];
    cut.subscribe(`${subject}.in`, (m) => toCut.push(new TextDecoder().decode(m.data)));
    direct.subscribe(`${subject}.out`, (m) => toDirect.push(new TextDecoder().decode(m.data)));
    await cut.flush();
    await direct.flush();
    expect(proxy.connections).toBe(1);

    proxy.blackhole();
    direct.publish(`${subject}.in`, new TextEncoder().encode('1'));
    cut.publish(`${subject}.out`, new TextEncoder().encode('2'));
    await direct.flush();
    // A flush through the blackhole does not complete.
    let flushed = false;
    void cut.flush().then(() => {
      flushed = true;
    });
    const until = performance.now() + 300;
    await waitFor(() => performance.now() >= until, { timeout: 2000, interval: 10, message: 'a moment in the blackhole' });
    expect({ toCut, toDirect, flushed }).toEqual({ toCut: [], toDirect: [], flushed: false });

    proxy.heal();
    await waitFor(() => toCut.length === 1 && toDirect.length === 1 && flushed, { timeout: 5000, message: 'held-back traffic delivered' });

    proxy.delay(150);
    const t0 = performance.now();
    direct.publish(`${subject}.in`, new TextEncoder().encode('3'));
    await waitFor(() => toCut.length === 2, { timeout: 5000, message: 'delayed message' });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    proxy.heal();

    const statuses: string[] = [];
    cut.onStatus((s) => statuses.push(s.type));
    proxy.reset();
    await waitFor(() => statuses.includes('disconnected') && statuses.includes('reconnected'), { timeout: 5000, message: 'reconnected after reset' });
  });
});
