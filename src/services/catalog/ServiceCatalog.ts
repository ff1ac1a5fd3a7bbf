/**
 * The service types a node knows (`createNode({ services })`), checked as a
 * whole when the node is created: names are unique, every dependency is
 * defined, the dependency graph has no cycle. A node refuses to exist with a
 * catalogue it could not start.
 */
import { InvalidSpecError, UnknownServiceTypeError } from '../../errors.js';
import { kindOf } from '../../options.js';
import { type AnyServiceDefinition, isServiceDefinition } from './definition.js';
import { closureOf, type DependencyMap, dependantsOf, startOrder } from './dependencyGraph.js';

export class ServiceCatalog {
  readonly #defs = new Map<string, AnyServiceDefinition>();
  readonly #graph = new Map<string, readonly string[]>();
  readonly #order: readonly string[];

  /** `field` is the option path the list came from, for messages (`services`). */
  constructor(
    defs: readonly unknown[] | undefined,
    readonly node: string,
    field = 'services',
  ) {
    if (defs !== undefined && !Array.isArray(defs)) throw new InvalidSpecError(field, `must be an array of service definitions (defineService), got ${kindOf(defs)}`);
    (defs ?? []).forEach((d, i) => {
      if (!isServiceDefinition(d)) throw new InvalidSpecError(`${field}.${i}`, `must be a service definition made by defineService, got ${kindOf(d)}`);
      if (this.#defs.has(d.name)) throw new InvalidSpecError(`${field}.${i}`, `defines service ${d.name} twice`);
      this.#defs.set(d.name, d);
      this.#graph.set(d.name, d.dependsOn);
    });
    this.#order = Object.freeze(startOrder(this.#graph));
  }

  get graph(): DependencyMap {
    return this.#graph;
  }

  names(): readonly string[] {
    return [...this.#defs.keys()];
  }

  has(name: string): boolean {
    return this.#defs.has(name);
  }

  /** The definition of `name`; an `UnknownServiceTypeError` when the node does not know it. */
  get(name: string): AnyServiceDefinition {
    const d = this.#defs.get(name);
    if (d === undefined) throw new UnknownServiceTypeError(name, this.node);
    return d;
  }

  /** Every type in start order. */
  startOrder(): readonly string[] {
    return this.#order;
  }

  /** `name`'s dependencies, transitively, then `name`: what starting it starts. */
  closure(name: string): string[] {
    this.get(name);
    return closureOf(this.#graph, name);
  }

  /** Types that list `name` in `dependsOn`. */
  dependantsOf(name: string): string[] {
    return dependantsOf(this.#graph, name);
  }
}
