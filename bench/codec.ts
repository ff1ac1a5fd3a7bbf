/**
 * Codec micro-benchmark: the full Halyard decode path (size + structure guard,
 * msgpackr, shape check) and encode path (body check, msgpackr) against bare
 * msgpackr `pack` / `unpack`, as hand-written nats.js + msgpackr code would do
 * it. Same payload, same process, interleaved fixed-duration loops.
 *
 * `ratio` is `opsPerSec / baselineOpsPerSec`: 1 means no overhead, 0.8 means
 * Halyard does 80% of the bare operations per second.
 */
import { pack, unpack } from 'msgpackr';
import { decodeEnvelope, type Envelope, encodeEnvelope } from '../src/services/remote/envelope.js';

export interface CodecBenchResult {
  name: string;
  opsPerSec: number;
  baselineOpsPerSec: number;
  ratio: number;
}

/** A typical ask: about 128 bytes on the wire. */
const ENVELOPE: Envelope = {
  v: 1,
  k: 'ask',
  s: 'node-a.client.7f3a',
  t: 'orders.shard-12',
  c: 'c-00000042',
  b: { type: 'order.place', sku: 'ABC-123', qty: 3, price: 19.99, tags: ['new'] },
  e: 7,
};

let sink: unknown;

function opsPerSec(fn: () => void, ms: number): number {
  const batch = 1000;
  const start = performance.now();
  let ops = 0;
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < batch; i++) fn();
    ops += batch;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

/**
 * Runs each case and its baseline in alternating halves (warm-up first) so
 * that JIT state and thermal drift hit both sides alike. About 1 s per side.
 */
function compare(name: string, ours: () => void, baseline: () => void, ms: number): CodecBenchResult {
  opsPerSec(ours, 100);
  opsPerSec(baseline, 100);
  const a1 = opsPerSec(ours, ms / 2);
  const b1 = opsPerSec(baseline, ms / 2);
  const b2 = opsPerSec(baseline, ms / 2);
  const a2 = opsPerSec(ours, ms / 2);
  const a = (a1 + a2) / 2;
  const b = (b1 + b2) / 2;
  return { name, opsPerSec: Math.round(a), baselineOpsPerSec: Math.round(b), ratio: Math.round((a / b) * 1000) / 1000 };
}

export async function benchCodec(durationMs = 1000): Promise<CodecBenchResult[]> {
  // NATS hands subscribers a plain Uint8Array, not a Buffer.
  const frame = new Uint8Array(encodeEnvelope(ENVELOPE));
  const bare = new Uint8Array(pack(ENVELOPE));
  const results = [
    compare(
      `encode (${frame.length} B)`,
      () => {
        sink = encodeEnvelope(ENVELOPE);
      },
      () => {
        sink = pack(ENVELOPE);
      },
      durationMs,
    ),
    compare(
      'decode: guard + unpack + shape',
      () => {
        sink = decodeEnvelope(frame);
      },
      () => {
        sink = unpack(bare);
      },
      durationMs,
    ),
    compare(
      'round trip',
      () => {
        sink = decodeEnvelope(encodeEnvelope(ENVELOPE));
      },
      () => {
        sink = unpack(pack(ENVELOPE));
      },
      durationMs,
    ),
  ];
  if (sink === undefined) throw new Error('unreachable');
  return results;
}
