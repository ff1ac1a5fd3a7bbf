/**
 * `node.services.find()`: a chainable, immutable list of instances. Filters
 * narrow it; actions act on every instance it holds at the time and answer
 * one {@link InstanceResult} per instance, so one that fails (and why) never
 * hides what happened to the others.
 *
 * Sources: this node's instances and, when the node is clustered, every
 * instance of a defined service in the cluster's registry (a handle that
 * reaches it wherever it runs, services/cluster/clusterServices.ts).
 */
import type { AnyEventObject } from 'xstate';
import type { CheckLevel, CheckResult, StatusReport } from '../../actors/ocf.js';
import type { AskOptions } from '../../actors/types.js';
import { toWireError } from '../../errors.js';
import type { InstanceResult, InstanceState, LifetimeOption, StopOptions } from './types.js';

/** What every instance answers, whether it runs on this node or on another (a local `ServiceInstance` or a cluster handle). */
export interface ServiceHandle {
  readonly service: string;
  readonly id: string;
  /** Where it runs now (for a cluster instance, after failover too). */
  readonly node: string;
  readonly state: InstanceState;
  readonly config: unknown;
  readonly tags: readonly string[];
  readonly lifetime: LifetimeOption;
  isAlive(): boolean;
  dependants(): readonly ServiceHandle[];
  tell(event: AnyEventObject): void;
  ask<R = unknown>(event: AnyEventObject, options?: AskOptions): Promise<R>;
  stop(options?: StopOptions): Promise<void>;
  kill(): Promise<void>;
  waitTillStopped(ms: number): Promise<void>;
  cleanup(): Promise<void>;
  check(level?: CheckLevel): Promise<CheckResult>;
  status(): Promise<StatusReport>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Where a query finds instances: the local node, and the cluster's registry when clustered. */
export interface ServiceSource {
  instances(): readonly ServiceHandle[];
  restart(instance: ServiceHandle): Promise<ServiceHandle>;
}

type Filter = (i: ServiceHandle) => boolean;

export class ServiceQuery {
  constructor(
    private readonly source: ServiceSource,
    private readonly filters: readonly Filter[] = [],
  ) {}

  private with(f: Filter): ServiceQuery {
    return new ServiceQuery(this.source, [...this.filters, f]);
  }

  /** Service name (or names): the `$SRV` name, `defineService({ name })`. */
  byName(...names: string[]): ServiceQuery {
    return this.with((i) => names.includes(i.service));
  }

  /** Instance id (or ids). */
  byId(...ids: string[]): ServiceQuery {
    return this.with((i) => ids.includes(i.id));
  }

  /** Service type (or types). */
  byType(...services: string[]): ServiceQuery {
    return this.with((i) => services.includes(i.service));
  }

  /** Instances carrying every tag given (definition tags and start tags). */
  byTag(...tags: string[]): ServiceQuery {
    return this.with((i) => tags.every((t) => i.tags.includes(t)));
  }

  onNode(...nodes: string[]): ServiceQuery {
    return this.with((i) => nodes.includes(i.node));
  }

  alive(): ServiceQuery {
    return this.with((i) => i.isAlive());
  }

  dead(): ServiceQuery {
    return this.with((i) => !i.isAlive());
  }

  /** Instances no live instance depends on: the leaves, safe to stop without cascading. */
  noAliveDependants(): ServiceQuery {
    return this.with((i) => i.dependants().length === 0);
  }

  /** The instances matching now. */
  list(): ServiceHandle[] {
    return this.source.instances().filter((i) => this.filters.every((f) => f(i)));
  }

  get size(): number {
    return this.list().length;
  }

  stop(): Promise<InstanceResult<void>[]> {
    return this.each((i) => i.stop());
  }

  kill(): Promise<InstanceResult<void>[]> {
    return this.each((i) => i.kill());
  }

  /** Stop each, then start it again with the same config, tags and lifetime; the value is the new instance's id. */
  restart(): Promise<InstanceResult<string>[]> {
    return this.each(async (i) => (await this.source.restart(i)).id);
  }

  check(level: CheckLevel = 0): Promise<InstanceResult<CheckResult>[]> {
    return this.each((i) => i.check(level));
  }

  status(): Promise<InstanceResult<StatusReport>[]> {
    return this.each((i) => i.status());
  }

  waitTillStopped(ms: number): Promise<InstanceResult<void>[]> {
    return this.each((i) => i.waitTillStopped(ms));
  }

  private each<T>(act: (i: ServiceHandle) => Promise<T>): Promise<InstanceResult<T>[]> {
    return Promise.all(
      this.list().map(async (i): Promise<InstanceResult<T>> => {
        const who = { service: i.service, instance: i.id, node: i.node };
        try {
          return { ok: true, ...who, value: await act(i) };
        } catch (err) {
          return { ok: false, ...who, error: toWireError(err) };
        }
      }),
    );
  }
}
