/**
 * Routing by name: where a tell, an ask, a Check or a Status for a name goes.
 *
 * ```
 *   ref(name).tell / ask / check / status
 *        │
 *        ├─ a live local actor has the name ──► its mailbox (no encoding, no transport)
 *        │
 *        └─ otherwise ──► Requester ──► <prefix>.svc.<name>   (queue group <name>: one instance answers)
 * ```
 *
 * The name is resolved at every send, not when the ref is made, so a ref
 * follows the name through restarts and moves. Every event is checked at the
 * edge (`InvalidEventError`, with a dead letter) before either path; events
 * crossing the wire are encoded in Requester, the only place tells and
 * requests are built. Once the router is closed (its node shut down), a send
 * that would leave the process throws or rejects with `NodeClosedError`;
 * local deliveries still go through, as `ActorCell` decides on those.
 *
 * A Check of a name nobody serves any more, which ended here, is answered
 * from its last exit (7 `OCF_NOT_RUNNING`, or 1 for a failure), as
 * `ref.check()` on a local ref does, rather than with `NoSuchActorError`.
 */
import type { AnyEventObject } from 'xstate';
import { askTimeoutOf, assertEvent } from '../../actors/ActorCell.js';
import type { ActorSystem } from '../../actors/ActorSystem.js';
import { assertName } from '../../actors/names.js';
import { type CheckLevel, type CheckResult, isCheckLevel, makeCheckResult, OCF, type StatusReport } from '../../actors/ocf.js';
import type { ActorRef, AskOptions } from '../../actors/types.js';
import { describe, InvalidArgumentError, NoSuchActorError, NodeClosedError } from '../../errors.js';
import type { Requester } from './Requester.js';
import { assertNodeName, type Subjects } from './subjects.js';

/** Check and Status of another node, as {@link Router.remoteNode} returns them. */
export interface RemoteNodeHealth {
  check(level?: CheckLevel): Promise<CheckResult>;
  status(): Promise<StatusReport>;
}

/** A reference by name: resolved at every send, locally first. */
class NameRef implements ActorRef {
  readonly isLocal = false;
  readonly id: string;
  readonly node = '';
  constructor(
    private readonly router: Router,
    readonly name: string,
    readonly address: string,
    /** The tell's reply subject, built once per ref rather than per message. */
    private readonly tellReply: string,
  ) {
    this.id = name;
  }
  tell(event: AnyEventObject): void {
    this.router.tell(this.name, event, this.address, this.tellReply);
  }
  ask<R = unknown>(event: AnyEventObject, options?: AskOptions): Promise<R> {
    return this.router.ask(this.name, event, options) as Promise<R>;
  }
  check(level: CheckLevel = 0): Promise<CheckResult> {
    return this.router.check(this.name, level);
  }
  status(): Promise<StatusReport> {
    return this.router.status(this.name);
  }
}

export class Router {
  private closed = false;

  constructor(
    private readonly system: ActorSystem,
    private readonly requester: Requester,
    private readonly subjects: Subjects,
    /** This node's name, for `NodeClosedError` and health answers. */
    private readonly nodeName: string,
  ) {}

  /** A reference to whatever serves `name`: this node first, then the cluster. Throws `InvalidNameError`. */
  ref(name: string): ActorRef {
    assertName(name);
    return new NameRef(this, name, this.subjects.svc(name), this.requester.tellReply(name));
  }

  /** Tell `event` to `name`, on `subject` (its svc subject) with the tell reply subject `reply`. */
  tell(name: string, event: AnyEventObject, subject: string, reply: string): void {
    assertEvent(event, this.system.deadLetters, name);
    const local = this.system.lookup(name);
    if (local) {
      local._enqueue(event, undefined);
      return;
    }
    if (this.closed) throw new NodeClosedError(this.nodeName);
    this.requester.tell(subject, reply, name, event);
  }

  /** Told of each ask by name: seconds to its answer, and whether it answered (the node's metrics). */
  onAsk: ((seconds: number, ok: boolean) => void) | undefined = undefined;

  ask(name: string, event: AnyEventObject, options?: AskOptions): Promise<unknown> {
    const observe = this.onAsk;
    if (observe === undefined) return this.#ask(name, event, options);
    const started = performance.now();
    const answer = this.#ask(name, event, options);
    answer.then(
      () => observe((performance.now() - started) / 1000, true),
      () => observe((performance.now() - started) / 1000, false),
    );
    return answer;
  }

  #ask(name: string, event: AnyEventObject, options?: AskOptions): Promise<unknown> {
    try {
      assertEvent(event, this.system.deadLetters, name);
      const timeout = askTimeoutOf(options, this.system.askTimeout);
      const local = this.system.lookup(name);
      if (local) return local.ask(event, { timeout });
      return this.requester.request(this.subjects.svc(name), 'ask', name, event, timeout);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** OCF Check of `name`: the local actor's, else over the transport. */
  check(name: string, level: CheckLevel = 0): Promise<CheckResult> {
    try {
      assertName(name);
      if (!isCheckLevel(level)) throw new InvalidArgumentError('level', 'must be 0, 10 or 20');
    } catch (err) {
      return Promise.reject(err);
    }
    const local = this.system.lookup(name);
    if (local) return local.check(level);
    const remote = this.requester.request(this.subjects.svc(name), 'check', name, { level }, this.system.askTimeout) as Promise<CheckResult>;
    return remote.catch((err: unknown) => {
      const gone = err instanceof NoSuchActorError ? this.system.lastExit(name) : undefined;
      if (gone === undefined) throw err;
      return gone.reason === 'error'
        ? makeCheckResult(OCF.ERR_GENERIC, `failed: ${describe(gone.error)}`, level, name, this.nodeName)
        : makeCheckResult(OCF.NOT_RUNNING, gone.reason === 'normal' ? 'done: reached a final state' : `stopped (${gone.reason})`, level, name, this.nodeName);
    });
  }

  /** OCF Status of `name`: the local actor's, else over the transport. */
  status(name: string): Promise<StatusReport> {
    try {
      assertName(name);
    } catch (err) {
      return Promise.reject(err);
    }
    const local = this.system.lookup(name);
    if (local) return local.status();
    return this.requester.request(this.subjects.svc(name), 'status', name, {}, this.system.askTimeout) as Promise<StatusReport>;
  }

  /** Check or Status of another node, over the transport. Throws `InvalidNameError`. */
  remoteNode(nodeName: string): RemoteNodeHealth {
    assertNodeName(nodeName);
    const subject = this.subjects.node(nodeName);
    return {
      check: (level: CheckLevel = 0) =>
        this.requester.request(subject, 'check', nodeName, { level }, this.system.askTimeout) as Promise<CheckResult>,
      status: () => this.requester.request(subject, 'status', nodeName, {}, this.system.askTimeout) as Promise<StatusReport>,
    };
  }

  /** From now on, sends that would leave the process fail with `NodeClosedError`. */
  close(): void {
    this.closed = true;
  }
}
