/**
 * The dependency graph of service types: who must be ready before whom.
 *
 * Start order is a topological order (each dependency before its
 * dependants); stop order is its reverse (dependants first), as an OTP
 * application stops its children in reverse start order. A cycle cannot be
 * started at all, so it is refused when the catalogue is built, naming one
 * real cycle (`a -> b -> c -> a`); a dependency no definition provides is an
 * `UnknownDependencyError` naming it.
 *
 * Pure functions over `name -> dependsOn`: no runtime, so they are tested
 * with random graphs.
 */
import { InvalidSpecError, UnknownDependencyError } from '../../errors.js';

export type DependencyMap = ReadonlyMap<string, readonly string[]>;

/** Every name in start order (dependencies first); ties keep the map's order, so the order is deterministic. */
export function startOrder(graph: DependencyMap): string[] {
  for (const [name, deps] of graph) {
    for (const d of deps) if (!graph.has(d)) throw new UnknownDependencyError(name, d);
  }
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (name: string): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new InvalidSpecError('dependsOn', `dependency cycle ${cycle.join(' -> ')}`);
    }
    state.set(name, 'visiting');
    path.push(name);
    for (const d of graph.get(name) ?? []) visit(d);
    path.pop();
    state.set(name, 'done');
    order.push(name);
  };
  for (const name of graph.keys()) visit(name);
  return order;
}

/** Stop order: the reverse of {@link startOrder}, dependants first. */
export function stopOrder(graph: DependencyMap): string[] {
  return startOrder(graph).reverse();
}

/** `name` and everything it needs, transitively, in start order. */
export function closureOf(graph: DependencyMap, name: string): string[] {
  const keep = new Set<string>();
  const walk = (n: string): void => {
    if (keep.has(n)) return;
    keep.add(n);
    for (const d of graph.get(n) ?? []) walk(d);
  };
  walk(name);
  return startOrder(graph).filter((n) => keep.has(n));
}

/** The service types that depend on `name`, directly. */
export function dependantsOf(graph: DependencyMap, name: string): string[] {
  const out: string[] = [];
  for (const [n, deps] of graph) if (deps.includes(name)) out.push(n);
  return out;
}
