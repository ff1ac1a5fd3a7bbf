/**
 * The `$SRV` control subjects of NATS micro (ADR-32), plus Halyard's two
 * health verbs beside them:
 *
 * | subject                        | who answers                              |
 * |--------------------------------|------------------------------------------|
 * | `$SRV.<VERB>`                  | every registered instance, one reply each |
 * | `$SRV.<VERB>.<name>`           | every instance of service `<name>`        |
 * | `$SRV.<VERB>.<name>.<id>`      | the one instance `<id>` of `<name>`       |
 *
 * `<VERB>` is `PING`, `INFO`, `STATS` (ADR-32) or `CHECK`, `STATUS` (OCF).
 */

export const SRV_PREFIX = '$SRV';

export const MicroVerb = {
  Ping: 'PING',
  Info: 'INFO',
  Stats: 'STATS',
  Check: 'CHECK',
  Status: 'STATUS',
} as const;
export type MicroVerb = (typeof MicroVerb)[keyof typeof MicroVerb];

export const MICRO_VERBS: readonly MicroVerb[] = Object.values(MicroVerb);

/** `$SRV.<verb>`, `$SRV.<verb>.<name>` or `$SRV.<verb>.<name>.<id>`; an `id` without a `name` is ignored, as in the official clients. */
export function controlSubject(verb: MicroVerb, name?: string, id?: string): string {
  if (name === undefined || name === '') return `${SRV_PREFIX}.${verb}`;
  if (id === undefined || id === '') return `${SRV_PREFIX}.${verb}.${name}`;
  return `${SRV_PREFIX}.${verb}.${name}.${id}`;
}
