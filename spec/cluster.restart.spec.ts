/**
 * A cluster restarted on the same JetStream store: every node process is
 * SIGKILLed (or shut down gracefully), a fresh set of processes with the same
 * names starts on the same nats-server and prefix, and every instance the
 * old incarnations left recorded comes up again. The records of a dead
 * incarnation must never block a start, and no name ever has two owners.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { bucketName, openKv } from '../src/services/cluster/index.js';
import type { NatsTransport } from '../src/transport/NatsTransport.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { uniquePrefix } from './cluster/harness.js';
import { sampleOwnership } from './cluster/owners.js';
import { once, waitFor } from './support/wait.js';

const children: Child[] = [];
const observers: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(observers.splice(0).map((n) => n.shutdown()));
});

const NODES = ['n1', 'n2', 'n3'];
/** One singleton, one per-node instance on each node, and three `many` instances. */
const SPECS = [
  { name: 'orders', type: 'single', restart: 'permanent' },
  ...NODES.map((n, i) => ({ name: `lk${i + 1}`, type: 'locked', node: n, placement: 'any' })),
  ...[1, 2, 3].map((i) => ({ name: `m${i}`, type: 'counter', input: { start: i } })),
];
const NAMES = SPECS.map((s) => s.name);

async function startNodes(env: (node: string) => Record<string, string>): Promise<Child[]> {
  const procs = NODES.map((n) => spawnChild(script('clusterNode.ts'), env(n)));
  children.push(...procs);
  for (const p of procs) await p.line(/^READY /, 30_000);
  procs[0]!.write(`SEE ${NODES.join(',')}`);
  await procs[0]!.line(/^SEEN$/, 20_000, 'n1 sees every node with its types');
  return procs;
}

/** Run `cluster.start` of every spec on `p` (the README's block, run again); returns each answer line. */
async function startAll(p: Child): Promise<string[]> {
  const out: string[] = [];
  for (const spec of SPECS) {
    const from = p.lines.length;
    p.write(`START ${JSON.stringify(spec)}`);
    const re = new RegExp(`^(STARTED|STARTFAIL) ${spec.name} `);
    out.push(
      await waitFor(() => p.lines.slice(from).find((l) => re.test(l)), { timeout: 10_000, message: `answer to start ${spec.name}` }),
    );
  }
  return out;
}

async function answers(obs: Node, name: string): Promise<boolean> {
  return obs.ref(name).ask({ type: 'GET' }, { timeout: 300 }).then(
    () => true,
    () => false,
  );
}

async function allAnswer(obs: Node, deadline: number, what: string): Promise<void> {
  for (const name of NAMES) await waitFor(() => answers(obs, name), { timeout: deadline, interval: 20, message: `${name} answers ${what}` });
}

async function restartAfter(stop: (procs: Child[]) => Promise<void>): Promise<{ firstRun: string[]; secondRun: string[]; duplicates: string[] }> {
  const servers = inject('natsUrl');
  const prefix = uniquePrefix('r');
  const env = clusterNodeEnv(servers, prefix);
  const obs = await createNode({ name: 'obs', prefix, transport: { kind: 'nats', servers } });
  observers.push(obs);
  const sampler = sampleOwnership(obs, prefix, () => NODES);
  const first = await startNodes(env);
  const firstRun = await startAll(first[0]!);
  await allAnswer(obs, 10_000, 'in the first run');
  await stop(first);
  const second = await startNodes(env);
  // The application's own start code runs again on the fresh processes, as the README's block would.
  const secondRun = await startAll(second[0]!);
  await allAnswer(obs, 10_000, 'after the restart');
  // Every record belongs to a live incarnation now: none is left `running` for a process that is gone.
  const kv = await openKv(obs.transport as NatsTransport, bucketName(prefix, 'registry'));
  for (const name of NAMES) {
    const entry = await kv.get(`instance.${name}`);
    const rec = JSON.parse(new TextDecoder().decode(entry!.value));
    expect(rec.state, name).toBe('running');
    expect(NODES, name).toContain(rec.owner);
  }
  const sampled = await sampler.stop();
  return { firstRun, secondRun, duplicates: sampled.duplicates };
}

describe('cluster - restart on the same store', () => {
  it('cluster - after every node is SIGKILLed, a fresh set of processes on the same store brings the singleton, per-node and many instances up again', async () => {
    const r = await restartAfter(async (procs) => {
      for (const p of procs) p.process.kill('SIGKILL');
      await killAll(procs);
    });
    expect(r.firstRun.filter((l) => !l.startsWith('STARTED'))).toEqual([]);
    expect(r.secondRun.filter((l) => !l.startsWith('STARTED'))).toEqual([]);
    expect(r.duplicates).toEqual([]);
  }, 120_000);

  it('cluster - after a graceful full stop, the restarted cluster brings every instance up again', async () => {
    const r = await restartAfter(async (procs) => {
      const exited = procs.map((p) => once(p.process, 'exit', 20_000));
      for (const p of procs) p.write('STOP');
      await Promise.all(exited);
    });
    expect(r.firstRun.filter((l) => !l.startsWith('STARTED'))).toEqual([]);
    expect(r.secondRun.filter((l) => !l.startsWith('STARTED'))).toEqual([]);
    expect(r.duplicates).toEqual([]);
  }, 120_000);
});
