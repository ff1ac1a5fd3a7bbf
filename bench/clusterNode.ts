/**
 * A cluster node in its own OS process, for the failover case of
 * bench/cluster.ts (which SIGKILLs it). Like spec/cluster/clusterNode.ts, with
 * a burner that runs until told to stop and reports what it really used.
 *
 * Env: HALYARD_NATS_URL, HALYARD_NODE, HALYARD_PREFIX, HALYARD_CLUSTER (JSON
 * cluster options, or empty for the defaults), HALYARD_LOG (a pino level:
 * log to stderr; unset: silent). Registers `counter` (many).
 *
 * stdout: `READY <node>`; `LEADER <node>` / `FOLLOWER <node>` when it gains or
 * loses the cluster coordinator lease; `FENCED <count>` when it fences itself;
 * `STATS <json>` on request.
 * stdin:
 * - `BURN <busyMs> <idleMs>`: keep the event loop busy, `busyMs` of spinning
 *   then a timer of `idleMs` (at least one whole turn of the loop: timers,
 *   I/O), until `UNBURN` or the end. 9 / 1 is a ~90% busy process.
 * - `STATS`: prints `STATS {"cpu":…,"wallMs":…,"burnedMs":…,"loopMaxMs":…,"loopP99Ms":…}`:
 *   CPU time (user + system) over wall time since the burn began (or since
 *   start), time spent spinning, and the event loop delay seen meanwhile.
 * - `STOP` (or stdin closing, or SIGTERM): leave gracefully and exit.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger, createNode } from '../src/index.js';
import { counterMachine } from '../spec/support/machines.js';

const name = process.env.HALYARD_NODE ?? 'child';
const options = process.env.HALYARD_CLUSTER ? JSON.parse(process.env.HALYARD_CLUSTER) : true;
const node = await createNode({
  name,
  prefix: process.env.HALYARD_PREFIX ?? 'halyard',
  transport: { kind: 'nats', servers: process.env.HALYARD_NATS_URL ?? 'nats://127.0.0.1:4222', reconnectTimeWait: 100, maxReconnectAttempts: -1 },
  cluster: options,
  ...(process.env.HALYARD_LOG ? { logger: createLogger({ level: process.env.HALYARD_LOG, name }, { write: (line: string) => process.stderr.write(line) }) } : {}),
});
node.register('counter', counterMachine);
await node.flush();
process.stdout.write(`READY ${name}\n`);

let leader = false;
let fences = 0;
setInterval(() => {
  const c = node.cluster!;
  if (c.isCoordinator !== leader) {
    leader = c.isCoordinator;
    process.stdout.write(`${leader ? 'LEADER' : 'FOLLOWER'} ${name}\n`);
  }
  if (c.fences !== fences) {
    fences = c.fences;
    process.stdout.write(`FENCED ${fences}\n`);
  }
}, 10);

// ─── Burner and its figures ──────────────────────────────────────────────────

const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
let since = { wall: performance.now(), cpu: process.cpuUsage() };
let burnedMs = 0;
let burning = false;

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Busy: the event loop is blocked.
  }
}

async function burn(busyMs: number, idleMs: number): Promise<void> {
  if (burning) return;
  burning = true;
  since = { wall: performance.now(), cpu: process.cpuUsage() };
  burnedMs = 0;
  loop.reset();
  while (burning) {
    const t = performance.now();
    spin(busyMs);
    burnedMs += performance.now() - t;
    // A timer, not setImmediate: the loop runs its timers (heartbeats) and
    // polls I/O before the next chunk.
    await new Promise((resolve) => setTimeout(resolve, idleMs));
  }
}

function stats(): string {
  const wallMs = performance.now() - since.wall;
  const cpu = process.cpuUsage(since.cpu);
  return JSON.stringify({
    cpu: (cpu.user + cpu.system) / 1000 / wallMs,
    wallMs: Math.round(wallMs),
    burnedMs: Math.round(burnedMs),
    loopMaxMs: loop.max / 1e6,
    loopP99Ms: loop.percentile(99) / 1e6,
  });
}

// ─── Control ─────────────────────────────────────────────────────────────────

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  burning = false;
  await node.shutdown();
  process.exit(0);
}

let buffered = '';
process.stdin.on('data', (d) => {
  buffered += String(d);
  let nl = buffered.indexOf('\n');
  while (nl !== -1) {
    const [cmd, a, b] = buffered.slice(0, nl).trim().split(' ');
    buffered = buffered.slice(nl + 1);
    if (cmd === 'BURN') void burn(Number(a), Number(b));
    if (cmd === 'UNBURN') burning = false;
    if (cmd === 'STATS') process.stdout.write(`STATS ${stats()}\n`);
    if (cmd === 'STOP') void stop();
    nl = buffered.indexOf('\n');
  }
});
process.stdin.on('end', () => void stop());
process.on('SIGTERM', () => void stop());
