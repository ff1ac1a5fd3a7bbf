/**
 * What a `halyard.config.ts` (or `.yaml`) says: the nodes to run, the
 * services to start on them, and where they meet.
 *
 * ```ts
 * export default defineConfig({
 *   nodes: [{ name: 'n1' }, { name: 'n2', admin: { write: true } }],
 *   services: [{ module: './services/billing.ts', start: [{ node: 'n1', config: { rate: 2 } }] }],
 *   env: { production: { nats: { servers: 'nats://nats:4222' } } },
 * });
 * ```
 *
 * | key        | mandatory | default        | meaning |
 * |------------|-----------|----------------|---------|
 * | `nodes`    | yes       |                | `[{ name, labels?, admin?, events? }]`: `admin` as `createNode`'s, `events` defaults to `{ publish: true }` |
 * | `services` | no        | `[]`           | `[{ module? \| definition?, export?, start? }]`: a module path (relative to the file) exporting a `defineService` result, or the definition itself (TS only); `start: [{ node?, config?, tags?, id? }]` starts instances, on the first node when `node` is absent |
 * | `nats`     | no        | embedded       | `{ servers, user?, password?, token?, creds? }`: without it every node shares one in-process bus |
 * | `prefix`   | no        | `'halyard'`    | subject prefix |
 * | `env`      | no        | `{}`           | overlays by name (`--env production`), merged over the rest: objects key by key, arrays replaced |
 *
 * `contexts` is refused for now: the context work lands in another branch.
 */
import { ConfigFileError } from '../errors.js';
import { isPlainObject, kindOf } from '../options.js';
import type { AdminOptions } from '../services/admin/AdminResponder.js';
import { type AnyServiceDefinition, isServiceDefinition } from '../services/catalog/definition.js';

export interface NodeEntry {
  readonly name: string;
  readonly labels?: readonly string[];
  readonly admin?: AdminOptions;
  readonly events?: { readonly publish?: boolean };
}

export interface StartEntry {
  readonly node?: string;
  readonly config?: unknown;
  readonly tags?: readonly string[];
  readonly id?: string;
}

export interface ServiceEntry {
  readonly module?: string;
  readonly export?: string;
  readonly definition?: AnyServiceDefinition;
  readonly start?: readonly StartEntry[];
}

export interface NatsEntry {
  readonly servers: string | readonly string[];
  readonly user?: string;
  readonly password?: string;
  readonly token?: string;
  readonly creds?: string;
}

export interface HalyardConfig {
  readonly nodes: readonly NodeEntry[];
  readonly services?: readonly ServiceEntry[];
  readonly nats?: NatsEntry;
  readonly prefix?: string;
  readonly env?: Readonly<Record<string, Partial<Omit<HalyardConfig, 'env'>>>>;
}

/** Identity with types: the config as written, checked when it is loaded or `up` runs. */
export function defineConfig(config: HalyardConfig): HalyardConfig {
  return config;
}

/** Objects merged key by key, anything else (arrays included) replaced. */
function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

/** The config with overlay `env` applied (none: as it is, without `env`). */
export function applyEnv(config: HalyardConfig, env: string | undefined, file: string): HalyardConfig {
  const { env: overlays, ...rest } = config;
  if (env === undefined) return rest;
  const overlay = overlays?.[env];
  if (overlay === undefined) {
    const known = Object.keys(overlays ?? {});
    throw new ConfigFileError(file, 'env', `no overlay ${JSON.stringify(env)}${known.length > 0 ? ` (known: ${known.join(', ')})` : ' (the file has no env section)'}`);
  }
  return merge(rest, overlay) as HalyardConfig;
}

const TOP_KEYS = ['nodes', 'services', 'nats', 'prefix', 'env'];
const NODE_KEYS = ['name', 'labels', 'admin', 'events'];
const SERVICE_KEYS = ['module', 'export', 'definition', 'start'];
const START_KEYS = ['node', 'config', 'tags', 'id'];
const NATS_KEYS = ['servers', 'user', 'password', 'token', 'creds'];

function known(obj: Record<string, unknown>, keys: readonly string[], file: string, path: string): void {
  for (const k of Object.keys(obj)) {
    if (!keys.includes(k)) throw new ConfigFileError(file, path === '' ? k : `${path}.${k}`, `unknown key (known: ${keys.join(', ')})`);
  }
}

function stringList(v: unknown, file: string, field: string): void {
  if (v !== undefined && (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s.length === 0))) {
    throw new ConfigFileError(file, field, 'must be a list of non-empty strings');
  }
}

/** Check the shape of a config (after the overlay); throws `ConfigFileError` naming the file and field. */
export function validateConfig(raw: unknown, file: string): HalyardConfig {
  if (!isPlainObject(raw)) throw new ConfigFileError(file, '', `must export a config object (defineConfig({ nodes, ... })), got ${kindOf(raw)}`);
  if ('contexts' in raw) throw new ConfigFileError(file, 'contexts', 'is not supported by this version of halyard up');
  known(raw, TOP_KEYS, file, '');
  if (!Array.isArray(raw.nodes) || raw.nodes.length === 0) throw new ConfigFileError(file, 'nodes', 'must be a non-empty list of { name }');
  const names = new Set<string>();
  raw.nodes.forEach((n: unknown, i: number) => {
    const at = `nodes[${i}]`;
    if (!isPlainObject(n)) throw new ConfigFileError(file, at, 'must be an object { name, labels?, admin?, events? }');
    known(n, NODE_KEYS, file, at);
    if (typeof n.name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(n.name)) throw new ConfigFileError(file, `${at}.name`, 'must be 1 to 64 letters, digits, "_" or "-"');
    if (names.has(n.name)) throw new ConfigFileError(file, `${at}.name`, `node ${n.name} is listed twice`);
    names.add(n.name);
    stringList(n.labels, file, `${at}.labels`);
  });
  const services = raw.services ?? [];
  if (!Array.isArray(services)) throw new ConfigFileError(file, 'services', 'must be a list');
  services.forEach((s: unknown, i: number) => {
    const at = `services[${i}]`;
    if (!isPlainObject(s)) throw new ConfigFileError(file, at, 'must be an object { module | definition, export?, start? }');
    known(s, SERVICE_KEYS, file, at);
    if ((s.module === undefined) === (s.definition === undefined)) throw new ConfigFileError(file, at, 'needs exactly one of module or definition');
    if (s.module !== undefined && (typeof s.module !== 'string' || s.module.length === 0)) throw new ConfigFileError(file, `${at}.module`, 'must be a path');
    if (s.definition !== undefined && !isServiceDefinition(s.definition)) throw new ConfigFileError(file, `${at}.definition`, 'must be a defineService(...) result');
    if (s.export !== undefined && typeof s.export !== 'string') throw new ConfigFileError(file, `${at}.export`, 'must be an export name');
    const starts = s.start ?? [];
    if (!Array.isArray(starts)) throw new ConfigFileError(file, `${at}.start`, 'must be a list of { node?, config?, tags?, id? }');
    starts.forEach((st: unknown, j: number) => {
      const sat = `${at}.start[${j}]`;
      if (!isPlainObject(st)) throw new ConfigFileError(file, sat, 'must be an object { node?, config?, tags?, id? }');
      known(st, START_KEYS, file, sat);
      if (st.node !== undefined && (typeof st.node !== 'string' || !names.has(st.node))) {
        throw new ConfigFileError(file, `${sat}.node`, `must name a node of nodes (${[...names].join(', ')})`);
      }
      stringList(st.tags, file, `${sat}.tags`);
      if (st.id !== undefined && (typeof st.id !== 'string' || st.id.length === 0)) throw new ConfigFileError(file, `${sat}.id`, 'must be a non-empty string');
    });
  });
  if (raw.nats !== undefined) {
    const n = raw.nats;
    if (!isPlainObject(n)) throw new ConfigFileError(file, 'nats', 'must be { servers, user?, password?, token?, creds? }');
    known(n, NATS_KEYS, file, 'nats');
    const list = typeof n.servers === 'string' ? [n.servers] : n.servers;
    if (!Array.isArray(list) || list.length === 0 || list.some((u) => typeof u !== 'string' || u.length === 0)) {
      throw new ConfigFileError(file, 'nats.servers', 'must be a URL or a non-empty list of URLs');
    }
    // No kindOf: these may be secrets.
    for (const k of ['user', 'password', 'token', 'creds'] as const) {
      if (n[k] !== undefined && typeof n[k] !== 'string') throw new ConfigFileError(file, `nats.${k}`, 'must be a string');
    }
  }
  if (raw.prefix !== undefined && typeof raw.prefix !== 'string') throw new ConfigFileError(file, 'prefix', 'must be a string');
  if (raw.env !== undefined && !isPlainObject(raw.env)) throw new ConfigFileError(file, 'env', 'must be an object of overlays by name');
  return raw as unknown as HalyardConfig;
}
