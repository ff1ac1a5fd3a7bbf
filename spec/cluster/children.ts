/**
 * Child processes for the cluster tests: spawn `node --import tsx <script>`,
 * read its stdout line by line, wait for lines with deadlines, and make sure
 * none outlives the test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../support/wait.js';

export interface Child {
  readonly process: ChildProcess;
  readonly lines: string[];
  readonly pid: number;
  /** Wait for a stdout line matching `pattern`; returns it. */
  line(pattern: RegExp, timeout: number, message?: string): Promise<string>;
  write(line: string): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export function script(name: string): string {
  return fileURLToPath(new URL(`./${name}`, import.meta.url));
}

export function spawnChild(file: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  const lines: string[] = [];
  let partial = '';
  child.stdout!.on('data', (d) => {
    partial += String(d);
    let nl = partial.indexOf('\n');
    while (nl !== -1) {
      lines.push(partial.slice(0, nl));
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
  });
  return {
    process: child,
    lines,
    pid: child.pid ?? -1,
    async line(pattern, timeout, message) {
      return waitFor(
        () => {
          if (child.exitCode !== null || child.signalCode !== null) {
            const found = lines.find((l) => pattern.test(l));
            if (found) return found;
            throw new Error(`child exited (${child.exitCode ?? child.signalCode}) before ${pattern}: ${lines.join(' | ')}`);
          }
          return lines.find((l) => pattern.test(l));
        },
        { timeout, interval: 5, message: message ?? `child line ${pattern}` },
      );
    },
    write(line) {
      child.stdin!.write(`${line}\n`);
    },
  };
}

/** SIGKILL every child still running (and SIGCONT first, in case it was stopped). */
export async function killAll(children: Iterable<Child>): Promise<void> {
  await Promise.all(
    [...children].map(async (c) => {
      const p = c.process;
      if (p.exitCode !== null || p.signalCode !== null) return;
      const exited = once(p, 'exit');
      p.kill('SIGCONT');
      p.kill('SIGKILL');
      await exited;
    }),
  );
}

/** Environment for a `clusterNode.ts` child: server, node name, prefix and cluster options (empty: defaults). */
export function clusterNodeEnv(servers: string, prefix: string, cluster?: object): (node: string) => Record<string, string> {
  const options = cluster ? JSON.stringify(cluster) : '';
  return (node) => ({ HALYARD_NATS_URL: servers, HALYARD_NODE: node, HALYARD_PREFIX: prefix, HALYARD_CLUSTER: options });
}
