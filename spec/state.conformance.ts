/**
 * The state store conformance suite: one set of behaviours, run against
 * every `StateStore` (`state.file.spec.ts`, `state.kv.spec.ts`). It is the
 * executable form of the contract at the top of
 * `src/services/state/StateStore.ts`.
 *
 * The factory gives a fresh, empty store per test, and a way to put
 * garbage where a key's state lives (to see how `load` reports it).
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CorruptStateError, InvalidArgumentError, InvalidStateKeyError, StateConflictError } from '../src/errors.js';
import type { StateStore } from '../src/services/state/StateStore.js';

export interface StateStoreFixture {
  readonly store: StateStore;
  /** Store bytes that are not a state record under `key`; resolves to where they are (what `CorruptStateError.file` must say). */
  corrupt(key: string, bytes: Uint8Array): Promise<string>;
  cleanup(): Promise<void>;
}

export interface StateConformanceOptions {
  readonly modelRuns: number;
}

export const BAD_KEYS: readonly unknown[] = ['', '../escape', 'a/b', '..', '.hidden', 'a..b', 'a.', 'sp ace', 'x'.repeat(201), 'a\u0000b', 42, undefined];

export function describeStateConformance(
  title: string,
  make: () => Promise<StateStoreFixture>,
  options: StateConformanceOptions,
): void {
  describe(`${title} (StateStore conformance)`, () => {
    let f: StateStoreFixture;
    let store: StateStore;
    beforeEach(async () => {
      f = await make();
      store = f.store;
    });
    afterEach(async () => {
      await f.cleanup();
    });

    it('state store - a saved snapshot loads back as a copy with its revision; a missing key loads as undefined', async () => {
      const snapshot = { status: 'active', value: 'counting', context: { count: 3, tags: ['a'] } };
      const rev = await store.save('counter.1', snapshot);
      expect(rev).toBeGreaterThan(0);
      snapshot.context.count = 99;
      const got = await store.load('counter.1');
      expect(got).toEqual({ snapshot: { status: 'active', value: 'counting', context: { count: 3, tags: ['a'] } }, revision: rev });
      expect(await store.load('counter.2')).toBeUndefined();
    });

    it('state store - every save takes a larger revision', async () => {
      const r1 = await store.save('k', 1);
      const r2 = await store.save('k', 2);
      const r3 = await store.save('k', 3);
      expect(r2).toBeGreaterThan(r1);
      expect(r3).toBeGreaterThan(r2);
      expect(await store.load('k')).toEqual({ snapshot: 3, revision: r3 });
    });

    it('state store - expectedRevision 0 saves only a new key', async () => {
      const rev = await store.save('k', 'first', { expectedRevision: 0 });
      await expect(store.save('k', 'second', { expectedRevision: 0 })).rejects.toBeInstanceOf(StateConflictError);
      expect(await store.load('k')).toEqual({ snapshot: 'first', revision: rev });
    });

    it('state store - a save with a stale revision is refused and changes nothing', async () => {
      const r1 = await store.save('k', 'one');
      const r2 = await store.save('k', 'two', { expectedRevision: r1 });
      const err = await store.save('k', 'stale', { expectedRevision: r1 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StateConflictError);
      expect(err).toMatchObject({ name: 'StateConflictError', code: 'ERR_STATE_CONFLICT', key: 'k', expected: r1 });
      expect(await store.load('k')).toEqual({ snapshot: 'two', revision: r2 });
    });

    it('state store - of two racing saves with the same expected revision exactly one wins', async () => {
      const r1 = await store.save('k', 0);
      const results = await Promise.allSettled([
        store.save('k', 'a', { expectedRevision: r1 }),
        store.save('k', 'b', { expectedRevision: r1 }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect((lost[0] as PromiseRejectedResult).reason).toBeInstanceOf(StateConflictError);
      const winner = results[0]!.status === 'fulfilled' ? 'a' : 'b';
      expect((await store.load('k'))?.snapshot).toBe(winner);
    });

    it('state store - delete removes a key, says whether it was there, and then the key is new again', async () => {
      await store.save('k', 1);
      expect(await store.delete('k')).toBe(true);
      expect(await store.delete('k')).toBe(false);
      expect(await store.load('k')).toBeUndefined();
      expect(await store.list()).toEqual([]);
      await expect(store.save('k', 2, { expectedRevision: 0 })).resolves.toBeGreaterThan(0);
    });

    it('state store - a delete with a stale revision is refused and the state stays', async () => {
      const r1 = await store.save('k', 1);
      const r2 = await store.save('k', 2);
      await expect(store.delete('k', { expectedRevision: r1 })).rejects.toBeInstanceOf(StateConflictError);
      await expect(store.delete('k', { expectedRevision: 0 })).rejects.toBeInstanceOf(StateConflictError);
      expect(await store.load('k')).toEqual({ snapshot: 2, revision: r2 });
      expect(await store.delete('k', { expectedRevision: r2 })).toBe(true);
    });

    it('state store - list gives the stored keys, sorted', async () => {
      await store.save('b.2', 1);
      await store.save('a', 1);
      await store.save('b.1', 1);
      await store.save('c', 1);
      await store.delete('c');
      expect(await store.list()).toEqual(['a', 'b.1', 'b.2']);
    });

    it('state store - a bad key is a typed error naming key, and nothing is stored', async () => {
      for (const key of BAD_KEYS) {
        for (const op of [
          () => store.save(key as string, 1),
          () => store.load(key as string),
          () => store.delete(key as string),
        ]) {
          let err: unknown;
          try {
            await op();
          } catch (e) {
            err = e;
          }
          expect(err, `key ${JSON.stringify(String(key))}`).toBeInstanceOf(InvalidStateKeyError);
          expect(err).toMatchObject({ field: 'key', code: 'ERR_INVALID_STATE_KEY' });
        }
      }
      expect(await store.list()).toEqual([]);
    });

    it('state store - a bad expectedRevision or a snapshot JSON cannot carry is a typed error naming the field', async () => {
      for (const expectedRevision of [-1, 1.5, Number.NaN, '3']) {
        await expect(store.save('k', 1, { expectedRevision: expectedRevision as number })).rejects.toMatchObject({
          name: 'InvalidArgumentError',
          field: 'expectedRevision',
        });
      }
      const cyclic: Record<string, unknown> = {};
      cyclic.self = cyclic;
      for (const snapshot of [cyclic, 10n, undefined, () => 1]) {
        const err = await store.save('k', snapshot).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidArgumentError);
        expect(err).toMatchObject({ field: 'snapshot' });
      }
      expect(await store.list()).toEqual([]);
    });

    it('state store - a corrupt stored state is a typed error naming where it is', async () => {
      for (const [i, bytes] of [new TextEncoder().encode('{"format":"halyard.state'), new TextEncoder().encode('[1,2]'), new Uint8Array([0xff, 0xfe])].entries()) {
        const key = `broken.${i}`;
        const where = await f.corrupt(key, bytes);
        const err = await store.load(key).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(CorruptStateError);
        expect(err).toMatchObject({ name: 'CorruptStateError', code: 'ERR_CORRUPT_STATE', key, file: where });
        expect((err as Error).message).toContain(where);
      }
    });

    it('state store - model: any sequence of saves and deletes, conditional or not, matches a map with revisions', async () => {
      type Op =
        | { kind: 'save'; key: string; value: number; cas: 'none' | 'current' | 'stale' | 'zero' }
        | { kind: 'delete'; key: string; cas: 'none' | 'current' | 'stale' };
      const keyArb = fc.constantFrom('a', 'b', 'c.d');
      const opArb: fc.Arbitrary<Op> = fc.oneof(
        fc.record({ kind: fc.constant('save' as const), key: keyArb, value: fc.integer(), cas: fc.constantFrom('none', 'current', 'stale', 'zero') }),
        fc.record({ kind: fc.constant('delete' as const), key: keyArb, cas: fc.constantFrom('none', 'current', 'stale') }),
      );
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(opArb, { maxLength: 12 }), async (ops) => {
          const prefix = `m${run++}`;
          const model = new Map<string, { value: number; revision: number }>();
          for (const op of ops) {
            const key = `${prefix}.${op.key}`;
            const current = model.get(key);
            const expectedRevision =
              op.cas === 'none' ? undefined : op.cas === 'zero' ? 0 : op.cas === 'current' ? (current?.revision ?? 0) : (current?.revision ?? 0) + 1000;
            const options = expectedRevision === undefined ? undefined : { expectedRevision };
            const allowed = expectedRevision === undefined || expectedRevision === (current?.revision ?? 0);
            if (op.kind === 'save') {
              if (allowed) {
                const rev = await store.save(key, op.value, options);
                if (current) expect(rev).toBeGreaterThan(current.revision);
                model.set(key, { value: op.value, revision: rev });
              } else {
                await expect(store.save(key, op.value, options)).rejects.toBeInstanceOf(StateConflictError);
              }
            } else if (allowed) {
              expect(await store.delete(key, options)).toBe(current !== undefined);
              model.delete(key);
            } else {
              await expect(store.delete(key, options)).rejects.toBeInstanceOf(StateConflictError);
            }
            const got = await store.load(key);
            const want = model.get(key);
            expect(got).toEqual(want === undefined ? undefined : { snapshot: want.value, revision: want.revision });
          }
          const listed = (await store.list()).filter((k) => k.startsWith(`${prefix}.`));
          expect(listed).toEqual([...model.keys()].sort());
        }),
        { numRuns: options.modelRuns, verbose: 1 },
      );
    });
  });
}
