/**
 * `node.services.monitor(name, { everyMs })`: publish an instance's resource
 * figures (containers/resources.ts) every `everyMs` on
 * `<prefix>.monitor.<service>.<instance>` until the handle is stopped or the
 * instance ends.
 *
 * ```ts
 * const m = node.services.monitor('payments', { everyMs: 1000 });
 * // nats sub 'halyard.monitor.payments.*'
 * m.stop();          // or `using m = ...`
 * ```
 *
 * Each message is JSON:
 * `{ "type": "io.halyard.v1.monitor", "service", "instance", "node", "incarnation", "seq", "at", "resources" }`,
 * `resources` being {@link MonitorResources}. An inline instance shares the
 * node's process: its figures are the node's own (`container: "inline"`,
 * `sharedWithNode: true`).
 *
 * `name` is an instance id, or a service type (then its first running
 * instance). A tick whose figures are still being read is skipped rather than
 * queued, so a slow /proc never piles up reads.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { LocalActorRef } from '../../actors/types.js';
import type { Clock, TimerHandle } from '../../clock.js';
import { InvalidArgumentError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { assertKnownKeys, assertOptionsObject, assertPositiveMs } from '../../options.js';
import type { ContainerKind } from '../containers/containerLogic.js';
import { type ContainerResources, containerResources, procChildren, procFds, procStatus } from '../containers/resources.js';
import type { ServiceInstance } from './ServiceInstance.js';

export const MONITOR_MESSAGE_TYPE = 'io.halyard.v1.monitor';

/** The container's figures, or the node's own for an inline instance. */
export type MonitorResources = Omit<ContainerResources, 'container'> & { readonly container: ContainerKind | 'inline' };

export interface MonitorOptions {
  /** Interval between figures, ms. */
  readonly everyMs: number;
}

export interface MonitorMessage {
  readonly type: typeof MONITOR_MESSAGE_TYPE;
  readonly service: string;
  readonly instance: string;
  readonly node: string;
  readonly incarnation: number;
  readonly seq: number;
  /** The node's clock, ms. */
  readonly at: number;
  readonly resources: MonitorResources;
}

/** What a monitor needs from its node. */
export interface MonitorHost {
  readonly clock: Clock;
  readonly logger: Logger;
  /** The live local actor holding `actorName`. */
  lookup(actorName: string): LocalActorRef | undefined;
  /** `<prefix>.monitor.<service>.<instance>` */
  subject(service: string, instance: string): string;
  publish(subject: string, data: Uint8Array): void;
}

export interface ServiceMonitor extends Disposable {
  readonly subject: string;
  /** Stop publishing. Idempotent. */
  stop(): void;
}

/** Figures of the node's own process, for an inline instance. */
class InlineFigures {
  #cpu = process.cpuUsage();
  #at = performance.now();
  readonly #lag = monitorEventLoopDelay({ resolution: 10 });
  constructor() {
    this.#lag.enable();
  }
  read(): MonitorResources {
    const st = procStatus(process.pid);
    const fds = procFds(process.pid);
    const mem = process.memoryUsage();
    const now = performance.now();
    const cpu = process.cpuUsage(this.#cpu);
    const elapsedUs = (now - this.#at) * 1000;
    this.#cpu = process.cpuUsage();
    this.#at = now;
    const lag = this.#lag.mean;
    this.#lag.reset();
    return {
      container: 'inline',
      pid: process.pid,
      threadId: null,
      sharedWithNode: true,
      rssBytes: st.rss ?? mem.rss,
      vmsBytes: st.vms,
      heapUsedBytes: mem.heapUsed,
      heapTotalBytes: mem.heapTotal,
      cpuPercent: elapsedUs > 0 ? Math.round(((cpu.user + cpu.system) / elapsedUs) * 1000) / 10 : 0,
      eventLoopLagMs: Number.isFinite(lag) ? Math.round(lag / 1e4) / 100 : 0,
      eventLoopUtilization: null,
      openFiles: fds.open,
      sockets: fds.sockets,
      childProcesses: procChildren(process.pid),
      threads: st.threads,
    };
  }
  close(): void {
    this.#lag.disable();
  }
}

function resolveInstance(instances: readonly ServiceInstance[], name: unknown): ServiceInstance {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('name', 'must be a service type or an instance id');
  const found = instances.find((i) => i.id === name && i.isAlive()) ?? instances.find((i) => i.service === name && i.state === 'running');
  if (found === undefined) throw new InvalidArgumentError('name', `no live instance ${JSON.stringify(name)} on this node`);
  return found;
}

export function startMonitor(host: MonitorHost, instances: readonly ServiceInstance[], name: string, options: MonitorOptions): ServiceMonitor {
  assertOptionsObject(options, 'options', '{ everyMs }', { error: InvalidArgumentError });
  assertKnownKeys(options as unknown as Record<string, unknown>, 'options', ['everyMs']);
  assertPositiveMs(options.everyMs, 'options.everyMs', InvalidArgumentError);
  const instance = resolveInstance(instances, name);
  const subject = host.subject(instance.service, instance.id);
  const encoder = new TextEncoder();
  let inline: InlineFigures | undefined;
  let timer: TimerHandle | undefined;
  let stopped = false;
  let busy = false;
  let seq = 0;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    if (timer !== undefined) host.clock.clearTimer(timer);
    inline?.close();
  };
  const tick = async (): Promise<void> => {
    if (stopped) return;
    if (!instance.isAlive()) return stop();
    timer = host.clock.setTimer(() => void tick(), options.everyMs);
    const ref = host.lookup(instance.actorName);
    if (busy || ref === undefined || ref.lifecycle !== 'running') return;
    busy = true;
    try {
      let resources: MonitorResources | undefined = await containerResources(ref);
      if (resources === undefined) {
        inline ??= new InlineFigures();
        resources = inline.read();
      }
      if (stopped) return;
      const message: MonitorMessage = {
        type: MONITOR_MESSAGE_TYPE,
        service: instance.service,
        instance: instance.id,
        node: instance.node,
        incarnation: instance.incarnation,
        seq: ++seq,
        at: host.clock.now(),
        resources,
      };
      host.publish(subject, encoder.encode(JSON.stringify(message)));
    } catch (err) {
      // A container that exits mid-read, a closed transport: the next tick tries again.
      host.logger.warn({ err: { message: err instanceof Error ? err.message : String(err) }, subject }, 'cannot publish monitor figures');
    } finally {
      busy = false;
    }
  };
  void tick();
  return { subject, stop, [Symbol.dispose]: stop };
}
