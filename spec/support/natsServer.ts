/**
 * The integration harness: a real `nats-server` on a free loopback port,
 * started and cleaned up by the test that needs it (after nats.js's `nst`
 * helpers).
 *
 * - Binary lookup: `$NATS_SERVER_BIN`, then `PATH`, then `/usr/sbin` and
 *   `/usr/bin` (Debian installs it in `/usr/sbin`). `scripts/test.mjs` uses
 *   the same order. Missing binary → an Error that says how to install it.
 * - `startNatsServer({ jetstream, args })` runs `nats-server -a 127.0.0.1 -p
 *   <port> [-js -sd <tmpdir>] ...args` and resolves once the server has
 *   logged "Server is ready" *and* accepts a TCP connection, or rejects
 *   (with the server's log) after `readyTimeout`.
 * - `config` is written to `server.conf` in a temporary directory and passed
 *   as `-c <file>`; the directory goes with `stop()`.
 * - `restart()` stops the process and starts a new one on the same port and
 *   store; `kill(signal)` only signals; `stop()` stops for good and removes
 *   the temporary directory. Every child is SIGKILLed if the test process
 *   exits first, so no server outlives its run.
 *
 * Most tests use the one server `globalSetup.ts` starts for the run
 * (`inject('natsUrl')`); tests that stop or restart a server start their own.
 * A cluster of servers (routes, clustered JetStream) is `startNatsCluster()`
 * in `natsCluster.ts`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { once, waitFor } from './wait.js';

export const INSTALL_HINT =
  'nats-server is required for the NATS tests. Install it with `apt-get install nats-server` ' +
  '(Debian/Ubuntu), or download it from https://github.com/nats-io/nats-server/releases, ' +
  'or set NATS_SERVER_BIN to its path.';

export interface NatsServerOptions {
  /** Enable JetStream with a temporary store directory. */
  readonly jetstream?: boolean;
  /** Extra command-line arguments (e.g. `['--auth', token]`). */
  readonly args?: readonly string[];
  /** How long to wait for the server to accept connections. Default 15000 ms. */
  readonly readyTimeout?: number;
  /**
   * A server configuration file's text (auth blocks, TLS...), written to
   * `server.conf` in a temporary directory and passed as `-c <file>`. The
   * harness's `-a`/`-p` flags still apply: flags override the file.
   */
  readonly config?: string;
}

export interface NatsServerHandle {
  /** `nats://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Pid of the current server process (changes on restart). */
  readonly pid: number;
  /** The server's recent log output. */
  readonly log: string;
  /** Stop the server and remove its temporary files. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then start again on the same port (and JetStream store). */
  restart(): Promise<void>;
  /** Send `signal` (default SIGKILL) to the server process. Does not wait. */
  kill(signal?: NodeJS.Signals): void;
}

const LOG_LIMIT = 64 * 1024;
const STOP_GRACE_MS = 5000;
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Path of the nats-server binary, or `undefined` when none is found. */
export function findNatsServer(): string | undefined {
  const fromEnv = process.env.NATS_SERVER_BIN;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, 'nats-server'))) return join(dir, 'nats-server');
  }
  for (const path of ['/usr/sbin/nats-server', '/usr/bin/nats-server']) {
    if (isExecutable(path)) return path;
  }
  return undefined;
}

/** Path of the nats-server binary; throws with installation instructions when missing. */
export function natsServerBinary(): string {
  const bin = findNatsServer();
  if (bin === undefined) {
    const env = process.env.NATS_SERVER_BIN;
    throw new Error(env ? `NATS_SERVER_BIN=${env} is not an executable file. ${INSTALL_HINT}` : INSTALL_HINT);
  }
  return bin;
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening', 5000);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (port === 0) throw new Error('could not find a free port');
  return port;
}

/** True when something accepts a TCP connection on 127.0.0.1:`port`. */
export function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** SIGKILL every server still running when the test process exits. */
export function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

/** One nats-server child process and its log; `natsCluster.ts` runs several. */
export class ServerProcess {
  log = '';
  readonly exited: Promise<number | null>;
  readonly child: ChildProcess;
  #exited = false;

  constructor(bin: string, args: readonly string[]) {
    this.child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(this.child);
    const append = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
      if (this.log.length > LOG_LIMIT) this.log = this.log.slice(-LOG_LIMIT);
    };
    this.child.stdout!.on('data', append);
    this.child.stderr!.on('data', append);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.#exited = true;
        live.delete(this.child);
        resolve(code);
      });
      this.child.once('error', (err) => {
        this.log += `\nspawn error: ${err.message}`;
        this.#exited = true;
        live.delete(this.child);
        resolve(null);
      });
    });
  }

  get hasExited(): boolean {
    return this.#exited;
  }

  async ready(port: number, timeout: number): Promise<void> {
    const deadline = performance.now() + timeout;
    try {
      await waitFor(() => this.hasExited || this.log.includes('Server is ready'), {
        timeout,
        message: `nats-server on port ${port} to log "Server is ready"`,
      });
      if (this.hasExited) throw new Error(`nats-server exited during startup`);
      await waitFor(() => canConnect(port), {
        timeout: Math.max(100, deadline - performance.now()),
        message: `nats-server on port ${port} to accept connections`,
      });
    } catch (err) {
      await this.stop();
      throw new Error(`${(err as Error).message}\n--- nats-server log ---\n${this.log.slice(-4000)}`);
    }
  }

  async stop(): Promise<void> {
    if (this.hasExited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Start a nats-server on a free loopback port. See the module comment. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const bin = natsServerBinary();
  installExitHook();
  const readyTimeout = options.readyTimeout ?? 15000;
  const storeDir = options.jetstream ? await mkdtemp(join(tmpdir(), 'halyard-nats-')) : undefined;
  const confDir = options.config !== undefined ? await mkdtemp(join(tmpdir(), 'halyard-nats-conf-')) : undefined;
  const confFile = confDir !== undefined ? join(confDir, 'server.conf') : undefined;
  if (confFile !== undefined) await writeFile(confFile, options.config ?? '', { mode: 0o600 });
  const cleanup = async () => {
    if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
    if (confDir !== undefined) await rm(confDir, { recursive: true, force: true });
  };
  const argsFor = (port: number) => [
    ...(confFile !== undefined ? ['-c', confFile] : []),
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    ...(storeDir !== undefined ? ['-js', '-sd', storeDir] : []),
    ...(options.args ?? []),
  ];

  const launch = async (port: number): Promise<ServerProcess> => {
    const proc = new ServerProcess(bin, argsFor(port));
    await proc.ready(port, readyTimeout);
    return proc;
  };

  // The free port may be taken between probing and binding: try a few.
  let proc: ServerProcess | undefined;
  let port = 0;
  for (let attempt = 0; proc === undefined; attempt++) {
    port = await freePort();
    try {
      proc = await launch(port);
    } catch (err) {
      const inUse = /address already in use/i.test((err as Error).message);
      if (!inUse || attempt >= 4) {
        await cleanup();
        throw err;
      }
    }
  }

  let current: ServerProcess = proc;
  let stopped = false;
  const url = `nats://127.0.0.1:${port}`;

  return {
    url,
    port,
    get pid() {
      return current.child.pid ?? -1;
    },
    get log() {
      return current.log;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await current.stop();
      await cleanup();
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await current.stop();
      // The old socket may linger for a moment; retry on "address already in use".
      for (let attempt = 0; ; attempt++) {
        try {
          current = await launch(port);
          return;
        } catch (err) {
          if (!/address already in use/i.test((err as Error).message) || attempt >= 20) throw err;
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      current.child.kill(signal);
    },
  };
}
