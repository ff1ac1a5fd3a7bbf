/**
 * Cluster membership and failure detection over NATS.
 *
 * ```ts
 * const kv = await openKv(transport, bucketName('halyard', 'members'));
 * const membership = await Membership.start({ node: 'n1', transport, kv });
 * membership.on('change', (c) => console.log(c.type, c.member.node));
 * membership.members();   // [{ node, status: 'up' | 'suspect' | 'down', lastHeardAt, incarnation }]
 * await membership.stop(); // graceful leave
 * ```
 *
 * Options, their defaults and why: `membershipOptions.ts`.
 *
 * Who watches whom (each node its k ring predecessors, O(N) per interval):
 * `HeartbeatRing.ts`. The echo of its own heartbeat: `SelfLink.ts`.
 *
 * ## Failure detection (SWIM-style, judged only by healthy nodes)
 * ```
 *   up ──(silent ≥ suspectAfterMs)──► suspect ──(silent ≥ downAfterMs, probes confirm)──► down
 *    ▲                                   │                                                 │
 *    └──── heartbeat / pong / alive ─────┘                     (final for that incarnation)
 * ```
 * On suspicion the watcher broadcasts `suspect`, pings the suspect itself and
 * asks `indirectProbes` other members to ping it (probes.ts). The verdict needs silence
 * of `downAfterMs`, no ack from any probe, and a confirmation: a helper's
 * explicit nack or the server's "no responders" for the suspect (or no
 * helper available). It is recorded in KV by compare-and-set on the
 * suspect's record (so one verdict per incarnation), then broadcast.
 *
 * A node does not judge while it cannot trust its own view: its transport is
 * disconnected, its own heartbeat echo is missing (`isolated`: a partition
 * the client has not noticed yet), it is in the grace period after a
 * reconnect (`downAfterMs`), or it is rejoining. Time during which its own
 * event loop was stalled (a late tick) is credited to every watched node: not
 * hearing while not listening is no evidence. A suspect that refutes (its
 * heartbeat or pong arrives, or it broadcasts `alive` on hearing it is
 * suspected) is `up` again.
 *
 * ## Incarnations
 * Each start (and each rejoin) takes a new incarnation, strictly increasing
 * per node name (incarnation.ts). A `down` verdict is final for an incarnation: a
 * node that learns it was declared down (a broadcast, or its record after a
 * reconnect) emits `down` for itself and rejoins with a new incarnation.
 * Whatever it owned under the old one (leases, claims) must be treated as
 * lost; see `Lease.ts` for fencing.
 *
 * ## Events (`on('change', fn)`)
 * `join` (a node or a new incarnation is up), `suspect`, `alive` (a suspect
 * cleared), `down`, `leave` (a graceful stop: the node is forgotten). Join,
 * leave and down are recorded in the members bucket (watched by every member,
 * so a missed broadcast is caught up) and broadcast on `<prefix>.cluster.*`;
 * suspect and alive are broadcast only. A remote suspicion nobody confirms
 * or clears lapses after `suspectAfterMs + downAfterMs`.
 */
import { type Clock, monotonicClock, type TimerHandle } from '../../clock.js';
import { ClusterUnavailableError, describe, InvalidSpecError } from '../../errors.js';
import { type Logger, nullLogger } from '../../log.js';
import type { Subscription, Transport, TransportStatusType } from '../../transport/Transport.js';
import { entryJson, isCasConflict, type KV, type KvEntry } from './kv.js';
import { HeartbeatRing } from './HeartbeatRing.js';
import { registerIncarnation } from './incarnation.js';
import { Listeners } from './listeners.js';
import { ChangeType, type Entry, type Member, type MembershipChange, MemberTable, newEntry, snapshot } from './MemberTable.js';
import { SelfLink } from './SelfLink.js';
import { type MembershipOptions, membershipSettings } from './membershipOptions.js';
import { ClusterSubjects } from './subjects.js';
import { Probes } from './probes.js';
import { MemberStatus, Report } from './view.js';
import {
  decodeHeartbeat,
  decodeMemberEvent,
  decodeMemberRecord,
  EventKind,
  heartbeat,
  memberEvent,
  memberRecord,
  pong,
  RecordStatus,
} from './wire.js';

export { MemberStatus };

export { DEFAULT_HEARTBEAT_MS, DEFAULT_INDIRECT_PROBES, DEFAULT_WATCHERS, type MembershipOptions } from './membershipOptions.js';

export { ChangeType, type Member, type MembershipChange } from './MemberTable.js';

const REPORT_OF: Record<RecordStatus, Report> = { up: Report.Up, down: Report.Down, left: Report.Left };

export class Membership {
  readonly node: string;
  readonly heartbeatMs: number;
  readonly suspectAfterMs: number;
  readonly downAfterMs: number;
  readonly watchers: number;
  readonly indirectProbes: number;

  readonly #transport: Transport;
  readonly #kv: KV;
  readonly #subjects: ClusterSubjects;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #kvTimeoutMs: number;
  readonly #tickMs: number;
  readonly #link: SelfLink;
  readonly #probes: Probes;
  readonly #suspectTtlMs: number;
  readonly #changes: Listeners<[MembershipChange]>;

  readonly #entries: MemberTable;
  readonly #ring: HeartbeatRing;
  readonly #subs: Subscription[] = [];
  #offStatus: (() => void) | undefined;
  #watch: { stop(): void } | undefined;
  #incarnation = 0;
  #selfRevision: number | undefined;
  #selfSeen: (() => void) | undefined;
  #lastTickAt = 0;
  #lastRefuteAt = Number.NEGATIVE_INFINITY;
  #graceUntil = 0;
  #connected = true;
  #rejoining = false;
  #stopped = false;
  #stopping: Promise<void> | undefined;
  #hbTimer: TimerHandle | undefined;
  #tickTimer: TimerHandle | undefined;

  /** Join the cluster: register a new incarnation, load the member list, start heartbeats. */
  static async start(options: MembershipOptions): Promise<Membership> {
    const membership = new Membership(options);
    try {
      await membership.#start();
    } catch (err) {
      await membership.#teardown();
      throw err instanceof ClusterUnavailableError ? err : new ClusterUnavailableError(`cannot join: ${describe(err)}`, err);
    }
    return membership;
  }

  private constructor(options: MembershipOptions) {
    const settings = membershipSettings(options);
    this.node = options.node;
    this.heartbeatMs = settings.heartbeatMs;
    this.suspectAfterMs = settings.suspectAfterMs;
    this.downAfterMs = settings.downAfterMs;
    this.watchers = settings.watchers;
    this.indirectProbes = settings.indirectProbes;
    this.#kvTimeoutMs = settings.kvTimeoutMs;
    this.#transport = options.transport;
    this.#kv = options.kv;
    this.#subjects = new ClusterSubjects(options.prefix ?? 'halyard');
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = (options.logger ?? nullLogger()).child({ component: 'membership', node: this.node });
    this.#changes = new Listeners((err) => this.#logger.error({ err }, 'change listener threw'));
    // Ticks are cheap (no messages): a fine grain keeps detection close to the thresholds.
    this.#tickMs = Math.max(10, Math.round(this.heartbeatMs / 5));
    // Own echo missing for two periods: our link is gone even if the client has not noticed.
    this.#link = new SelfLink(this.#clock, 2 * this.heartbeatMs);
    // One probe round fits between suspicion and the verdict, with room for a second try.
    this.#probes = new Probes({
      node: this.node,
      transport: this.#transport,
      subjects: this.#subjects,
      timeoutMs: Math.max(20, Math.floor((this.downAfterMs - this.suspectAfterMs) * 0.6)),
      indirectProbes: this.indirectProbes,
      heard: (node, incarnation) => this.#heard(node, incarnation),
      stopped: () => this.#stopped,
      publish: (subject, data) => this.#publish(subject, data),
    });
    this.#suspectTtlMs = this.suspectAfterMs + this.downAfterMs;
    this.#entries = new MemberTable({
      changed: (type, e, by) => this.#emit(type, e, by),
      liveSetChanged: () => this.#recomputeRing(),
    });
    this.#ring = new HeartbeatRing({
      node: this.node,
      watchers: this.watchers,
      transport: this.#transport,
      subjects: this.#subjects,
      heartbeat: (node, data) => this.#onTargetHeartbeat(node, data),
    });
  }

  /** This process's incarnation (changes on a rejoin after a `down` verdict). */
  get incarnation(): number {
    return this.#incarnation;
  }

  /**
   * Send time (this clock) of the latest own heartbeat whose echo came back:
   * the server still had our link then. Unlike the echo's arrival time, it
   * does not move forward when a paused process reads old echoes on waking,
   * so `linkConfirmedAt + leaseMs` is a safe self-fencing deadline.
   */
  get linkConfirmedAt(): number {
    return this.#link.confirmedAt;
  }

  /** True when this node cannot trust its view: disconnected, or its own heartbeats do not come back. */
  get isolated(): boolean {
    return !this.#connected || !this.#transport.isConnected || this.#link.silent();
  }

  /** The nodes whose heartbeats this node watches (its ring predecessors). */
  get watching(): string[] {
    return [...this.#ring.nodes()].sort();
  }

  /** Every known member, this node included, sorted by name. Left members are not listed. */
  members(): Member[] {
    return this.#entries.members();
  }

  member(node: string): Member | undefined {
    const e = this.#entries.get(node);
    return e === undefined ? undefined : snapshot(e);
  }

  /** Observe membership changes. Returns the function that stops observing. */
  on(event: 'change', fn: (change: MembershipChange) => void): () => void {
    if (event !== 'change') throw new InvalidSpecError('event', 'must be "change"');
    return this.#changes.add(fn);
  }

  off(event: 'change', fn: (change: MembershipChange) => void): void {
    if (event === 'change') this.#changes.delete(fn);
  }

  /** Leave gracefully: announce the departure (peers forget this node at once), record it, stop. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopped = true;
      this.#clearTimers();
      this.#broadcast(EventKind.Leave, this.node, this.#incarnation);
      if (this.#selfRevision !== undefined) {
        try {
          await this.#kv.update(this.node, memberRecord(this.node, this.#incarnation, RecordStatus.Left, this.node), this.#selfRevision, this.#kvTimeoutMs);
        } catch (err) {
          // Declared down meanwhile, or the store is unreachable: the broadcast still told the peers.
          this.#logger.debug({ reason: describe(err) }, 'cannot record leave');
        }
      }
      await this.#teardown();
      this.#logger.info({ incarnation: this.#incarnation }, 'left');
    })();
    return this.#stopping;
  }

  // ── start and stop ──────────────────────────────────────────────────────

  async #start(): Promise<void> {
    const t = this.#transport;
    const s = this.#subjects;
    this.#subs.push(
      t.subscribe(s.events, (msg) => this.#onEvent(msg.data)),
      t.subscribe(s.heartbeat(this.node), (msg) => this.#onEcho(msg.data)),
      t.subscribe(s.ping(this.node), (msg) => {
        if (msg.reply !== undefined && !this.#stopped) this.#publish(msg.reply, pong(this.node, this.#incarnation));
      }),
      t.subscribe(s.probe(this.node), (msg) => void this.#probes.answer(msg.data, msg.reply)),
    );
    this.#offStatus = t.onStatus((status) => this.#onStatus(status.type));
    this.#connected = t.isConnected;
    await this.#register();
    const now = this.#clock.now();
    this.#entries.set(this.node, newEntry(this.node, this.#incarnation, MemberStatus.Up, now, this.#selfRevision));
    this.#link.trust(now);
    this.#lastTickAt = now;
    this.#beat();
    await this.#startWatch(true);
    this.#recomputeRing();
    this.#tickTimer = this.#clock.setTimer(() => this.#tick(), this.#tickMs);
    this.#broadcast(EventKind.Join, this.node, this.#incarnation);
    await t.flush();
    this.#logger.info({ incarnation: this.#incarnation, members: this.#entries.size }, 'joined');
  }

  async #teardown(): Promise<void> {
    this.#stopped = true;
    this.#clearTimers();
    this.#offStatus?.();
    this.#watch?.stop();
    this.#watch = undefined;
    for (const sub of this.#subs.splice(0)) sub.unsubscribe();
    this.#ring.clear();
    this.#selfSeen?.();
    try {
      await this.#transport.flush();
    } catch {
      // Closed or disconnected: nothing left to flush that matters.
    }
    this.#changes.clear();
  }

  #clearTimers(): void {
    if (this.#hbTimer !== undefined) this.#clock.clearTimer(this.#hbTimer);
    if (this.#tickTimer !== undefined) this.#clock.clearTimer(this.#tickTimer);
    this.#hbTimer = undefined;
    this.#tickTimer = undefined;
  }

  /** Take a new incarnation and record this node `up` with it (compare-and-set on its own record). */
  async #register(): Promise<void> {
    const { incarnation, revision } = await registerIncarnation(this.#kv, this.node, this.#incarnation, this.#kvTimeoutMs);
    this.#incarnation = incarnation;
    this.#selfRevision = revision;
  }

  /** Watch the members bucket. With `waitForSelf`, resolve once our own record has come through. */
  async #startWatch(waitForSelf: boolean): Promise<void> {
    const iter = await this.#kv.watch();
    if (this.#stopped) {
      iter.stop();
      return;
    }
    this.#watch = iter;
    const seen = waitForSelf
      ? new Promise<void>((resolve) => {
          const timer = this.#clock.setTimer(() => {
            this.#logger.warn('own record not seen in the members watch; continuing');
            resolve();
          }, this.#kvTimeoutMs);
          this.#selfSeen = () => {
            this.#clock.clearTimer(timer);
            this.#selfSeen = undefined;
            resolve();
          };
        })
      : undefined;
    void (async () => {
      for await (const entry of iter) this.#onRecord(entry);
    })().catch((err: unknown) => this.#logger.warn({ reason: describe(err) }, 'members watch ended'));
    await seen;
  }

  async #restartWatch(): Promise<void> {
    this.#watch?.stop();
    this.#watch = undefined;
    try {
      // A fresh watch replays every record: whatever was missed while away is caught up (merging is idempotent).
      await this.#startWatch(false);
    } catch (err) {
      this.#logger.warn({ reason: describe(err) }, 'cannot restart members watch');
    }
  }

  // ── heartbeats and ticks ────────────────────────────────────────────────

  #beat(): void {
    if (this.#stopped) return;
    const seq = this.#link.nextSeq();
    this.#publish(this.#subjects.heartbeat(this.node), heartbeat(this.node, this.#incarnation, seq));
    this.#link.sent(seq, this.#clock.now());
    this.#hbTimer = this.#clock.setTimer(() => this.#beat(), this.heartbeatMs);
  }

  #tick(): void {
    if (this.#stopped) return;
    const now = this.#clock.now();
    const late = now - this.#lastTickAt - this.#tickMs;
    this.#lastTickAt = now;
    this.#tickTimer = this.#clock.setTimer(() => this.#tick(), this.#tickMs);
    if (late > this.#tickMs) this.#credit(late, now);
    for (const e of this.#entries.values()) {
      // A remote suspicion that nobody confirmed or cleared in time lapses.
      if (e.status === MemberStatus.Suspect && !this.#ring.has(e.node) && e.node !== this.node && now - e.suspectedAt > this.#suspectTtlMs) {
        this.#setStatus(e, MemberStatus.Up, now, this.node);
      }
    }
    if (!this.#canJudge(now)) return;
    for (const node of this.#ring.nodes()) {
      const e = this.#entries.get(node);
      if (e !== undefined) this.#evaluate(e, now);
    }
  }

  /** Our own event loop stalled for `ms`: not hearing while not listening is no evidence of silence. */
  #credit(ms: number, now: number): void {
    this.#logger.debug({ stalledMs: Math.round(ms) }, 'event loop stalled; crediting watched nodes');
    this.#link.credit(ms, now);
    for (const node of this.#ring.nodes()) {
      const e = this.#entries.get(node);
      if (e !== undefined) e.lastHeardAt = Math.min(now, e.lastHeardAt + ms);
    }
  }

  #canJudge(now: number): boolean {
    return (
      this.#connected &&
      this.#transport.isConnected &&
      !this.#rejoining &&
      now >= this.#graceUntil &&
      !this.#link.silent(now)
    );
  }

  #evaluate(e: Entry, now: number): void {
    const silent = now - e.lastHeardAt;
    if (e.status === MemberStatus.Up) {
      if (silent < this.suspectAfterMs) return;
      this.#setStatus(e, MemberStatus.Suspect, now, this.node);
      this.#broadcast(EventKind.Suspect, e.node, e.incarnation);
      this.#startProbe(e);
      return;
    }
    if (e.status !== MemberStatus.Suspect || e.judging) return;
    const round = e.probe;
    if (round === undefined) {
      this.#startProbe(e);
      return;
    }
    if (!round.done || round.acked) return;
    if (silent >= this.downAfterMs && (round.nacks > 0 || round.helpers === 0)) {
      void this.#judge(e);
      return;
    }
    // Inconclusive (helpers did not answer: perhaps we are the cut-off one), or not yet time: probe again.
    this.#startProbe(e);
  }

  // ── probes and verdicts ─────────────────────────────────────────────────

  #startProbe(e: Entry): void {
    const live = [...this.#entries.values()].filter((m) => m.status === MemberStatus.Up).map((m) => m.node);
    e.probe = this.#probes.start(e, live);
  }

  /** Record `down` for `e`'s incarnation in KV (compare-and-set: one verdict per incarnation), then broadcast it. */
  async #judge(e: Entry): Promise<void> {
    e.judging = true;
    const { node, incarnation } = e;
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        let revision = e.revision;
        if (revision === undefined) {
          const current = await this.#kv.get(node);
          const record = decodeMemberRecord(entryJson(current));
          if (current === null || record === undefined) return;
          if (record.incarnation !== incarnation || record.status !== RecordStatus.Up) {
            this.#report(node, record.incarnation, REPORT_OF[record.status], record.by, current.revision);
            return;
          }
          revision = current.revision;
        }
        // Evidence may have come in while we waited; the verdict must still hold now.
        const now = this.#clock.now();
        if (
          this.#stopped ||
          this.#entries.get(node) !== e ||
          e.status !== MemberStatus.Suspect ||
          e.incarnation !== incarnation ||
          now - e.lastHeardAt < this.downAfterMs ||
          !this.#canJudge(now)
        ) {
          return;
        }
        try {
          const written = await this.#kv.update(node, memberRecord(node, incarnation, RecordStatus.Down, this.node), revision, this.#kvTimeoutMs);
          this.#logger.info({ peer: { node, incarnation }, silentMs: Math.round(now - e.lastHeardAt) }, 'declared down');
          this.#report(node, incarnation, Report.Down, this.node, written);
          this.#broadcast(EventKind.Down, node, incarnation);
          return;
        } catch (err) {
          if (!isCasConflict(err)) throw err;
          e.revision = undefined;
        }
      }
    } catch (err) {
      // The store is out of reach: no verdict. If we are the cut-off one, that is as it should be.
      this.#logger.warn({ peer: { node }, reason: describe(err) }, 'cannot record down verdict');
    } finally {
      e.judging = false;
    }
  }

  // ── inbound ─────────────────────────────────────────────────────────────

  #onEcho(data: Uint8Array): void {
    const hb = decodeHeartbeat(data);
    if (hb === undefined || hb.node !== this.node) return;
    const now = this.#clock.now();
    this.#link.echoed(hb.seq, hb.incarnation === this.#incarnation, now);
    const self = this.#entries.get(this.node);
    if (self !== undefined) self.lastHeardAt = now;
  }

  #onTargetHeartbeat(node: string, data: Uint8Array): void {
    const hb = decodeHeartbeat(data);
    if (hb === undefined || hb.node !== node) return;
    this.#heard(node, hb.incarnation);
  }

  /** A sign of life from `node` at `incarnation`. */
  #heard(node: string, incarnation: number): void {
    if (this.#stopped) return;
    const e = this.#entries.get(node);
    if (e === undefined || e.incarnation !== incarnation || e.status === MemberStatus.Down) return;
    const now = this.#clock.now();
    e.lastHeardAt = Math.max(e.lastHeardAt, now);
    if (e.status === MemberStatus.Suspect) {
      this.#setStatus(e, MemberStatus.Up, now, this.node);
      this.#broadcast(EventKind.Alive, node, incarnation);
    }
  }

  #onEvent(data: Uint8Array): void {
    if (this.#stopped) return;
    const ev = decodeMemberEvent(data);
    if (ev === undefined) return;
    switch (ev.kind) {
      case EventKind.Join:
        this.#report(ev.node, ev.incarnation, Report.Up, ev.by);
        break;
      case EventKind.Leave:
        this.#report(ev.node, ev.incarnation, Report.Left, ev.by);
        break;
      case EventKind.Down:
        this.#report(ev.node, ev.incarnation, Report.Down, ev.by);
        break;
      case EventKind.Alive: {
        this.#report(ev.node, ev.incarnation, Report.Alive, ev.by);
        this.#heard(ev.node, ev.incarnation);
        break;
      }
      case EventKind.Suspect: {
        const e = this.#entries.get(ev.node);
        // A watcher that heard the node recently has better evidence than the suspecter.
        if (e !== undefined && this.#ring.has(ev.node) && this.#clock.now() - e.lastHeardAt < this.suspectAfterMs) break;
        this.#report(ev.node, ev.incarnation, Report.Suspect, ev.by);
        break;
      }
    }
  }

  #onRecord(entry: KvEntry): void {
    if (this.#stopped) return;
    const node = entry.key;
    if (entry.operation !== 'PUT') {
      // A deleted record: the node is gone for good (an operator's purge).
      const e = this.#entries.get(node);
      if (e !== undefined && node !== this.node) this.#report(node, e.incarnation, Report.Left, this.node);
      return;
    }
    const record = decodeMemberRecord(entryJson(entry));
    if (record === undefined || record.node !== node) {
      this.#logger.debug({ peer: { key: node } }, 'malformed member record ignored');
      return;
    }
    this.#report(node, record.incarnation, REPORT_OF[record.status], record.by, entry.revision);
  }

  #onStatus(type: TransportStatusType): void {
    if (this.#stopped) return;
    switch (type) {
      case 'disconnected':
      case 'closed':
        this.#connected = false;
        break;
      case 'reconnected': {
        this.#connected = true;
        const now = this.#clock.now();
        // Peers' heartbeats need a moment to flow again: no verdicts until then.
        this.#graceUntil = now + this.downAfterMs;
        this.#link.trust(now);
        for (const e of this.#entries.values()) e.lastHeardAt = Math.max(e.lastHeardAt, now);
        void this.#restartWatch();
        break;
      }
      default:
        break;
    }
  }

  // ── the view ────────────────────────────────────────────────────────────

  /** Apply a report about `node` (from a broadcast, a KV record, or evidence). */
  #report(node: string, incarnation: number, report: Report, by: string, revision?: number): void {
    if (this.#stopped) return;
    if (node === this.node) {
      this.#reportSelf(incarnation, report, by, revision);
      return;
    }
    this.#entries.apply(node, incarnation, report, by, revision, this.#clock.now());
  }

  #reportSelf(incarnation: number, report: Report, by: string, revision: number | undefined): void {
    if (incarnation !== this.#incarnation) {
      if (incarnation > this.#incarnation && report === Report.Up && !this.#rejoining) {
        this.#logger.warn({ peer: { incarnation } }, 'another process registered this node name');
      }
      return;
    }
    switch (report) {
      case Report.Up:
        if (revision !== undefined) {
          this.#selfRevision = Math.max(this.#selfRevision ?? 0, revision);
          this.#selfSeen?.();
        }
        break;
      case Report.Suspect:
        this.#refute();
        break;
      case Report.Down:
        void this.#rejoin(by);
        break;
      default:
        break;
    }
  }

  /** Someone suspects us: say we are alive (at most once per heartbeat period). */
  #refute(): void {
    const now = this.#clock.now();
    if (now - this.#lastRefuteAt < this.heartbeatMs) return;
    this.#lastRefuteAt = now;
    this.#broadcast(EventKind.Alive, this.node, this.#incarnation);
  }

  /** We were declared down: that incarnation is over. Take a new one and join again. */
  async #rejoin(by: string): Promise<void> {
    if (this.#rejoining || this.#stopped) return;
    this.#rejoining = true;
    const self = this.#entries.get(this.node);
    this.#logger.warn({ incarnation: this.#incarnation, peer: { by } }, 'declared down; rejoining with a new incarnation');
    if (self !== undefined) {
      self.status = MemberStatus.Down;
      this.#emit(ChangeType.Down, self, by);
    }
    try {
      await this.#register();
      if (this.#stopped) return;
      const now = this.#clock.now();
      const fresh = newEntry(this.node, this.#incarnation, MemberStatus.Up, now, this.#selfRevision);
      this.#entries.set(this.node, fresh);
      // Everyone we watch gets a fresh start: our view was stale while we were away.
      for (const e of this.#entries.values()) e.lastHeardAt = Math.max(e.lastHeardAt, now);
      this.#graceUntil = now + this.downAfterMs;
      this.#broadcast(EventKind.Join, this.node, this.#incarnation);
      this.#emit(ChangeType.Join, fresh, this.node);
      this.#recomputeRing();
      this.#rejoining = false;
    } catch (err) {
      this.#logger.warn({ reason: describe(err) }, 'rejoin failed; retrying');
      this.#rejoining = false;
      if (!this.#stopped) this.#clock.setTimer(() => void this.#rejoin(by), this.heartbeatMs);
    }
  }

  #setStatus(e: Entry, status: MemberStatus, now: number, by: string): void {
    this.#entries.setStatus(e, status, now, by);
  }

  /** Subscribe to the heartbeats of our k ring predecessors, and to no others. */
  #recomputeRing(): void {
    if (this.#stopped) return;
    const live = [...this.#entries.values()].filter((e) => e.status !== MemberStatus.Down).map((e) => e.node);
    const now = this.#clock.now();
    this.#ring.update(live, {
      unwatched: (node) => {
        const e = this.#entries.get(node);
        if (e !== undefined) e.probe = undefined;
      },
      watch: (node) => {
        const e = this.#entries.get(node);
        if (e === undefined) return false;
        // Silence is measured from when we started listening.
        e.lastHeardAt = Math.max(e.lastHeardAt, now);
        return true;
      },
    });
  }

  #emit(type: ChangeType, e: Entry, by: string): void {
    const member = snapshot(e);
    if (type === ChangeType.Down || type === ChangeType.Leave) this.#logger.info({ peer: { ...member, by } }, type);
    else this.#logger.debug({ peer: { ...member, by } }, type);
    this.#changes.emit({ type, member, by });
  }

  // ── transport ───────────────────────────────────────────────────────────

  #broadcast(kind: EventKind, node: string, incarnation: number): void {
    this.#publish(this.#subjects.event(kind), memberEvent(kind, node, incarnation, this.node));
  }

  #publish(subject: string, data: Uint8Array): void {
    try {
      this.#transport.publish(subject, data);
    } catch (err) {
      this.#logger.debug({ subject, reason: describe(err) }, 'publish failed');
    }
  }
}
