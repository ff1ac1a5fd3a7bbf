/**
 * The key-value conformance suite: one set of behaviours, run against every
 * `KvStore` (`kv.local.spec.ts`, `kv.nats.spec.ts`). It is the executable
 * form of the contract at the top of `src/transport/kv/KvStore.ts`.
 *
 * The factory returns two stores `a` and `b` on the same server (two
 * clients). Every test opens buckets under a fresh random name, destroyed
 * afterwards, so the suites can share one nats-server with other files.
 * Watches are read with deadlines (`nextEntries`); nothing sleeps.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, InvalidKvKeyError, KvClosedError, KvConflictError } from '../src/errors.js';
import { type KvBucket, KvOperation, type KvStore, type KvEntry, type KvWatch } from '../src/transport/kv/KvStore.js';
import { matchesFilter } from '../src/transport/kv/keys.js';

export interface KvStorePair {
  readonly a: KvStore;
  readonly b: KvStore;
  cleanup(): Promise<void>;
}

export interface KvConformanceOptions {
  /** Runs of the model test (each opens and destroys a bucket). */
  readonly modelRuns: number;
  /**
   * True when a watch delivers every write (in-process). False for JetStream,
   * whose watch may coalesce writes when it falls behind: the suite then
   * checks only what the contract promises everywhere (increasing revisions,
   * each entry as written, every key's latest entry).
   */
  readonly deliversEveryWrite: boolean;
}

/**
 * What every store's watch promises about the writes in `log` (`brief` form,
 * in revision order): entries seen in increasing revision order, each one as
 * written, and the last write of every key among them. With `every`, exactly
 * the log.
 */
function checkWatched(seen: readonly KvEntry[], log: readonly string[], every: boolean): void {
  const got = seen.map(brief);
  if (every) {
    expect(got).toEqual(log);
    return;
  }
  const revs = seen.map((e) => e.revision);
  expect(revs, 'revisions increase').toEqual([...revs].sort((p, q) => p - q));
  expect(new Set(revs).size, 'no revision twice').toBe(revs.length);
  const logged = new Set(log);
  for (const line of got) expect(logged.has(line), `${line} was written`).toBe(true);
  const lastOfKey = new Map<string, string>();
  for (const line of log) lastOfKey.set(line.slice(line.indexOf(':') + 1, line.indexOf('@')), line);
  for (const line of lastOfKey.values()) expect(got, 'every key’s latest entry').toContain(line);
}

/** True once `seen` holds the last write of every key in `log`. */
function latestSeen(seen: readonly KvEntry[], log: readonly string[]): boolean {
  const got = new Set(seen.map(brief));
  const lastOfKey = new Map<string, string>();
  for (const line of log) lastOfKey.set(line.slice(line.indexOf(':') + 1, line.indexOf('@')), line);
  return [...lastOfKey.values()].every((line) => got.has(line));
}

const DEADLINE = 10_000;
const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string) => enc.encode(s);
const text = (v: Uint8Array) => dec.decode(v);

/** Read the next `n` entries of `w`, failing after the deadline. */
async function nextEntries(w: KvWatch, n: number, iterator = w[Symbol.asyncIterator]()): Promise<KvEntry[]> {
  const out: KvEntry[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`watch: ${out.length} of ${n} entries within ${DEADLINE} ms`)), DEADLINE);
  });
  try {
    while (out.length < n) {
      const r = await Promise.race([iterator.next(), deadline]);
      if (r.done) throw new Error(`watch ended after ${out.length} of ${n} entries`);
      out.push(r.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return out;
}

/** A watch read in the background into `seen`, for tests that write while it runs. */
function collect(w: KvWatch): { seen: KvEntry[]; ended: Promise<void> } {
  const seen: KvEntry[] = [];
  const ended = (async () => {
    for await (const e of w) seen.push(e);
  })();
  return { seen, ended };
}

async function until(predicate: () => boolean, message: string): Promise<void> {
  const deadline = performance.now() + DEADLINE;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out: ${message}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

const brief = (e: KvEntry) => `${e.operation}:${e.key}@${e.revision}${e.operation === 'PUT' ? `=${text(e.value)}` : ''}`;

export function describeKvConformance(label: string, factory: () => Promise<KvStorePair>, options: KvConformanceOptions): void {
  describe(`${label} conformance`, () => {
    let pair: KvStorePair;
    let a: KvStore;
    let b: KvStore;
    let buckets: string[];
    /** A fresh bucket name for this test (destroyed afterwards). */
    const fresh = () => {
      const name = `kvconf-${randomBytes(5).toString('hex')}`;
      buckets.push(name);
      return name;
    };
    const open = async (): Promise<[KvBucket, KvBucket]> => {
      const name = fresh();
      const x = await a.bucket(name);
      return [x, await b.bucket(name)];
    };

    beforeEach(async () => {
      pair = await factory();
      ({ a, b } = pair);
      buckets = [];
    });

    afterEach(async () => {
      for (const name of buckets) await b.destroy(name).catch(() => {});
      await pair.cleanup();
    });

    it('kv - a new bucket is empty: get of any key is null, no keys, a watch has no initial entries', async () => {
      const [x] = await open();
      expect(await x.get('nothing')).toBeNull();
      expect(await x.keys()).toEqual([]);
      const w = await x.watch();
      await x.put('first', bytes('1'));
      const [e] = await nextEntries(w, 1);
      expect(brief(e!)).toBe('PUT:first@1=1');
      w.stop();
    });

    it('kv - two clients of one server open the same bucket, racing, and see each other’s writes', async () => {
      const name = fresh();
      const [x, y] = await Promise.all([a.bucket(name), b.bucket(name)]);
      const rev = await x.put('k', bytes('from a'));
      const seen = await y.get('k');
      expect(seen).toMatchObject({ bucket: name, key: 'k', revision: rev, operation: 'PUT' });
      expect(text(seen!.value)).toBe('from a');
    });

    it('kv - revisions strictly increase per bucket across keys and every kind of write', async () => {
      const [x, y] = await open();
      const revs = [
        await x.put('a', bytes('1')),
        await y.create('b', bytes('2')),
        await x.update('a', bytes('3'), 1),
        await y.put('c.d', bytes('4')),
      ];
      await x.delete('b');
      await y.purge('c.d');
      revs.push(await x.create('b', bytes('5')));
      expect(revs).toEqual([1, 2, 3, 4, 7]);
      expect((await y.get('a'))?.revision).toBe(3);
      expect((await x.get('b'))?.revision).toBe(7);
    });

    it('kv - create succeeds only when the key is absent, deleted or purged; otherwise KvConflictError naming bucket and key', async () => {
      const [x, y] = await open();
      await x.create('k', bytes('1'));
      const err = await y.create('k', bytes('2')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KvConflictError);
      expect(err).toMatchObject({ name: 'KvConflictError', code: 'ERR_KV_CONFLICT', bucket: x.name, key: 'k', expected: 0 });
      expect(text((await x.get('k'))!.value)).toBe('1');
      await y.delete('k');
      await expect(x.create('k', bytes('3'))).resolves.toBeGreaterThan(0);
      await x.purge('k');
      await expect(y.create('k', bytes('4'))).resolves.toBeGreaterThan(0);
      expect(text((await x.get('k'))!.value)).toBe('4');
    });

    it('kv - update is compare-and-set on the key’s last revision; a delete moves that revision on', async () => {
      const [x, y] = await open();
      const r1 = await x.put('k', bytes('1'));
      const r2 = await y.update('k', bytes('2'), r1);
      await expect(x.update('k', bytes('stale'), r1)).rejects.toMatchObject({ name: 'KvConflictError', key: 'k', expected: r1 });
      await expect(x.update('absent', bytes('x'), r2)).rejects.toBeInstanceOf(KvConflictError);
      await x.delete('k');
      await expect(y.update('k', bytes('after delete'), r2)).rejects.toBeInstanceOf(KvConflictError);
      expect(await y.get('k')).toBeNull();
    });

    it('kv - CAS race: of many creates of one key from two clients at once, exactly one wins and the rest conflict', async () => {
      const [x, y] = await open();
      const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? x : y).create('owner', bytes(`c${i}`))));
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(KvConflictError);
      const winner = results.findIndex((r) => r.status === 'fulfilled');
      const stored = await x.get('owner');
      expect(text(stored!.value)).toBe(`c${winner}`);
      expect(stored!.revision).toBe((won[0] as PromiseFulfilledResult<number>).value);
    });

    it('kv - CAS race: of many updates holding the same revision, exactly one wins', async () => {
      const [x, y] = await open();
      const r = await x.put('lease', bytes('0'));
      const results = await Promise.allSettled(Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? x : y).update('lease', bytes(`u${i}`), r)));
      expect(results.filter((s) => s.status === 'fulfilled')).toHaveLength(1);
      for (const s of results) if (s.status === 'rejected') expect(s.reason).toBeInstanceOf(KvConflictError);
    });

    it('kv - delete and purge with a revision are compare-and-set; a deleted key reads as null and leaves keys()', async () => {
      const [x, y] = await open();
      const r1 = await x.put('a', bytes('1'));
      await x.put('b', bytes('2'));
      await y.put('a', bytes('1b'));
      await expect(x.delete('a', { revision: r1 })).rejects.toMatchObject({ name: 'KvConflictError', key: 'a', expected: r1 });
      expect(await y.keys()).toEqual(['a', 'b']);
      await x.delete('a', { revision: (await x.get('a'))!.revision });
      expect(await y.get('a')).toBeNull();
      expect(await y.keys()).toEqual(['b']);
      await expect(y.purge('b', { revision: 1 })).rejects.toBeInstanceOf(KvConflictError);
      await y.purge('b', { revision: (await y.get('b'))!.revision });
      expect(await x.get('b')).toBeNull();
      expect(await x.keys()).toEqual([]);
    });

    it('kv - keys lists the live keys that match one wildcard filter, sorted', async () => {
      const [x] = await open();
      for (const k of ['owner.b', 'owner.a', 'node.n1', 'owner.a.sub', 'type.t']) await x.put(k, bytes(k));
      await x.delete('type.t');
      expect(await x.keys()).toEqual(['node.n1', 'owner.a', 'owner.a.sub', 'owner.b']);
      expect(await x.keys('owner.>')).toEqual(['owner.a', 'owner.a.sub', 'owner.b']);
      expect(await x.keys('owner.*')).toEqual(['owner.a', 'owner.b']);
      expect(await x.keys('*.n1')).toEqual(['node.n1']);
      expect(await x.keys('type.>')).toEqual([]);
    });

    it('kv - a watch first replays current entries in revision order, delete markers included, then every later write in order', async () => {
      const [x, y] = await open();
      await x.put('a', bytes('1'));
      await x.put('b', bytes('2'));
      await x.put('a', bytes('3'));
      await x.delete('b');
      await x.put('c', bytes('4'));
      const w = await y.watch();
      const it = w[Symbol.asyncIterator]();
      expect((await nextEntries(w, 3, it)).map(brief)).toEqual(['PUT:a@3=3', 'DEL:b@4', 'PUT:c@5=4']);
      await x.update('c', bytes('5'), 5);
      await x.purge('a');
      await y.create('b', bytes('6'));
      expect((await nextEntries(w, 3, it)).map(brief)).toEqual(['PUT:c@6=5', 'PURGE:a@7', 'PUT:b@8=6']);
      w.stop();
    });

    it('kv - a watch with a filter sees only matching keys, and deletes and purges by another client', async () => {
      const [x, y] = await open();
      await x.put('owner.a', bytes('1'));
      await x.put('node.n1', bytes('n'));
      const w = await y.watch({ key: 'owner.*' });
      const it = w[Symbol.asyncIterator]();
      expect((await nextEntries(w, 1, it)).map(brief)).toEqual(['PUT:owner.a@1=1']);
      await x.put('node.n2', bytes('n'));
      await x.put('owner.b.deep', bytes('no'));
      await x.delete('owner.a');
      await x.put('owner.c', bytes('2'));
      await x.purge('owner.c');
      expect((await nextEntries(w, 3, it)).map(brief)).toEqual(['DEL:owner.a@5', 'PUT:owner.c@6=2', 'PURGE:owner.c@7']);
      w.stop();
    });

    it(`kv - writes awaited one by one reach a watcher in order${options.deliversEveryWrite ? ', every one' : ', each key’s latest at least'}`, async () => {
      const [x, y] = await open();
      const w = await y.watch({ key: 'n.>' });
      const { seen } = collect(w);
      const log: string[] = [];
      for (let i = 0; i < 100; i++) {
        const key = `n.${i % 7}`;
        log.push(`PUT:${key}@${await x.put(key, bytes(String(i)))}=${i}`);
      }
      await until(() => latestSeen(seen, log), 'every key’s latest entry watched');
      checkWatched(seen, log, options.deliversEveryWrite);
      w.stop();
    });

    it('kv - a burst of concurrent writes reaches a watcher in increasing revisions, ending with every key’s latest entry', async () => {
      const [x, y] = await open();
      const w = await y.watch({ key: 'n.>' });
      const { seen } = collect(w);
      const N = 200;
      await Promise.all(Array.from({ length: N }, (_, i) => x.put(`n.${i % 7}`, bytes(String(i)))));
      const latest = new Map<string, number>();
      for (const k of await x.keys('n.>')) latest.set(k, (await x.get(k))!.revision);
      await until(() => [...latest].every(([k, r]) => seen.some((e) => e.key === k && e.revision === r)), 'every key’s latest entry watched');
      const revs = seen.map((e) => e.revision);
      expect(revs).toEqual([...revs].sort((p, q) => p - q));
      expect(new Set(revs).size).toBe(revs.length);
      expect(Math.max(...revs)).toBe(N);
      w.stop();
    });

    it('kv - a watcher is never told inside the writer’s call', async () => {
      const [x] = await open();
      const w = await x.watch();
      const { seen } = collect(w);
      const write = x.put('k', bytes('v'));
      expect(seen).toHaveLength(0);
      await write;
      await until(() => seen.length === 1, 'the write watched');
      w.stop();
    });

    it('kv - stop() ends a watch; later writes are not delivered to it', async () => {
      const [x] = await open();
      const w = await x.watch();
      const { seen, ended } = collect(w);
      await x.put('k', bytes('1'));
      await until(() => seen.length === 1, 'first write watched');
      w.stop();
      w.stop();
      await ended;
      await x.put('k', bytes('2'));
      // A second watch seeing the later write is the barrier: the first one had its chance.
      const w2 = await x.watch();
      expect((await nextEntries(w2, 1)).map(brief)).toEqual(['PUT:k@2=2']);
      w2.stop();
      expect(seen).toHaveLength(1);
    });

    it('kv - values are copied: changing a buffer after a write or a read changes nothing stored', async () => {
      const [x] = await open();
      const value = bytes('abc');
      await x.put('k', value);
      value[0] = 0x7a;
      const read = await x.get('k');
      expect(text(read!.value)).toBe('abc');
      read!.value[0] = 0x7a;
      expect(text((await x.get('k'))!.value)).toBe('abc');
    });

    it('kv - after close every operation rejects with KvClosedError and open watches end; the other client goes on', async () => {
      const [x, y] = await open();
      await x.put('k', bytes('1'));
      const w = await x.watch();
      const { ended } = collect(w);
      await a.close();
      await a.close();
      expect(a.isClosed).toBe(true);
      await ended;
      for (const op of [
        () => x.get('k'),
        () => x.put('k', bytes('2')),
        () => x.create('n', bytes('2')),
        () => x.update('k', bytes('2'), 1),
        () => x.delete('k'),
        () => x.purge('k'),
        () => x.keys(),
        () => x.watch(),
        () => a.bucket(x.name),
        () => a.destroy(x.name),
      ]) {
        await expect(op()).rejects.toMatchObject({ name: 'KvClosedError', code: 'ERR_KV_CLOSED' });
      }
      await expect(x.get('k')).rejects.toBeInstanceOf(KvClosedError);
      expect(text((await y.get('k'))!.value)).toBe('1');
      expect(b.isClosed).toBe(false);
    });

    it('kv - bad keys, filters, bucket names and revisions are refused with typed errors naming the field', async () => {
      const [x] = await open();
      const badKeys: unknown[] = ['', 'a..b', '.a', 'a.', 'a b', 'a.*', 'a.>', '*', 'ü', 'x'.repeat(257), 42, undefined];
      for (const key of badKeys) {
        for (const op of [() => x.get(key as string), () => x.put(key as string, bytes('v')), () => x.create(key as string, bytes('v')), () => x.delete(key as string)]) {
          const err = await op().catch((e: unknown) => e);
          expect(err, `key ${String(key)}`).toBeInstanceOf(InvalidKvKeyError);
          expect(err).toMatchObject({ code: 'ERR_INVALID_KV_KEY', field: 'key' });
        }
      }
      for (const filter of ['', 'a.>.b', 'a.**', 'a..b', '>.a']) {
        await expect(x.keys(filter), `filter ${filter}`).rejects.toMatchObject({ name: 'InvalidKvKeyError', field: 'filter' });
        await expect(x.watch({ key: filter }), `filter ${filter}`).rejects.toMatchObject({ name: 'InvalidKvKeyError', field: 'filter' });
      }
      for (const name of ['', 'a.b', 'a b', 'a>', 'x'.repeat(201)]) {
        await expect(a.bucket(name), `bucket ${name}`).rejects.toMatchObject({ name: 'InvalidKvKeyError', field: 'bucket' });
      }
      for (const revision of [0, -1, 1.5, Number.NaN, '1']) {
        const err = await x.update('k', bytes('v'), revision as number).catch((e: unknown) => e);
        expect(err, `revision ${String(revision)}`).toBeInstanceOf(InvalidArgumentError);
        expect(err).toMatchObject({ field: 'revision' });
        await expect(x.delete('k', { revision: revision as number })).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      // Nothing was written by any refused call.
      expect(await x.keys()).toEqual([]);
    });

    it('kv - a value that is not bytes, or larger than the store takes, is refused with InvalidArgumentError naming value; nothing is written', async () => {
      const [x] = await open();
      const big = new Uint8Array(a.maxValueBytes + 1);
      const r = await x.put('k', bytes('small'));
      for (const op of [() => x.put('k', big), () => x.create('n', big), () => x.update('k', big, r), () => x.put('k', 'text' as never)]) {
        await expect(op()).rejects.toMatchObject({ name: 'InvalidArgumentError', field: 'value' });
      }
      expect(await x.keys()).toEqual(['k']);
      expect((await x.get('k'))?.revision).toBe(r);
      // The limit itself is a value the store takes (less a little, on NATS, for the write's headers).
      await expect(x.put('k', new Uint8Array(a.maxValueBytes - 512))).resolves.toBeGreaterThan(r);
    });

    it('kv - destroy removes a bucket and its entries; destroying a missing bucket is false', async () => {
      const name = fresh();
      const x = await a.bucket(name);
      await x.put('k', bytes('1'));
      expect(await b.destroy(name)).toBe(true);
      expect(await b.destroy(name)).toBe(false);
      const again = await b.bucket(name);
      expect(await again.get('k')).toBeNull();
      expect(await again.keys()).toEqual([]);
    });

    it('kv - model: random puts, creates, updates, deletes, purges, gets and key listings agree with a Map, and a watch saw the writes in order', async () => {
      await fc.assert(
        fc.asyncProperty(fc.commands(kvCommands(), { maxCommands: 30 }), async (cmds) => {
          const name = fresh();
          const bucket = await a.bucket(name);
          const reader = await b.bucket(name);
          const watch = await reader.watch();
          const watched = collect(watch);
          const model: KvModel = { revision: 0, entries: new Map(), log: [] };
          try {
            await fc.asyncModelRun(() => ({ model, real: { bucket, reader } }), cmds);
            await until(() => latestSeen(watched.seen, model.log), 'every key’s latest write watched');
            if (options.deliversEveryWrite) await until(() => watched.seen.length >= model.log.length, `${model.log.length} writes watched`);
            checkWatched(watched.seen, model.log, options.deliversEveryWrite);
          } finally {
            watch.stop();
            await b.destroy(name).catch(() => {});
          }
        }),
        { numRuns: options.modelRuns },
      );
    }, 120_000);
  });
}

// ── the model test's commands ─────────────────────────────────────────────

interface KvModel {
  revision: number;
  entries: Map<string, { value: string; revision: number; operation: KvOperation }>;
  /** Every write that took effect, as a watcher opened first sees it (`brief`). */
  log: string[];
}

interface KvReal {
  /** Writes go through one client, reads through the other: both see one store. */
  readonly bucket: KvBucket;
  readonly reader: KvBucket;
}

type KvCommand = fc.AsyncCommand<KvModel, KvReal>;

const KEYS = ['a', 'b', 'x.y', 'x.z'] as const;
const FILTERS = ['>', 'x.*', 'a', '*'] as const;

function write(m: KvModel, key: string, operation: KvOperation, value: string): number {
  const revision = ++m.revision;
  m.entries.set(key, { value: operation === KvOperation.Put ? value : '', revision, operation });
  m.log.push(`${operation}:${key}@${revision}${operation === KvOperation.Put ? `=${value}` : ''}`);
  return revision;
}

/** The revision a compare-and-set command holds: the current one, an older one, or an arbitrary one. */
type RevisionChoice = 'current' | 'stale' | number;
function chosen(m: KvModel, key: string, choice: RevisionChoice): number {
  const current = m.entries.get(key)?.revision ?? 0;
  if (choice === 'current') return Math.max(1, current);
  if (choice === 'stale') return Math.max(1, current - 1);
  return choice;
}

async function expectConflict(p: Promise<unknown>, conflict: boolean): Promise<unknown> {
  const outcome = await p.then(
    (v) => ({ ok: true as const, v }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  if (conflict) {
    expect(outcome.ok, 'expected a conflict').toBe(false);
    if (!outcome.ok) expect(outcome.e).toBeInstanceOf(KvConflictError);
    return undefined;
  }
  if (!outcome.ok) throw outcome.e;
  return outcome.v;
}

class Put implements KvCommand {
  constructor(
    readonly key: string,
    readonly value: string,
  ) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    expect(await r.bucket.put(this.key, bytes(this.value))).toBe(write(m, this.key, KvOperation.Put, this.value));
  }
  toString = () => `put(${this.key}, ${JSON.stringify(this.value)})`;
}

class Create implements KvCommand {
  constructor(
    readonly key: string,
    readonly value: string,
  ) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    const conflict = m.entries.get(this.key)?.operation === KvOperation.Put;
    const got = await expectConflict(r.bucket.create(this.key, bytes(this.value)), conflict);
    if (!conflict) expect(got).toBe(write(m, this.key, KvOperation.Put, this.value));
  }
  toString = () => `create(${this.key}, ${JSON.stringify(this.value)})`;
}

class Update implements KvCommand {
  constructor(
    readonly key: string,
    readonly value: string,
    readonly choice: RevisionChoice,
  ) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    const revision = chosen(m, this.key, this.choice);
    const conflict = (m.entries.get(this.key)?.revision ?? 0) !== revision;
    const got = await expectConflict(r.bucket.update(this.key, bytes(this.value), revision), conflict);
    if (!conflict) expect(got).toBe(write(m, this.key, KvOperation.Put, this.value));
  }
  toString = () => `update(${this.key}, ${JSON.stringify(this.value)}, ${this.choice})`;
}

class Remove implements KvCommand {
  constructor(
    readonly key: string,
    readonly operation: typeof KvOperation.Delete | typeof KvOperation.Purge,
    readonly choice: RevisionChoice | undefined,
  ) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    const revision = this.choice === undefined ? undefined : chosen(m, this.key, this.choice);
    const conflict = revision !== undefined && (m.entries.get(this.key)?.revision ?? 0) !== revision;
    const opts = revision === undefined ? undefined : { revision };
    await expectConflict(this.operation === KvOperation.Delete ? r.bucket.delete(this.key, opts) : r.bucket.purge(this.key, opts), conflict);
    if (!conflict) write(m, this.key, this.operation, '');
  }
  toString = () => `${this.operation === 'DEL' ? 'delete' : 'purge'}(${this.key}${this.choice === undefined ? '' : `, ${this.choice}`})`;
}

class Get implements KvCommand {
  constructor(readonly key: string) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    const e = m.entries.get(this.key);
    const got = await r.reader.get(this.key);
    if (e === undefined || e.operation !== KvOperation.Put) expect(got).toBeNull();
    else expect({ value: text(got!.value), revision: got!.revision }).toEqual({ value: e.value, revision: e.revision });
  }
  toString = () => `get(${this.key})`;
}

class Keys implements KvCommand {
  constructor(readonly filter: string) {}
  check = () => true;
  async run(m: KvModel, r: KvReal): Promise<void> {
    const live = [...m.entries].filter(([k, e]) => e.operation === KvOperation.Put && matchesFilter(this.filter, k)).map(([k]) => k);
    expect(await r.reader.keys(this.filter)).toEqual(live.sort());
  }
  toString = () => `keys(${this.filter})`;
}

function kvCommands(): fc.Arbitrary<KvCommand>[] {
  const key = fc.constantFrom(...KEYS);
  const value = fc.string({ maxLength: 6 });
  const choice = fc.oneof(fc.constantFrom<RevisionChoice>('current', 'current', 'stale'), fc.integer({ min: 1, max: 40 }));
  return [
    fc.tuple(key, value).map(([k, v]) => new Put(k, v)),
    fc.tuple(key, value).map(([k, v]) => new Create(k, v)),
    fc.tuple(key, value, choice).map(([k, v, c]) => new Update(k, v, c)),
    fc.tuple(key, fc.constantFrom(KvOperation.Delete, KvOperation.Purge), fc.option(choice, { nil: undefined })).map(([k, op, c]) => new Remove(k, op, c)),
    key.map((k) => new Get(k)),
    fc.constantFrom(...FILTERS).map((f) => new Keys(f)),
  ];
}
