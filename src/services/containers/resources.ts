/**
 * Resource figures of a worker or process container, for Status at level
 * >= 10 (OCF monitor depth): what an operator asks first of a misbehaving
 * instance.
 *
 * | figure            | process container                 | worker container                            |
 * |-------------------|-----------------------------------|---------------------------------------------|
 * | `pid`             | the child's                       | the node's own (`sharedWithNode: true`)     |
 * | `rssBytes`, `vmsBytes`, `threads`, `openFiles`, `sockets`, `childProcesses` | /proc/<pid> of the child | /proc of the node's process (shared) |
 * | `heapUsedBytes`, `heapTotalBytes`, `eventLoopLagMs` | asked of the container itself | asked of the worker itself          |
 * | `cpuPercent`      | the child's CPU since the last figure | the worker thread's (/proc/thread-self)  |
 * | `eventLoopUtilization` | –                            | `worker.performance.eventLoopUtilization()` |
 *
 * Off Linux, the /proc figures are `null`. Reading them costs a few small
 * file reads; the child-process count scans /proc (the kernel's per-task
 * `children` file is often not built in).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { StatusReport } from '../../actors/ocf.js';
import type { LocalActorRef } from '../../actors/types.js';
import { InvalidArgumentError } from '../../errors.js';
import type { ContainerKind, ContainerRuntime, ContainerSnapshot } from './containerLogic.js';

export interface ContainerResources {
  readonly container: ContainerKind;
  readonly pid: number;
  readonly threadId: number | null;
  /** True for a worker: the process-wide figures are the node's, not the worker's alone. */
  readonly sharedWithNode: boolean;
  readonly rssBytes: number | null;
  readonly vmsBytes: number | null;
  readonly heapUsedBytes: number | null;
  readonly heapTotalBytes: number | null;
  readonly cpuPercent: number | null;
  readonly eventLoopLagMs: number | null;
  readonly eventLoopUtilization: number | null;
  readonly openFiles: number | null;
  readonly sockets: number | null;
  readonly childProcesses: number | null;
  readonly threads: number | null;
}

export function procStatus(pid: number): { rss: number | null; vms: number | null; threads: number | null } {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => {
      const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) * 1024 : null;
    };
    const t = /^Threads:\s+(\d+)/m.exec(text);
    return { rss: kb('VmRSS'), vms: kb('VmSize'), threads: t ? Number(t[1]) : null };
  } catch {
    return { rss: null, vms: null, threads: null };
  }
}

export function procFds(pid: number): { open: number | null; sockets: number | null } {
  try {
    const fds = readdirSync(`/proc/${pid}/fd`);
    let sockets = 0;
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
      } catch {
        // closed between the listing and the read
      }
    }
    return { open: fds.length, sockets };
  } catch {
    return { open: null, sockets: null };
  }
}

export function procChildren(pid: number): number | null {
  try {
    let n = 0;
    for (const entry of readdirSync('/proc')) {
      if (entry.charCodeAt(0) < 48 || entry.charCodeAt(0) > 57) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        // Field 4 (ppid) follows the command name, which may itself hold spaces and parentheses.
        if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) n++;
      } catch {
        // exited during the scan
      }
    }
    return n;
  } catch {
    return null;
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** Resource figures of the container behind `ref`; undefined for an inline actor or a container that is not running. */
export async function containerResources(ref: LocalActorRef): Promise<ContainerResources | undefined> {
  const snap = ref.getSnapshot() as Partial<ContainerSnapshot> | undefined;
  const rt = snap?._rt as ContainerRuntime | undefined;
  if (!rt || snap?.pid === undefined || ref.lifecycle !== 'running') return undefined;
  const inner = (await rt.stats()) ?? {};
  const pid = snap.pid;
  const st = procStatus(pid);
  const fds = procFds(pid);
  const now = performance.now();
  const cpu = num(inner.cpuUs);
  let cpuPercent: number | null = null;
  if (cpu !== null) {
    const elapsedUs = (now - rt.cpuSample.at) * 1000;
    cpuPercent = elapsedUs > 0 ? Math.round(((cpu - rt.cpuSample.cpuUs) / elapsedUs) * 1000) / 10 : 0;
    rt.cpuSample = { at: now, cpuUs: cpu };
  }
  const worker = rt.child instanceof Worker ? rt.child : undefined;
  return {
    container: snap.container as ContainerKind,
    pid,
    threadId: snap.threadId ?? null,
    sharedWithNode: worker !== undefined,
    rssBytes: st.rss,
    vmsBytes: st.vms,
    heapUsedBytes: num(inner.heapUsed),
    heapTotalBytes: num(inner.heapTotal),
    cpuPercent,
    eventLoopLagMs: num(inner.eventLoopLagMs),
    eventLoopUtilization: worker ? Math.round(worker.performance.eventLoopUtilization().utilization * 1000) / 1000 : null,
    openFiles: fds.open,
    sockets: fds.sockets,
    childProcesses: procChildren(pid),
    threads: st.threads,
  };
}

/**
 * Status of an instance at an OCF depth: the actor's own report, plus its
 * container's `resources` at level 10 and above (none for inline actors).
 */
export async function containerStatus(ref: LocalActorRef, level: number = 0): Promise<StatusReport> {
  if (level !== 0 && level !== 10 && level !== 20) throw new InvalidArgumentError('level', 'must be 0, 10 or 20');
  const report = await ref.status();
  if (level < 10) return report;
  const resources = await containerResources(ref);
  return resources ? { ...report, resources } : report;
}
