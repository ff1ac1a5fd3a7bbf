/**
 * What a running service instance tells the node's `$SRV` responder
 * (micro/MicroResponder.ts): its name, instance id, version, description,
 * metadata (`node`, `container`), its declared endpoints on the subject its
 * actor is reached by (queue group: the actor name, as the router
 * subscribes), and CHECK and STATUS answered by the instance itself, so they
 * follow it through restarts by its supervisor.
 *
 * Endpoint statistics count the asks made through the instance's handle
 * (`instance.ask` with an endpoint's event type). Asks that reach the actor
 * from another node go through the router straight to the actor and are not
 * counted there.
 */
import type { MicroRegistration, MicroResponder } from '../micro/MicroResponder.js';
import type { ServiceInstance } from './ServiceInstance.js';

export interface MicroHost {
  readonly responder: MicroResponder;
  /** The subject an actor name is reached on (`<prefix>.svc.<name>`). */
  subject(actorName: string): string;
  /** Resolves once the server has seen every unsubscribe so far (the transport's flush). */
  flush?(): Promise<void>;
}

export function registerInstance(micro: MicroHost, instance: ServiceInstance): MicroRegistration {
  const def = instance.definition;
  const subject = micro.subject(instance.actorName);
  const endpoints = Object.fromEntries(Object.keys(def.endpoints).map((name) => [name, { subject, queueGroup: instance.actorName }]));
  return micro.responder.register({
    name: instance.service,
    id: instance.id,
    version: def.version,
    description: def.description,
    metadata: { node: instance.node, container: def.container },
    endpoints,
    check: (level) => instance.check(level),
    status: () => instance.status() as unknown as Readonly<Record<string, unknown>>,
  });
}
