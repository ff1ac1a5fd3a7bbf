/**
 * The admin wire API: what a node answers to tools (the `halyard` CLI, the
 * observer, `src/client`). Every frame is JSON with `v: 1`; a field is only
 * ever added under the same `v`, a change of meaning is a new `v`.
 *
 * ## Subjects (prefix `halyard`)
 * | subject                              | who answers                          | use |
 * |--------------------------------------|--------------------------------------|-----|
 * | `halyard.admin.node.<node>.<verb>`   | that node                            | one node |
 * | `halyard.admin.all.<verb>`           | every node (no queue group)          | fan-in: the client gathers replies on its inbox until they stop coming |
 * | `halyard.admin.any.<verb>`           | one node (queue group `halyard-admin`) | verbs about a name, routed by the node like `node.ref(name)` |
 *
 * ## Request: `{ v: 1, args?: {...} }`; reply: `{ v: 1, node, ok: true, data }` or `{ v: 1, node, ok: false, error: WireError }`
 *
 * | verb        | kind  | args                               | data |
 * |-------------|-------|------------------------------------|------|
 * | `info`      | read  |                                    | {@link NodeInfo} |
 * | `services`  | read  | `tag?`, `service?` (a service or instance id) | {@link ServicesData} |
 * | `tree`      | read  |                                    | {@link TreeData} |
 * | `decisions` | read  | `child?`, `since?`                 | {@link DecisionsData} |
 * | `logs`      | read  | `service?`, `since?`, `limit?`     | {@link LogsData} |
 * | `check`     | read  | `name`, `level?` (0, 10, 20)       | a `CheckResult` |
 * | `status`    | read  | `name`                             | a `StatusReport` |
 * | `call`      | read  | `name`, `event`, `timeout?` (ms)   | `{ reply }` |
 * | `send`      | read  | `name`, `event`                    | `{ sent: true }` |
 * | `restart`   | write | `name` (a service or instance id)  | {@link WriteData} |
 * | `stop`      | write | `name`                             | {@link WriteData} |
 * | `contexts`  | read  |                                    | {@link ContextsData}: this node's contexts |
 * | `contextStart` | write | `file` (a name ending .yaml, .yml, .json or .xml), `text` | a {@link ContextRow} |
 * | `contextStop` / `contextRestart` | write | `transaction`  | {@link WriteData}: `done` holds the transaction (after a restart, the new one) |
 * | `tasks`     | read  |                                    | {@link TasksData}: every record of the tasks bucket (one node answers for all) |
 * | `taskStatus`| read  | `id`                               | a {@link TaskRow} |
 * | `taskSubmit`| write | `name`, `input`                    | `{ id }` |
 *
 * ## Why read verbs are on by default and write verbs are not
 * Read verbs tell what any connection allowed on `<prefix>.>` could learn or
 * do anyway (`call` and `send` are what `<prefix>.svc.<name>` already
 * carries), so NATS permissions are the gate for them: deny
 * `<prefix>.admin.>` to connections that may not look. Write verbs change
 * what runs, so a node refuses them (`AdminWriteRefusedError`) unless it was
 * created with `admin: { write: true }`. `admin: false` answers nothing.
 */
import type { CheckResult } from '../../actors/ocf.js';
import type { WireError } from '../../errors.js';

export const ADMIN_VERSION = 1;
export const ADMIN_QUEUE = 'halyard-admin';

export const AdminVerb = {
  Info: 'info',
  Services: 'services',
  Tree: 'tree',
  Decisions: 'decisions',
  Logs: 'logs',
  Check: 'check',
  Status: 'status',
  Call: 'call',
  Send: 'send',
  Restart: 'restart',
  Stop: 'stop',
  Contexts: 'contexts',
  ContextStart: 'contextStart',
  ContextStop: 'contextStop',
  ContextRestart: 'contextRestart',
  Tasks: 'tasks',
  TaskStatus: 'taskStatus',
  TaskSubmit: 'taskSubmit',
} as const;
export type AdminVerb = (typeof AdminVerb)[keyof typeof AdminVerb];

export const ADMIN_VERBS: ReadonlySet<string> = new Set(Object.values(AdminVerb));
export const WRITE_VERBS: ReadonlySet<string> = new Set([AdminVerb.Restart, AdminVerb.Stop, AdminVerb.ContextStart, AdminVerb.ContextStop, AdminVerb.ContextRestart, AdminVerb.TaskSubmit]);

export interface AdminRequest {
  readonly v: 1;
  readonly args?: Readonly<Record<string, unknown>>;
}

export type AdminReply<T = unknown> =
  | { readonly v: 1; readonly node: string; readonly ok: true; readonly data: T }
  | { readonly v: 1; readonly node: string; readonly ok: false; readonly error: WireError };

export interface NodeInfo {
  readonly node: string;
  readonly prefix: string;
  readonly transport: 'local' | 'nats';
  readonly connected: boolean;
  readonly uptimeMs: number;
  readonly actors: number;
  readonly instances: number;
  readonly labels: readonly string[];
  readonly cluster: boolean;
  readonly write: boolean;
  readonly check: CheckResult;
  readonly deadLetters: number;
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number };
}

export interface InstanceRow {
  readonly service: string;
  readonly instance: string;
  readonly node: string;
  readonly state: string;
  readonly tags: readonly string[];
  readonly actor: string;
  /** Supervisor restarts of its logic (incarnations minus one). */
  readonly restarts: number;
  readonly mailbox: { readonly depth: number; readonly capacity: number };
  readonly processed: number;
  readonly dependsOn: readonly string[];
}

export interface ServiceRow {
  readonly name: string;
  readonly version: string;
  readonly dependsOn: readonly string[];
  readonly cardinality: string;
}

export interface ServicesData {
  readonly services: readonly ServiceRow[];
  readonly instances: readonly InstanceRow[];
}

export interface ChildRow {
  readonly id: string;
  readonly type: 'worker' | 'supervisor';
  readonly restart: string;
  readonly status: string;
  readonly actor: string | null;
  readonly restarts: number;
  readonly mailbox: { readonly depth: number; readonly capacity: number } | null;
  /** The nested supervisor, for a running `supervisor` child. */
  readonly supervisor?: SupervisorRow;
}

export interface SupervisorRow {
  readonly label: string;
  readonly strategy: string;
  readonly phase: string;
  readonly gaveUp: string | null;
  readonly children: readonly ChildRow[];
}

export interface TreeData {
  readonly supervisors: readonly SupervisorRow[];
}

export interface DecisionRow {
  readonly node: string;
  readonly seq: number;
  readonly at: number;
  readonly supervisor: string;
  readonly childId: string;
  readonly reason: string;
  readonly error?: string;
  readonly directive: string;
  readonly rule: string;
}

export interface DecisionsData {
  readonly decisions: readonly DecisionRow[];
}

export interface LogLine {
  readonly seq: number;
  readonly at: number;
  readonly node: string;
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly service?: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface LogsData {
  readonly lines: readonly LogLine[];
}

export interface WriteData {
  /** Instances (or actors) of this node that matched the name. */
  readonly matched: number;
  readonly done: readonly string[];
}

export interface ContextRow {
  readonly node: string;
  readonly name: string;
  readonly transaction: string;
  readonly state: string;
  /** Instance ids of the context's running services. */
  readonly services: readonly string[];
}

export interface ContextsData {
  readonly contexts: readonly ContextRow[];
}

export interface TaskRow {
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly attempt: number;
  readonly maxAttempts: number;
  readonly worker?: string;
  readonly parent?: string;
  readonly result?: unknown;
  readonly error?: string;
}

export interface TasksData {
  readonly tasks: readonly TaskRow[];
}
