/**
 * SWIM probes of a suspect, for membership's failure detector (Membership.ts).
 *
 * A round pings the suspect directly on `<prefix>.cluster.ping.<node>` and
 * asks up to `indirectProbes` helpers (other `up` members, picked at random)
 * to ping it on our behalf on `<prefix>.cluster.probe.<helper>` (SWIM's
 * ping-req). The round ends when every request has answered or timed out:
 * - `acked`: a pong of the suspect's incarnation came back, directly or
 *   through a helper; the suspect is heard from at once.
 * - `nacks`: confirmations of silence, each a helper's explicit nack or the
 *   server's "no responders" for the suspect's ping subject (its connection
 *   is gone). A helper that does not answer confirms nothing: perhaps we are
 *   the cut-off one.
 *
 * The membership decides what a finished round means (a `down` verdict needs
 * silence of `downAfterMs`, no ack, and a nack or no helper available).
 * Helpers answer requests with {@link Probes.answer}.
 */
import { NoRespondersError } from '../../errors.js';
import type { Transport } from '../../transport/Transport.js';
import type { ClusterSubjects } from './subjects.js';
import { pickHelpers } from './view.js';
import { decodePong, decodeProbeRequest, decodeProbeResult, ping, probeRequest, probeResult } from './wire.js';

export interface ProbeRound {
  done: boolean;
  acked: boolean;
  /** Confirmations of silence: helper nacks, or "no responders" for the suspect's ping subject. */
  nacks: number;
  helpers: number;
}

export interface ProbesDeps {
  readonly node: string;
  readonly transport: Transport;
  readonly subjects: ClusterSubjects;
  /** Deadline of one probe request, ms. */
  readonly timeoutMs: number;
  readonly indirectProbes: number;
  /** A sign of life from `node` at `incarnation` (a pong came back). */
  readonly heard: (node: string, incarnation: number) => void;
  readonly stopped: () => boolean;
  /** Publish without throwing (a closed transport is logged by the caller's publish). */
  readonly publish: (subject: string, data: Uint8Array) => void;
}

export class Probes {
  readonly #d: ProbesDeps;

  constructor(deps: ProbesDeps) {
    this.#d = deps;
  }

  /** Start a round on `target`; `live` are the members that may help (self and target are left out). */
  start(target: { readonly node: string; readonly incarnation: number }, live: Iterable<string>): ProbeRound {
    const { node, incarnation } = target;
    const { subjects, heard } = this.#d;
    const round: ProbeRound = { done: false, acked: false, nacks: 0, helpers: 0 };
    const helpers = pickHelpers(live, this.#d.node, node, this.#d.indirectProbes);
    round.helpers = helpers.length;
    const timeout = this.#d.timeoutMs;
    const tasks: Promise<unknown>[] = [
      this.#request(subjects.ping(node), ping(this.#d.node), timeout).then(
        (data) => {
          const p = decodePong(data);
          if (p?.node === node && p.incarnation === incarnation) {
            round.acked = true;
            heard(node, incarnation);
          }
        },
        (err: unknown) => {
          // The server knows nobody listening on the suspect's ping subject: its connection is gone.
          if (err instanceof NoRespondersError) round.nacks++;
        },
      ),
    ];
    for (const helper of helpers) {
      tasks.push(
        this.#request(subjects.probe(helper), probeRequest(this.#d.node, node, incarnation, Math.floor(timeout * 0.7)), timeout).then(
          (data) => {
            const r = decodeProbeResult(data);
            if (r?.target !== node) return;
            if (r.ack) {
              round.acked = true;
              heard(node, incarnation);
            } else {
              round.nacks++;
            }
          },
          () => {},
        ),
      );
    }
    void Promise.allSettled(tasks).then(() => {
      round.done = true;
    });
    return round;
  }

  /** Answer a helper request: ping the target on the asker's behalf. */
  async answer(data: Uint8Array, reply: string | undefined): Promise<void> {
    const req = decodeProbeRequest(data);
    if (req === undefined || reply === undefined || this.#d.stopped()) return;
    let ack = false;
    try {
      const p = decodePong(await this.#request(this.#d.subjects.ping(req.target), ping(this.#d.node), Math.min(req.timeoutMs, this.#d.timeoutMs)));
      ack = p?.node === req.target && p.incarnation === req.incarnation;
      if (ack) this.#d.heard(req.target, req.incarnation);
    } catch {
      // No pong: a nack.
    }
    if (!this.#d.stopped()) this.#d.publish(reply, probeResult(req.target, ack));
  }

  async #request(subject: string, data: Uint8Array, timeout: number): Promise<Uint8Array> {
    const msg = await this.#d.transport.request(subject, data, { timeout });
    if (msg.noResponders) throw new NoRespondersError(subject);
    return msg.data;
  }
}
