/**
 * A service type: what `defineService` takes and what it returns.
 *
 * | key          | mandatory | default    | meaning                                                                 |
 * |--------------|-----------|------------|-------------------------------------------------------------------------|
 * | name         | yes       |            | one NATS micro name, `[A-Za-z0-9_-]+` (also the actor name `svc.<name>`) |
 * | version      | yes       |            | strict semver (`1.4.0`, `2.0.0-rc.1+build.5`)                            |
 * | logic        | yes       |            | XState logic; its input is {@link ServiceInput}                          |
 * | description  | no        | `''`       | listed by `$SRV INFO`                                                    |
 * | config       | no        | none       | a Standard Schema v1 value; a start's config must pass it                |
 * | ready        | no        | running    | a state tag, or a predicate on the snapshot: start resolves once true    |
 * | dependsOn    | no        | `[]`       | service names started (and ready) before, stopped after                  |
 * | tags         | no        | `[]`       | labels for queries; a start adds its own                                 |
 * | requires     | no        | `[]`       | node labels (`createNode({ labels })`) a node must carry to host it      |
 * | cardinality  | no        | `'many'`   | `'many'`, `'per-node'` (one per node) or `'singleton'` (one in the cluster) |
 * | container    | no        | `'inline'` | `'inline'` (event loop), `'worker'` (worker_threads), `'process'` (fork) |
 * | module       | no        | none       | module URL that exports this definition; needed by worker and process containers |
 * | lifetime     | no        | `'node'`   | the default lifetime of an instance: `'detached'`, `'node'` or `'cluster'` |
 * | endpoints    | no        | `{}`       | endpoint name to event type, listed by `$SRV INFO`                       |
 * | persist      | no        | `false`    | `true` or `{ restoreAfterCrash, everyMs }`: save the snapshot            |
 * | setup        | no        | none       | `({ config, signal, instance }) => resource`, before the logic starts   |
 * | teardown     | no        | none       | `(resource, { config, instance }) => void`, after the logic stopped     |
 * | startTimeoutMs | no      | 10 000     | how long start waits for setup and `ready`                               |
 * | stopTimeoutMs  | no      | 5 000      | how long stop waits for the logic's shutdown and `teardown`             |
 *
 * A definition is plain data plus functions, frozen. Logic cannot travel to
 * another thread or process, so worker and process containers import
 * `module` and pick the export that {@link isServiceDefinition} recognises
 * with the same `name`.
 */
import type { AnyActorLogic, SnapshotFrom } from 'xstate';
import type { Cardinality } from '../cluster/placement.js';
import type { StandardSchemaV1 } from './standardSchema.js';

/** The cluster's placement vocabulary, so that a service type places like a registered type. */
export type ServiceCardinality = Cardinality;

export const ServiceContainer = { Inline: 'inline', Worker: 'worker', Process: 'process' } as const;
export type ServiceContainer = (typeof ServiceContainer)[keyof typeof ServiceContainer];

/** Lifetimes a definition may default to; `scope` and an owner are chosen per start. */
export const ServiceLifetime = { Detached: 'detached', Node: 'node', Cluster: 'cluster', Scope: 'scope' } as const;
export type ServiceLifetime = (typeof ServiceLifetime)[keyof typeof ServiceLifetime];
export type DefaultLifetime = Exclude<ServiceLifetime, 'scope'>;

export interface PersistOptions {
  /** Restore after a crash too (a crash may come from the state itself). Default false. */
  readonly restoreAfterCrash: boolean;
  /** Save at most this often. Default 1000. */
  readonly everyMs: number;
}

/** Who an instance is, as its logic, setup and teardown see it. */
export interface InstanceIdentity {
  readonly service: string;
  /** Unique per start: `<service>-<n>` on its node. */
  readonly id: string;
  readonly node: string;
  readonly tags: readonly string[];
}

/** The input an instance's logic receives. */
export interface ServiceInput<Config = unknown, Resource = unknown> {
  readonly config: Config;
  readonly instance: InstanceIdentity;
  /** What `setup` returned (undefined without setup). */
  readonly resource: Resource;
}

export interface SetupContext<Config> {
  readonly config: Config;
  readonly instance: InstanceIdentity;
  /** Aborted when the start is abandoned (deadline, stop, kill). */
  readonly signal: AbortSignal;
}

export interface TeardownContext<Config> {
  readonly config: Config;
  readonly instance: InstanceIdentity;
}

export type ReadyWhen<L extends AnyActorLogic = AnyActorLogic> = string | ((snapshot: SnapshotFrom<L>) => boolean);

/** What `defineService` takes. */
export interface ServiceSpec<Config = unknown, Resource = unknown, L extends AnyActorLogic = AnyActorLogic> {
  readonly name: string;
  readonly version: string;
  readonly logic: L;
  readonly description?: string;
  readonly config?: StandardSchemaV1<unknown, Config>;
  readonly ready?: ReadyWhen<L>;
  readonly dependsOn?: readonly string[];
  readonly tags?: readonly string[];
  readonly requires?: readonly string[];
  readonly cardinality?: ServiceCardinality;
  readonly container?: ServiceContainer;
  readonly module?: string;
  readonly lifetime?: DefaultLifetime;
  readonly endpoints?: Readonly<Record<string, string>>;
  readonly persist?: boolean | Partial<PersistOptions>;
  readonly setup?: (ctx: SetupContext<Config>) => Resource | Promise<Resource>;
  readonly teardown?: (resource: Resource, ctx: TeardownContext<Config>) => void | Promise<void>;
  readonly startTimeoutMs?: number;
  readonly stopTimeoutMs?: number;
}

/**
 * Declared as a method so its parameter is bivariant: a definition whose setup
 * only throws has `Resource = never`, and must still be an
 * {@link AnyServiceDefinition}.
 */
export type Teardown<Resource, Config> = {
  bivariant(resource: Resource, ctx: TeardownContext<Config>): void | Promise<void>;
}['bivariant'];

/** The brand `defineService` puts on what it returns. */
export const SERVICE_DEFINITION = 'halyard.service.v1' as const;

/** A validated, frozen service type, with every default filled in. */
export interface ServiceDefinition<Config = unknown, Resource = unknown, L extends AnyActorLogic = AnyActorLogic> {
  readonly kind: typeof SERVICE_DEFINITION;
  readonly name: string;
  readonly version: string;
  readonly logic: L;
  readonly description: string;
  readonly config: StandardSchemaV1<unknown, Config> | undefined;
  readonly ready: ReadyWhen<L> | undefined;
  readonly dependsOn: readonly string[];
  readonly tags: readonly string[];
  readonly requires: readonly string[];
  readonly cardinality: ServiceCardinality;
  readonly container: ServiceContainer;
  readonly module?: string;
  readonly lifetime: DefaultLifetime;
  readonly endpoints: Readonly<Record<string, string>>;
  /** `false`, or the options with defaults filled in. */
  readonly persist: false | PersistOptions;
  readonly setup: ((ctx: SetupContext<Config>) => Resource | Promise<Resource>) | undefined;
  readonly teardown: Teardown<Resource, Config> | undefined;
  readonly startTimeoutMs: number;
  readonly stopTimeoutMs: number;
}

export type AnyServiceDefinition = ServiceDefinition<any, any, AnyActorLogic>;

/** True for what `defineService` returned (also across module copies: the brand is a string). */
export function isServiceDefinition(value: unknown): value is AnyServiceDefinition {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === SERVICE_DEFINITION;
}
