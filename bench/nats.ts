/**
 * NATS cases: two Halyard nodes in this process, each on its own connection
 * to a real nats-server on loopback, against the same traffic written by hand
 * with `@nats-io/transport-node` + msgpackr (`Packr({ useRecords: false })`)
 * and a bare XState actor on the receiving side.
 *
 * | case                         | Halyard                                       | baseline                                      | target |
 * |------------------------------|-----------------------------------------------|-----------------------------------------------|--------|
 * | tell, 128 B frame            | `a.ref('sink').tell(ev)`, sink on node b      | `pack(ev)` → publish; sub: `unpack` → `send`  | >= 0.8 |
 * | tell vs raw pub/sub          | the same Halyard figure                       | publish fixed bytes; the sub only counts      | none   |
 * | ask, 64 in flight            | `a.ref('sink').ask(GET)`                      | one inbox sub + correlation map + timer; responder `unpack` → `send`, the machine publishes `pack(n)` | >= 0.8 |
 * | ask, 64 in flight, vs no timers | the same Halyard figure                    | the same, with no deadline timer at all (issue 7's leanest baseline) | >= 0.8 |
 * | ask, one at a time, p50, p99 | the same, sequential                          | the same hand-written request/reply           | <= 1.1 |
 *
 * Both nodes, both baseline connections and the receiving actors live in
 * this one process, so a throughput figure is the CPU cost of sending plus
 * receiving, per message, on one thread (nats-server runs beside it).
 *
 * Tell throughput is end to end: the time until the receiving actor has
 * processed all M messages. The producer yields every 1024 messages and keeps
 * at most {@link WINDOW} messages unprocessed (it waits on the receiver's
 * count), so what is measured is delivery, not the client's write buffer.
 *
 * The hand-written requester arms a deadline timer per request, as any
 * request/reply must (and as `nc.request()` does); it does not use
 * `nc.request()`, which builds an Error per call. Halyard shares one timer
 * among all asks in flight (RequestMux), so issue 7 also asks for the ratio
 * against the leanest request/reply, which has no deadline timer at all: the
 * `vs no timers` row, measured in the same interleaved rounds.
 *
 * Latency: the two sides alternate ask by ask within each round (ABBA), and
 * the percentiles are taken over all rounds' samples; the table's `rounds`
 * column shows the per-round percentile ratios.
 */
import { connect, createInbox, type Msg as NatsMsg, type NatsConnection } from '@nats-io/transport-node';
import { Packr } from 'msgpackr';
import { type AnyEventObject, type Actor, createActor, type EventFromLogic } from 'xstate';
import { startNatsServer } from '../spec/support/natsServer.js';
import { createNode, type Node } from '../src/index.js';
import { encodeEnvelope } from '../src/services/remote/envelope.js';
import {
  type BenchOptions,
  type BenchResult,
  interleave,
  pairedResult,
  percentile,
  pooledResult,
  progress,
  selected,
  yieldToLoop,
} from './harness.js';
import { bareSink, halyardSink, Probe } from './machines.js';

const GROUP = 'nats';

/** Most messages a producer lets run ahead of the receiver's count (a multiple of 1024). */
const WINDOW = 16 * 1024;
/** Ask deadline on both sides, ms. */
const ASK_TIMEOUT = 5000;
/** Wire size the tell case aims at for Halyard's frame. */
const FRAME_BYTES = 128;

const CASES = {
  tell: 'tell, 128 B frame',
  tellRaw: 'tell vs raw pub/sub (no decode, no actor)',
  ask64: 'ask, 64 in flight',
  ask64NoTimer: 'ask, 64 in flight, vs no timers',
  askP50: 'ask, one at a time, p50',
  askP99: 'ask, one at a time, p99',
} as const;

interface Sizes {
  readonly rounds: number;
  readonly tells: number;
  readonly asks: number;
  readonly sequentialAsks: number;
}

function sizes(quick: boolean): Sizes {
  return quick
    ? { rounds: 3, tells: 32 * 1024, asks: 8 * 1024, sequentialAsks: 1000 }
    : { rounds: 9, tells: 128 * 1024, asks: 32 * 1024, sequentialAsks: 3000 };
}

type SinkEvent = EventFromLogic<typeof halyardSink>;
type TellEvent = { type: 'ADD'; by: number; seq: number; pad: string };

/** A pad that makes Halyard's tell frame {@link FRAME_BYTES} long (msgpack string headers change size at 32 bytes). */
function padForFrame(): string {
  for (let len = 0; len < FRAME_BYTES; len++) {
    const pad = 'x'.repeat(len);
    const frame = encodeEnvelope({ v: 1, k: 'tell', t: 'sink', b: { type: 'ADD', by: 1, seq: 100_000, pad } });
    if (frame.length >= FRAME_BYTES) return pad;
  }
  return '';
}

/**
 * Sends `count` messages with `send(i)`, yielding every 1024 and never more
 * than WINDOW ahead of `probe`; resolves when the receiver has them all.
 * Returns messages per second.
 */
async function pump(count: number, probe: Probe, send: (i: number) => void): Promise<number> {
  const base = probe.n;
  const start = performance.now();
  for (let i = 1; i <= count; i++) {
    send(i);
    if ((i & 1023) === 0) {
      await yieldToLoop();
      if (i - (probe.n - base) > WINDOW) await probe.wait(base + i - WINDOW);
    }
  }
  await probe.wait(base + count);
  return (count * 1000) / (performance.now() - start);
}

/** Runs `count` asks with `concurrency` in flight. Returns asks per second. */
async function askMany(count: number, concurrency: number, ask: () => Promise<unknown>): Promise<number> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await ask();
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return (count * 1000) / (performance.now() - start);
}

async function timed(ask: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await ask();
  return (performance.now() - start) * 1000;
}

/**
 * Latency of `count` asks per side, one at a time, in microseconds. The two
 * sides alternate ask by ask (ABBA), so a burst of load from elsewhere on the
 * machine lands on both: round-level interleaving is too coarse for tails.
 */
async function askLatencyPaired(
  count: number,
  baseline: () => Promise<unknown>,
  halyard: () => Promise<unknown>,
): Promise<{ baseline: number[]; halyard: number[] }> {
  const b: number[] = new Array(count);
  const h: number[] = new Array(count);
  for (let i = 0; i < count; i++) {
    if ((i & 1) === 0) {
      b[i] = await timed(baseline);
      h[i] = await timed(halyard);
    } else {
      h[i] = await timed(halyard);
      b[i] = await timed(baseline);
    }
  }
  return { baseline: b, halyard: h };
}

// ─── The hand-written baseline ───────────────────────────────────────────────

interface PendingAsk {
  readonly resolve: (value: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Request/reply by hand: one inbox subscription, a correlation map, and a
 * deadline timer per request unless `timers` is false (then a request nobody
 * answers waits forever: fine for a baseline, not for a runtime).
 */
class HandRequester {
  readonly #nc: NatsConnection;
  readonly #packr: Packr;
  readonly #prefix: string;
  readonly #timers: boolean;
  readonly #pending = new Map<string, PendingAsk>();
  #seq = 0;

  constructor(nc: NatsConnection, packr: Packr, timers = true) {
    this.#nc = nc;
    this.#packr = packr;
    this.#timers = timers;
    this.#prefix = `${createInbox()}.`;
    const skip = this.#prefix.length;
    nc.subscribe(`${this.#prefix}*`, {
      callback: (err, m) => {
        if (err !== null) return;
        const token = m.subject.slice(skip);
        const p = this.#pending.get(token);
        if (p === undefined) return;
        this.#pending.delete(token);
        if (p.timer !== undefined) clearTimeout(p.timer);
        p.resolve(this.#packr.unpack(m.data));
      },
    });
  }

  request(subject: string, event: AnyEventObject): Promise<unknown> {
    const token = (++this.#seq).toString(36);
    const data = this.#packr.pack(event);
    return new Promise((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      if (this.#timers) {
        timer = setTimeout(() => {
          if (this.#pending.delete(token)) reject(new Error(`ask ${subject} timed out`));
        }, ASK_TIMEOUT);
        timer.unref();
      }
      this.#pending.set(token, { resolve, timer });
      this.#nc.publish(subject, data, { reply: this.#prefix + token });
    });
  }
}

interface Baseline {
  readonly sender: NatsConnection;
  readonly receiver: NatsConnection;
  readonly probe: Probe;
  readonly rawProbe: Probe;
  readonly requester: HandRequester;
  /** The same, without deadline timers. */
  readonly lean: HandRequester;
  readonly actor: Actor<ReturnType<typeof bareSink>>;
  readonly packr: Packr;
  readonly tellSubject: string;
  readonly rawSubject: string;
  readonly askSubject: string;
}

async function openBaseline(servers: string, prefix: string): Promise<Baseline> {
  const packr = new Packr({ useRecords: false });
  const sender = await connect({ servers, name: 'bench-bare-sender' });
  const receiver = await connect({ servers, name: 'bench-bare-receiver' });
  const probe = new Probe();
  const rawProbe = new Probe();
  const replyTo = Symbol('replyTo');
  type Asked = AnyEventObject & { [replyTo]?: string };
  const actor = createActor(
    bareSink((event, n) => {
      const to = (event as Asked)[replyTo];
      if (to !== undefined) receiver.publish(to, packr.pack(n));
    }),
    { input: { probe } },
  ).start();
  const tellSubject = `${prefix}.bare.tell`;
  const rawSubject = `${prefix}.bare.raw`;
  const askSubject = `${prefix}.bare.ask`;
  receiver.subscribe(tellSubject, {
    callback: (err, m: NatsMsg) => {
      if (err === null) actor.send(packr.unpack(m.data) as SinkEvent);
    },
  });
  let raw = 0;
  receiver.subscribe(rawSubject, {
    callback: (err) => {
      if (err === null && (++raw & 1023) === 0) rawProbe.notify(raw);
    },
  });
  receiver.subscribe(askSubject, {
    callback: (err, m: NatsMsg) => {
      if (err !== null) return;
      const event = packr.unpack(m.data) as Asked;
      event[replyTo] = m.reply;
      actor.send(event as SinkEvent);
    },
  });
  const requester = new HandRequester(sender, packr);
  const lean = new HandRequester(sender, packr, false);
  await receiver.flush();
  await sender.flush();
  return { sender, receiver, probe, rawProbe, requester, lean, actor, packr, tellSubject, rawSubject, askSubject };
}

// ─── Cases ───────────────────────────────────────────────────────────────────

export async function benchNats(options: BenchOptions): Promise<BenchResult[]> {
  const wanted = Object.values(CASES).filter((name) => selected(options, GROUP, name));
  if (wanted.length === 0) return [];
  const { rounds, tells, asks, sequentialAsks } = sizes(options.quick);
  const results: BenchResult[] = [];

  progress('nats: starting nats-server');
  const server = await startNatsServer();
  const prefix = `bench${process.pid}`;
  let a: Node | undefined;
  let b: Node | undefined;
  let bare: Baseline | undefined;
  try {
    const transport = { kind: 'nats', servers: server.url } as const;
    a = await createNode({ name: 'bench-a', transport, prefix });
    b = await createNode({ name: 'bench-b', transport, prefix });
    const probe = new Probe();
    b.spawn(halyardSink, { name: 'sink', input: { probe } });
    await b.flush();
    const sink = a.ref('sink');
    const sinkCell = b.whereis('sink')!;
    bare = await openBaseline(server.url, prefix);
    const base = bare;

    const pad = padForFrame();
    const sample: TellEvent = { type: 'ADD', by: 1, seq: 100_000, pad };
    const frameBytes = encodeEnvelope({ v: 1, k: 'tell', t: 'sink', b: sample }).length;
    const bareBytes = base.packr.pack(sample).length;
    const rawBytes = new Uint8Array(base.packr.pack(sample));

    if (selected(options, GROUP, CASES.tell) || selected(options, GROUP, CASES.tellRaw)) {
      progress(`nats tell: ${tells} messages x ${rounds} rounds (Halyard frame ${frameBytes} B, bare ${bareBytes} B)`);
      const deadBefore = b.deadLetters.total;
      const r = await interleave('nats tell', {
        baseline: () =>
          pump(tells, base.probe, (i) => {
            base.sender.publish(base.tellSubject, base.packr.pack({ type: 'ADD', by: 1, seq: i, pad }));
          }),
        raw: () =>
          pump(tells, base.rawProbe, () => {
            base.sender.publish(base.rawSubject, rawBytes);
          }),
        halyard: () =>
          pump(tells, probe, (i) => {
            sink.tell({ type: 'ADD', by: 1, seq: i, pad });
          }),
      }, rounds);
      const dead = b.deadLetters.total - deadBefore;
      if (dead > 0) progress(`  WARNING: ${dead} dead letters on the receiving node: the Halyard figure is not valid`);
      if (frameBytes !== FRAME_BYTES) progress(`  note: Halyard's frame is ${frameBytes} B, not ${FRAME_BYTES} B`);
      if (selected(options, GROUP, CASES.tell)) {
        const baseline = `nats.js pub/sub + msgpackr (${bareBytes} B) + bare XState`;
        results.push(pairedResult(GROUP, CASES.tell, 'msg/s', baseline, r.halyard, r.baseline, { op: '>=', ratio: 0.8 }));
      }
      if (selected(options, GROUP, CASES.tellRaw)) {
        results.push(pairedResult(GROUP, CASES.tellRaw, 'msg/s', 'nats.js raw pub/sub, bytes only', r.halyard, r.raw, undefined));
      }
    }

    if (selected(options, GROUP, CASES.ask64) || selected(options, GROUP, CASES.ask64NoTimer)) {
      progress(`nats ask 64 in flight: ${asks} asks x ${rounds} rounds`);
      const r = await interleave('nats ask x64', {
        baseline: () => askMany(asks, 64, () => base.requester.request(base.askSubject, { type: 'GET' })),
        lean: () => askMany(asks, 64, () => base.lean.request(base.askSubject, { type: 'GET' })),
        halyard: () => askMany(asks, 64, () => sink.ask({ type: 'GET' }, { timeout: ASK_TIMEOUT })),
      }, rounds);
      if (selected(options, GROUP, CASES.ask64)) {
        results.push(pairedResult(GROUP, CASES.ask64, 'ask/s', 'hand-written request/reply + bare XState', r.halyard, r.baseline, { op: '>=', ratio: 0.8 }));
      }
      if (selected(options, GROUP, CASES.ask64NoTimer)) {
        const baseline = 'hand-written request/reply, no deadline timers, + bare XState';
        results.push(pairedResult(GROUP, CASES.ask64NoTimer, 'ask/s', baseline, r.halyard, r.lean, { op: '>=', ratio: 0.8 }));
      }
    }

    if (selected(options, GROUP, CASES.askP50) || selected(options, GROUP, CASES.askP99)) {
      progress(`nats ask one at a time: ${sequentialAsks} asks x ${rounds} rounds`);
      const r = await interleave('nats ask x1', {
        paired: () =>
          askLatencyPaired(
            sequentialAsks,
            () => base.requester.request(base.askSubject, { type: 'GET' }),
            () => sink.ask({ type: 'GET' }, { timeout: ASK_TIMEOUT }),
          ),
      }, rounds);
      const ours = r.paired.flatMap((p) => p.halyard);
      const theirs = r.paired.flatMap((p) => p.baseline);
      const baseline = 'hand-written request/reply + bare XState';
      for (const [name, p] of [[CASES.askP50, 50], [CASES.askP99, 99]] as const) {
        if (!selected(options, GROUP, name)) continue;
        const perRound = r.paired.map((x) => percentile(x.halyard, p) / percentile(x.baseline, p));
        results.push(pooledResult(GROUP, name, 'µs', baseline, percentile(ours, p), percentile(theirs, p), { op: '<=', ratio: 1.1 }, perRound));
      }
    }
    if (sinkCell.lifecycle !== 'running') progress(`  WARNING: the Halyard sink is ${sinkCell.lifecycle}`);
  } finally {
    await a?.shutdown();
    await b?.shutdown();
    if (bare !== undefined) {
      bare.actor.stop();
      await bare.sender.close();
      await bare.receiver.close();
    }
    await server.stop();
    progress('nats: server stopped');
  }
  return results;
}
