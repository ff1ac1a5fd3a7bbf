/**
 * The text `halyard new service <Name>` writes: a service module (an XState
 * machine and its `defineService`, with a config schema) and its vitest test.
 * The generated code imports the public package `halyard`, as a user's project does.
 *
 * `schema` picks how the config is checked: `valibot` when the project has it,
 * else a hand-written Standard Schema object, so a new project needs no schema library.
 */

export type SchemaKind = 'valibot' | 'plain';

export interface ServiceNames {
  /** As typed: `OrderBook`. */
  readonly type: string;
  /** The service (and NATS micro) name: `order-book`. */
  readonly service: string;
  /** A JS identifier for the default import: `orderBook`. */
  readonly binding: string;
}

/** `OrderBook` → `order-book`, `orderBook`. */
export function namesOf(type: string): ServiceNames {
  const service = type.replace(/([a-z0-9])([A-Z])/g, '$1-$2').replace(/([A-Z])([A-Z][a-z])/g, '$1-$2').toLowerCase();
  return { type, service, binding: type.charAt(0).toLowerCase() + type.slice(1) };
}

const valibotSchema = (n: ServiceNames): string => `import * as v from 'valibot';

/** What each instance is started with (\`start: [{ config }]\` in the config file), checked before it starts. */
const config = v.object({ greeting: v.pipe(v.string(), v.minLength(1)) });
type ${n.type}Config = v.InferOutput<typeof config>;
`;

const plainSchema = (n: ServiceNames): string => `/** What each instance is started with (\`start: [{ config }]\` in the config file), checked before it starts. */
interface ${n.type}Config {
  readonly greeting: string;
}

// A hand-written Standard Schema (https://standardschema.dev): any schema library that implements it works here too.
const config: StandardSchemaV1<unknown, ${n.type}Config> = {
  '~standard': {
    version: 1,
    vendor: '${n.service}',
    validate: (value) => {
      const greeting = typeof value === 'object' && value !== null ? (value as { greeting?: unknown }).greeting : undefined;
      return typeof greeting === 'string' && greeting !== '' ? { value: { greeting } } : { issues: [{ message: 'must be a non-empty string', path: ['greeting'] }] };
    },
  },
};
`;

export function serviceModule(n: ServiceNames, schema: SchemaKind): string {
  const imports = schema === 'plain' ? "import { defineService, reply, type StandardSchemaV1 } from 'halyard';" : "import { defineService, reply } from 'halyard';";
  return `/** The ${n.service} service: answers PING with its configured greeting and how many PINGs it has served. */
${imports}
import { assign, setup } from 'xstate';

${schema === 'plain' ? plainSchema(n) : valibotSchema(n)}
const machine = setup({
  types: { context: {} as { greeting: string; calls: number }, input: {} as { config: ${n.type}Config } },
}).createMachine({
  id: '${n.service}',
  context: ({ input }) => ({ greeting: input.config.greeting, calls: 0 }),
  initial: 'ready',
  states: {
    ready: {
      // The instance counts as started once this tag is reached (\`ready\` below).
      tags: ['ready'],
      on: {
        PING: {
          actions: [assign({ calls: ({ context }) => context.calls + 1 }), reply(({ context }) => ({ greeting: context.greeting, calls: context.calls }))],
        },
      },
    },
  },
});

export default defineService({
  name: '${n.service}',
  version: '0.1.0',
  logic: machine,
  config,
  ready: 'ready',
  endpoints: { ping: 'PING' },
});
`;
}

export function serviceTest(n: ServiceNames, moduleFile: string): string {
  return `import { createNode, type Node } from 'halyard';
import { afterEach, describe, expect, it } from 'vitest';
import ${n.binding} from './${moduleFile.replace(/\.ts$/, '.js')}';

let node: Node | undefined;
afterEach(async () => {
  await node?.shutdown();
  node = undefined;
});

describe('${n.service}', () => {
  it('${n.service} - answers PING with its greeting and a count', async () => {
    node = await createNode({ name: 'test', services: [${n.binding}] });
    const instance = await node.services.start('${n.service}', { config: { greeting: 'hello' } });
    await expect(instance.ask({ type: 'PING' })).resolves.toEqual({ greeting: 'hello', calls: 1 });
    await expect(instance.ask({ type: 'PING' })).resolves.toEqual({ greeting: 'hello', calls: 2 });
  });

  it('${n.service} - refuses to start without a greeting in its config', async () => {
    node = await createNode({ name: 'test', services: [${n.binding}] });
    await expect(node.services.start('${n.service}', { config: {} })).rejects.toMatchObject({ name: 'InvalidConfigError' });
  });
});
`;
}
