/**
 * The dependency graph as a property: random DAGs give a topological start
 * order and its reverse as the stop order; a graph with a cycle is refused
 * naming a cycle that is really there. fast-check prints the seed and path of
 * a failure; replay with `fc.assert(prop, { seed, path })`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { InvalidSpecError, UnknownDependencyError } from '../src/errors.js';
import { closureOf, defineService, startOrder, stopOrder } from '../src/services/catalog/index.js';
import { ServiceEventType } from '../src/services/instances/index.js';
import { createNode } from '../src/services/node/Node.js';

/** A DAG on `s0..s<n-1>`: each node depends only on lower-numbered ones, then the insertion order is shuffled. */
const dag = fc
  .integer({ min: 1, max: 12 })
  .chain((n) =>
    fc.tuple(
      fc.tuple(...Array.from({ length: n }, (_, i) => fc.subarray(Array.from({ length: i }, (_, j) => `s${j}`)))),
      fc.shuffledSubarray(
        Array.from({ length: n }, (_, i) => `s${i}`),
        { minLength: n, maxLength: n },
      ),
    ),
  )
  .map(([deps, order]) => new Map(order.map((name) => [name, deps[Number(name.slice(1))] ?? []] as const)));

function edgesOf(graph: ReadonlyMap<string, readonly string[]>): Array<[string, string]> {
  return [...graph].flatMap(([n, deps]) => deps.map((d) => [n, d] as [string, string]));
}

describe('services - dependency graph', () => {
  it('services - random DAGs start in a topological order and stop in its reverse', () => {
    fc.assert(
      fc.property(dag, (graph) => {
        const start = startOrder(graph);
        expect([...start].sort()).toEqual([...graph.keys()].sort());
        const at = new Map(start.map((n, i) => [n, i]));
        for (const [n, d] of edgesOf(graph)) expect(at.get(d)!).toBeLessThan(at.get(n)!);
        expect(stopOrder(graph)).toEqual([...start].reverse());
      }),
      { numRuns: 300 },
    );
  });

  it('services - the closure of a service holds exactly what it needs, dependencies first', () => {
    fc.assert(
      fc.property(
        dag.chain((g) => fc.tuple(fc.constant(g), fc.constantFrom(...g.keys()))),
        ([graph, root]) => {
          const closure = closureOf(graph, root);
          expect(closure.at(-1)).toBe(root);
          const reach = new Set<string>();
          const walk = (n: string): void => {
            if (reach.has(n)) return;
            reach.add(n);
            for (const d of graph.get(n) ?? []) walk(d);
          };
          walk(root);
          expect(new Set(closure)).toEqual(reach);
          const at = new Map(closure.map((n, i) => [n, i]));
          for (const [n, d] of edgesOf(graph)) if (reach.has(n)) expect(at.get(d)!).toBeLessThan(at.get(n)!);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('services - a graph with a cycle is an InvalidSpecError naming a real cycle', () => {
    // A DAG plus one back edge from a node to one that (transitively) depends on it, or to itself.
    const cyclic = dag
      .chain((g) => fc.tuple(fc.constant(g), fc.constantFrom(...g.keys())))
      .map(([g, low]) => {
        const above = [...g.keys()].filter((n) => closureOf(g, n).includes(low));
        return { g, low, above };
      })
      .chain(({ g, low, above }) => fc.tuple(fc.constant(g), fc.constant(low), fc.constantFrom(...above)))
      .map(([g, low, high]) => {
        const m = new Map(g);
        m.set(low, [...(m.get(low) ?? []), high]);
        return m;
      });
    fc.assert(
      fc.property(cyclic, (graph) => {
        let err: unknown;
        try {
          startOrder(graph);
        } catch (e) {
          err = e;
        }
        expect(err).toBeInstanceOf(InvalidSpecError);
        expect((err as InvalidSpecError).field).toBe('dependsOn');
        const named = /dependency cycle (.+)$/.exec((err as Error).message)?.[1]?.split(' -> ');
        expect(named).toBeDefined();
        const cycle = named!;
        expect(cycle[0]).toBe(cycle.at(-1));
        for (let i = 0; i + 1 < cycle.length; i++) expect(graph.get(cycle[i]!)).toContain(cycle[i + 1]);
      }),
      { numRuns: 300 },
    );
  });

  it('services - an unknown dependency is an UnknownDependencyError naming it', () => {
    expect(() => startOrder(new Map([['payments', ['ledger']]]))).toThrow(UnknownDependencyError);
    expect(() => startOrder(new Map([['payments', ['ledger']]]))).toThrow(/unknown service ledger/);
  });
});

describe('services - dependency order on a running node', () => {
  it('services - on random DAGs, dependencies are ready before dependants start, and the node stops dependants first', async () => {
    await fc.assert(
      fc.asyncProperty(dag, fc.infiniteStream(fc.nat()), async (graph, picks) => {
        const trace: string[] = [];
        const logic = createMachine({ initial: 'warming', states: { warming: { after: { 1: 'ready' } }, ready: { tags: ['ready'] } } });
        const defs = [...graph].map(([name, deps]) =>
          defineService({
            name,
            version: '1.0.0',
            logic,
            ready: 'ready',
            cardinality: 'per-node',
            dependsOn: deps,
            setup: () => void trace.push(`setup ${name}`),
            teardown: () => void trace.push(`teardown ${name}`),
          }),
        );
        const node = await createNode({ name: 'dag', services: defs });
        node.services.onEvent((e) => {
          if (e.type === ServiceEventType.Started) trace.push(`ready ${e.service}`);
        });
        try {
          // Start every type, in an order the test picks (dependencies or not).
          const names = [...graph.keys()];
          const it = picks[Symbol.iterator]();
          while (names.length > 0) {
            const [name] = names.splice(it.next().value % names.length, 1);
            await node.services.start(name!);
          }
        } finally {
          await node.shutdown();
        }
        const at = (line: string) => trace.indexOf(line);
        for (const [n, deps] of graph) {
          expect(trace.filter((l) => l === `setup ${n}`)).toHaveLength(1);
          for (const d of deps) {
            expect(at(`ready ${d}`)).toBeGreaterThanOrEqual(0);
            expect(at(`ready ${d}`)).toBeLessThan(at(`setup ${n}`));
            expect(at(`teardown ${n}`)).toBeLessThan(at(`teardown ${d}`));
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
