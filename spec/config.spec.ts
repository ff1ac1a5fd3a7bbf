/** The config file and `up`: loading TS and YAML, env overlays, errors naming file and field. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { connect } from '../src/client/index.js';
import { defineConfig, loadConfig, up } from '../src/config/index.js';
import { ConfigFileError } from '../src/errors.js';
import { LocalTransport } from '../src/transport/LocalTransport.js';

const dir = mkdtempSync(join(tmpdir(), 'halyard-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const greeter = resolve('examples/services/greeter.ts');

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

describe('config', () => {
  it('config - the example config starts its nodes and services, and up returns a handle that stops them', async () => {
    const running = await up(await loadConfig('examples/halyard.config.ts'));
    try {
      expect(running.nodes.map((n) => n.name)).toEqual(['n1', 'n2']);
      const client = await connect({ transport: new LocalTransport({ name: 'tool', bus: running.bus }), gatherMs: 50 });
      const { instances } = await client.services();
      expect(instances.map((i) => [i.service, i.node, i.state])).toEqual([
        ['greeter', 'n1', 'running'],
        ['greeter', 'n2', 'running'],
      ]);
      expect(await client.call('greeter', { type: 'GREET' })).toMatch(/hello|bonjour/);
      await client.close();
    } finally {
      await running.stop();
    }
    expect(running.nodes.every((n) => n.isClosed)).toBe(true);
  });

  it('config - a YAML file with an --env overlay merges the overlay over the base', async () => {
    const p = file(
      'halyard.yaml',
      `nodes:\n  - name: a\nservices:\n  - module: ${greeter}\n    start:\n      - config: { greeting: hi }\nenv:\n  production:\n    prefix: prod\n    nodes:\n      - name: p1\n      - name: p2\n`,
    );
    const base = await loadConfig(p);
    expect(base.config.nodes.map((n) => n.name)).toEqual(['a']);
    const prod = await loadConfig(p, { env: 'production' });
    expect(prod.config.prefix).toBe('prod');
    expect(prod.config.nodes.map((n) => n.name)).toEqual(['p1', 'p2']);
    await expect(loadConfig(p, { env: 'staging' })).rejects.toMatchObject({ name: 'ConfigFileError', field: 'env' });
  });

  it('config - a bad config is a ConfigFileError naming the file and the field', async () => {
    const cases: Array<[string, string]> = [
      ['nodes: []\n', 'nodes'],
      ['nodes:\n  - name: "bad name"\n', 'nodes[0].name'],
      ['nodes:\n  - name: a\n    colour: red\n', 'nodes[0].colour'],
      [`nodes:\n  - name: a\nservices:\n  - module: ${greeter}\n    start:\n      - node: zz\n`, 'services[0].start[0].node'],
      ['nodes:\n  - name: a\nnats:\n  servers: []\n', 'nats.servers'],
      ['nodes:\n  - name: a\ncontexts: []\n', 'contexts'],
    ];
    for (const [i, [text, field]] of cases.entries()) {
      const p = file(`bad${i}.yaml`, text);
      const err = await loadConfig(p).catch((e: unknown) => e);
      expect(err, field).toBeInstanceOf(ConfigFileError);
      expect((err as ConfigFileError).field).toBe(field);
      expect((err as ConfigFileError).message).toContain(p);
    }
    await expect(loadConfig(join(dir, 'missing.yaml'))).rejects.toMatchObject({ message: expect.stringContaining('no such file') });
  });

  it('config - a secret in the nats section is never quoted in an error', async () => {
    const p = file('secret.yaml', 'nodes:\n  - name: a\nnats:\n  servers: nats://x\n  password: 12345\n');
    const err = (await loadConfig(p).catch((e: unknown) => e)) as ConfigFileError;
    expect(err.field).toBe('nats.password');
    expect(err.message).not.toContain('12345');
  });

  it('config - a service module without a definition is refused naming the entry', async () => {
    const mod = file('empty.mjs', 'export const x = 1;\n');
    await expect(up(defineConfig({ nodes: [{ name: 'a' }], services: [{ module: mod }] }), { file: join(dir, 'c.ts') })).rejects.toMatchObject({
      name: 'ConfigFileError',
      field: 'services[0].export',
    });
  });
});
