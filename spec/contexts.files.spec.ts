/**
 * Context files in every format, and the bad inputs each is refused for:
 * typed errors naming the file, the line where the format has one, and the
 * field; nothing of a refused context starts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { InvalidContextError } from '../src/errors.js';
import { defineService } from '../src/services/catalog/index.js';
import { defineContext, loadContextFile, parseJsonContext, parseXmlContext, parseYamlContext } from '../src/services/contexts/index.js';
import { createNode, type Node } from '../src/services/node/Node.js';

const FIXTURES = new URL('./fixtures/contexts/', import.meta.url).pathname;
const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

const idle = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'] } } });
async function seedNode(): Promise<Node> {
  const n = await createNode({ name: `f${nodes.length + 1}`, services: ['stand', 'walk', 'coffee', 'run'].map((name) => defineService({ name, version: '1.0.0', logic: idle, ready: 'ready' })) });
  nodes.push(n);
  return n;
}

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<InvalidContextError> {
  const err = await (typeof p === 'function' ? Promise.resolve().then(p) : p).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidContextError);
  return err as InvalidContextError;
}

const SEED = {
  name: 'echo',
  ids: ['stand', 'walk', 'coffee', 'run'],
  walk: { on_start: [], on_update: [{ verb: 'notify', target: 'stand', event: 'context.notify' }], on_fail: [{ verb: 'restart', target: 'walk' }], on_exit: [{ verb: 'start', target: 'coffee' }] },
};

describe('contexts - files', () => {
  it('contexts - the YAML file loads with its triggers, and only stand starts with the context', async () => {
    const def = await loadContextFile(`${FIXTURES}echo.yaml`);
    expect(def.name).toBe(SEED.name);
    expect(def.services.map((s) => s.id)).toEqual(SEED.ids);
    expect(def.services[1]!.triggers).toEqual(SEED.walk);
    expect(def.services[0]!.config).toEqual({ steps: 1 });
    expect(def.initial).toEqual(['stand']);
  });

  it("contexts - the seed's XML file loads to the same definition as the YAML one", async () => {
    const xml = await loadContextFile(`${FIXTURES}echo.xml`);
    const yaml = await loadContextFile(`${FIXTURES}echo.yaml`);
    expect({ ...xml, source: '' }).toEqual({ ...yaml, source: '' });
    expect(xml.source).toBe(`${FIXTURES}echo.xml`);
  });

  it('contexts - JSON and TypeScript module files load', async () => {
    const json = await loadContextFile(`${FIXTURES}echo.json`);
    const ts = await loadContextFile(`${FIXTURES}echo.ts`);
    expect(json.initial).toEqual(['stand']);
    expect({ ...ts, source: '' }).toEqual({ ...json, source: '' });
  });

  it('contexts - a context file starts on a node', async () => {
    const n = await seedNode();
    const ctx = await n.contexts.start(`${FIXTURES}echo.xml`);
    expect(ctx.state).toBe('running');
    expect(ctx.services().map((i) => i.service)).toContain('stand');
  });
});

describe('contexts - bad input', () => {
  it('contexts - a trigger naming an unknown service is refused with the file, line and field', async () => {
    const err = await refusal(loadContextFile(`${FIXTURES}unknownTarget.yaml`));
    expect(err).toMatchObject({ code: 'ERR_INVALID_CONTEXT', file: `${FIXTURES}unknownTarget.yaml`, field: 'services[1].on_exit', line: 7 });
    expect(err.message).toContain('cofee');
  });

  it('contexts - a cyclic start chain is refused, naming the chain', async () => {
    const err = await refusal(loadContextFile(`${FIXTURES}cycle.yaml`));
    expect(err).toMatchObject({ field: 'services[1]', line: 4 });
    expect(err.reason).toBe('cyclic start chain a -> b -> a');
  });

  it('contexts - a malformed YAML or XML file is refused with its line', async () => {
    // Inline, not a fixture: the linter parses the repository's YAML files.
    const yaml = await refusal(() => parseYamlContext('context: broken\nservices:\n  - { id: stand, service: stand\n  - id: walk\n', 'malformed.yaml'));
    expect(yaml).toMatchObject({ file: 'malformed.yaml', field: '(file)' });
    expect(yaml.line).toBeGreaterThanOrEqual(3);
    expect(yaml.reason).toMatch(/^malformed YAML/);
    const xml = await refusal(loadContextFile(`${FIXTURES}malformed.xml`));
    expect(xml).toMatchObject({ field: '(file)', line: 3 });
    expect(xml.reason).toMatch(/^malformed XML/);
    const json = await refusal(() => parseJsonContext('{\n "context": "x",\n "services": [\n }', 'x.json'));
    expect(json).toMatchObject({ file: 'x.json', field: '(file)', line: 4 });
  });

  it('contexts - unknown keys are refused, in every format', async () => {
    expect(await refusal(loadContextFile(`${FIXTURES}unknownKey.yaml`))).toMatchObject({ field: 'services[0].on_strat', line: 5 });
    expect(await refusal(() => parseJsonContext('{"context":"x","services":[{"id":"a","service":"a"}],\n"extra":1}', 'x.json'))).toMatchObject({ field: 'extra', line: 2 });
    expect(await refusal(() => parseXmlContext('<Context name="x">\n<TaskService service="a" colour="red"/></Context>', 'x.xml'))).toMatchObject({ field: 'services[0].colour', line: 2 });
    expect(await refusal(() => parseXmlContext('<Context name="x"><TaskService service="a"><state name="begin"/></TaskService></Context>', 'x.xml'))).toMatchObject({
      field: 'services[0].state[0]',
    });
    expect(await refusal(() => defineContext({ context: 'x', services: [{ id: 'a', service: 'a', colour: 1 } as never] }))).toMatchObject({ file: '(definition)', field: 'services[0].colour' });
  });

  it('contexts - bad values name their field: names, ids, actions, an empty context', async () => {
    const cases: Array<[unknown, string]> = [
      [[], '(root)'],
      [{ context: 'has space', services: [{ id: 'a', service: 'a' }] }, 'context'],
      [{ context: 'x', services: [] }, 'services'],
      [{ context: 'x', services: [{ id: 'a', service: 'a' }, { id: 'a', service: 'b' }] }, 'services[1].id'],
      [{ context: 'x', services: [{ id: 'a' }] }, 'services[0].service'],
      [{ context: 'x', services: [{ id: 'a', service: 'a', on_start: 'launch a' }] }, 'services[0].on_start'],
      [{ context: 'x', services: [{ id: 'a', service: 'a', on_exit: ['stop a', 'restart context'] }] }, 'services[0].on_exit[1]'],
      [{ context: 'x', services: [{ id: 'a', service: 'a', on_fail: 'notify' }] }, 'services[0].on_fail'],
    ];
    for (const [raw, field] of cases) expect(await refusal(() => defineContext(raw as never)), JSON.stringify(raw)).toMatchObject({ field });
  });

  it('contexts - a context naming a service type the node lacks starts nothing', async () => {
    const n = await seedNode();
    const def = defineContext({ context: 'x', services: [{ id: 'stand', service: 'stand' }, { id: 'tea', service: 'tea' }] });
    expect(await refusal(n.contexts.start(def))).toMatchObject({ field: 'services[1].service' });
    expect(n.services.find().list()).toEqual([]);
    expect(n.contexts.list()).toEqual([]);
  });

  it('contexts - an unreadable file or an unknown extension is refused', async () => {
    expect(await refusal(loadContextFile(`${FIXTURES}missing.yaml`))).toMatchObject({ field: '(file)' });
    expect((await refusal(loadContextFile(`${FIXTURES}echo.toml`))).reason).toMatch(/^unknown extension ".toml"/);
    expect(await refusal(() => parseYamlContext('context: x\nservices: 3\n', 'x.yaml'))).toMatchObject({ field: 'services', line: 2 });
  });
});
