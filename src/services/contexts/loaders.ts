/**
 * Context files: YAML (`.yaml`, `.yml`), JSON (`.json`), a TypeScript or
 * JavaScript module (`.ts`, `.mts`, `.js`, `.mjs`) whose default export (or
 * `context` export) is a `defineContext(...)`, and the seed's XML (`.xml`).
 *
 * ## The seed's XML format, as read here
 * ```xml
 * <Context name="echo">
 *   <TaskService id="stand" service="stand">
 *     <config>{"steps": 2}</config>          <!-- optional, JSON text -->
 *     <state name="start">                   <!-- start | update | fail | exit -->
 *       <trigger>start walk</trigger>        <!-- one action each (triggers.ts) -->
 *     </state>
 *   </TaskService>
 * </Context>
 * ```
 * `id` defaults to `service`. A `<state>` maps to the trigger `on_<name>`;
 * several `<trigger>`s in one state run in order. Other elements or
 * attributes are refused like unknown keys, so nothing in a file is ignored.
 * Line numbers: the XML parser's for a malformed file, the line of the
 * `<TaskService>` for a field inside one.
 */
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { InvalidContextError } from '../../errors.js';
import { isPlainObject, kindOf } from '../../options.js';
import { type ContextDefinition, isContextDefinition, type LineOf, validateContext } from './definition.js';

/** Read, parse and check a context file by its extension. */
export async function loadContextFile(file: string): Promise<ContextDefinition> {
  const ext = extname(file).toLowerCase();
  if (['.ts', '.mts', '.js', '.mjs'].includes(ext)) return loadContextModule(file);
  if (!['.yaml', '.yml', '.json', '.xml'].includes(ext)) {
    throw new InvalidContextError(file, '(file)', `unknown extension "${ext}" (known: .yaml, .yml, .json, .xml, .ts, .mts, .js, .mjs)`);
  }
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InvalidContextError(file, '(file)', `cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  switch (ext) {
    case '.yaml':
    case '.yml':
      return parseYamlContext(text, file);
    case '.json':
      return parseJsonContext(text, file);
    default:
      return parseXmlContext(text, file);
  }
}

export function parseYamlContext(text: string, file: string): ContextDefinition {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const first = doc.errors[0];
  if (first !== undefined) throw new InvalidContextError(file, '(file)', `malformed YAML: ${first.message.split('\n')[0]}`, first.linePos?.[0].line);
  return validateContext(doc.toJS(), file, yamlLines(doc, lineCounter));
}

export function parseJsonContext(text: string, file: string): ContextDefinition {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // Node's message gives a position only for some errors; the YAML parser finds the line of the others.
    const at = /position (\d+)/.exec(String((err as Error).message));
    const line = at?.[1] === undefined ? parseDocument(text).errors[0]?.linePos?.[0].line : text.slice(0, Number(at[1])).split('\n').length;
    throw new InvalidContextError(file, '(file)', `malformed JSON: ${(err as Error).message}`, line);
  }
  // JSON is YAML 1.2, so the YAML parser gives the lines of a valid JSON file's fields.
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  return validateContext(raw, file, yamlLines(doc, lineCounter));
}

function yamlLines(doc: ReturnType<typeof parseDocument>, counter: LineCounter): LineOf {
  return (path) => {
    // An unknown or missing key has no node of its own: the nearest one that exists.
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
}

const XML_TRIGGER_STATES = ['start', 'update', 'fail', 'exit'];

export function parseXmlContext(text: string, file: string): ContextDefinition {
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new InvalidContextError(file, '(file)', `malformed XML: ${valid.err.msg}`, valid.err.line);
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    parseAttributeValue: false,
    parseTagValue: false,
    trimValues: true,
    isArray: (name) => ['TaskService', 'state', 'trigger'].includes(name),
  });
  const tree = parser.parse(text) as Record<string, unknown>;
  const serviceLines = [...text.matchAll(/<TaskService\b/g)].map((m) => text.slice(0, m.index).split('\n').length);
  const lineOf: LineOf = (path) => (path[0] === 'services' && typeof path[1] === 'number' ? serviceLines[path[1]] : undefined);
  const fail = (field: string, reason: string, line?: number): never => {
    throw new InvalidContextError(file, field, reason, line);
  };
  const roots = Object.keys(tree).filter((k) => !k.startsWith('?'));
  if (roots.length !== 1 || roots[0] !== 'Context') fail('(root)', `the root element must be <Context>, got ${roots.map((r) => `<${r}>`).join(', ') || 'none'}`);
  const ctx = tree.Context;
  if (!isPlainObject(ctx)) return fail('Context', 'an empty <Context>', 1);
  for (const k of Object.keys(ctx)) if (!['@name', 'TaskService'].includes(k)) fail(`Context.${k}`, 'unknown element or attribute (known: name, <TaskService>)');
  const services = ((ctx.TaskService as unknown[]) ?? []).map((ts, i) => {
    const line = serviceLines[i];
    const field = `services[${i}]`;
    if (!isPlainObject(ts)) return fail(field, 'a <TaskService> needs a service attribute', line);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(ts)) {
      if (k === '@id') out.id = v;
      else if (k === '@service') out.service = v;
      else if (k === 'config') {
        try {
          out.config = JSON.parse(String(v));
        } catch {
          fail(`${field}.config`, 'must be JSON text', line);
        }
      } else if (k === 'state') {
        for (const [j, st] of (v as unknown[]).entries()) {
          const name = isPlainObject(st) ? st['@name'] : undefined;
          if (typeof name !== 'string' || !XML_TRIGGER_STATES.includes(name)) {
            fail(`${field}.state[${j}]`, `name must be one of ${XML_TRIGGER_STATES.join(', ')}, got ${kindOf(name)}`, line);
          }
          const body = st as Record<string, unknown>;
          for (const key of Object.keys(body)) if (!['@name', 'trigger'].includes(key)) fail(`${field}.state[${j}].${key}`, 'unknown element or attribute (known: name, <trigger>)', line);
          const key = `on_${String(name)}`;
          out[key] = [...((out[key] as string[]) ?? []), ...((body.trigger as unknown[]) ?? []).map(String)];
        }
      } else fail(`${field}.${k.replace(/^@/, '')}`, 'unknown element or attribute (known: id, service, <config>, <state>)', line);
    }
    out.id ??= out.service;
    return out;
  });
  return validateContext({ context: ctx['@name'], services }, file, lineOf);
}

/** A module whose default (or `context`) export is a `defineContext(...)`. */
export async function loadContextModule(file: string): Promise<ContextDefinition> {
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(resolve(file)).href)) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidContextError(file, '(file)', `cannot import: ${(err as Error).message}`);
  }
  const def = mod.default ?? mod.context;
  if (isContextDefinition(def)) return { ...def, source: file };
  // A plain object in a module is checked like any other format.
  if (isPlainObject(def)) return validateContext(def, file);
  throw new InvalidContextError(file, 'default', `the module must export default defineContext({...}), got ${kindOf(def)}`);
}
