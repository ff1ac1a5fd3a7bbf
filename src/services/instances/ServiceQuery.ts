/**
 * `node.services.find()`: a chainable, immutable list of instances. Filters
 * narrow it; actions act on every instance it holds at the time and answer
 * one {@link InstanceResult} per instance, so one that fails (and why) never
 * hides what happened to the others.
 *
 * Sources: this node's instances. The cluster's join the same list when the
 * cluster placement of services lands (`ServiceSource` is the seam).
 */
import type { CheckLevel, CheckResult, StatusReport } from '../../actors/ocf.js';
import { toWireError } from '../../errors.js';
import type { ServiceInstance } from './ServiceInstance.js';
import type { InstanceResult } from './types.js';

/** Where a query finds instances: the local node today, the cluster's registry later. */
export interface ServiceSource {
  instances(): readonly ServiceInstance[];
  restart(instance: ServiceInstance): Promise<ServiceInstance>;
}

type Filter = (i: ServiceInstance) => boolean;

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
  list(): ServiceInstance[] {
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

  private each<T>(act: (i: ServiceInstance) => Promise<T>): Promise<InstanceResult<T>[]> {
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
