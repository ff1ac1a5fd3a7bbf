/**
 * metrics - `/metrics` is valid Prometheus text (checked here by a strict
 * reading of the exposition format rules), with the documented names, types
 * and labels, fed by what the node did.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createMachine } from 'xstate';
import { defineService } from '../src/services/catalog/index.js';
import { createNode, type Node, type NodeOptions } from '../src/services/node/Node.js';
import { LocalBus } from '../src/transport/LocalTransport.js';
import { counterMachine } from './support/machines.js';
import { waitFor } from './support/wait.js';

const nodes: Node[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.shutdown()));
});

async function node(options: Omit<NodeOptions, 'name'> & { name?: string }): Promise<Node> {
  const n = await createNode({ name: `m${nodes.length + 1}`, ...options });
  nodes.push(n);
  return n;
}

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
interface Family {
  readonly name: string;
  readonly type: string;
  readonly help: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** Prometheus reads values with Go's ParseFloat, which takes NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(text: string, line: number): number {
  const lower = text.toLowerCase();
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (lower === 'nan') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`line ${line}: bad value ${JSON.stringify(text)}`);
  return Number(text);
}

/** Labels `{a="x",b="y"}` with the format's three escapes; throws on anything else. */
function parseLabels(text: string, line: number): Record<string, string> {
  const labels: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const eq = text.indexOf('=', i);
    if (eq < 0) throw new Error(`line ${line}: label without "="`);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`line ${line}: bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`line ${line}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`line ${line}: label ${name} value not quoted`);
    let value = '';
    let j = eq + 2;
    for (; j < text.length && text[j] !== '"'; j++) {
      if (text[j] === '\\') {
        const next = text[++j];
        if (next === 'n') value += '\n';
        else if (next === '\\' || next === '"') value += next;
        else throw new Error(`line ${line}: bad escape \\${next}`);
      } else if (text[j] === '\n') throw new Error(`line ${line}: raw newline in a label value`);
      else value += text[j];
    }
    if (j >= text.length) throw new Error(`line ${line}: unterminated label value`);
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (i < text.length) throw new Error(`line ${line}: expected "," after label ${name}`);
  }
  return labels;
}

/** The family a sample belongs to, by the suffixes its type allows. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  const direct = families.get(sample);
  if (direct) return direct;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue;
    const f = families.get(sample.slice(0, -suffix.length));
    if (f && (f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket'))) return f;
  }
  return undefined;
}

/**
 * Prometheus text format 0.0.4, strictly: HELP and TYPE at most once per
 * family and before its samples, each family's samples together, valid names
 * and escapes, no duplicate series, histogram buckets cumulative and ending
 * in `+Inf` equal to `_count`.
 */
function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const series = new Set<string>();
  const closed = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') throw new Error('the exposition must end with a newline');
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw === '') return;
    if (raw.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`line ${line}: bad metric name ${name}`);
      if (closed.has(name)) throw new Error(`line ${line}: family ${name} appears twice`);
      if (current && current.name !== name) closed.add(current.name);
      let f = families.get(name);
      if (!f) {
        f = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, f);
      } else if (f.samples.length > 0) throw new Error(`line ${line}: ${kind} of ${name} after its samples`);
      if (kind === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`line ${line}: bad type ${rest}`);
        (f as { type: string }).type = rest;
      } else (f as { help: string }).help = rest;
      current = f;
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(raw);
    if (!m) throw new Error(`line ${line}: not a sample: ${raw}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    const f = familyOf(name, families);
    if (!f) throw new Error(`line ${line}: sample ${name} without a TYPE`);
    if (f !== current) throw new Error(`line ${line}: sample ${name} apart from the rest of ${f.name}`);
    const labels = labelText ? parseLabels(labelText, line) : {};
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`line ${line}: duplicate series ${key}`);
    series.add(key);
    f.samples.push({ name, labels, value: parseValue(valueText, line) });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name === `${f.name}_bucket`);
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`${f.name}${key}: no _sum or _count`);
    let last = -1;
    let lastLe = Number.NEGATIVE_INFINITY;
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? '', 0);
      if (!(le > lastLe) || b.value < last) throw new Error(`${f.name}${key}: buckets not cumulative at le=${b.labels.le}`);
      lastLe = le;
      last = b.value;
    }
    if (buckets.at(-1)?.labels.le !== '+Inf' || buckets.at(-1)?.value !== count.value) throw new Error(`${f.name}${key}: +Inf bucket missing or not equal to _count`);
  }
}

async function scrape(n: Node): Promise<Map<string, Family>> {
  const r = await fetch(`${n.health!.url}/metrics`);
  expect(r.status).toBe(200);
  return parseExposition(await r.text());
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = familyOf(name, families);
  return f?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

const idle = createMachine({ initial: 'ready', states: { ready: { tags: ['ready'] } } });
const quiet = defineService({ name: 'quiet', version: '1.0.0', logic: idle, ready: 'ready' });

describe('metrics - the exposition', () => {
  it('metrics - the strict parser refuses what the text format forbids', () => {
    expect(() => parseExposition('# TYPE a counter\na 1\n')).not.toThrow();
    expect(() => parseExposition('a 1\n')).toThrow(/without a TYPE/);
    expect(() => parseExposition('# TYPE a counter\na{x="1} 1\n')).toThrow();
    expect(() => parseExposition('# TYPE a counter\na{x="\\t"} 1\n')).toThrow(/bad escape/);
    expect(() => parseExposition('# TYPE a counter\na 1\na 2\n')).toThrow(/duplicate/);
    expect(() => parseExposition('# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n')).toThrow(/apart/);
    expect(() => parseExposition('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n')).toThrow(/cumulative/);
    expect(() => parseExposition('# TYPE a counter\na one\n')).toThrow(/bad value/);
    expect(() => parseExposition('# TYPE a counter\na 1')).toThrow(/newline/);
  });

  it('metrics - /metrics parses by the text-format rules and carries the documented names, types and labels', async () => {
    const bus = new LocalBus();
    const n = await node({ transport: { kind: 'local', bus }, cluster: true, services: [quiet], http: { port: 0 } });
    await n.services.start('quiet');

    // A restart and a decision, from a crash.
    const sup = n.supervise({ children: [{ id: 'counter', start: counterMachine, name: 'counter' }] }, { name: 'app' });
    const first = sup.whichChildren()[0]!.ref!;
    n.ref('counter').tell({ type: 'BOOM' });
    await waitFor(() => sup.whichChildren()[0]?.ref !== first && sup.whichChildren()[0]?.status === 'running', { timeout: 10_000, message: 'restart' });
    // An ask, answered.
    await expect(n.ref('counter').ask({ type: 'GET' })).resolves.toBe(0);
    // A dead letter: a tell to an actor that has stopped.
    const gone = n.spawn(counterMachine, { name: 'gone' });
    await gone.stop();
    gone.tell({ type: 'INC' });
    const [reason] = await waitFor(() => Object.keys(n.deadLetters.byReason()), { timeout: 5000, message: 'a dead letter' });

    const m = await scrape(n);
    const types: Record<string, string> = {
      halyard_transport_messages_received_total: 'counter',
      halyard_transport_messages_sent_total: 'counter',
      halyard_transport_received_bytes_total: 'counter',
      halyard_transport_sent_bytes_total: 'counter',
      halyard_transport_connected: 'gauge',
      halyard_transport_disconnects_total: 'counter',
      halyard_transport_reconnects_total: 'counter',
      halyard_transport_slow_consumers_total: 'counter',
      halyard_dead_letters_total: 'counter',
      halyard_supervisor_restarts_total: 'counter',
      halyard_supervisor_child_exits_total: 'counter',
      halyard_supervisor_gave_up_total: 'counter',
      halyard_recovery_decisions_total: 'counter',
      halyard_cluster_member_changes_total: 'counter',
      halyard_cluster_members: 'gauge',
      halyard_service_instances: 'gauge',
      halyard_mailbox_depth: 'gauge',
      halyard_ask_duration_seconds: 'histogram',
      halyard_process_cpu_seconds_total: 'counter',
      halyard_process_resident_memory_bytes: 'gauge',
      halyard_nodejs_eventloop_lag_seconds: 'gauge',
      halyard_nodejs_heap_size_used_bytes: 'gauge',
    };
    for (const [name, type] of Object.entries(types)) expect({ name, type: m.get(name)?.type }).toEqual({ name, type });
    for (const f of m.values()) {
      expect(f.name).toMatch(/^halyard_/);
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      expect(f.help.length).toBeGreaterThan(0);
      for (const s of f.samples) {
        expect(s.labels.node).toBe('m1');
        // Cardinality: neither actor ids nor actor names are labels.
        expect(Object.keys(s.labels).filter((k) => k === 'actor' || k === 'name' || k === 'id')).toEqual([]);
        expect(Object.values(s.labels)).not.toContain('gone');
      }
    }

    expect(value(m, 'halyard_supervisor_restarts_total', { supervisor: 'app' })).toBe(1);
    expect(value(m, 'halyard_supervisor_child_exits_total', { supervisor: 'app', reason: 'error' })).toBe(1);
    expect(value(m, 'halyard_recovery_decisions_total', { directive: 'restart' })).toBe(1);
    expect(value(m, 'halyard_dead_letters_total', { reason })).toBe(n.deadLetters.count(reason as never));
    expect(value(m, 'halyard_ask_duration_seconds_count', { outcome: 'ok' })).toBe(1);
    expect(value(m, 'halyard_ask_duration_seconds_count', { outcome: 'error' })).toBe(0);
    expect(value(m, 'halyard_service_instances', { service: 'quiet', state: 'running' })).toBe(1);
    expect(value(m, 'halyard_mailbox_depth', { service: 'quiet' })).toBe(0);
    expect(value(m, 'halyard_cluster_members', { status: 'up' })).toBe(1);
    expect(value(m, 'halyard_transport_connected')).toBe(1);
  });

  it('metrics - transport message counters follow the NATS connection', async () => {
    const n = await node({ transport: { kind: 'nats', servers: inject('natsUrl') }, http: { port: 0 } });
    const counter = n.spawn(counterMachine, { name: 'metered' });
    await n.flush();
    const before = await scrape(n);
    const sent0 = value(before, 'halyard_transport_messages_sent_total')!;
    // Another node's tell arrives over NATS.
    const other = await node({ transport: { kind: 'nats', servers: inject('natsUrl') } });
    other.ref('metered').tell({ type: 'INC' });
    await other.flush();
    await waitFor(async () => (await counter.getSnapshot()).context.n === 1, { timeout: 5000, message: 'tell over NATS' });
    await expect(n.ref('metered').ask({ type: 'GET' })).resolves.toBe(1);
    const after = await scrape(n);
    expect(value(after, 'halyard_transport_messages_received_total')!).toBeGreaterThan(value(before, 'halyard_transport_messages_received_total')!);
    expect(value(after, 'halyard_transport_received_bytes_total')!).toBeGreaterThan(0);
    expect(value(after, 'halyard_transport_messages_sent_total')!).toBeGreaterThanOrEqual(sent0);
  });
});
