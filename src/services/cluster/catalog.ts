/**
 * The service-type catalogue: the types registered on this node (with their
 * logic) and the types every node has registered, as its `node.<node>`
 * record last reached us through the Registry watch.
 *
 * `register(type, logic, { cardinality })` is local and synchronous; the
 * cluster publishes this node's record after it. A type's cardinality is
 * taken from this node when registered here, else from any node that
 * registered it, else `many`.
 */
import type { AnyActorLogic } from 'xstate';
import { InvalidSpecError } from '../../errors.js';
import { Cardinality } from './placement.js';
import type { RegisterOptions } from './records.js';

/** What the host runs and stops for an instance started by a starter instead of spawned from logic. */
export interface HostedRef {
  readonly id: string;
  stop(shutdown?: 'brutal_kill'): Promise<unknown>;
  onExit(listener: (exit: { readonly reason: string; readonly error?: unknown }) => void): unknown;
}

/**
 * Starts an instance of a defined service (`defineService`) on this node: the node's services run it, the host records it.
 * `epoch` is the owner claim's, which fences the instance's persisted state.
 */
export type HostedStarter = (req: { readonly name: string; readonly input: unknown; readonly epoch: number }) => Promise<HostedRef>;

export interface ServiceType {
  /** Spawned under the instance's name; absent for a defined service, which `start` runs. */
  readonly logic?: AnyActorLogic;
  readonly start?: HostedStarter;
  readonly cardinality: Cardinality;
}

export class ServiceCatalog {
  readonly #node: string;
  readonly #local = new Map<string, ServiceType>();
  readonly #byNode = new Map<string, Record<string, Cardinality>>();

  constructor(node: string) {
    this.#node = node;
  }

  /** Register a service type here. Throws `InvalidSpecError` for a bad cardinality or a type registered twice. */
  register(type: string, logic: AnyActorLogic, options: RegisterOptions = {}): void {
    const cardinality = options.cardinality ?? Cardinality.Many;
    if (!Object.values(Cardinality).includes(cardinality)) throw new InvalidSpecError('cardinality', "must be 'many', 'per-node' or 'singleton'");
    if (this.#local.has(type)) throw new InvalidSpecError('type', `service type ${type} is already registered`);
    this.#local.set(type, { logic, cardinality });
    this.#byNode.set(this.#node, this.record());
  }

  /** Register a defined service's type here: the host runs its instances through `start`. */
  registerStarter(type: string, cardinality: Cardinality, start: HostedStarter): void {
    if (this.#local.has(type)) throw new InvalidSpecError('type', `service type ${type} is already registered`);
    this.#local.set(type, { start, cardinality });
    this.#byNode.set(this.#node, this.record());
  }

  /** A type registered on this node. */
  local(type: string): ServiceType | undefined {
    return this.#local.get(type);
  }

  /** This node's types as published (`{ type: cardinality }`). */
  record(): Record<string, Cardinality> {
    return Object.fromEntries([...this.#local].map(([k, v]) => [k, v.cardinality]));
  }

  /** Types `node` has registered, as last seen. */
  typesOf(node: string): Readonly<Record<string, Cardinality>> | undefined {
    return this.#byNode.get(node);
  }

  /** A node record came through the watch (`undefined`: deleted). */
  seen(node: string, types: Record<string, Cardinality> | undefined): void {
    if (types === undefined) this.#byNode.delete(node);
    else this.#byNode.set(node, types);
  }

  cardinalityOf(type: string): Cardinality {
    const local = this.#local.get(type);
    if (local !== undefined) return local.cardinality;
    for (const t of this.#byNode.values()) if (t[type] !== undefined) return t[type]!;
    return Cardinality.Many;
  }
}
