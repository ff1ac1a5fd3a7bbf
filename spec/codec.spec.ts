import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  DecodeReason,
  EncodeError,
  ErrorCode,
  FrameTooDeepError,
  FrameTooLargeError,
  InvalidArgumentError,
  RemoteError,
  TimeoutError,
  toWireError,
  fromWireError,
  type WireError,
} from '../src/errors.js';
import {
  decodeBody,
  decodeEnvelope,
  type Envelope,
  EnvelopeKind,
  encodeBody,
  encodeEnvelope,
  isEnvelopeKind,
} from '../src/services/remote/envelope.js';
import { type CodecLimits, DEFAULT_LIMITS, guardFrame } from '../src/services/remote/frameGuard.js';
import { decodeJsonBody, encodeJson } from '../src/services/remote/json.js';

// ─── helpers ─────────────────────────────────────────────────────────────────

/** Bytes from spaced hex, e.g. `hex('81 a1 61 01')`. */
function hex(s: string): Uint8Array {
  return Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function repeat(byte: number, n: number, tail: number[] = []): Uint8Array {
  const out = new Uint8Array(n + tail.length).fill(byte, 0, n);
  out.set(tail, n);
  return out;
}

/** The error `fn` throws (fails the test if it returns). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

function decodeReason(fn: () => unknown): string {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(DecodeError);
  return (err as DecodeError).reason;
}

function encodeMessage(fn: () => unknown): string {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(EncodeError);
  return (err as EncodeError).message;
}

const KINDS = Object.values(EnvelopeKind);

/** What a body looks like after a round trip (module TSDoc, "Bodies"); applied to both sides. */
function normalise(v: unknown): unknown {
  if (v === undefined) return null;
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : v;
  if (typeof v !== 'object' || v === null) return v;
  if (v instanceof Uint8Array) return { bin: Array.from(v) };
  if (v instanceof Date) return { date: v.getTime() };
  if (Array.isArray(v)) return Array.from(v, normalise);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(v)) {
    const value = (v as Record<string, unknown>)[key];
    if (value !== undefined) out[key] = normalise(value);
  }
  return out;
}

/** Whether `v` holds an own `__proto__` key anywhere (fast-check generates them; the encoder refuses them). */
function hasProtoKey(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array || v instanceof Date) return false;
  if (Object.hasOwn(v, '__proto__')) return true;
  return Object.values(v).some(hasProtoKey);
}

/** Checks what decodeEnvelope promises about its result. */
function expectValidEnvelope(env: Envelope): void {
  expect(env.v).toBe(1);
  expect(isEnvelopeKind(env.k)).toBe(true);
  expect(typeof env.t).toBe('string');
  if (env.s !== undefined) expect(typeof env.s).toBe('string');
  if (env.c !== undefined) expect(typeof env.c).toBe('string');
  if (env.e !== undefined) expect(Number.isSafeInteger(env.e) && env.e >= 0).toBe(true);
  if (env.k === 'error') {
    const b = env.b as Record<string, unknown>;
    expect([typeof b.name, typeof b.message, typeof b.code]).toEqual(['string', 'string', 'string']);
  }
}

/** decodeEnvelope must return a valid envelope or throw a DecodeError: nothing else. */
function decodeOrDecodeError(bytes: Uint8Array, limits: CodecLimits = DEFAULT_LIMITS): void {
  let env: Envelope;
  try {
    env = decodeEnvelope(bytes, limits);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    return;
  }
  expectValidEnvelope(env);
}

// ─── round trips ─────────────────────────────────────────────────────────────

describe('codec - round trips', () => {
  const samples: Record<EnvelopeKind, Envelope> = {
    tell: { v: 1, k: 'tell', s: 'node-a.client', t: 'counter', b: { type: 'inc', by: 2 } },
    ask: { v: 1, k: 'ask', s: 'node-a.client', t: 'counter', c: 'c1', b: { type: 'get' }, e: 3 },
    reply: { v: 1, k: 'reply', t: '', c: 'c1', b: [1, 'two', { three: 3 }] },
    error: { v: 1, k: 'error', t: '', c: 'c1', b: { name: 'TimeoutError', message: 'late', code: ErrorCode.Timeout } },
    check: { v: 1, k: 'check', t: 'counter', c: 'c2', b: { level: 10 } },
    status: { v: 1, k: 'status', t: '', c: 'c2', b: { code: 0, label: 'OCF_SUCCESS', mailbox: { depth: 0 } } },
  };

  it.each(KINDS)('codec - %s envelope round trips', (kind) => {
    const env = samples[kind];
    expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
  });

  it('codec - minimal envelopes (no s, c, b, e) round trip', () => {
    for (const k of ['tell', 'ask', 'reply', 'check', 'status'] as const) {
      const decoded = decodeEnvelope(encodeEnvelope({ v: 1, k, t: 'x' }));
      expect(decoded).toEqual({ v: 1, k, t: 'x' });
      expect(Object.keys(decoded)).toEqual(['v', 'k', 't']);
    }
  });

  it('codec - keys are written in a fixed order and unknown keys are dropped', () => {
    const env = { e: 1, b: 2, c: 'c', t: 't', s: 's', k: 'tell', v: 1, extra: 'no' } as unknown as Envelope;
    expect(Object.keys(decodeEnvelope(encodeEnvelope(env)))).toEqual(['v', 'k', 's', 't', 'c', 'b', 'e']);
  });

  it('codec - an Error instance as error body arrives as a plain WireError', () => {
    const err = new TimeoutError('orders', 50);
    const decoded = decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', c: 'c9', b: err }));
    expect(Object.getPrototypeOf(decoded.b)).toBe(Object.prototype);
    expect(decoded.b).toEqual({ name: 'TimeoutError', message: err.message, code: ErrorCode.Timeout });
    expect(decoded.b).toEqual(toWireError(err));
  });

  it('codec - an error from the wire is always a RemoteError that keeps the remote code and class name', () => {
    const decoded = decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', b: new TimeoutError('orders', 50) }));
    const back = fromWireError(decoded.b as WireError);
    expect(back).toBeInstanceOf(RemoteError);
    expect(back).not.toBeInstanceOf(TimeoutError);
    expect(back.code).toBe(ErrorCode.Timeout);
    expect(back.remoteName).toBe('TimeoutError');
  });

  it('codec - other error bodies go through toWireError (field kept, thrown strings wrapped)', () => {
    const field = decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', b: new InvalidArgumentError('level', 'bad') }));
    expect(field.b).toEqual({ name: 'InvalidArgumentError', message: 'invalid argument: level: bad', code: ErrorCode.InvalidArgument, field: 'level' });
    const plain = new RangeError('out');
    expect(decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', b: plain })).b).toEqual({ name: 'RangeError', message: 'out', code: ErrorCode.Remote });
    expect(decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', b: 'boom' })).b).toEqual({ name: 'Error', message: 'boom', code: ErrorCode.Remote });
    const extra = { name: 'E', message: 'm', code: 'C', stack: 'at secret.ts:1', cause: { deep: 1 } };
    expect(decodeEnvelope(encodeEnvelope({ v: 1, k: 'error', t: '', b: extra })).b).toEqual({ name: 'E', message: 'm', code: 'C' });
  });

  it('codec - undefined follows JSON: dropped from objects, null in arrays, no fixext 0 on the wire', () => {
    const frame = encodeEnvelope({ v: 1, k: 'tell', t: 'x', b: { a: undefined, list: [undefined, 1], c: 1 } });
    const decoded = decodeEnvelope(frame);
    expect(decoded.b).toEqual({ list: [null, 1], c: 1 });
    expect(Object.hasOwn(decoded.b as object, 'a')).toBe(false);
    expect(toHex(frame)).not.toContain('d40000');
    // A body that is undefined is absent.
    expect(Object.hasOwn(decodeEnvelope(encodeEnvelope({ v: 1, k: 'reply', t: '', b: undefined })), 'b')).toBe(false);
  });

  it('codec - bigint, Date, Uint8Array, NaN and -0 survive as documented', () => {
    const body = { big: 2n ** 63n, neg: -(2n ** 63n), small: 5n, at: new Date(1_700_000_000_123), bytes: new Uint8Array([1, 2, 3]), nan: Number.NaN, negZero: -0 };
    const b = decodeEnvelope(encodeEnvelope({ v: 1, k: 'tell', t: 'x', b: body })).b as Record<string, unknown>;
    expect(b.big).toBe(2n ** 63n);
    expect(b.neg).toBe(-(2n ** 63n));
    expect(b.small).toBe(5n);
    expect(b.at).toEqual(body.at);
    expect(b.bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(b.bytes as Uint8Array)).toEqual([1, 2, 3]);
    expect(b.nan).toBeNaN();
    expect(Object.is(b.negZero, 0)).toBe(true);
  });

  it('codec - decoded bin does not share memory with the frame', () => {
    const frame = new Uint8Array(encodeEnvelope({ v: 1, k: 'tell', t: 'x', b: new Uint8Array([7, 7]) }));
    const bin = decodeEnvelope(frame).b as Uint8Array;
    frame.fill(0);
    expect(Array.from(bin)).toEqual([7, 7]);
  });

  it('codec - reads a frame written by another MessagePack client (fixmap, compact ints)', () => {
    // {"v":1,"k":"tell","t":"foo","b":{"x":1}} as Python's msgpack.packb writes it.
    const frame = hex('84 a1 76 01 a1 6b a4 74656c6c a1 74 a3 666f6f a1 62 81 a1 78 01');
    expect(decodeEnvelope(frame)).toEqual({ v: 1, k: 'tell', t: 'foo', b: { x: 1 } });
  });

  it('codec - bare bodies round trip through encodeBody / decodeBody', () => {
    for (const v of [null, true, 0, -1, 1.5, 'x', [], {}, [1, [2, [3]]], { a: { b: 'c' } }]) {
      expect(decodeBody(encodeBody(v))).toEqual(v);
    }
    expect(decodeBody(encodeBody(undefined))).toBeNull();
  });
});

// ─── encode errors ───────────────────────────────────────────────────────────

describe('codec - encode errors', () => {
  const tell = (b: unknown): Envelope => ({ v: 1, k: 'tell', t: 'x', b });

  class Point {
    constructor(readonly x: number) {}
  }
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;

  // What msgpackr 2.1 would do without the body check is in the comment.
  const cases: [string, unknown, string][] = [
    ['function (msgpackr: silently undefined)', { f: () => 1 }, 'env.b.f: function'],
    ['symbol (msgpackr: plain Error)', [1, Symbol('s')], 'env.b[1]: symbol'],
    ['Map (msgpackr: becomes an object)', { m: new Map([[1, 2]]) }, 'env.b.m: Map'],
    ['Set (msgpackr: becomes an array)', new Set([1]), 'env.b: Set'],
    ['Error (msgpackr: [name, message, cause])', { e: new Error('x') }, 'env.b.e: Error'],
    ['RegExp (msgpackr: [source, flags])', /x/g, 'env.b: RegExp'],
    ['class instance (msgpackr: own fields only)', { p: new Point(1) }, 'env.b.p: Point instance'],
    ['boxed number (msgpackr: {})', [new Number(1)], 'env.b[0]: Number instance'],
    ['Float64Array (msgpackr: stale bytes)', { f: new Float64Array([1.5]) }, 'env.b.f: Float64Array'],
    ['DataView (msgpackr: empty bin)', new DataView(new ArrayBuffer(4)), 'env.b: DataView'],
    ['ArrayBuffer (msgpackr: arrives as a Buffer)', [new ArrayBuffer(2)], 'env.b[0]: ArrayBuffer is not portable'],
    ['cycle (msgpackr: stack overflow)', cyclic, 'env.b.self.self'],
    ['bigint above 2^64 (msgpackr: RangeError)', 2n ** 64n, 'env.b: bigint'],
    ['bigint below -2^63', -(2n ** 63n) - 1n, 'env.b: bigint'],
    ['lone surrogate (msgpackr: invalid UTF-8 or U+FFFD)', { s: 'a\ud800' }, 'env.b.s: string with a lone surrogate'],
    ['lone surrogate in a key', { '\udc00': 1 }, 'key with a lone surrogate'],
    ['__proto__ key (msgpackr: renamed __proto_)', JSON.parse('{"ok":{"__proto__":1}}'), 'env.b.ok.__proto__: the key "__proto__"'],
  ];

  it.each(cases)('codec - %s is an EncodeError naming the path', (_name, body, expected) => {
    expect(encodeMessage(() => encodeEnvelope(tell(body)))).toContain(expected);
  });

  it('codec - an odd key is quoted in the path', () => {
    expect(encodeMessage(() => encodeEnvelope(tell({ 'a b': [0, { c: () => 1 }] })))).toContain('env.b["a b"][1].c: function');
  });

  it('codec - a throwing getter is an EncodeError with the cause', () => {
    const boom = new Error('getter');
    const err = thrown(() =>
      encodeEnvelope(
        tell({
          get x(): number {
            throw boom;
          },
        }),
      ),
    );
    expect(err).toBeInstanceOf(EncodeError);
    expect((err as EncodeError).cause).toBe(boom);
  });

  it('codec - the body may open maxDepth - 1 containers (the envelope is the first)', () => {
    const limits = { maxBytes: 1024, maxDepth: 5 };
    const nest = (n: number): unknown => (n === 0 ? 0 : [nest(n - 1)]);
    const frame = encodeEnvelope(tell(nest(4)), limits);
    expect(() => guardFrame(frame, limits)).not.toThrow();
    expect(decodeEnvelope(frame, limits).b).toEqual(nest(4));
    expect(encodeMessage(() => encodeEnvelope(tell(nest(5)), limits))).toContain('maxDepth');
    expect(encodeMessage(() => encodeEnvelope(tell({ a: { b: { c: { d: {} } } } }), limits))).toContain('env.b.a.b.c.d');
  });

  it('codec - a frame over maxBytes is an EncodeError', () => {
    expect(encodeMessage(() => encodeEnvelope(tell('x'.repeat(100)), { maxBytes: 64, maxDepth: 32 }))).toContain('exceeds the limit of 64');
  });

  it('codec - malformed envelope fields are EncodeErrors naming the field', () => {
    const bad = (env: Record<string, unknown>) => encodeMessage(() => encodeEnvelope(env as unknown as Envelope));
    expect(bad({ v: 2, k: 'tell', t: 'x' })).toContain('env.v');
    expect(bad({ v: 1, k: 'shout', t: 'x' })).toContain('env.k');
    expect(bad({ v: 1, k: 'tell' })).toContain('env.t');
    expect(bad({ v: 1, k: 'tell', t: 'x', s: 1 })).toContain('env.s');
    expect(bad({ v: 1, k: 'tell', t: 'x', c: 1 })).toContain('env.c');
    expect(bad({ v: 1, k: 'tell', t: 'x', e: -1 })).toContain('env.e');
    expect(bad({ v: 1, k: 'tell', t: 'x', e: 1.5 })).toContain('env.e');
    expect(bad({ v: 1, k: 'check', t: 'x', b: [10] })).toContain('env.b');
    expect(encodeMessage(() => encodeEnvelope(null as unknown as Envelope))).toContain('env');
  });
});

// ─── frame guard ─────────────────────────────────────────────────────────────

describe('codec - frame guard', () => {
  // Every MessagePack format, with what msgpackr makes of it.
  const formats: [string, string, unknown][] = [
    ['positive fixint', '7f', 127],
    ['negative fixint', 'e0', -32],
    ['fixmap', '81 a1 61 01', { a: 1 }],
    ['empty fixmap', '80', {}],
    ['fixarray', '92 01 02', [1, 2]],
    ['empty fixarray', '90', []],
    ['fixstr', 'a3 616263', 'abc'],
    ['empty fixstr', 'a0', ''],
    ['nil', 'c0', null],
    ['false', 'c2', false],
    ['true', 'c3', true],
    ['bin 8', 'c4 02 0102', new Uint8Array([1, 2])],
    ['bin 16', 'c5 0002 0102', new Uint8Array([1, 2])],
    ['bin 32', 'c6 00000002 0102', new Uint8Array([1, 2])],
    ['ext 8 (type 0: undefined)', 'c7 02 00 0102', undefined],
    ['ext 16 (type 0)', 'c8 0001 00 00', undefined],
    ['ext 32 (type 0)', 'c9 00000001 00 00', undefined],
    ['ext 8 (timestamp 96)', `c7 0c ff 00000000 ${'0000000065536700'}`, new Date(0x65536700 * 1000)],
    ['float 32', 'ca 3fc00000', 1.5],
    ['float 64', 'cb 3ff8000000000000', 1.5],
    ['uint 8', 'cc ff', 255],
    ['uint 16', 'cd ffff', 65535],
    ['uint 32', 'ce ffffffff', 4294967295],
    ['uint 64', 'cf 0000000000000005', 5n],
    ['int 8', 'd0 80', -128],
    ['int 16', 'd1 8000', -32768],
    ['int 32', 'd2 80000000', -2147483648],
    ['int 64', 'd3 ffffffffffffffff', -1n],
    ['fixext 1 (type 0: undefined)', 'd4 00 00', undefined],
    ['fixext 2 (type 0)', 'd5 00 0000', undefined],
    ['fixext 4 (timestamp 32)', 'd6 ff 00000001', new Date(1000)],
    ['fixext 8 (timestamp 64)', 'd7 ff 0000000000000001', new Date(1000)],
    ['fixext 16 (type 0)', `d8 00 ${'00'.repeat(16)}`, undefined],
    ['str 8', 'd9 01 61', 'a'],
    ['str 16', 'da 0001 61', 'a'],
    ['str 32', 'db 00000001 61', 'a'],
    ['array 16', 'dc 0001 c0', [null]],
    ['array 32', 'dd 00000001 c0', [null]],
    ['map 16', 'de 0001 a161 c0', { a: null }],
    ['map 32', 'df 00000001 a161 c0', { a: null }],
  ];

  it.each(formats)('codec - accepts %s', (_name, h, expected) => {
    const bytes = hex(h);
    expect(() => guardFrame(bytes, DEFAULT_LIMITS)).not.toThrow();
    expect(normalise(decodeBody(bytes))).toEqual(normalise(expected));
  });

  /** One frame holding every format, inside a map inside an array. */
  const allFormats = hex(`92 81 a1 61 dc ${formats.length.toString(16).padStart(4, '0')} ${formats.map(([, h]) => h).join(' ')} c3`);

  it('codec - accepts a frame holding every format', () => {
    expect(() => guardFrame(allFormats, DEFAULT_LIMITS)).not.toThrow();
    expect((decodeBody(allFormats) as unknown[]).length).toBe(2);
  });

  it('codec - a frame cut at any point is Truncated (and at 0 is Empty)', () => {
    expect(decodeReason(() => guardFrame(allFormats.subarray(0, 0), DEFAULT_LIMITS))).toBe(DecodeReason.Empty);
    for (let cut = 1; cut < allFormats.length; cut++) {
      const reason = decodeReason(() => guardFrame(allFormats.subarray(0, cut), DEFAULT_LIMITS));
      expect({ cut, reason }).toEqual({ cut, reason: DecodeReason.Truncated });
    }
  });

  it('codec - each format cut at any point is Truncated', () => {
    for (const [name, h] of formats) {
      const bytes = hex(h);
      for (let cut = 1; cut < bytes.length; cut++) {
        expect({ name, cut, reason: decodeReason(() => decodeBody(bytes.subarray(0, cut))) }).toEqual({ name, cut, reason: DecodeReason.Truncated });
      }
    }
  });

  it('codec - 0xc1 is BadType anywhere', () => {
    expect(decodeReason(() => guardFrame(hex('c1'), DEFAULT_LIMITS))).toBe(DecodeReason.BadType);
    expect(decodeReason(() => guardFrame(hex('92 01 c1'), DEFAULT_LIMITS))).toBe(DecodeReason.BadType);
    expect(decodeReason(() => decodeEnvelope(hex('81 a1 76 c1')))).toBe(DecodeReason.BadType);
  });

  it('codec - bytes after the top-level value are TrailingBytes', () => {
    expect(decodeReason(() => guardFrame(hex('c0 c0'), DEFAULT_LIMITS))).toBe(DecodeReason.TrailingBytes);
    expect(decodeReason(() => guardFrame(hex('90 00'), DEFAULT_LIMITS))).toBe(DecodeReason.TrailingBytes);
    const frame = encodeEnvelope({ v: 1, k: 'tell', t: 'x' });
    expect(decodeReason(() => decodeEnvelope(Uint8Array.from([...frame, 0])))).toBe(DecodeReason.TrailingBytes);
  });

  it('codec - extension types other than 0 and -1 are BadType (msgpackr gives them private meanings)', () => {
    // 0x42 bigint, 0x62 bundled strings, 0x65 Error, 0x69/0x70 structured-clone ids and pointers,
    // 0x72 record definitions, 0x73 Set, 0x74 typed arrays, 0x78 RegExp, 0x05 someone else's type.
    for (const type of ['42', '62', '65', '69', '70', '72', '73', '74', '78', '05', '80', 'fe']) {
      for (const frame of [`d4 ${type} 00`, `d6 ${type} 00000000`, `c7 01 ${type} 00`, `c8 0001 ${type} 00`, `c9 00000001 ${type} 00`, `91 d5 ${type} 0000`]) {
        expect({ frame, reason: decodeReason(() => guardFrame(hex(frame), DEFAULT_LIMITS)) }).toEqual({ frame, reason: DecodeReason.BadType });
      }
    }
    // Without the guard, msgpackr would read the 0x73 "Set" extension's payload from the next
    // value, so the array below would look one level shallower to the guard than it is to msgpackr.
    expect(decodeReason(() => decodeBody(hex('92 d4 73 00 91 c0')))).toBe(DecodeReason.BadType);
  });

  it('codec - depth exactly at the limit is accepted, one more is FrameTooDeep', () => {
    const limit = DEFAULT_LIMITS.maxDepth;
    expect(() => guardFrame(repeat(0x91, limit, [0xc0]), DEFAULT_LIMITS)).not.toThrow();
    expect(() => guardFrame(repeat(0x91, limit - 1, [0x90]), DEFAULT_LIMITS)).not.toThrow();
    expect(thrown(() => guardFrame(repeat(0x91, limit + 1, [0xc0]), DEFAULT_LIMITS))).toBeInstanceOf(FrameTooDeepError);
    // An empty container still counts as a level.
    expect(thrown(() => guardFrame(repeat(0x91, limit, [0x90]), DEFAULT_LIMITS))).toBeInstanceOf(FrameTooDeepError);
    // Maps: 0x81 0xa0 opens a map whose single key is "".
    const maps = (n: number) => Uint8Array.from([...Array.from({ length: n }, () => [0x81, 0xa0]).flat(), 0xc0]);
    expect(() => guardFrame(maps(limit), DEFAULT_LIMITS)).not.toThrow();
    expect(thrown(() => guardFrame(maps(limit + 1), DEFAULT_LIMITS))).toBeInstanceOf(FrameTooDeepError);
    // Depth 0 allows scalars only.
    expect(() => guardFrame(hex('01'), { maxBytes: 10, maxDepth: 0 })).not.toThrow();
    expect(thrown(() => guardFrame(hex('90'), { maxBytes: 10, maxDepth: 0 }))).toBeInstanceOf(FrameTooDeepError);
  });

  it('codec - siblings do not add depth', () => {
    // [[], [], ..., []] x 1000 at depth 2, and a map with 500 entries of arrays.
    expect(() => guardFrame(Uint8Array.from([0xdc, 0x03, 0xe8, ...new Array(1000).fill(0x90)]), { maxBytes: 4096, maxDepth: 2 })).not.toThrow();
    const map = [0xde, 0x01, 0xf4, ...Array.from({ length: 500 }, (_, i) => [0xcd, i >> 8, i & 0xff, 0x91, 0xc0]).flat()];
    expect(() => guardFrame(Uint8Array.from(map), { maxBytes: 4096, maxDepth: 2 })).not.toThrow();
  });

  it('codec - huge declared lengths fail fast as Truncated', () => {
    const frames = [
      'dd ffffffff c0c0c0c0c0', // array 32 of 2^32 - 1 elements in 10 bytes
      'df ffffffff c0c0c0c0c0', // map 32
      'dc ffff c0', // array 16
      'de ffff c0c0', // map 16
      'de 0003 c0c0c0c0c0', // map entries count twice: 3 entries need 6 bytes
      'c6 ffffffff 00', // bin 32
      'db ffffffff 61', // str 32
      'c9 ffffffff 00 00', // ext 32
      '91 dd ffffffff c0', // nested
    ];
    const t0 = performance.now();
    for (const frame of frames) {
      expect({ frame, reason: decodeReason(() => decodeEnvelope(hex(frame))) }).toEqual({ frame, reason: DecodeReason.Truncated });
    }
    expect(performance.now() - t0).toBeLessThan(100);
  });

  it('codec - size is checked before anything else', () => {
    const err = thrown(() => guardFrame(new Uint8Array(11).fill(0xc1), { maxBytes: 10, maxDepth: 32 }));
    expect(err).toBeInstanceOf(FrameTooLargeError);
    expect(err).toMatchObject({ size: 11, max: 10, code: ErrorCode.FrameTooLarge });
    expect(thrown(() => decodeEnvelope(new Uint8Array(DEFAULT_LIMITS.maxBytes + 1)))).toBeInstanceOf(FrameTooLargeError);
  });

  it('codec - 100000 nested arrays are FrameTooDeep, without recursion', () => {
    const deep = repeat(0x91, 100_000, [0xc0]);
    const err = thrown(() => decodeEnvelope(deep));
    expect(err).toBeInstanceOf(FrameTooDeepError);
    expect((err as FrameTooDeepError).code).toBe(ErrorCode.FrameTooDeep);
    // The guard itself walks any depth iteratively.
    expect(() => guardFrame(deep, { maxBytes: DEFAULT_LIMITS.maxBytes, maxDepth: 1_000_000 })).not.toThrow();
    // With such a limit msgpackr's recursion is what gives out; that is still a DecodeError.
    const overflow = thrown(() => decodeBody(deep, { maxBytes: DEFAULT_LIMITS.maxBytes, maxDepth: 1_000_000 }));
    expect(overflow).toBeInstanceOf(DecodeError);
    expect(overflow).toMatchObject({ code: ErrorCode.FrameTooDeep });
  });
});

// ─── envelope shape ──────────────────────────────────────────────────────────

describe('codec - envelope shape', () => {
  const frame = (v: unknown) => encodeBody(v);
  const cases: [string, unknown, string][] = [
    ['not a map (array)', [1, 'tell', 'x'], DecodeReason.NotEnvelope],
    ['not a map (scalar)', 5, DecodeReason.NotEnvelope],
    ['not a map (nil)', null, DecodeReason.NotEnvelope],
    ['version 2', { v: 2, k: 'tell', t: 'x' }, DecodeReason.UnsupportedVersion],
    ['version 0', { v: 0, k: 'tell', t: 'x' }, DecodeReason.UnsupportedVersion],
    ['no version', { k: 'tell', t: 'x' }, DecodeReason.NotEnvelope],
    ['version as string', { v: '1', k: 'tell', t: 'x' }, DecodeReason.NotEnvelope],
    ['unknown kind', { v: 1, k: 'shout', t: 'x' }, DecodeReason.NotEnvelope],
    ['no kind', { v: 1, t: 'x' }, DecodeReason.NotEnvelope],
    ['no target', { v: 1, k: 'tell' }, DecodeReason.NotEnvelope],
    ['target not a string', { v: 1, k: 'tell', t: 1 }, DecodeReason.NotEnvelope],
    ['sender not a string', { v: 1, k: 'tell', t: 'x', s: [] }, DecodeReason.NotEnvelope],
    ['correlation not a string', { v: 1, k: 'ask', t: 'x', c: 7 }, DecodeReason.NotEnvelope],
    ['negative epoch', { v: 1, k: 'tell', t: 'x', e: -1 }, DecodeReason.NotEnvelope],
    ['fractional epoch', { v: 1, k: 'tell', t: 'x', e: 0.5 }, DecodeReason.NotEnvelope],
    ['bigint epoch', { v: 1, k: 'tell', t: 'x', e: 1n }, DecodeReason.NotEnvelope],
    ['error without body', { v: 1, k: 'error', t: '' }, DecodeReason.NotEnvelope],
    ['error body missing code', { v: 1, k: 'error', t: '', b: { name: 'E', message: 'm' } }, DecodeReason.NotEnvelope],
    ['error body with a non-string field', { v: 1, k: 'error', t: '', b: { name: 'E', message: 'm', code: 'C', field: 1 } }, DecodeReason.NotEnvelope],
    ['check body not a map', { v: 1, k: 'check', t: 'x', b: [10] }, DecodeReason.NotEnvelope],
  ];

  it.each(cases)('codec - %s is rejected', (_name, value, reason) => {
    expect(decodeReason(() => decodeEnvelope(frame(value)))).toBe(reason);
  });

  it('codec - unknown keys are ignored and a check may omit its body', () => {
    expect(decodeEnvelope(frame({ v: 1, k: 'tell', t: 'x', zz: 1 }))).toMatchObject({ v: 1, k: 'tell', t: 'x' });
    expect(decodeEnvelope(frame({ v: 1, k: 'check', t: 'x' }))).toEqual({ v: 1, k: 'check', t: 'x' });
  });

  it('codec - msgpackr exceptions become DecodeErrors with the cause', () => {
    // A map whose key is an array: msgpackr cannot make it an object key.
    const err = thrown(() => decodeEnvelope(hex('81 90 c0')));
    expect(err).toBeInstanceOf(DecodeError);
    expect((err as DecodeError).reason).toBe(DecodeReason.BadType);
    expect((err as DecodeError).cause).toBeInstanceOf(Error);
  });

  it('codec - a __proto__ key from a peer does not touch the prototype', () => {
    // {"v":1,"k":"tell","t":"x","b":{"__proto__":{"polluted":1}}}
    const body = Buffer.from('__proto__').toString('hex');
    const env = decodeEnvelope(hex(`84 a176 01 a16b a474656c6c a174 a178 a162 81 a9${body} 81 a8${Buffer.from('polluted').toString('hex')} 01`));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(env.b)).toBe(Object.prototype);
  });
});

// ─── JSON ────────────────────────────────────────────────────────────────────

describe('codec - JSON for plain clients', () => {
  const text = (s: string) => new TextEncoder().encode(s);

  it('codec - decodes UTF-8 JSON', () => {
    expect(decodeJsonBody(text('{"level": 10, "name": "żółw", "list": [1, "]"]}'))).toEqual({ level: 10, name: 'żółw', list: [1, ']'] });
    expect(decodeJsonBody(text('"x"'))).toBe('x');
  });

  it('codec - bad JSON and bad UTF-8 are BadJson with the cause', () => {
    for (const bytes of [text('{"a":'), text('nope'), Uint8Array.from([0x22, 0xff, 0x22])]) {
      const err = thrown(() => decodeJsonBody(bytes));
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).reason).toBe(DecodeReason.BadJson);
      expect((err as DecodeError).cause).toBeDefined();
    }
    expect(decodeReason(() => decodeJsonBody(new Uint8Array(0)))).toBe(DecodeReason.Empty);
  });

  it('codec - size and depth limits apply before parsing', () => {
    expect(thrown(() => decodeJsonBody(text('[1,2,3]'), { maxBytes: 6, maxDepth: 32 }))).toBeInstanceOf(FrameTooLargeError);
    const limit = DEFAULT_LIMITS.maxDepth;
    expect(() => decodeJsonBody(text('['.repeat(limit) + ']'.repeat(limit)))).not.toThrow();
    expect(thrown(() => decodeJsonBody(text('['.repeat(limit + 1) + ']'.repeat(limit + 1))))).toBeInstanceOf(FrameTooDeepError);
    expect(thrown(() => decodeJsonBody(text('{"a":'.repeat(limit + 1))))).toBeInstanceOf(FrameTooDeepError);
    expect(thrown(() => decodeJsonBody(text('['.repeat(100_000))))).toBeInstanceOf(FrameTooDeepError);
    // Brackets inside strings, escaped quotes included, do not count.
    expect(decodeJsonBody(text(`["\\"${'['.repeat(100)}"]`), { maxBytes: 1024, maxDepth: 1 })).toEqual([`"${'['.repeat(100)}`]);
  });

  it('codec - encodeJson has JSON.stringify semantics and typed errors', () => {
    expect(new TextDecoder().decode(encodeJson({ a: [1, 'x'], u: undefined }))).toBe('{"a":[1,"x"]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const v of [undefined, () => 1, 1n, cyclic]) {
      expect(thrown(() => encodeJson(v))).toBeInstanceOf(EncodeError);
    }
  });
});

// ─── properties ──────────────────────────────────────────────────────────────

describe('codec - properties', () => {
  const RUNS = { numRuns: 500 };

  const address = fc.string({ maxLength: 40 });
  const kind = fc.constantFrom(...KINDS);

  /** Leaves the body contract accepts (module TSDoc, "Bodies"). */
  const leaf = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    fc.integer(),
    fc.double(),
    fc.string({ unit: 'grapheme' }),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.date(),
    fc.uint8Array({ maxLength: 16 }),
  );
  const body = fc.anything({ maxDepth: 8, values: [leaf], withNullPrototype: true, withSparseArray: true });

  function envelopeOf(k: EnvelopeKind, t: string, b: unknown, extra: { s?: string; c?: string; e?: number }): Envelope {
    if (k === 'error') return { v: 1, k, t, ...extra, b: { name: 'E', message: String(t), code: 'C' } };
    if (k === 'check') return { v: 1, k, t, ...extra, b: { level: 10, data: b } };
    return { v: 1, k, t, ...extra, b };
  }
  const extras = fc.record({ s: address, c: address, e: fc.nat() }, { requiredKeys: [] });
  const envelope = fc.tuple(kind, address, body, extras).map(([k, t, b, extra]) => envelopeOf(k, t, b, extra));

  /** Round trip, or the one documented refusal this test's generators can reach. */
  function expectRoundTrip(env: Envelope): void {
    if (hasProtoKey(env.b)) {
      expect(encodeMessage(() => encodeEnvelope(env))).toContain('"__proto__"');
      return;
    }
    expect(normalise(decodeEnvelope(encodeEnvelope(env)))).toEqual(normalise(env));
  }

  it('codec - any JSON value round trips exactly', () => {
    fc.assert(
      fc.property(kind, address, fc.jsonValue({ maxDepth: 10 }), (k, t, b) => expectRoundTrip(envelopeOf(k, t, b, {}))),
      RUNS,
    );
  });

  it('codec - any body within the contract round trips', () => {
    fc.assert(
      fc.property(envelope, (env) => expectRoundTrip(env)),
      RUNS,
    );
  });

  it('codec - whatever encodeEnvelope accepts, decodeEnvelope decodes; the rest is EncodeError', () => {
    const wild = fc.anything({
      maxDepth: 6,
      withBigInt: true,
      withBoxedValues: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      withSparseArray: true,
      withTypedArray: true,
      stringUnit: 'binary',
    });
    fc.assert(
      fc.property(kind, wild, (k, b) => {
        let frame: Uint8Array;
        try {
          frame = encodeEnvelope(envelopeOf(k, 'x', b, {}));
        } catch (err) {
          expect(err).toBeInstanceOf(EncodeError);
          return;
        }
        expectValidEnvelope(decodeEnvelope(frame));
      }),
      RUNS,
    );
  });

  it('codec - arbitrary bytes decode to a valid envelope or throw a DecodeError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => decodeOrDecodeError(bytes)),
      RUNS,
    );
  });

  it('codec - arbitrary bytes behind a valid header decode or throw a DecodeError', () => {
    // Random bytes rarely get past the first byte; start them inside an envelope map.
    const header = hex('85 a1 76 01 a1 6b a4 74656c6c a1 74 a1 78 a1 62');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (tail) => decodeOrDecodeError(Uint8Array.from([...header, ...tail]))),
      RUNS,
    );
  });

  const mutation = fc.oneof(
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  );
  type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

  function mutate(frame: Uint8Array, ops: Mutation[]): Uint8Array {
    const bytes = Array.from(frame);
    for (const m of ops) {
      const at = bytes.length === 0 ? 0 : m.at % bytes.length;
      switch (m.op) {
        case 'flip':
          if (bytes.length) bytes[at] = bytes[at]! ^ (1 << m.bit);
          break;
        case 'set':
          if (bytes.length) bytes[at] = m.byte;
          break;
        case 'insert':
          bytes.splice(m.at % (bytes.length + 1), 0, m.byte);
          break;
        case 'delete':
          bytes.splice(at, 1);
          break;
        case 'truncate':
          bytes.length = at;
          break;
      }
    }
    return Uint8Array.from(bytes);
  }

  it('codec - mutated valid frames decode to a valid envelope or throw a DecodeError', () => {
    fc.assert(
      fc.property(envelope, fc.array(mutation, { minLength: 1, maxLength: 4 }), (env, ops) => {
        if (hasProtoKey(env.b)) return;
        const frame = encodeEnvelope(env);
        decodeOrDecodeError(mutate(frame, ops));
      }),
      RUNS,
    );
  });

  it('codec - nesting beyond maxDepth is FrameTooDeep at any depth up to 100000', () => {
    fc.assert(
      fc.property(fc.integer({ min: DEFAULT_LIMITS.maxDepth + 1, max: 100_000 }), fc.nat(), (depth, pattern) => {
        // Each level is an array (0x91) or a map with key "" (0x81 0xa0), picked from the bits of `pattern`.
        const bytes = new Uint8Array(depth * 2 + 1);
        let n = 0;
        for (let i = 0; i < depth; i++) {
          if ((pattern >>> i % 31) & 1) {
            bytes[n++] = 0x81;
            bytes[n++] = 0xa0;
          } else {
            bytes[n++] = 0x91;
          }
        }
        bytes[n++] = 0xc0;
        const frame = bytes.subarray(0, n);
        expect(thrown(() => decodeEnvelope(frame, { maxBytes: frame.length, maxDepth: DEFAULT_LIMITS.maxDepth }))).toBeInstanceOf(FrameTooDeepError);
      }),
      RUNS,
    );
  });
});
