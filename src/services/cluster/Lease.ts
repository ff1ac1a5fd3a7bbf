/**
 * A lease with a fencing token, in the cluster's key-value store: who may run a cluster
 * singleton (the coordinator, or any singleton actor) right now.
 *
 * ```ts
 * const lease = new Lease({ kv, name: 'coordinator', holder: 'n1' });
 * lease.on('acquired', (epoch) => startCoordinator(epoch));
 * lease.on('lost', (reason) => stopCoordinator());     // fenced: stop at once
 * lease.start();
 * // before every side effect of the singleton:
 * const epoch = lease.assertHeld();                     // throws LeaseLostError when not held
 * send({ ...report, epoch });                           // receivers reject isStale(epoch, current)
 * ```
 *
 * ## Options
 * | option      | required | default            | meaning |
 * |-------------|----------|--------------------|---------|
 * | `kv`        | yes      |                    | the leases bucket (`openKv(transport, bucketName(prefix, 'leases'))`) |
 * | `name`      | yes      |                    | lease name, a KV key |
 * | `holder`    | yes      |                    | who contends (node name), stored in the lease |
 * | `incarnation` | no     | 0                  | the holder's incarnation, stored in the lease |
 * | `leaseMs`   | no       | 1000               | how long a renewal keeps the lease |
 * | `renewMs`   | no       | leaseMs / 4        | renewal period of the holder, polling period of contenders |
 * | `safetyMs`  | no       | max(100, leaseMs / 5) | extra wait before a takeover |
 * | `timeoutMs` | no       | leaseMs / 2        | deadline of one KV operation |
 * | `clock`     | no       | monotonic          | injected time source |
 * | `logger`    | no       | silent             | pino logger; child `{component: 'lease', lease, holder}` |
 *
 * ## Lifecycle
 * ```
 *   start() ──► contending ──(create / CAS on an expired lease)──► held ──(renew by CAS every renewMs)──┐
 *                   ▲                                               │ ◄──────────────────────────────────┘
 *                   └──── 'lost' (expired | superseded) ◄───────────┘
 *   release() / stop() ──► stopped   (a held lease is deleted by CAS, 'lost' with 'released')
 * ```
 *
 * ## Why two holders never overlap
 * - The holder's validity is measured from when it *sent* its last
 *   successful write: `validUntil = sentAt + leaseMs` on its own monotonic
 *   clock. `held` compares the clock with `validUntil` at every call, so a
 *   process that was paused (SIGSTOP, a long GC) and wakes late sees
 *   `held === false` before anything else runs, and emits `lost`.
 *   A renewal that cannot be written (NATS down, the store unreachable)
 *   simply lets `validUntil` pass: the holder fences itself.
 * - A contender takes over only after it has seen the *same* revision of the
 *   lease, unchanged, for `leaseMs + safetyMs` on its own clock, counting from
 *   the moment its read came back (which is after the holder sent that
 *   write). So by then the holder's `validUntil` has passed by at least
 *   `safetyMs`, which absorbs clock-rate differences and timer lateness.
 * - The takeover itself is a compare-and-set on that revision: if the holder
 *   renewed in between, the takeover fails; a renewal sent by a paused holder
 *   that lands after a takeover fails too (`superseded`).
 * - Each tenure's epoch is the KV revision of the write that began it, so
 *   epochs grow with every takeover. Work a fenced holder started before its
 *   lease ran out may still arrive somewhere: carry the epoch in every
 *   message and reject stale ones ({@link isStale}).
 *
 * Takeover after a holder dies takes at most `leaseMs + safetyMs + renewMs`
 * plus one KV write (1.45 s with the defaults).
 *
 * The lease knows nothing of membership: a `down` verdict is no reason to
 * take a lease over early, since the "dead" node may only be paused.
 */
import { type Clock, monotonicClock, type TimerHandle } from '../../clock.js';
import { describe, InvalidSpecError, LeaseLostError } from '../../errors.js';
import { type Logger, nullLogger } from '../../log.js';
import { assertFresh, isStale } from './fencing.js';
import { encodeJson, entryJson, isCasConflict, isRecord, type KvBucket, type KvEntry } from './kv.js';
import { Listeners } from './listeners.js';
import { assertKvKey } from './subjects.js';

export { assertFresh, isStale };

export const DEFAULT_LEASE_MS = 1000;

export const LeaseState = { Idle: 'idle', Contending: 'contending', Held: 'held', Stopped: 'stopped' } as const;
export type LeaseState = (typeof LeaseState)[keyof typeof LeaseState];

export const LostReason = {
  /** Not renewed in time (the store was unreachable, or this process was paused). */
  Expired: 'expired',
  /** Someone else wrote the lease: it was taken over. */
  Superseded: 'superseded',
  /** Given up by `release()` or `stop()`. */
  Released: 'released',
} as const;
export type LostReason = (typeof LostReason)[keyof typeof LostReason];

export interface LeaseOptions {
  readonly kv: KvBucket;
  readonly name: string;
  readonly holder: string;
  readonly incarnation?: number;
  readonly leaseMs?: number;
  readonly renewMs?: number;
  readonly safetyMs?: number;
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

/** What a lease looks like from outside: the current tenure, as stored. */
export interface LeaseInfo {
  readonly name: string;
  readonly holder: string;
  readonly incarnation: number;
  /** The fencing token of the current tenure. */
  readonly epoch: number;
  /** The revision of the last write (acquisition or renewal). */
  readonly revision: number;
  readonly leaseMs: number;
}

function parseLease(name: string, entry: KvEntry | null): LeaseInfo | undefined {
  const v = entryJson(entry);
  if (entry === null || !isRecord(v) || typeof v.holder !== 'string') return undefined;
  const epoch = typeof v.epoch === 'number' && v.epoch > 0 ? v.epoch : entry.revision;
  return {
    name,
    holder: v.holder,
    incarnation: typeof v.incarnation === 'number' ? v.incarnation : 0,
    epoch,
    revision: entry.revision,
    leaseMs: typeof v.leaseMs === 'number' && v.leaseMs > 0 ? v.leaseMs : 0,
  };
}

function positive(field: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new InvalidSpecError(field, 'must be a positive finite number');
  return v;
}

export class Lease {
  readonly name: string;
  readonly holder: string;
  readonly incarnation: number;
  readonly leaseMs: number;
  readonly renewMs: number;
  readonly safetyMs: number;
  readonly timeoutMs: number;

  readonly #kv: KvBucket;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #acquired: Listeners<[number]>;
  readonly #lost: Listeners<[LostReason]>;
  /** Tells our own writes apart from another Lease object's with the same holder name. */
  readonly #token = `${process.pid}-${Math.random().toString(36).slice(2)}`;

  #state: LeaseState = LeaseState.Idle;
  #epoch: number | undefined;
  #revision = 0;
  #validUntil = Number.NEGATIVE_INFINITY;
  #observed: { revision: number; since: number; leaseMs: number } | undefined;
  #timer: TimerHandle | undefined;
  #fenceTimer: TimerHandle | undefined;
  #busy = false;
  #lastStepAt = 0;

  /** The current tenure of lease `name`, as stored (for receivers checking epochs). */
  static async current(kv: KvBucket, name: string): Promise<LeaseInfo | undefined> {
    assertKvKey(name);
    return parseLease(name, await kv.get(name));
  }

  constructor(options: LeaseOptions) {
    if (typeof options !== 'object' || options === null || options.kv === undefined) throw new InvalidSpecError('kv', 'is required');
    assertKvKey(options.name);
    if (typeof options.holder !== 'string' || options.holder.length === 0) throw new InvalidSpecError('holder', 'must be a non-empty string');
    this.name = options.name;
    this.holder = options.holder;
    this.incarnation = options.incarnation ?? 0;
    this.leaseMs = positive('leaseMs', options.leaseMs, DEFAULT_LEASE_MS);
    this.renewMs = positive('renewMs', options.renewMs, this.leaseMs / 4);
    if (this.renewMs >= this.leaseMs) throw new InvalidSpecError('renewMs', 'must be less than leaseMs');
    this.safetyMs = options.safetyMs ?? Math.max(100, this.leaseMs / 5);
    if (typeof this.safetyMs !== 'number' || !(this.safetyMs >= 0) || !Number.isFinite(this.safetyMs)) {
      throw new InvalidSpecError('safetyMs', 'must be a finite number >= 0');
    }
    this.timeoutMs = positive('timeoutMs', options.timeoutMs, this.leaseMs / 2);
    this.#kv = options.kv;
    this.#clock = options.clock ?? monotonicClock;
    this.#logger = (options.logger ?? nullLogger()).child({ component: 'lease', lease: this.name, holder: this.holder });
    const report = (err: unknown) => this.#logger.error({ err }, 'lease listener threw');
    this.#acquired = new Listeners(report);
    this.#lost = new Listeners(report);
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** True only while this holder's lease is valid *now* (checked against the clock at every call). */
  get held(): boolean {
    return this.#state === LeaseState.Held && this.#clock.now() < this.#validUntil;
  }

  /** The epoch (fencing token) of the current tenure, while held. */
  get epoch(): number | undefined {
    return this.held ? this.#epoch : undefined;
  }

  /** The current epoch; throws `LeaseLostError` unless the lease is held now. Call before each side effect. */
  assertHeld(): number {
    if (!this.held || this.#epoch === undefined) {
      throw new LeaseLostError(this.name, this.#state === LeaseState.Held ? 'expired' : `state ${this.#state}`);
    }
    return this.#epoch;
  }

  /** Reject `epoch` when it is older than this tenure's (throws `StaleEpochError`). */
  assertFresh(epoch: number): void {
    if (this.#epoch !== undefined) assertFresh(this.name, epoch, this.#epoch);
  }

  on(event: 'acquired', fn: (epoch: number) => void): () => void;
  on(event: 'lost', fn: (reason: LostReason) => void): () => void;
  on(event: 'acquired' | 'lost', fn: ((epoch: number) => void) | ((reason: LostReason) => void)): () => void {
    if (event === 'acquired') return this.#acquired.add(fn as (epoch: number) => void);
    if (event === 'lost') return this.#lost.add(fn as (reason: LostReason) => void);
    throw new InvalidSpecError('event', 'must be "acquired" or "lost"');
  }

  /** Begin contending (idempotent). */
  start(): void {
    if (this.#state !== LeaseState.Idle) return;
    this.#state = LeaseState.Contending;
    this.#lastStepAt = this.#clock.now();
    this.#schedule(0);
  }

  /** Give the lease up (deleted by compare-and-set, so takers need not wait) and stop contending. */
  async release(): Promise<void> {
    const wasHeld = this.#state === LeaseState.Held;
    const revision = this.#revision;
    this.#state = LeaseState.Stopped;
    this.#clearTimers();
    if (!wasHeld) return;
    this.#lost.emit(LostReason.Released);
    try {
      await this.#kv.delete(this.name, { revision });
    } catch (err) {
      // Already superseded, or unreachable: either way it will expire for the others.
      this.#logger.debug({ reason: describe(err) }, 'cannot delete lease on release');
    }
  }

  /** Stop contending; a held lease is released. Idempotent. */
  stop(): Promise<void> {
    return this.release();
  }

  // ── the loop ────────────────────────────────────────────────────────────

  #schedule(ms: number): void {
    if (this.#state === LeaseState.Stopped) return;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      void this.#step();
    }, Math.max(0, ms));
  }

  async #step(): Promise<void> {
    if (this.#busy || this.#state === LeaseState.Stopped) return;
    this.#busy = true;
    const now = this.#clock.now();
    const gap = now - this.#lastStepAt;
    this.#lastStepAt = now;
    if (gap > this.renewMs + this.leaseMs / 2) this.#logger.warn({ pausedMs: Math.round(gap) }, 'lease loop ran late (paused?)');
    try {
      if (this.#state === LeaseState.Held) await this.#renew();
      else await this.#contend();
    } catch (err) {
      this.#logger.warn({ reason: describe(err) }, 'lease step failed');
      this.#schedule(this.renewMs);
    } finally {
      this.#busy = false;
      // A timer that fired while we were busy was dropped: make sure the loop goes on.
      if (this.#timer === undefined) this.#schedule(this.renewMs);
    }
  }

  async #contend(): Promise<void> {
    let entry: KvEntry | null;
    try {
      entry = await this.#kv.get(this.name);
    } catch (err) {
      this.#logger.debug({ reason: describe(err) }, 'cannot read lease');
      this.#schedule(this.renewMs);
      return;
    }
    if (this.#state !== LeaseState.Contending) return;
    // Reading after the server answered: any write we see was sent before now.
    const seenAt = this.#clock.now();
    if (entry === null || entry.operation !== 'PUT') {
      await this.#acquire(() => this.#kv.create(this.name, this.#value(0)));
      return;
    }
    const current = parseLease(this.name, entry);
    if (this.#observed === undefined || this.#observed.revision !== entry.revision) {
      // A new revision: the holder (whoever) is alive as of its write; start the count again.
      this.#observed = { revision: entry.revision, since: seenAt, leaseMs: Math.max(this.leaseMs, current?.leaseMs ?? 0) };
      this.#schedule(this.renewMs);
      return;
    }
    const expiresAt = this.#observed.since + this.#observed.leaseMs + this.safetyMs;
    if (seenAt < expiresAt) {
      this.#schedule(Math.min(this.renewMs, expiresAt - seenAt));
      return;
    }
    const revision = entry.revision;
    await this.#acquire(() => this.#kv.update(this.name, this.#value(0), revision, this.timeoutMs));
  }

  async #acquire(write: () => Promise<number>): Promise<void> {
    const sentAt = this.#clock.now();
    let revision: number;
    try {
      revision = await write();
    } catch (err) {
      // Lost the race (someone else acquired or renewed), or unreachable: keep contending.
      if (!isCasConflict(err)) this.#logger.debug({ reason: describe(err) }, 'cannot write lease');
      this.#observed = undefined;
      this.#schedule(isCasConflict(err) ? 0 : this.renewMs);
      return;
    }
    if (this.#state !== LeaseState.Contending) {
      // Stopped while the write was in flight: give it straight back.
      await this.#kv.delete(this.name, { revision }).catch(() => {});
      return;
    }
    this.#epoch = revision;
    this.#revision = revision;
    this.#observed = undefined;
    this.#state = LeaseState.Held;
    this.#validUntil = sentAt + this.leaseMs;
    if (!this.held) {
      // Paused while acquiring: already expired. Count it as held-and-lost so observers see both.
      this.#logger.warn('lease acquired but expired on arrival');
    }
    this.#logger.info({ epoch: revision }, 'lease acquired');
    this.#acquired.emit(revision);
    this.#armFence();
    this.#schedule(this.renewMs);
  }

  async #renew(): Promise<void> {
    const sentAt = this.#clock.now();
    if (sentAt >= this.#validUntil) {
      this.#fence(LostReason.Expired);
      return;
    }
    try {
      const revision = await this.#kv.update(this.name, this.#value(this.#epoch ?? 0), this.#revision, this.timeoutMs);
      if (this.#state !== LeaseState.Held) return;
      this.#revision = revision;
      const validUntil = sentAt + this.leaseMs;
      if (this.#clock.now() >= validUntil) {
        this.#fence(LostReason.Expired);
        return;
      }
      this.#validUntil = validUntil;
      this.#armFence();
    } catch (err) {
      if (this.#state !== LeaseState.Held) return;
      if (isCasConflict(err)) {
        this.#fence(LostReason.Superseded);
        return;
      }
      // Unreachable: keep trying while the lease lasts; the fence timer ends it otherwise.
      this.#logger.debug({ reason: describe(err) }, 'renewal failed');
    }
    const elapsed = this.#clock.now() - sentAt;
    this.#schedule(this.renewMs - elapsed);
  }

  #armFence(): void {
    if (this.#fenceTimer !== undefined) this.#clock.clearTimer(this.#fenceTimer);
    this.#fenceTimer = this.#clock.setTimer(
      () => {
        this.#fenceTimer = undefined;
        if (this.#state !== LeaseState.Held) return;
        if (this.#clock.now() >= this.#validUntil) this.#fence(LostReason.Expired);
        else this.#armFence();
      },
      Math.max(0, this.#validUntil - this.#clock.now()),
    );
  }

  /** Stop being the holder, now, and say so. Back to contending like anyone else. */
  #fence(reason: LostReason): void {
    if (this.#state !== LeaseState.Held) return;
    this.#state = LeaseState.Contending;
    this.#validUntil = Number.NEGATIVE_INFINITY;
    if (this.#fenceTimer !== undefined) this.#clock.clearTimer(this.#fenceTimer);
    this.#fenceTimer = undefined;
    this.#observed = undefined;
    this.#logger.warn({ epoch: this.#epoch, reason }, 'lease lost');
    this.#lost.emit(reason);
    this.#schedule(this.renewMs);
  }

  #clearTimers(): void {
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    if (this.#fenceTimer !== undefined) this.#clock.clearTimer(this.#fenceTimer);
    this.#timer = undefined;
    this.#fenceTimer = undefined;
  }

  #value(epoch: number): Uint8Array {
    return encodeJson({
      type: 'halyard.lease.v1',
      holder: this.holder,
      incarnation: this.incarnation,
      token: this.#token,
      epoch,
      leaseMs: this.leaseMs,
      at: Date.now(),
    });
  }
}
