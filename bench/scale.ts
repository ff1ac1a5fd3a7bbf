/**
 * Scale, simulated on one machine (issue 7): N cluster nodes, several per OS
 * process (bench/scaleNode.ts), each hosting the same number of local actors,
 * on a real nats-server with JetStream. Run at two sizes (full: 10 and 50
 * nodes, 2 000 actors each, so 100 000 actors at 50; `--quick`: 4 and 8
 * nodes, 200 actors each) to show what grows faster than O(N).
 *
 * | case                              | measured                                                                 | baseline (formula)                 |
 * |-----------------------------------|--------------------------------------------------------------------------|------------------------------------|
 * | heartbeat msgs/s, N               | messages on `<prefix>.hb.*` seen by a `>` subscriber (publishes) over a steady window | (N + 1) / heartbeat interval (one publish per node per period; the observer is a member) |
 * | KV ops/s at steady state, N       | messages on `$JS.API.>` and `$KV.>` (requests and writes) over the same window | none                 |
 * | replies msgs/s, N                 | messages on `_INBOX.>` (KV and request replies)                          | none                               |
 * | other cluster msgs/s, N           | everything else (probes, events, asks)                                   | none                               |
 * | down detection p50 / max, N       | SIGKILL of one process (N / processes nodes) → `down` on the observer, per node | `downAfterMs`               |
 * | failover of one process's instances, N | SIGKILL → every cluster-supervised instance that lived there answers from a survivor (time of the last) | none |
 * | memory per node, N                | (RSS of every node process after a GC) / N: includes each process's share of the Node.js runtime | none |
 * | growth rows                       | per-node figure at the large size / at the small size: 1.0 is O(N) in total, above 1 grows faster | 1 |
 *
 * The `>` subscriber sees each publish once, not its deliveries: the
 * heartbeat fan-out (k + 2 receivers) is in bench/cluster.ts. Start-up is not
 * measured. The killed process is never the first (the coordinator's lease
 * holder is in it, and a lease lapse is another case).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type NatsServerHandle, startNatsServer } from '../spec/support/natsServer.js';
import { createNode, type Node } from '../src/index.js';
import { NatsTransport } from '../src/transport/NatsTransport.js';
import { type BenchOptions, type BenchResult, percentile, progress, selected } from './harness.js';

const GROUP = 'scale';
const HEARTBEAT_MS = 250;
const NODE_SCRIPT = fileURLToPath(new URL('./scaleNode.ts', import.meta.url));
const REGISTER = new URL('./register.mjs', import.meta.url).href;

interface Size {
  readonly nodes: number;
  readonly actorsPerNode: number;
  readonly processes: number;
}

function sizes(quick: boolean): { small: Size; large: Size; windowMs: number } {
  const env = process.env.HALYARD_SCALE_NODES;
  if (env !== undefined) {
    // `HALYARD_SCALE_NODES=6,12` to try other sizes by hand.
    const [a, b] = env.split(',').map(Number);
    const actorsPerNode = Number(process.env.HALYARD_SCALE_ACTORS ?? 200);
    return { small: { nodes: a!, actorsPerNode, processes: 2 }, large: { nodes: b ?? 2 * a!, actorsPerNode, processes: 5 }, windowMs: 2000 };
  }
  return quick
    ? { small: { nodes: 4, actorsPerNode: 200, processes: 2 }, large: { nodes: 8, actorsPerNode: 200, processes: 4 }, windowMs: 2000 }
    : { small: { nodes: 10, actorsPerNode: 2000, processes: 2 }, large: { nodes: 50, actorsPerNode: 2000, processes: 5 }, windowMs: 5000 };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(predicate: () => boolean, timeout: number, what: string): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeout} ms: ${what}`);
    await sleep(5);
  }
}

// ─── Node processes ──────────────────────────────────────────────────────────

const live = new Set<ChildProcess>();
let hooked = false;
function killAll(): void {
  for (const c of live) c.kill('SIGKILL');
}

interface NodeProcess {
  readonly nodes: readonly string[];
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** The JSON after the first stdout line starting with `tag` (up to `timeout` ms). */
  json(tag: string, timeout: number): Promise<{ rss: number; heapUsed: number }>;
}

function spawnProcess(nodes: readonly string[], env: Record<string, string>): NodeProcess {
  if (!hooked) {
    hooked = true;
    process.on('exit', killAll);
  }
  const child = spawn(process.execPath, ['--expose-gc', '--import', REGISTER, NODE_SCRIPT], {
    env: { ...process.env, ...env, SCALE_NODES: nodes.join(',') },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      live.delete(child);
      resolve();
    }),
  );
  child.stdin!.on('error', () => {});
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d) => {
    partial += String(d);
    for (let nl = partial.indexOf('\n'); nl !== -1; nl = partial.indexOf('\n')) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
    }
  });
  return {
    nodes,
    child,
    exited,
    async json(tag, timeout) {
      const seen = lines.length;
      if (tag === 'STATS') child.stdin!.write('STATS\n');
      let found: string | undefined;
      await until(
        () => {
          found = lines.slice(tag === 'STATS' ? seen : 0).find((l) => l.startsWith(`${tag} `));
          if (found === undefined && child.exitCode !== null) throw new Error(`node process exited (${child.exitCode}) before ${tag}`);
          return found !== undefined;
        },
        timeout,
        `${nodes[0]}…: ${tag}`,
      );
      return JSON.parse(found!.slice(tag.length + 1));
    },
  };
}

// ─── One size ────────────────────────────────────────────────────────────────

interface SizeFigures {
  readonly size: Size;
  readonly heartbeatPerSec: number;
  readonly kvPerSec: number;
  readonly repliesPerSec: number;
  readonly otherPerSec: number;
  readonly detectP50: number;
  readonly detectMax: number;
  readonly failoverMs: number;
  readonly bytesPerNode: number;
  readonly downAfterMs: number;
}

let runs = 0;

async function runSize(servers: string, size: Size, windowMs: number): Promise<SizeFigures> {
  const prefix = `scale${process.pid}r${++runs}`;
  const env = { HALYARD_NATS_URL: servers, HALYARD_PREFIX: prefix, SCALE_ACTORS: String(size.actorsPerNode) };
  const names = Array.from({ length: size.nodes }, (_, i) => `n${String(i).padStart(3, '0')}`);
  const per = Math.ceil(size.nodes / size.processes);
  const groups = Array.from({ length: size.processes }, (_, p) => names.slice(p * per, (p + 1) * per)).filter((g) => g.length > 0);
  const procs: NodeProcess[] = [];
  let obs: Node | undefined;
  let tap: NatsTransport | undefined;
  try {
    const started = performance.now();
    for (const g of groups) {
      const p = spawnProcess(g, env);
      procs.push(p);
      await p.json('READY', 120_000 + 2000 * g.length);
    }
    obs = await createNode({
      name: 'obs',
      prefix,
      transport: { kind: 'nats', servers, reconnectTimeWait: 100, maxReconnectAttempts: -1 },
      cluster: { heartbeatMs: HEARTBEAT_MS },
    });
    const node = obs;
    const cluster = node.cluster!;
    const upAll = () => names.every((n) => node.nodes().some((m) => m.node === n && m.status === 'up'));
    await until(upAll, 60_000, `${size.nodes} nodes up on the observer`);
    progress(`  ${size.nodes} nodes, ${size.nodes * size.actorsPerNode} actors up in ${((performance.now() - started) / 1000).toFixed(1)} s`);

    // One cluster-supervised instance per node of the process to be killed.
    const victim = procs.at(-1)!;
    const instances = victim.nodes.map((n) => `inst-${n}`);
    for (const [i, n] of victim.nodes.entries()) {
      for (let attempt = 0; ; attempt++) {
        try {
          await cluster.start({ name: instances[i]!, type: 'counter', node: n, placement: 'any', restart: 'permanent' });
          break;
        } catch (err) {
          if (attempt >= 100) throw err;
          await sleep(20);
        }
      }
    }
    await Promise.all(instances.map((name) => firstAnswer(node, name, 10_000)));

    // Steady state: nothing joins, nothing fails; count what is published.
    tap = await NatsTransport.connect({ servers, name: `${prefix}-tap` });
    const counts = { hb: 0, kv: 0, replies: 0, other: 0 };
    const hb = `${prefix}.hb.`;
    const sub = tap._connection.subscribe('>', {
      callback: (_err, msg) => {
        const s = msg.subject;
        if (s.startsWith(hb)) counts.hb++;
        else if (s.startsWith('$JS.API.') || s.startsWith('$KV.')) counts.kv++;
        else if (s.startsWith('_INBOX.')) counts.replies++;
        else counts.other++;
      },
    });
    await tap._connection.flush();
    await sleep(2 * HEARTBEAT_MS);
    counts.hb = counts.kv = counts.replies = counts.other = 0;
    const t0 = performance.now();
    await sleep(windowMs);
    const seconds = (performance.now() - t0) / 1000;
    const steady = { ...counts };
    sub.unsubscribe();

    let rss = 0;
    for (const p of procs) rss += (await p.json('STATS', 10_000)).rss;

    // Kill one process: all its nodes fail at once.
    const downAt = new Map<string, number>();
    const off = cluster.membership.on('change', (c) => {
      if (c.type === 'down' && !downAt.has(c.member.node)) downAt.set(c.member.node, performance.now());
    });
    const killedAt = performance.now();
    victim.child.kill('SIGKILL');
    const { downAfterMs } = cluster.membership;
    const answered = await Promise.all(instances.map((name) => firstAnswer(node, name, 20 * downAfterMs + 20_000)));
    await until(() => victim.nodes.every((n) => downAt.has(n)), 20 * downAfterMs + 10_000, 'every killed node down');
    off();
    const detect = victim.nodes.map((n) => downAt.get(n)! - killedAt);
    return {
      size,
      heartbeatPerSec: steady.hb / seconds,
      kvPerSec: steady.kv / seconds,
      repliesPerSec: steady.replies / seconds,
      otherPerSec: steady.other / seconds,
      detectP50: percentile(detect, 50),
      detectMax: Math.max(...detect),
      failoverMs: Math.max(...answered) - killedAt,
      bytesPerNode: rss / size.nodes,
      downAfterMs,
    };
  } finally {
    await tap?.close().catch(() => {});
    await obs?.shutdown().catch(() => {});
    for (const p of procs) p.child.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
  }
}

/** The time at which `name` first answers an ask (a new ask every 5 ms, each with its own deadline). */
function firstAnswer(obs: Node, name: string, timeout: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const deadline = performance.now() + timeout;
    let done = false;
    const timer = setInterval(fire, 5);
    function fire(): void {
      if (done) return;
      if (performance.now() > deadline) {
        done = true;
        clearInterval(timer);
        reject(new Error(`timed out after ${timeout} ms: ${name} answers`));
        return;
      }
      obs
        .ref(name)
        .ask({ type: 'GET' }, { timeout: 250 })
        .then(
          () => {
            if (done) return;
            done = true;
            clearInterval(timer);
            resolve(performance.now());
          },
          () => {},
        );
    }
    fire();
  });
}

// ─── Results ─────────────────────────────────────────────────────────────────

function row(name: string, value: number, unit: string, baseline: string, baselineValue: number): BenchResult {
  return { group: GROUP, name, value, unit, baseline, baselineValue, ratio: value / baselineValue, target: null, met: null };
}

function rows(f: SizeFigures): BenchResult[] {
  const n = f.size.nodes;
  const actors = n * f.size.actorsPerNode;
  const killed = Math.ceil(n / f.size.processes);
  return [
    // The observer is a member too: N + 1 heartbeat publishers.
    row(`heartbeat publishes/s, N=${n}`, f.heartbeatPerSec, 'msg/s', '(N+1) / interval', (n + 1) / (HEARTBEAT_MS / 1000)),
    row(`KV operations/s at steady state, N=${n}`, f.kvPerSec, 'msg/s', 'none', Number.NaN),
    row(`replies (_INBOX) messages/s, N=${n}`, f.repliesPerSec, 'msg/s', 'none', Number.NaN),
    row(`other cluster messages/s, N=${n}`, f.otherPerSec, 'msg/s', 'none', Number.NaN),
    row(`down detection p50, ${killed} nodes killed at once, N=${n}`, f.detectP50, 'ms', 'downAfterMs', f.downAfterMs),
    row(`down detection max, ${killed} nodes killed at once, N=${n}`, f.detectMax, 'ms', 'downAfterMs', f.downAfterMs),
    row(`failover of ${killed} instances (last answers), N=${n}`, f.failoverMs, 'ms', 'downAfterMs', f.downAfterMs),
    row(`memory per node (RSS, ${actors / n} actors each), N=${n}`, f.bytesPerNode / 2 ** 20, 'MiB', 'none', Number.NaN),
  ];
}

/** Per-node cost at the large size over the small one: above 1, that figure grows faster than O(N) in total. */
function growth(small: SizeFigures, large: SizeFigures): BenchResult[] {
  const tag = `N=${small.size.nodes}→${large.size.nodes}`;
  const per = (v: number, f: SizeFigures) => v / f.size.nodes;
  const g = (name: string, ratio: number) => row(`growth per node, ${name}, ${tag}`, ratio, 'x', 'O(N) = 1', 1);
  return [
    g('heartbeat publishes', per(large.heartbeatPerSec, large) / per(small.heartbeatPerSec, small)),
    g('KV operations', per(large.kvPerSec, large) / per(small.kvPerSec, small)),
    g('replies', per(large.repliesPerSec, large) / per(small.repliesPerSec, small)),
    g('other cluster messages', per(large.otherPerSec, large) / per(small.otherPerSec, small)),
    g('memory', large.bytesPerNode / small.bytesPerNode),
    row(`growth, down detection p50 (should stay flat), ${tag}`, large.detectP50 / small.detectP50, 'x', 'flat = 1', 1),
  ].filter((r) => Number.isFinite(r.value)); // a kind of traffic absent at both sizes has no growth
}

/**
 * Runs only when `--only` names the group (`--only scale`): at full size it
 * loads the machine for minutes, so a plain `npm run bench` leaves it out.
 */
export async function benchScale(options: BenchOptions): Promise<BenchResult[]> {
  if (!options.only.some((s) => s.startsWith(GROUP))) return [];
  const s = sizes(options.quick);
  let server: NatsServerHandle | undefined;
  try {
    progress('scale: starting nats-server with JetStream');
    server = await startNatsServer({ jetstream: true });
    progress(`scale: N=${s.small.nodes}`);
    const small = await runSize(server.url, s.small, s.windowMs);
    progress(`scale: N=${s.large.nodes}`);
    const large = await runSize(server.url, s.large, s.windowMs);
    return [...rows(small), ...rows(large), ...growth(small, large)].filter((r) => selected(options, r.group, r.name));
  } finally {
    killAll();
    await server?.stop();
  }
}
