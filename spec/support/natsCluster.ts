/**
 * The integration harness for a cluster of real nats-servers: `size` servers
 * on free loopback ports, routed to each other, optionally with clustered
 * JetStream (each server its own store directory), for tests that kill and
 * restart servers under Halyard nodes.
 *
 * - `startNatsCluster({ size, jetstream })` writes one configuration file per
 *   server (`server_name` s0, s1...; client, route and monitoring ports; the
 *   full route list, its own included, which nats-server skips), starts them
 *   all, and resolves once the cluster is formed (below), or rejects with the
 *   servers' logs after `readyTimeout`.
 * - **Formed** means, for every running server: it is routed to exactly the
 *   other running servers (`/routez` against `/varz` server ids), and, with
 *   JetStream, it knows a meta leader that is running, and the leader holds
 *   every running server as a current peer (`/jsz`). It is polled on the
 *   monitoring endpoints with a deadline, never slept for.
 * - `kill(i)` SIGKILLs server `i` and resolves when the process is gone;
 *   `restart(i)` starts it again on the same ports and store (stopping it
 *   first if it runs) and resolves once the cluster is formed again with it.
 * - `stop()` stops every server and removes the temporary directory; every
 *   child is also SIGKILLed if the test process exits first.
 *
 * nats-server 2.9 (Debian's 2.9.10 here) is enough: routes and R3 streams
 * exist since 2.2. Monitoring JSON is typed below only as far as it is read.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, installExitHook, natsServerBinary, ServerProcess } from './natsServer.js';
import { waitFor } from './wait.js';

export interface NatsClusterOptions {
  /** Number of servers, at least 2. Default 3. */
  readonly size?: number;
  /** Clustered JetStream, a store directory per server. Default false. */
  readonly jetstream?: boolean;
  /** How long one server may take to accept connections, and the cluster to form. Default 30000 ms. */
  readonly readyTimeout?: number;
}

export interface ClusterServer {
  readonly index: number;
  /** `server_name`: `s<index>`; JetStream names peers by it. */
  readonly name: string;
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  /** Pid of the current process, or -1 when none runs. */
  readonly pid: number;
  readonly running: boolean;
  /** The current (or last) process's recent log. */
  readonly log: string;
}

/** `/routez`, as far as it is read. */
export interface Routez {
  readonly num_routes: number;
  readonly routes?: ReadonlyArray<{ readonly remote_id: string }>;
}

/** A JetStream peer as `/jsz` lists it. */
export interface JsPeer {
  readonly name: string;
  readonly current: boolean;
  readonly offline?: boolean;
  readonly lag?: number;
}

/** `/jsz`, as far as it is read. */
export interface Jsz {
  readonly meta_cluster?: { readonly name?: string; readonly leader?: string; readonly cluster_size?: number; readonly replicas?: readonly JsPeer[] };
}

/** A connection as `/connz` lists it. */
export interface Connz {
  readonly connections?: ReadonlyArray<{ readonly cid: number; readonly name?: string; readonly port: number }>;
}

/** One stream's placement: its leader's view, and which running servers hold a copy. */
export interface StreamPlacement {
  readonly name: string;
  readonly leader: string | undefined;
  /** The other copies, as the leader sees them (none for R1). */
  readonly replicas: readonly JsPeer[];
  /** Running servers that list the stream (`/jsz?accounts=true&streams=true` shows a server only its own copies). */
  readonly hostedOn: readonly string[];
}

export interface NatsClusterHandle {
  /** The cluster's name (unique per start). */
  readonly name: string;
  readonly servers: readonly ClusterServer[];
  /** Every server's client URL, in index order. */
  readonly urls: readonly string[];
  /** SIGKILL server `i`; resolves once its process has exited. */
  kill(i: number): Promise<void>;
  /** Start server `i` again on its ports and store; resolves once the cluster is formed with it. */
  restart(i: number): Promise<void>;
  /** Resolve once the running servers form a cluster (see the module comment). */
  waitFormed(timeout?: number): Promise<void>;
  /** What is wrong with the cluster now, or `undefined` when it is formed. */
  notFormed(): Promise<string | undefined>;
  /** GET `path` on server `i`'s monitoring port, parsed as JSON. */
  monitor<T>(i: number, path: string): Promise<T>;
  routez(i: number): Promise<Routez>;
  jsz(i: number): Promise<Jsz>;
  connz(i: number): Promise<Connz>;
  /** Every stream on the running servers, by name. */
  streams(): Promise<StreamPlacement[]>;
  /** Stop every server and remove the temporary files. Idempotent. */
  stop(): Promise<void>;
}

const MONITOR_TIMEOUT_MS = 2000;
const MAX_START_ATTEMPTS = 5;

interface Slot {
  readonly index: number;
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  readonly monitorPort: number;
  confFile: string;
  proc: ServerProcess | undefined;
}

function configText(slot: Slot, clusterName: string, routes: readonly number[], storeDir: string | undefined): string {
  const lines = [
    `server_name: ${slot.name}`,
    `listen: 127.0.0.1:${slot.port}`,
    `http: 127.0.0.1:${slot.monitorPort}`,
    'cluster {',
    `  name: ${clusterName}`,
    `  listen: 127.0.0.1:${slot.clusterPort}`,
    `  routes: [ ${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')} ]`,
    '}',
  ];
  if (storeDir !== undefined) lines.push(`jetstream { store_dir: ${JSON.stringify(storeDir)} }`);
  return `${lines.join('\n')}\n`;
}

const inUse = (err: unknown) => /address already in use/i.test((err as Error).message);

/** Start a cluster of nats-servers on free loopback ports. See the module comment. */
export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsClusterHandle> {
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 2) throw new RangeError(`startNatsCluster: size must be an integer of at least 2, got ${String(size)}`);
  const readyTimeout = options.readyTimeout ?? 30_000;
  const bin = natsServerBinary();
  installExitHook();
  const clusterName = `halyard-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const dir = await mkdtemp(join(tmpdir(), 'halyard-nats-cluster-'));
  let slots: Slot[] = [];
  let stopped = false;

  const launch = async (slot: Slot): Promise<void> => {
    const proc = new ServerProcess(bin, ['-c', slot.confFile]);
    slot.proc = proc;
    await proc.ready(slot.port, readyTimeout);
  };

  const monitor = async <T>(i: number, path: string): Promise<T> => {
    const slot = slots[i];
    if (slot === undefined) throw new RangeError(`no server ${i} in a cluster of ${size}`);
    const res = await fetch(`http://127.0.0.1:${slot.monitorPort}${path}`, { signal: AbortSignal.timeout(MONITOR_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`GET ${path} on ${slot.name}: HTTP ${res.status}`);
    return (await res.json()) as T;
  };

  const running = () => slots.filter((s) => s.proc !== undefined && !s.proc.hasExited);

  const notFormed = async (): Promise<string | undefined> => {
    const up = running();
    try {
      const ids = new Map<string, string>();
      for (const s of up) ids.set(s.name, (await monitor<{ server_id: string }>(s.index, '/varz')).server_id);
      for (const s of up) {
        const routes = await monitor<Routez>(s.index, '/routez');
        const remote = new Set((routes.routes ?? []).map((r) => r.remote_id));
        const expected = up.filter((o) => o !== s).map((o) => ids.get(o.name)!);
        if (remote.size !== expected.length || expected.some((id) => !remote.has(id))) {
          return `${s.name} is routed to ${remote.size} of the ${expected.length} other running servers`;
        }
      }
      if (!options.jetstream) return undefined;
      const names = new Set(up.map((s) => s.name));
      let leader: string | undefined;
      for (const s of up) {
        const meta = (await monitor<Jsz>(s.index, '/jsz')).meta_cluster;
        if (meta?.leader === undefined || meta.leader === '' || !names.has(meta.leader)) {
          return `${s.name} knows no running JetStream meta leader (says ${JSON.stringify(meta?.leader ?? null)})`;
        }
        if (leader !== undefined && meta.leader !== leader) return `servers disagree on the meta leader (${leader}, ${meta.leader})`;
        leader = meta.leader;
      }
      const leaderSlot = up.find((s) => s.name === leader)!;
      const peers = (await monitor<Jsz>(leaderSlot.index, '/jsz')).meta_cluster?.replicas ?? [];
      for (const s of up) {
        if (s === leaderSlot) continue;
        const peer = peers.find((p) => p.name === s.name);
        if (peer?.current !== true) return `meta leader ${leader} does not hold ${s.name} as a current peer`;
      }
      return undefined;
    } catch (err) {
      // A server that has just started (or just died) may not answer yet: not formed, try again.
      return `monitoring: ${(err as Error).message}`;
    }
  };

  const waitFormed = async (timeout = readyTimeout): Promise<void> => {
    let last: string | undefined;
    try {
      await waitFor(
        async () => {
          last = await notFormed();
          return last === undefined;
        },
        { timeout, interval: 50, message: 'the nats-server cluster to form' },
      );
    } catch (err) {
      const logs = slots.map((s) => `--- ${s.name} ---\n${(s.proc?.log ?? '').slice(-1500)}`).join('\n');
      throw new Error(`${(err as Error).message} (last: ${last})\n${logs}`);
    }
  };

  const stopAll = async () => {
    await Promise.all(slots.map((s) => s.proc?.stop()));
  };

  // Ports are free when probed but may be taken before a server binds them: start again on fresh ones.
  for (let attempt = 1; ; attempt++) {
    const ports: number[] = [];
    while (ports.length < 3 * size) {
      const p = await freePort();
      if (!ports.includes(p)) ports.push(p);
    }
    slots = Array.from({ length: size }, (_, index) => ({
      index,
      name: `s${index}`,
      port: ports[3 * index]!,
      clusterPort: ports[3 * index + 1]!,
      monitorPort: ports[3 * index + 2]!,
      confFile: '',
      proc: undefined,
    }));
    const routePorts = slots.map((s) => s.clusterPort);
    // A directory per attempt: stores of a failed attempt belong to servers that never formed this cluster.
    const base = await mkdtemp(join(dir, 'try-'));
    for (const s of slots) {
      s.confFile = join(base, `${s.name}.conf`);
      const store = options.jetstream ? join(base, `${s.name}-store`) : undefined;
      await writeFile(s.confFile, configText(s, clusterName, routePorts, store), { mode: 0o600 });
    }
    const started = await Promise.allSettled(slots.map(launch));
    const failure = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure === undefined) break;
    await stopAll();
    if (!started.every((r) => r.status === 'fulfilled' || inUse(r.reason)) || attempt >= MAX_START_ATTEMPTS) {
      await rm(dir, { recursive: true, force: true });
      throw failure.reason;
    }
    await rm(base, { recursive: true, force: true });
  }

  try {
    await waitFormed();
  } catch (err) {
    await stopAll();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const slotAt = (i: number): Slot => {
    const slot = slots[i];
    if (slot === undefined) throw new RangeError(`no server ${i} in a cluster of ${size}`);
    return slot;
  };

  const view = (slot: Slot): ClusterServer => ({
    index: slot.index,
    name: slot.name,
    url: `nats://127.0.0.1:${slot.port}`,
    port: slot.port,
    clusterPort: slot.clusterPort,
    monitorPort: slot.monitorPort,
    get pid() {
      return slot.proc !== undefined && !slot.proc.hasExited ? (slot.proc.child.pid ?? -1) : -1;
    },
    get running() {
      return slot.proc !== undefined && !slot.proc.hasExited;
    },
    get log() {
      return slot.proc?.log ?? '';
    },
  });
  const servers = slots.map(view);

  return {
    name: clusterName,
    servers,
    urls: servers.map((s) => s.url),
    async kill(i) {
      const proc = slotAt(i).proc;
      if (proc === undefined || proc.hasExited) return;
      proc.child.kill('SIGKILL');
      await proc.exited;
    },
    async restart(i) {
      if (stopped) throw new Error('restart() after stop()');
      const slot = slotAt(i);
      await slot.proc?.stop();
      // The killed process's sockets may linger for a moment: retry on "address already in use".
      for (let attempt = 0; ; attempt++) {
        try {
          await launch(slot);
          break;
        } catch (err) {
          if (!inUse(err) || attempt >= 20) throw err;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
      await waitFormed();
    },
    waitFormed,
    notFormed,
    monitor,
    routez: (i) => monitor<Routez>(i, '/routez'),
    jsz: (i) => monitor<Jsz>(i, '/jsz'),
    connz: (i) => monitor<Connz>(i, '/connz?limit=1024'),
    async streams() {
      type Detail = { name: string; cluster?: { leader?: string; replicas?: JsPeer[] } };
      const byName = new Map<string, { leader: string | undefined; replicas: JsPeer[]; hostedOn: string[] }>();
      for (const s of running()) {
        const jsz = await monitor<{ account_details?: Array<{ stream_detail?: Detail[] }> }>(s.index, '/jsz?accounts=true&streams=true');
        for (const d of (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? [])) {
          const entry = byName.get(d.name) ?? { leader: undefined, replicas: [], hostedOn: [] };
          entry.hostedOn.push(s.name);
          if (d.cluster?.leader === s.name) {
            entry.leader = s.name;
            entry.replicas = d.cluster.replicas ?? [];
          }
          byName.set(d.name, entry);
        }
      }
      return [...byName].map(([name, e]) => ({ name, ...e })).sort((a, b) => a.name.localeCompare(b.name));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
