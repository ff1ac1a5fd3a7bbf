/**
 * `loadConfig(file, { env })` reads a `halyard.config.ts|js|mjs` (its
 * default export) or `.yaml|.yml`, applies the overlay and checks it;
 * `up(config)` starts its nodes and services and returns a handle that stops
 * them. Service modules are resolved against the config file's folder.
 */
import { readFile } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { credsAuthenticator } from '@nats-io/transport-node';
import { parse as parseYaml } from 'yaml';
import { ConfigFileError, describe } from '../errors.js';
import { type AnyServiceDefinition, isServiceDefinition } from '../services/catalog/definition.js';
import { createNode, type Node, type NodeOptions } from '../services/node/Node.js';
import { LocalBus } from '../transport/LocalTransport.js';
import { applyEnv, type HalyardConfig, validateConfig } from './defineConfig.js';

export interface LoadedConfig {
  readonly file: string;
  readonly config: HalyardConfig;
}

export async function loadConfig(file: string, options: { readonly env?: string } = {}): Promise<LoadedConfig> {
  const path = resolve(file);
  let raw: unknown;
  const ext = extname(path);
  try {
    if (ext === '.yaml' || ext === '.yml') raw = parseYaml(await readFile(path, 'utf8'));
    else if (['.ts', '.mts', '.js', '.mjs'].includes(ext)) raw = ((await import(pathToFileURL(path).href)) as { default?: unknown }).default;
    else throw new ConfigFileError(file, '', 'must end in .ts, .mts, .js, .mjs, .yaml or .yml');
  } catch (err) {
    if (err instanceof ConfigFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigFileError(file, '', code === 'ENOENT' || code === 'ERR_MODULE_NOT_FOUND' ? 'no such file' : `cannot be read: ${describe(err)}`, { cause: err });
  }
  const checked = validateConfig(raw, file);
  return { file: path, config: validateConfig(applyEnv(checked, options.env, file), file) };
}

export interface Up {
  readonly nodes: readonly Node[];
  /** The in-process bus of an embedded config (no `nats`), for tools on this process. */
  readonly bus: LocalBus | undefined;
  readonly prefix: string;
  stop(): Promise<void>;
}

async function definitionOf(entry: NonNullable<HalyardConfig['services']>[number], base: string, file: string, at: string): Promise<AnyServiceDefinition> {
  if (entry.definition !== undefined) return entry.definition;
  const url = pathToFileURL(resolve(base, entry.module as string)).href;
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigFileError(file, `${at}.module`, `cannot be imported: ${describe(err)}`, { cause: err });
  }
  const name = entry.export ?? 'default';
  const found = mod[name] ?? (entry.export === undefined ? Object.values(mod).find(isServiceDefinition) : undefined);
  if (!isServiceDefinition(found)) throw new ConfigFileError(file, `${at}.export`, `${entry.module} has no service definition export ${name}`);
  return found;
}

/** Start every node, then every listed instance; on a failure, what started is stopped again. */
export async function up(config: HalyardConfig | LoadedConfig, options: { readonly file?: string } = {}): Promise<Up> {
  const loaded = 'config' in config && 'file' in config ? config : undefined;
  const file = loaded?.file ?? options.file ?? '<config>';
  const cfg = validateConfig(loaded?.config ?? config, file);
  const base = dirname(resolve(file === '<config>' ? 'x' : file));
  const defs = await Promise.all((cfg.services ?? []).map((s, i) => definitionOf(s, base, file, `services[${i}]`)));
  const bus = cfg.nats === undefined ? new LocalBus() : undefined;
  const nats = cfg.nats;
  const transport: NodeOptions['transport'] =
    nats === undefined
      ? { kind: 'local', bus }
      : {
          kind: 'nats',
          servers: nats.servers,
          ...(nats.user !== undefined ? { user: nats.user } : {}),
          ...(nats.password !== undefined ? { pass: nats.password } : {}),
          ...(nats.token !== undefined ? { token: nats.token } : {}),
          ...(nats.creds !== undefined ? { authenticator: credsAuthenticator(await readFile(resolve(base, nats.creds))) } : {}),
        };
  const prefix = cfg.prefix ?? 'halyard';
  const nodes: Node[] = [];
  const stop = async (): Promise<void> => {
    for (const n of [...nodes].reverse()) await n.shutdown();
  };
  try {
    for (const n of cfg.nodes) {
      nodes.push(
        await createNode({
          name: n.name,
          prefix,
          transport,
          services: defs,
          ...(n.labels !== undefined ? { labels: n.labels } : {}),
          ...(n.admin !== undefined ? { admin: n.admin } : {}),
          events: n.events ?? { publish: true },
        }),
      );
    }
    for (const [i, s] of (cfg.services ?? []).entries()) {
      for (const st of s.start ?? []) {
        const node = nodes.find((n) => n.name === (st.node ?? cfg.nodes[0].name)) as Node;
        await node.services.start(defs[i].name, {
          ...(st.config !== undefined ? { config: st.config } : {}),
          ...(st.tags !== undefined ? { tags: st.tags } : {}),
          ...(st.id !== undefined ? { id: st.id } : {}),
        });
      }
    }
    await Promise.all(nodes.map((n) => n.flush()));
  } catch (err) {
    await stop();
    throw err;
  }
  return { nodes, bus, prefix, stop };
}
