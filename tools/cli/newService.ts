/**
 * `halyard new service <Name>`: writes `services/<name>.ts` (see
 * serviceTemplates.ts), `services/<name>.test.ts`, and an entry
 * `{ module, start: [{ config }] }` in the config file, so `halyard up` runs it.
 *
 * | option   | default                                   | meaning |
 * |----------|-------------------------------------------|---------|
 * | `dir`    | `.`                                       | the project folder the paths are relative to |
 * | `config` | `halyard.config.ts` if there, else `.yaml`| the config file that gets the entry (created, as YAML, when missing) |
 * | `schema` | `valibot` if the project has it, else `plain` | how the config schema is written |
 * | `force`  | false                                     | overwrite files that exist |
 *
 * Every name and every target file is checked before anything is written,
 * so a refusal leaves the folder as it was.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { isMap, isSeq, parse as parseYaml, parseDocument } from 'yaml';
import { ConfigFileError, FileExistsError, InvalidArgumentError } from '../../src/errors.js';
import { namesOf, type SchemaKind, type ServiceNames, serviceModule, serviceTest } from './serviceTemplates.js';

export interface NewServiceOptions {
  readonly dir?: string;
  readonly config?: string;
  readonly schema?: SchemaKind;
  readonly force?: boolean;
}

export interface NewServiceResult {
  readonly written: readonly string[];
  readonly config: string;
  readonly services: readonly string[];
}

/** PascalCase, so the derived service name is a valid NATS micro name (`[A-Za-z0-9_-]+`) and the import a valid identifier. */
const NAME = /^[A-Z][A-Za-z0-9]{0,63}$/;

export function checkServiceName(name: unknown, field = 'name'): ServiceNames {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidArgumentError(field, `${JSON.stringify(String(name)).slice(0, 80)} must be PascalCase: a capital letter, then letters or digits (at most 64), like OrderBook`);
  }
  return namesOf(name);
}

/** The names in a `--from` YAML file: a list of names, or of `{ name }`. */
export async function namesFromFile(file: string): Promise<string[]> {
  let raw: unknown;
  try {
    raw = parseYaml(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigFileError(file, '', `cannot be read as YAML: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`, { cause: err });
  }
  const list = Array.isArray(raw) ? raw : typeof raw === 'object' && raw !== null && Array.isArray((raw as { services?: unknown }).services) ? (raw as { services: unknown[] }).services : undefined;
  if (list === undefined || list.length === 0) throw new ConfigFileError(file, 'services', 'must be a non-empty list of service names (or of { name })');
  return list.map((item, i) => {
    const name = typeof item === 'object' && item !== null ? (item as { name?: unknown }).name : item;
    if (typeof name !== 'string' || !NAME.test(name)) throw new ConfigFileError(file, `services.${i}.name`, 'must be a PascalCase name, like OrderBook');
    return name;
  });
}

/** Whether `valibot` resolves from the project folder (a node_modules on the way up). */
function hasValibot(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, 'node_modules', 'valibot', 'package.json'))) return true;
    if (dirname(d) === d) return false;
  }
}

function configFileOf(dir: string, given: string | undefined): string {
  if (given !== undefined) return resolve(given);
  const ts = join(dir, 'halyard.config.ts');
  return existsSync(ts) ? ts : join(dir, 'halyard.config.yaml');
}

/** A module path as the config file names it: relative, forward slashes, starting with `./`. */
function moduleRef(configFile: string, moduleFile: string): string {
  const rel = relative(dirname(configFile), moduleFile).split(sep).join('/');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

/** A single-quoted TS string literal (module paths and greetings hold no newlines). */
const quote = (s: string): string => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

const startConfig = (n: ServiceNames): { greeting: string } => ({ greeting: `hello from ${n.service}` });

async function addToYaml(file: string, entries: ReadonlyArray<{ module: string; n: ServiceNames }>): Promise<void> {
  const text = existsSync(file) ? await readFile(file, 'utf8') : '# halyard up <this file>: the nodes to run and the services to start on them.\nnodes:\n  - name: n1\n';
  const doc = parseDocument(text);
  if (doc.errors.length > 0) throw new ConfigFileError(file, '', `cannot be read as YAML: ${doc.errors[0]?.message.split('\n')[0]}`);
  if (!isMap(doc.contents)) throw new ConfigFileError(file, '', 'must be a mapping with nodes and services');
  if (!doc.has('services')) doc.set('services', doc.createNode([]));
  const services = doc.get('services');
  if (!isSeq(services)) throw new ConfigFileError(file, 'services', 'must be a list');
  const present = new Set(services.items.map((it) => (isMap(it) ? it.get('module') : undefined)));
  for (const e of entries) {
    if (!present.has(e.module)) services.add(doc.createNode({ module: e.module, start: [{ config: startConfig(e.n) }] }));
  }
  await writeFile(file, doc.toString());
}

/** Inserts the entries at the start of the `services: [` list of a `defineConfig({ ... })` file (added after `defineConfig({` when there is none). */
async function addToTs(file: string, entries: ReadonlyArray<{ module: string; n: ServiceNames }>): Promise<void> {
  let text = await readFile(file, 'utf8');
  const fresh = entries.filter((e) => !text.includes(`module: '${e.module}'`));
  if (fresh.length === 0) return;
  const lines = fresh.map((e) => `    { module: ${quote(e.module)}, start: [{ config: { greeting: ${quote(startConfig(e.n).greeting)} } }] },`).join('\n');
  const list = /services:\s*\[(\s*\])?/.exec(text);
  if (list !== null) {
    // An empty `[]` becomes a list over several lines; otherwise the new entries go first.
    const at = list.index + list[0].length;
    text = list[1] === undefined ? `${text.slice(0, at)}\n${lines}${text.slice(at)}` : `${text.slice(0, list.index)}services: [\n${lines}\n  ]${text.slice(at)}`;
  } else {
    const call = /defineConfig\(\s*\{/.exec(text);
    if (call === null) throw new ConfigFileError(file, 'services', 'has no `services: [` list or `defineConfig({` to add the service to; add it by hand or pass --config a YAML file');
    const at = call.index + call[0].length;
    text = `${text.slice(0, at)}\n  services: [\n${lines}\n  ],${text.slice(at)}`;
  }
  await writeFile(file, text);
}

export async function newServices(names: readonly string[], options: NewServiceOptions = {}): Promise<NewServiceResult> {
  const dir = resolve(options.dir ?? '.');
  const checked = names.map((name, i) => checkServiceName(name, names.length === 1 ? 'name' : `names.${i}`));
  const dup = checked.find((n, i) => checked.findIndex((m) => m.service === n.service) !== i);
  if (dup !== undefined) throw new InvalidArgumentError('name', `${dup.type} is given twice`);
  const schema = options.schema ?? (hasValibot(dir) ? 'valibot' : 'plain');
  const configFile = configFileOf(dir, options.config);
  const plans = checked.map((n) => {
    const moduleFile = join(dir, 'services', `${n.service}.ts`);
    const testFile = join(dir, 'services', `${n.service}.test.ts`);
    return { n, moduleFile, testFile, module: moduleRef(configFile, moduleFile) };
  });
  if (options.force !== true) {
    for (const p of plans) for (const f of [p.moduleFile, p.testFile]) if (existsSync(f)) throw new FileExistsError(relative(process.cwd(), f) || f);
  }
  const written: string[] = [];
  await mkdir(join(dir, 'services'), { recursive: true });
  for (const p of plans) {
    await writeFile(p.moduleFile, serviceModule(p.n, schema));
    await writeFile(p.testFile, serviceTest(p.n, `${p.n.service}.ts`));
    written.push(p.moduleFile, p.testFile);
  }
  if (/\.(ya?ml)$/.test(configFile)) await addToYaml(configFile, plans);
  else await addToTs(configFile, plans);
  return { written, config: configFile, services: checked.map((n) => n.service) };
}
