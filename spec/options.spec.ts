import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { counterMachine } from './support/machines.js';
import { freePort, type NatsServerHandle, startNatsServer } from './support/natsServer.js';
import { waitFor } from './support/wait.js';

describe('options - createNode refuses bad options with the field named', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['unknown top-level option', { name: 'x', askTimout: 10 }, 'askTimout', /unknown option \(did you mean askTimeout\?\); valid options are name, transport, prefix/],
    ['misspelt transport', { name: 'x', transprot: { kind: 'local' } }, 'transprot', /did you mean transport/],
    ['missing name', {}, 'name', /name: is required/],
    ['logger that is not a logger', { name: 'x', logger: 'loud' }, 'logger', /pino-like logger .*child/],
    ['clock that is not a clock', { name: 'x', clock: 'wall' }, 'clock', /Clock .*now, setTimer, clearTimer/],
    ['mailbox as a string', { name: 'x', mailbox: 'big' }, 'mailbox', /must be an object/],
    ['misspelt mailbox key', { name: 'x', mailbox: { overflw: 'reject' } }, 'mailbox.overflw', /valid options are capacity, overflow/],
    ['mailbox capcity', { name: 'x', mailbox: { capcity: 1 } }, 'mailbox.capcity', /did you mean capacity/],
    ['bad supervision option', { name: 'x', supervision: { decisionLogSize: -1 } }, 'supervision.decisionLogSize', /positive integer/],
    ['cluster option path', { name: 'x', transport: { kind: 'nats', servers: 'nats://127.0.0.1:1' }, cluster: { downAfterMs: -5 } }, 'cluster.downAfterMs', /positive/],
    ['cluster relation', { name: 'x', transport: { kind: 'nats', servers: 'nats://127.0.0.1:1' }, cluster: { heartbeatMs: 500, suspectAfterMs: 100 } }, 'cluster.suspectAfterMs', /greater than heartbeatMs/],
    ['unknown nats key', { name: 'x', transport: { kind: 'nats', servers: 'nats://127.0.0.1:1', tokn: 's' } }, 'transport.tokn', /did you mean token/],
  ];
  for (const [label, options, field, message] of cases) {
    it(`options - ${label} is refused naming ${field}`, async () => {
      const err = await createNode(options as NodeOptions).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'InvalidSpecError', field });
      expect((err as Error).message).toMatch(message);
    });
  }
});

describe('options - spawn, supervise, stop and ask refuse bad arguments', () => {
  let node: Node;
  beforeAll(async () => {
    node = await createNode({ name: 'opts', prefix: 'opts' });
  });
  afterAll(() => node.shutdown());

  it('options - spawn with a bare name string says to pass { name }', () => {
    expect(() => node.spawn(counterMachine, 'counter' as never)).toThrow(/options: must be an object .*pass \{ name: "counter" \}/);
  });
  it('options - spawn with a check that is not a function names check', () => {
    expect(() => node.spawn(counterMachine, { check: 'yes' } as never)).toThrow(expect.objectContaining({ name: 'InvalidSpecError', field: 'check' }));
  });
  it('options - spawn with a misspelt name key names it', () => {
    expect(() => node.spawn(counterMachine, { nmae: 'c' } as never)).toThrow(/nmae: unknown option \(did you mean name\?\)/);
  });
  it('options - supervise with a bare name string says to pass { name }', () => {
    expect(() => node.supervise({ children: [] }, 'app' as never)).toThrow(/pass \{ name: "app" \}/);
  });
  it("options - node.stop with 'brutal-kill' is refused and suggests brutal_kill", async () => {
    node.spawn(counterMachine, { name: 'victim' });
    await expect(node.stop('victim', 'brutal-kill' as never)).rejects.toThrow(/did you mean 'brutal_kill'/);
    expect(node.whereis('victim')).toBeDefined();
  });
  it('options - a name-ref ask with a bare number says to pass { timeout }', async () => {
    await expect(node.ref('victim').ask({ type: 'get' }, 1000 as never)).rejects.toThrow(/pass \{ timeout: 1000 \}/);
  });
});

describe('options - a refused createNode leaves no connection on the server', () => {
  let server: NatsServerHandle;
  let monitor: number;
  beforeAll(async () => {
    monitor = await freePort();
    server = await startNatsServer({ args: ['-m', String(monitor)] });
  });
  afterAll(() => server.stop());

  const connections = async (): Promise<number> => {
    const res = await fetch(`http://127.0.0.1:${monitor}/connz`);
    return ((await res.json()) as { num_connections: number }).num_connections;
  };

  it('options - invalid options after a NATS transport config open no connection, and a late failure closes it', async () => {
    const transport = { kind: 'nats', servers: server.url } as const;
    const before = await connections();
    const refused: Partial<NodeOptions>[] = [
      { logger: 'loud' as never },
      { clock: 'wall' as never },
      { supervision: { decisionLogSize: -1 } },
      { askTimout: 5 } as never,
      { mailbox: 'big' as never },
      // Fails after connecting: no JetStream on this server, so the cluster cannot start.
      { cluster: true },
    ];
    for (const extra of refused) {
      await expect(createNode({ name: 'x', transport, ...extra })).rejects.toBeInstanceOf(Error);
      await waitFor(async () => (await connections()) === before, { timeout: 5000, message: `connections back to ${before} after ${JSON.stringify(Object.keys(extra))}` });
    }
    // The count can move: a node that is accepted shows up.
    const ok = await createNode({ name: 'x', transport });
    await waitFor(async () => (await connections()) === before + 1, { timeout: 5000, message: 'the accepted node connected' });
    await ok.shutdown();
  });
});
