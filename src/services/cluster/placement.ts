/**
 * Placement and lock rules, and the inputs of recovery, pure: no I/O, no clock. The cluster (Cluster.ts)
 * and the property test (spec/cluster.placement.spec.ts) use these same
 * functions, so the model checks the code that runs.
 *
 * ## Cardinality of a service type (`node.register(type, logic, { cardinality })`)
 * | value       | rule |
 * |-------------|------|
 * | `many`      | default: any number of instances (each with its own name) on any node |
 * | `per-node`  | at most one live instance of the type per node (Halon's service-name lock) |
 * | `singleton` | at most one live instance of the type in the whole cluster |
 *
 * ## Placement of an instance
 * - `pinned` (a child spec with `node: 'n2'` only): that node, if it is up and
 *   has the type registered; otherwise nowhere (the start fails, and OTP's
 *   intensity decides).
 * - `any`: the preferred `node` when it can host, else the eligible node with
 *   the fewest live instances (ties by name, so every coordinator computes
 *   the same answer). Eligible: status `up` (not `suspect`, not `down`), the
 *   type registered there, and no lock conflict.
 *
 * ## What counts as live
 * An instance counts toward locks while its node is `up` or `suspect`, and
 * while its node is `down` but its lease may not have run out yet
 * (`fenced: false`): a paused process may still run it. Only once the lease
 * has passed does its name (and its singleton or per-node slot) become free.
 */
import { wouldRestart } from '../../supervision/index.js';
import type { FailureReason, RestartType } from '../../supervision/types.js';

export const Cardinality = { Many: 'many', PerNode: 'per-node', Singleton: 'singleton' } as const;
export type Cardinality = (typeof Cardinality)[keyof typeof Cardinality];

export const Placement = { Pinned: 'pinned', Any: 'any' } as const;
export type Placement = (typeof Placement)[keyof typeof Placement];

export interface NodeView {
  readonly node: string;
  readonly status: 'up' | 'suspect' | 'down';
  /** Service types registered on the node. */
  readonly types: readonly string[];
  /** For a `down` node: true once its lease has surely passed (it has stopped whatever it ran). */
  readonly fenced?: boolean;
}

export interface PlacedInstance {
  readonly name: string;
  readonly type: string;
  readonly cardinality: Cardinality;
  readonly node: string;
}

export interface PlacementRequest {
  readonly name: string;
  readonly type: string;
  readonly cardinality: Cardinality;
  readonly placement: Placement;
  /** The node named in the spec (required for `pinned`, a preference for `any`). */
  readonly node?: string;
}

/** True while an instance on `node` may still be running somewhere. */
export function isLive(inst: PlacedInstance, nodes: ReadonlyMap<string, NodeView>): boolean {
  const n = nodes.get(inst.node);
  if (n === undefined) return false;
  return n.status !== 'down' || n.fenced !== true;
}

/** Why `req` may not run on `node` given the live instances, or `undefined` when it may. */
export function lockConflict(
  req: Pick<PlacementRequest, 'name' | 'type' | 'cardinality'>,
  node: string,
  placed: readonly PlacedInstance[],
  nodes: ReadonlyMap<string, NodeView>,
): 'per-node' | 'singleton' | 'name' | undefined {
  for (const p of placed) {
    if (p.name === req.name) {
      if (isLive(p, nodes)) return 'name';
      continue;
    }
    if (p.type !== req.type || !isLive(p, nodes)) continue;
    if (req.cardinality === Cardinality.Singleton) return 'singleton';
    if (req.cardinality === Cardinality.PerNode && p.node === node) return 'per-node';
  }
  return undefined;
}

function canHost(req: PlacementRequest, n: NodeView | undefined, placed: readonly PlacedInstance[], nodes: ReadonlyMap<string, NodeView>): boolean {
  return n !== undefined && n.status === 'up' && n.types.includes(req.type) && lockConflict(req, n.node, placed, nodes) === undefined;
}

/** Nodes that could host `req`, best first. `placed` must not contain `req` itself unless it is still live. */
export function candidates(req: PlacementRequest, nodes: ReadonlyMap<string, NodeView>, placed: readonly PlacedInstance[]): string[] {
  if (req.placement === Placement.Pinned) {
    return req.node !== undefined && canHost(req, nodes.get(req.node), placed, nodes) ? [req.node] : [];
  }
  const load = new Map<string, number>();
  for (const p of placed) if (isLive(p, nodes)) load.set(p.node, (load.get(p.node) ?? 0) + 1);
  const eligible = [...nodes.values()].filter((n) => canHost(req, n, placed, nodes)).map((n) => n.node);
  eligible.sort((a, b) => (load.get(a) ?? 0) - (load.get(b) ?? 0) || (a < b ? -1 : a > b ? 1 : 0));
  if (req.node !== undefined && eligible.includes(req.node)) return [req.node, ...eligible.filter((n) => n !== req.node)];
  return eligible;
}

/**
 * Why no node can host `req` when the reason is a lock: the lock, and the
 * node holding it (for `per-node`, a node whose slot is taken). `undefined`
 * when some node could host it, or when none is up with the type at all.
 */
export function lockHolder(
  req: PlacementRequest,
  nodes: ReadonlyMap<string, NodeView>,
  placed: readonly PlacedInstance[],
): { readonly lock: 'per-node' | 'singleton' | 'name'; readonly holder: string } | undefined {
  const hosts = req.placement === Placement.Pinned ? (req.node !== undefined ? [nodes.get(req.node)] : []) : [...nodes.values()];
  let found: { lock: 'per-node' | 'singleton' | 'name'; holder: string } | undefined;
  for (const n of hosts) {
    if (n === undefined || n.status !== 'up' || !n.types.includes(req.type)) continue;
    const lock = lockConflict(req, n.node, placed, nodes);
    if (lock === undefined) return undefined;
    if (found !== undefined) continue;
    const by =
      lock === 'per-node'
        ? n.node
        : placed.find((p) => isLive(p, nodes) && (lock === 'name' ? p.name === req.name : p.type === req.type && p.name !== req.name))?.node;
    found = { lock, holder: by ?? n.node };
  }
  return found;
}

/** The node to start `req` on, or `undefined` when none can host it now. */
export function place(req: PlacementRequest, nodes: ReadonlyMap<string, NodeView>, placed: readonly PlacedInstance[]): string | undefined {
  return candidates(req, nodes, placed)[0];
}

// ── recovery inputs (the cluster coordinator's, per instance) ─────────────

/** One RestartType for the whole system: supervision's. */
export type { RestartType };

/** An instance as the Registry records it (`instance.<name>`). */
export interface InstanceState extends PlacementRequest {
  readonly restart: RestartType;
  /** The node that last owned it. */
  readonly owner: string;
  /** The incarnation of `owner` that ran it is gone (the node restarted, or is no member): lost with its node, like a fenced `down`. */
  readonly ownerGone?: boolean;
  /** `running` on `owner`, or `exited` there with `reason`. */
  readonly state: 'running' | 'exited';
  readonly reason?: string;
  /** The coordinator gave up on it: it stays exited (until its ban ends, ClusterCoordinator.ts). */
  readonly gaveUp?: boolean;
}

export type Loss =
  | { readonly kind: 'none' }
  /** The owner is down but may still run it (lease not passed): decide later. */
  | { readonly kind: 'wait' }
  /** Its tenure ended with `reason` (an exit reason, or `nodedown`): the policy decides. */
  | { readonly kind: 'ended'; readonly reason: string };

/** Has `inst`'s tenure ended, and how? Pure: the coordinator asks this before it asks the policy. */
export function lost(inst: InstanceState, nodes: ReadonlyMap<string, NodeView>): Loss {
  if (inst.gaveUp === true) return { kind: 'none' };
  if (inst.state === 'exited') return { kind: 'ended', reason: inst.reason ?? 'normal' };
  const owner = inst.ownerGone === true ? undefined : nodes.get(inst.owner);
  if (owner !== undefined && owner.status !== 'down') return { kind: 'none' };
  if (owner !== undefined && owner.fenced !== true) return { kind: 'wait' };
  return { kind: 'ended', reason: 'nodedown' };
}

/** Where to restart `inst`. `placed` is every recorded instance (this one included; it is ignored for its own placement). */
export function placeAgain(inst: InstanceState, nodes: ReadonlyMap<string, NodeView>, placed: readonly PlacedInstance[]): string | undefined {
  return place(inst, nodes, placed.filter((p) => p.name !== inst.name));
}

export type Recovery =
  | { readonly kind: 'none' }
  | { readonly kind: 'wait' }
  /** Not to be restarted (OTP policy for its restart type and reason): forget it. */
  | { readonly kind: 'drop'; readonly reason: string }
  /** Restart on `node`. */
  | { readonly kind: 'restart'; readonly node: string; readonly reason: string }
  /** To be restarted, but no node can host it now: retried when one joins. */
  | { readonly kind: 'unplaced'; readonly reason: string };

/**
 * What the coordinator does about `inst` under the default policy alone
 * (OTP's, supervision's `wouldRestart`; no rules, no intensity): {@link lost},
 * then the policy's answer, then {@link placeAgain}. The coordinator runs
 * these same steps with the node's rules and intensity in between; the
 * property test (spec/cluster.placement.spec.ts) models placement with it.
 */
export function recover(inst: InstanceState, nodes: ReadonlyMap<string, NodeView>, placed: readonly PlacedInstance[]): Recovery {
  const loss = lost(inst, nodes);
  if (loss.kind !== 'ended') return loss;
  const reason = loss.reason;
  if (!wouldRestart({ restart: inst.restart, reason: reason as FailureReason })) return { kind: 'drop', reason };
  const node = placeAgain(inst, nodes, placed);
  return node === undefined ? { kind: 'unplaced', reason } : { kind: 'restart', node, reason };
}
