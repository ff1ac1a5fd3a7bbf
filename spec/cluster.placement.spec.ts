/**
 * Placement and lock rules (src/services/cluster/placement.ts) against a pure
 * model: random sequences of joins, graceful leaves, crashes, lease expiries,
 * starts and exits, each followed by one coordinator step (`recover` for every
 * instance). Invariants after every step:
 * - never two live instances of a `per-node` type on one node;
 * - never two live instances of a `singleton` type (an instance on a crashed
 *   node counts as live until its lease has passed);
 * - every permanent instance runs on an up node whenever an up node can host it.
 * fast-check prints the seed and the shrunk sequence on failure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Cardinality, isLive, type NodeView, type PlacedInstance, place, type RestartType, recover } from '../src/services/cluster/placement.js';

const NODES = ['n0', 'n1', 'n2', 'n3'];
const TYPES: Record<string, Cardinality> = { many: 'many', locked: 'per-node', single: 'singleton' };

interface Inst extends PlacedInstance {
  restart: RestartType;
  state: 'running' | 'exited';
  reason?: string;
  node: string;
}

type Cmd =
  | { k: 'join'; n: string; types: string[] }
  | { k: 'leave'; n: string }
  | { k: 'crash'; n: string }
  | { k: 'expire'; n: string }
  | { k: 'start'; name: string; type: string; restart: RestartType; prefer: string | undefined }
  | { k: 'exit'; name: string; reason: 'normal' | 'error' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ k: fc.constant('join' as const), n: fc.constantFrom(...NODES), types: fc.subarray(Object.keys(TYPES), { minLength: 1 }) }),
  fc.record({ k: fc.constant('leave' as const), n: fc.constantFrom(...NODES) }),
  fc.record({ k: fc.constant('crash' as const), n: fc.constantFrom(...NODES) }),
  fc.record({ k: fc.constant('expire' as const), n: fc.constantFrom(...NODES) }),
  fc.record({
    k: fc.constant('start' as const),
    name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'),
    type: fc.constantFrom(...Object.keys(TYPES)),
    restart: fc.constantFrom<RestartType>('permanent', 'transient', 'temporary'),
    prefer: fc.option(fc.constantFrom(...NODES), { nil: undefined }),
  }),
  fc.record({ k: fc.constant('exit' as const), name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), reason: fc.constantFrom<'normal' | 'error'>('normal', 'error') }),
);

class Model {
  nodes = new Map<string, NodeView>();
  insts = new Map<string, Inst>();

  placed(): PlacedInstance[] {
    return [...this.insts.values()].filter((i) => i.state === 'running');
  }

  apply(c: Cmd): void {
    switch (c.k) {
      case 'join':
        if (this.nodes.get(c.n)?.status === 'up') return;
        // A rejoin is a new incarnation: whatever the old one ran is gone (fenced).
        this.nodes.set(c.n, { node: c.n, status: 'up', types: c.types, fenced: false });
        return;
      case 'leave':
        this.nodes.delete(c.n);
        return;
      case 'crash': {
        const n = this.nodes.get(c.n);
        if (n?.status === 'up') this.nodes.set(c.n, { ...n, status: 'down', fenced: false });
        return;
      }
      case 'expire': {
        const n = this.nodes.get(c.n);
        if (n?.status === 'down') this.nodes.set(c.n, { ...n, fenced: true });
        return;
      }
      case 'start': {
        if (this.insts.has(c.name)) return;
        const req = { name: c.name, type: c.type, cardinality: TYPES[c.type]!, placement: 'any' as const, node: c.prefer };
        const node = place(req, this.nodes, this.placed());
        if (node !== undefined) this.insts.set(c.name, { ...req, node, restart: c.restart, state: 'running' });
        return;
      }
      case 'exit': {
        const i = this.insts.get(c.name);
        if (i !== undefined && i.state === 'running' && this.nodes.get(i.node)?.status === 'up') this.insts.set(c.name, { ...i, state: 'exited', reason: c.reason });
        return;
      }
    }
  }

  /** One coordinator step. */
  coordinate(): void {
    for (const i of [...this.insts.values()]) {
      const r = recover({ ...i, placement: 'any', owner: i.node }, this.nodes, this.placed());
      if (r.kind === 'drop') this.insts.delete(i.name);
      else if (r.kind === 'restart') this.insts.set(i.name, { ...i, node: r.node, state: 'running', reason: undefined });
    }
  }

  check(): void {
    const live = [...this.insts.values()].filter((i) => i.state === 'running' && isLive(i, this.nodes));
    for (const t of Object.keys(TYPES)) {
      const of = live.filter((i) => i.type === t);
      if (TYPES[t] === 'singleton') expect(of.length, `two live singletons of ${t}`).toBeLessThanOrEqual(1);
      if (TYPES[t] === 'per-node') {
        const byNode = new Set(of.map((i) => i.node));
        expect(byNode.size, `two live ${t} on one node`).toBe(of.length);
      }
    }
    for (const i of this.insts.values()) {
      if (i.restart !== 'permanent') continue;
      const onUp = i.state === 'running' && this.nodes.get(i.node)?.status === 'up';
      if (onUp) continue;
      // Not running on an up node: only allowed while no up node can host it (or its old node may still run it).
      const others = this.placed().filter((p) => p.name !== i.name);
      const waiting = i.state === 'running' && this.nodes.get(i.node)?.status === 'down' && this.nodes.get(i.node)?.fenced !== true;
      if (!waiting) expect(place({ ...i, placement: 'any', node: undefined }, this.nodes, others), `permanent ${i.name} left unplaced`).toBeUndefined();
    }
  }
}

describe('cluster - placement and lock rules (model)', () => {
  it('cluster - random joins, leaves, crashes and exits never break a lock and leave no placeable permanent instance down', () => {
    fc.assert(
      fc.property(fc.array(cmd, { minLength: 1, maxLength: 60 }), (cmds) => {
        const m = new Model();
        for (const c of cmds) {
          m.apply(c);
          m.coordinate();
          m.check();
        }
      }),
      { numRuns: 500, verbose: 1 },
    );
  });
});
