/**
 * The subject scheme. With the default prefix `halyard`:
 *
 * | subject                         | who listens                          | queue group |
 * |---------------------------------|--------------------------------------|-------------|
 * | `halyard.svc.<name>`            | every instance of a named actor      | `<name>`    |
 * | `halyard.actor.<node>.<id>`     | the node hosting actor `<id>` (one wildcard subscription `halyard.actor.<node>.*` per node) | none |
 * | `halyard.node.<node>`           | the node itself (Check, Status)      | none        |
 * | `_INBOX.<unique>.<corr>`        | the asking node (one wildcard subscription per node) | none |
 *
 * Names may contain dots (`orders.eu` → `halyard.svc.orders.eu`); node names
 * and the prefix may not contain wildcards, and node names are one token.
 */
import { InvalidNameError } from '../../errors.js';

const TOKEN = /^[A-Za-z0-9_-]+$/;
const PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function assertNodeName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !TOKEN.test(name) || name.length > 64) {
    throw new InvalidNameError(name, 'a node name is 1 to 64 letters, digits, "_" or "-"');
  }
}

export function assertPrefix(prefix: unknown): asserts prefix is string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix) || prefix.length > 128) {
    throw new InvalidNameError(prefix, 'a prefix is dot-separated tokens of letters, digits, "_" or "-"');
  }
}

export class Subjects {
  readonly svcPrefix: string;
  readonly actorPrefix: string;
  readonly nodePrefix: string;

  constructor(readonly prefix: string) {
    assertPrefix(prefix);
    this.svcPrefix = `${prefix}.svc.`;
    this.actorPrefix = `${prefix}.actor.`;
    this.nodePrefix = `${prefix}.node.`;
  }

  svc(name: string): string {
    return this.svcPrefix + name;
  }

  actor(node: string, id: string): string {
    return `${this.actorPrefix}${node}.${id}`;
  }

  actorWildcard(node: string): string {
    return `${this.actorPrefix}${node}.*`;
  }

  node(node: string): string {
    return this.nodePrefix + node;
  }
}
