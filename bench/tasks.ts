/**
 * `--only tasks`: Tasks end to end on a real nats-server with JetStream.
 *
 * - **tasks/s, 4 workers, no-op tasks** against a hand-written JetStream
 *   work queue doing the same acks: a WorkQueue stream, 4 consumers sharing
 *   one durable pull consumer, each message acked. Target ≥ 0.7×.
 * - **recovery**: SIGKILL of a worker process holding a task → the task
 *   running on another worker; p99 over the trials. Target ≤ 1.5 s with the
 *   defaults (heartbeat 250 ms, worker timeout 1 s, backoff from 100 ms).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { startNatsServer } from '../spec/support/natsServer.js';
import { Tasks } from '../src/services/tasks/Tasks.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type BenchOptions, type BenchResult, groupMaybeSelected, interleave, pairedResult, percentile, progress, selected } from './harness.js';

const GROUP = 'tasks';
const WORKERS = 4;
const REGISTER = new URL('./register.mjs', import.meta.url).href;
const WORKER_SCRIPT = fileURLToPath(new URL('../spec/tasks.worker.ts', import.meta.url));
let run = 0;

async function workQueue(url: string, n: number): Promise<number> {
  const nc = await connect({ servers: url });
  const consumers = await Promise.all(Array.from({ length: WORKERS }, () => connect({ servers: url })));
  const name = `wq${run++}`;
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name, subjects: [`${name}.>`], retention: RetentionPolicy.Workqueue });
    await jsm.consumers.add(name, { durable_name: 'w', ack_policy: AckPolicy.Explicit });
    const js = jetstream(nc);
    let acked = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => {
      done = resolve;
    });
    const started = performance.now();
    const loops = consumers.map(async (c) => {
      const consumer = await jetstream(c).consumers.get(name, 'w');
      const msgs = await consumer.consume();
      for await (const m of msgs) {
        await m.ackAck();
        if (++acked === n) done();
        if (acked >= n) break;
      }
    });
    await Promise.all(Array.from({ length: n }, (_, i) => js.publish(`${name}.task`, new TextEncoder().encode(String(i)))));
    await all;
    const rate = n / ((performance.now() - started) / 1000);
    await Promise.race([Promise.all(loops), new Promise((r) => setTimeout(r, 100))]);
    await jsm.streams.delete(name);
    return rate;
  } finally {
    await Promise.all([nc.close(), ...consumers.map((c) => c.close())]);
  }
}

async function halyardTasks(url: string, n: number): Promise<number> {
  const bucket = `tasks-bench-${run++}`;
  const transports = await Promise.all(Array.from({ length: WORKERS + 1 }, (_, i) => NatsTransport.connect({ servers: url, name: `tb${i}` })));
  const members = transports.map((t, i) => new Tasks({ kv: t.kv(), node: i === 0 ? 'client' : `w${i}`, bucket }));
  try {
    const [client, ...workers] = members;
    await client!.start();
    for (const w of workers) await w.define('noop', () => null);
    while (!members.some((m) => m.isDispatcher)) await new Promise((r) => setTimeout(r, 10));
    const started = performance.now();
    const ids = await Promise.all(Array.from({ length: n }, (_, i) => client!.submit('noop', i)));
    await Promise.all(ids.map((id) => client!.result(id, { timeout: 120_000 })));
    return n / ((performance.now() - started) / 1000);
  } finally {
    await Promise.all(members.map((m) => m.close()));
    await transports[0]!.kv().destroy(bucket);
    await Promise.all(transports.map((t) => t.close()));
  }
}

function spawnWorker(url: string, bucket: string, node: string): { child: ChildProcess; line: (re: RegExp) => Promise<string> } {
  const child = spawn(process.execPath, ['--import', REGISTER, WORKER_SCRIPT], {
    env: { ...process.env, HALYARD_NATS_URL: url, HALYARD_NODE: node, HALYARD_TASKS_BUCKET: bucket, HALYARD_TASKS_MODE: 'hold' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (d) => {
    out += String(d);
    for (const w of waiters.splice(0)) w();
  });
  const line = (re: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const deadline = setTimeout(() => reject(new Error(`worker ${node}: no ${re} within 30 s`)), 30_000);
      const check = () => {
        const m = out.split('\n').find((l) => re.test(l));
        if (m !== undefined) {
          clearTimeout(deadline);
          resolve(m);
        } else waiters.push(check);
      };
      check();
    });
  return { child, line };
}

/** One trial, on a fresh bucket: only the victim defines `job` until it holds the task, then the survivor does too. */
async function recoveryTrial(url: string, trial: number): Promise<number> {
  const bucket = `tasks-recovery-${run++}`;
  const t = await NatsTransport.connect({ servers: url, name: 'tasks-recovery' });
  const here = new Tasks({ kv: t.kv(), node: 'survivor', bucket });
  let startedAt = Number.NaN;
  const w = spawnWorker(url, bucket, `victim${trial}`);
  try {
    await here.start();
    await w.line(/^READY /);
    const id = await here.submit('job', trial, { maxAttempts: 5 });
    await w.line(new RegExp(`^RUNNING ${id}`));
    await here.define('job', () => {
      startedAt = performance.now();
      return null;
    });
    const killedAt = performance.now();
    w.child.kill('SIGKILL');
    await here.result(id, { timeout: 30_000 });
    return startedAt - killedAt;
  } finally {
    w.child.kill('SIGKILL');
    await here.close();
    await t.kv().destroy(bucket);
    await t.close();
  }
}

export async function benchTasks(options: BenchOptions): Promise<BenchResult[]> {
  if (!groupMaybeSelected(options, GROUP)) return [];
  const server = await startNatsServer({ jetstream: true });
  const results: BenchResult[] = [];
  try {
    const n = options.quick ? 500 : 2000;
    const rounds = options.quick ? 2 : 5;
    const rateName = `tasks/s end to end, ${WORKERS} workers, no-op`;
    if (selected(options, GROUP, rateName)) {
      progress(`tasks ${rateName}: ${n} tasks x ${rounds} rounds`);
      const r = await interleave('tasks throughput', { baseline: () => workQueue(server.url, n), halyard: () => halyardTasks(server.url, n) }, rounds);
      results.push(pairedResult(GROUP, rateName, 'task/s', 'JetStream work queue, 4 consumers, ackAck', r.halyard, r.baseline, { op: '>=', ratio: 0.7 }));
    }
    const recName = 'recovery p99: SIGKILL worker → task running elsewhere';
    if (selected(options, GROUP, recName)) {
      const trials = options.quick ? 3 : 10;
      const times: number[] = [];
      for (let i = 0; i < trials; i++) {
        times.push(await recoveryTrial(server.url, i));
        progress(`  tasks recovery: trial ${i + 1}/${trials}: ${times.at(-1)!.toFixed(0)} ms`);
      }
      const p99 = percentile(times, 99);
      results.push({
        group: GROUP,
        name: recName,
        value: p99,
        unit: 'ms',
        baseline: 'target 1500 ms',
        baselineValue: 1500,
        ratio: p99 / 1500,
        target: '<= 1.0',
        met: p99 <= 1500,
      });
    }
  } finally {
    await server.stop();
  }
  return results;
}
