/**
 * Service instances report to the Recovery Coordinator, as Halon's services
 * do (issue 8, part 2): started (with its config, secrets redacted),
 * could-not-start (reason, OCF code), failed, exited, config-changed; and
 * `instance.reconfigure(config)` with OTP's `config_change` semantics.
 */
import * as v from 'valibot';
import { afterEach, describe, expect, it } from 'vitest';
import { assign, createMachine } from 'xstate';
import { reply } from '../src/actors/reply.js';
import { InvalidConfigError, ServiceNotInstalledError, ServiceStartError } from '../src/errors.js';
import type { HalyardEvent } from '../src/events.js';
import { defineService } from '../src/services/catalog/index.js';
import { CONFIG_CHANGED_EVENT, ServiceEventType } from '../src/services/instances/types.js';
import { createNode, type Node } from '../src/services/node/Node.js';
import { redactConfig } from '../src/supervision/reports.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});
async function node(options: Omit<Parameters<typeof createNode>[0], 'name'> & { name?: string } = {}): Promise<Node> {
  const n = await createNode({ name: `r${nodes.length + 1}`, ...options });
  nodes.push(n);
  return n;
}

const config = v.object({ currency: v.string(), limit: v.pipe(v.number(), v.minValue(1)), apiToken: v.optional(v.string()), db: v.optional(v.object({ host: v.string(), password: v.string() })) });
type Config = v.InferOutput<typeof config>;

/** Answers CONFIG with the config it runs with; CRASH throws. With `handles`, it takes `halyard.config.changed` without a restart. */
function payments(handles: boolean) {
  return createMachine({
    types: {} as { context: { config: Config }; input: { config: Config } },
    context: ({ input }) => ({ config: input.config }),
    initial: 'ready',
    states: {
      ready: {
        tags: ['ready'],
        on: {
          CONFIG: { actions: reply(({ context }) => context.config) },
          CRASH: {
            actions: () => {
              throw new Error('boom');
            },
          },
          ...(handles ? { [CONFIG_CHANGED_EVENT]: { actions: assign({ config: ({ event }) => (event as unknown as { config: Config }).config }) } } : {}),
        },
      },
    },
  });
}

function service(handles: boolean, log: string[] = []) {
  return defineService({
    name: 'payments',
    version: '1.0.0',
    config,
    logic: payments(handles),
    ready: 'ready',
    setup: ({ config: c }) => {
      log.push(`setup ${(c as Config).currency}`);
      return (c as Config).currency;
    },
    teardown: (r) => {
      log.push(`teardown ${String(r)}`);
    },
  });
}

function collect(n: Node): HalyardEvent[] {
  const seen: HalyardEvent[] = [];
  n.events.subscribe((e) => {
    if (e.type.startsWith('service.')) seen.push(e);
  });
  return seen;
}

const SECRET = 's3cr3t-value';

describe('services - reports to the Recovery Coordinator', () => {
  it('services - the coordinator records started, failed and exited reports of an instance, with its config and secrets redacted', async () => {
    const n = await node({ services: [service(false)] });
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10, apiToken: SECRET, db: { host: 'db1', password: SECRET } } });
    const restarted = new Promise<void>((resolve) => {
      n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    await p.stop();
    const reports = n.coordinator.reports({ service: 'payments' });
    expect(reports.map((r) => r.kind)).toEqual(['started', 'failed', 'started', 'exited']);
    expect(reports[0]).toMatchObject({ service: 'payments', instance: p.id, node: n.name, config: { currency: 'EUR', limit: 10, apiToken: '[redacted]', db: { host: 'db1', password: '[redacted]' } } });
    expect(reports[1]).toMatchObject({ kind: 'failed', reason: expect.stringContaining('boom') });
    expect(reports[3]).toMatchObject({ kind: 'exited', reason: 'shutdown' });
    expect(JSON.stringify(reports)).not.toContain(SECRET);
    // The coordinator's Status must not leak it either.
    expect(JSON.stringify(await n.coordinator.ref.status())).not.toContain(SECRET);
  });

  it('services - a start that fails reports could-not-start with its reason and OCF code', async () => {
    const broken = defineService({
      name: 'broken',
      version: '1.0.0',
      logic: payments(false),
      setup: () => {
        throw new Error('no pool');
      },
    });
    const picky = defineService({ name: 'picky', version: '1.0.0', logic: payments(false), requires: ['gpu'] });
    const n = await node({ services: [broken, picky, service(false)] });
    await expect(n.services.start('broken')).rejects.toBeInstanceOf(ServiceStartError);
    await expect(n.services.start('picky')).rejects.toBeInstanceOf(ServiceNotInstalledError);
    await expect(n.services.start('payments', { config: { currency: 'EUR', limit: 0 } })).rejects.toBeInstanceOf(InvalidConfigError);
    const failed = n.coordinator.reports({ kind: 'could-not-start' });
    expect(failed.map((r) => [r.service, r.ocf])).toEqual([
      ['broken', 1],
      ['picky', 5],
      ['payments', 6],
    ]);
    expect(failed[0]!.reason).toContain('no pool');
  });

  it('services - node.events gets service.started, failed and exited events, without the config', async () => {
    const n = await node({ services: [service(false)] });
    const seen = collect(n);
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10, apiToken: SECRET } });
    const restarted = new Promise<void>((resolve) => {
      n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    await p.kill();
    expect(seen.map((e) => e.type)).toEqual(['service.started', 'service.failed', 'service.started', 'service.exited']);
    const reports = n.coordinator.reports({ instance: p.id });
    expect(seen.map((e) => (e as { report: number }).report)).toEqual(reports.map((r) => r.seq));
    expect(seen[3]).toMatchObject({ v: 1, node: n.name, service: 'payments', instance: p.id, reason: 'killed' });
    expect(JSON.stringify(seen)).not.toContain(SECRET);
  });

  it('services - reports are queried like decisions: by service, instance, kind and since', async () => {
    const n = await node({ services: [service(false)] });
    const a = await n.services.start('payments', { config: { currency: 'EUR', limit: 1 }, id: 'pa' });
    await a.stop();
    const b = await n.services.start('payments', { config: { currency: 'USD', limit: 1 }, id: 'pb' });
    const all = n.coordinator.reports();
    expect(all.map((r) => `${r.instance} ${r.kind}`)).toEqual(['pa started', 'pa exited', 'pb started']);
    expect(n.coordinator.reports({ instance: 'pb' }).map((r) => r.kind)).toEqual(['started']);
    expect(n.coordinator.reports({ kind: 'exited' }).map((r) => r.instance)).toEqual(['pa']);
    expect(n.coordinator.reports({ since: all[1]!.seq }).map((r) => r.instance)).toEqual(['pb']);
    expect(n.coordinator.reports({ service: 'nothing' })).toEqual([]);
    await b.stop();
  });

  it('services - redaction replaces the values of keys named like password, secret, token, key or credential, at any depth', () => {
    expect(
      redactConfig({ user: 'u', Password: 'x', nested: [{ clientSecret: 'x', apiKey: 'x', refresh_token: 'x', credentials: { a: 1 } }], port: 1 }),
    ).toEqual({ user: 'u', Password: '[redacted]', nested: [{ clientSecret: '[redacted]', apiKey: '[redacted]', refresh_token: '[redacted]', credentials: '[redacted]' }], port: 1 });
    expect(redactConfig('plain')).toBe('plain');
  });
});

describe('services - reconfigure (OTP config_change)', () => {
  it('services - a logic that accepts halyard.config.changed is told the new config and keeps running', async () => {
    const log: string[] = [];
    const n = await node({ services: [service(true, log)] });
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10 } });
    await p.reconfigure({ currency: 'EUR', limit: 20, apiToken: SECRET });
    await expect(p.ask({ type: 'CONFIG' })).resolves.toEqual({ currency: 'EUR', limit: 20, apiToken: SECRET });
    expect(p.incarnation).toBe(1);
    expect(p.config).toEqual({ currency: 'EUR', limit: 20, apiToken: SECRET });
    expect(log).toEqual(['setup EUR']);
    const changed = n.coordinator.reports({ kind: 'config-changed' });
    expect(changed).toHaveLength(1);
    expect(changed[0]!.config).toEqual({ currency: 'EUR', limit: 20, apiToken: '[redacted]' });
  });

  it('services - a logic that does not handle the change is restarted with the new config: teardown, setup again, not a failure', async () => {
    const log: string[] = [];
    const n = await node({ services: [service(false, log)] });
    const seen = collect(n);
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10 } });
    await p.reconfigure({ currency: 'USD', limit: 10 });
    expect(p.state).toBe('running');
    expect(p.incarnation).toBe(2);
    await expect(p.ask({ type: 'CONFIG' })).resolves.toEqual({ currency: 'USD', limit: 10 });
    expect(log).toEqual(['setup EUR', 'teardown EUR', 'setup USD']);
    expect(seen.map((e) => e.type)).toEqual(['service.started', 'service.config_changed']);
    expect(n.coordinator.decisions().filter((d) => d.input.childId === p.id)).toEqual([]);
    // A later crash restarts from the new config.
    const restarted = new Promise<void>((resolve) => {
      n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === p.id) resolve();
      });
    });
    p.tell({ type: 'CRASH' });
    await restarted;
    await expect(p.ask({ type: 'CONFIG' })).resolves.toEqual({ currency: 'USD', limit: 10 });
    await p.stop();
    // The crash's restart ran setup again too (setup per incarnation), with the config in force.
    expect(log).toEqual(['setup EUR', 'teardown EUR', 'setup USD', 'teardown USD', 'setup USD', 'teardown USD']);
  });

  it('services - reconfigure with a config that fails its schema is an InvalidConfigError naming the path, and nothing changes', async () => {
    const log: string[] = [];
    const n = await node({ services: [service(false, log)] });
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10 } });
    const err = await p.reconfigure({ currency: 'EUR', limit: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidConfigError);
    expect((err as InvalidConfigError).message).toContain('limit');
    expect(p.config).toEqual({ currency: 'EUR', limit: 10 });
    expect(p.incarnation).toBe(1);
    expect(log).toEqual(['setup EUR']);
    expect(n.coordinator.reports({ kind: 'config-changed' })).toEqual([]);
  });

  it('services - reconfigure of a stopped instance is refused', async () => {
    const n = await node({ services: [service(false)] });
    const p = await n.services.start('payments', { config: { currency: 'EUR', limit: 10 } });
    await p.stop();
    await expect(p.reconfigure({ currency: 'USD', limit: 10 })).rejects.toMatchObject({ name: 'ActorNotRunningError' });
  });
});

describe('services - setup per incarnation', () => {
  /** Each setup makes a new numbered resource; the logic answers RESOURCE with the one it was started with. */
  function pooled(log: string[], failOn?: number) {
    let made = 0;
    return defineService({
      name: 'pooled',
      version: '1.0.0',
      logic: createMachine({
        types: {} as { context: { resource: unknown }; input: { resource: unknown } },
        context: ({ input }) => ({ resource: input.resource }),
        initial: 'ready',
        states: {
          ready: {
            tags: ['ready'],
            on: {
              RESOURCE: { actions: reply(({ context }) => context.resource) },
              CRASH: {
                actions: () => {
                  throw new Error('boom');
                },
              },
            },
          },
        },
      }),
      ready: 'ready',
      setup: () => {
        made++;
        if (made === failOn) throw new Error(`pool ${made} refused`);
        log.push(`setup pool-${made}`);
        return `pool-${made}`;
      },
      teardown: (r) => {
        log.push(`teardown ${String(r)}`);
      },
    });
  }

  function nextStarted(n: Node, id: string): Promise<void> {
    return new Promise<void>((resolve) => {
      const off = n.services.onEvent((e) => {
        if (e.type === ServiceEventType.Started && e.instance === id) {
          off();
          resolve();
        }
      });
    });
  }

  it('services - each supervisor restart tears the old resource down and runs setup again before the logic restarts', async () => {
    const log: string[] = [];
    // Past the default intensity (1 in 5 s): the rule owns the bound, so both crashes are restarted.
    const n = await node({ services: [pooled(log)], supervision: { rules: [{ name: 'always', decide: () => ({ type: 'restart', bypassIntensity: true }) }] } });
    const p = await n.services.start('pooled');
    await expect(p.ask({ type: 'RESOURCE' })).resolves.toBe('pool-1');
    for (const expected of ['pool-2', 'pool-3']) {
      const restarted = nextStarted(n, p.id);
      p.tell({ type: 'CRASH' });
      await restarted;
      await expect(p.ask({ type: 'RESOURCE' })).resolves.toBe(expected);
    }
    expect(p.incarnation).toBe(3);
    await p.stop();
    expect(log).toEqual(['setup pool-1', 'teardown pool-1', 'setup pool-2', 'teardown pool-2', 'setup pool-3', 'teardown pool-3']);
  });

  it('services - a setup that fails on a restart ends the instance failed, with nothing left open', async () => {
    const log: string[] = [];
    const n = await node({ services: [pooled(log, 2)] });
    const p = await n.services.start('pooled');
    p.tell({ type: 'CRASH' });
    await p.waitTillStopped(5000);
    expect(p.state).toBe('failed');
    expect(log).toEqual(['setup pool-1', 'teardown pool-1']);
    const check = await p.check();
    expect(check.code).not.toBe(0);
    expect(n.coordinator.reports({ instance: p.id }).map((r) => r.kind)).toEqual(['started', 'failed']);
  });
});
