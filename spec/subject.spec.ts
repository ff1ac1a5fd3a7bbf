/**
 * Subjects: validation rules by example, then properties. The validators
 * are checked against a regex-and-split reference; `SubjectTrie` is run as a
 * model: random sequences of insert / remove / match, each match compared
 * with a brute-force reference matcher over the model's entries (which also
 * exercises cache invalidation and eviction). On failure fast-check prints
 * the seed and the shrunk counterexample; re-run with `{ seed, path }`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidSubjectError } from '../src/errors.js';
import {
  assertPublishSubject,
  assertQueueName,
  assertSubscribeSubject,
  isPublishSubject,
  isSubscribeSubject,
  MAX_SUBJECT_LENGTH,
  SubjectTrie,
} from '../src/transport/subject.js';

const FC = { verbose: true, numRuns: 300 } as const;

// --- references -----------------------------------------------------------

/** Whitespace, or a control character (general category Cc: U+0000-U+001F, U+007F-U+009F). */
const FORBIDDEN = /[\s\p{Cc}]/u;

function refValid(s: string, wildcards: boolean): boolean {
  if (s.length === 0 || s.length > MAX_SUBJECT_LENGTH || FORBIDDEN.test(s)) return false;
  const tokens = s.split('.');
  if (tokens.some((t) => t.length === 0)) return false;
  if (!wildcards) return !tokens.some((t) => t === '*' || t === '>');
  return tokens.every((t, i) => t !== '>' || i === tokens.length - 1);
}

function refMatch(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length) return false;
    if (f[i] !== '*' && f[i] !== s[i]) return false;
  }
  return f.length === s.length;
}

// --- arbitraries ------------------------------------------------------------

// Subjects come from a small space (14 of them) so that a sequence of
// operations often matches the same subject twice, which is what catches a
// stale cached result. Filters also use 'c', which no subject has.
const subjectArb = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 3 }).map((t) => t.join('.'));
const filterArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', 'c', '*'), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([tokens, tail]) => tokens.length > 0 || tail)
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'));
const queueArb = fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined });
const valueArb = fc.integer({ min: 0, max: 5 });

/** Strings dense in the characters that matter to the rules. */
/** Escapes everything but printable ASCII: several tricky characters are invisible in a terminal. */
const show = (s: string) => [...s].map((c) => (c >= ' ' && c <= '~' ? c : `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`)).join('');

const trickyString = fc.string({
  unit: fc.constantFrom('a', 'b', '.', '.', '*', '>', ' ', '\t', '\n', '\u0000', '\u007f', '\u0085', '\u00a0', '\u2003', '\ufeff', 'é', '-', '_'),
  maxLength: 12,
});

// --- validation -------------------------------------------------------------

describe('subject validation', () => {
  it('subject validation - accepts ordinary subjects and filters', () => {
    for (const s of ['a', 'a.b.c', 'orders.eu-west.new', '_INBOX.abc123', 'a*.b>', 'ünï.cödé', 'x'.repeat(MAX_SUBJECT_LENGTH)]) {
      expect(() => assertPublishSubject(s), s).not.toThrow();
      expect(() => assertSubscribeSubject(s), s).not.toThrow();
    }
    for (const s of ['*', '>', 'a.*', 'a.>', '*.*.>', 'a.*.c']) {
      expect(() => assertSubscribeSubject(s), s).not.toThrow();
      expect(() => assertPublishSubject(s), s).toThrow(InvalidSubjectError);
    }
  });

  it('subject validation - rejects empty tokens, whitespace, control characters, misplaced > and overlong subjects', () => {
    const bad = ['', '.', 'a.', '.a', 'a..b', 'a b', 'a\tb', 'a\u0000', 'a\u00a0b', 'a\u2028', 'a.>.b', '>.a', 'x'.repeat(MAX_SUBJECT_LENGTH + 1)];
    for (const s of bad) {
      expect(() => assertSubscribeSubject(s), JSON.stringify(s)).toThrow(InvalidSubjectError);
      expect(() => assertPublishSubject(s), JSON.stringify(s)).toThrow(InvalidSubjectError);
    }
    for (const v of [undefined, null, 42, {}]) {
      expect(() => assertPublishSubject(v)).toThrow(InvalidSubjectError);
    }
  });

  it('subject validation - the error names the subject and the reason', () => {
    try {
      assertPublishSubject('a.*');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidSubjectError);
      expect((err as InvalidSubjectError).subject).toBe('a.*');
      expect((err as Error).message).toContain('wildcards are not allowed');
      expect((err as InvalidSubjectError).code).toBe('ERR_INVALID_SUBJECT');
    }
  });

  it('subject validation - queue names: non-empty, no whitespace or control characters', () => {
    for (const q of ['workers', 'a.b', 'q-1_x']) expect(() => assertQueueName(q)).not.toThrow();
    for (const q of ['', 'a b', 'a\n', 'x'.repeat(MAX_SUBJECT_LENGTH + 1), 7]) {
      expect(() => assertQueueName(q), String(q)).toThrow(InvalidSubjectError);
    }
  });

  it('subject validation - property: agrees with the reference on arbitrary strings', () => {
    fc.assert(
      fc.property(trickyString, (s) => {
        expect(isPublishSubject(s), show(s)).toBe(refValid(s, false));
        expect(isSubscribeSubject(s), show(s)).toBe(refValid(s, true));
      }),
      { ...FC, numRuns: 2000 },
    );
  });

  it('subject validation - property: every valid published subject is a valid filter that matches itself', () => {
    fc.assert(
      fc.property(trickyString, (s) => {
        fc.pre(isPublishSubject(s));
        expect(isSubscribeSubject(s)).toBe(true);
        const trie = new SubjectTrie<number>();
        trie.insert(s, 1);
        expect(trie.match(s).plain).toEqual([1]);
      }),
      FC,
    );
  });
});

// --- matching ---------------------------------------------------------------

describe('subject trie', () => {
  it('subject trie - matches literals, * and > as NATS does', () => {
    const trie = new SubjectTrie<string>();
    for (const f of ['a.b', 'a.*', 'a.>', '*.b', '>', 'a.b.c', 'a.*.c']) trie.insert(f, f);
    const m = (s: string) => [...trie.match(s).plain].sort();
    expect(m('a.b')).toEqual(['*.b', '>', 'a.*', 'a.>', 'a.b'].sort());
    expect(m('a')).toEqual(['>']);
    expect(m('a.b.c')).toEqual(['>', 'a.*.c', 'a.>', 'a.b.c'].sort());
    expect(m('x.y.z')).toEqual(['>']);
  });

  it('subject trie - queue groups are pooled by name across filters', () => {
    const trie = new SubjectTrie<string>();
    trie.insert('a.*', 'star', 'q');
    trie.insert('a.b', 'lit', 'q');
    trie.insert('a.b', 'other', 'r');
    trie.insert('a.b', 'plain');
    const { plain, groups } = trie.match('a.b');
    expect(plain).toEqual(['plain']);
    const byName = Object.fromEntries(groups.map((g) => [g.queue, [...g.members].sort()]));
    expect(byName).toEqual({ q: ['lit', 'star'], r: ['other'] });
  });

  it('subject trie - cached results are dropped on insert and remove', () => {
    const trie = new SubjectTrie<number>();
    expect(trie.match('a.b').plain).toEqual([]);
    trie.insert('a.*', 1);
    expect(trie.match('a.b').plain).toEqual([1]);
    trie.insert('a.b', 2);
    expect([...trie.match('a.b').plain].sort()).toEqual([1, 2]);
    expect(trie.remove('a.*', 1)).toBe(true);
    expect(trie.match('a.b').plain).toEqual([2]);
    expect(trie.remove('a.*', 1)).toBe(false);
    expect(trie.remove('a.b', 2)).toBe(true);
    expect(trie.match('a.b').plain).toEqual([]);
    expect(trie.size).toBe(0);
  });

  it('subject trie - the same entry twice is stored once; insert validates', () => {
    const trie = new SubjectTrie<number>();
    trie.insert('a', 1);
    trie.insert('a', 1);
    expect(trie.size).toBe(1);
    expect(trie.match('a').plain).toEqual([1]);
    expect(() => trie.insert('a..b', 1)).toThrow(InvalidSubjectError);
    expect(() => trie.insert('a', 1, 'bad queue')).toThrow(InvalidSubjectError);
    expect(trie.remove('', 1)).toBe(false);
  });

  type Op =
    | { kind: 'insert'; filter: string; queue: string | undefined; value: number }
    | { kind: 'removeExisting'; index: number }
    | { kind: 'removeAny'; filter: string; queue: string | undefined; value: number }
    | { kind: 'match'; subject: string }
    | { kind: 'matchAll' };

  const opArb: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ kind: fc.constant('insert' as const), filter: filterArb, queue: queueArb, value: valueArb }), weight: 4 },
    { arbitrary: fc.record({ kind: fc.constant('removeExisting' as const), index: fc.nat() }), weight: 2 },
    { arbitrary: fc.record({ kind: fc.constant('removeAny' as const), filter: filterArb, queue: queueArb, value: valueArb }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant('match' as const), subject: subjectArb }), weight: 3 },
    { arbitrary: fc.constant({ kind: 'matchAll' as const }), weight: 1 },
  );

  const ALL_SUBJECTS = ['a', 'b', 'a.a', 'a.b', 'b.a', 'b.b', 'a.a.a', 'a.a.b', 'a.b.a', 'a.b.b', 'b.a.a', 'b.a.b', 'b.b.a', 'b.b.b'];

  interface Entry {
    filter: string;
    queue: string | undefined;
    value: number;
  }

  function checkMatch(trie: SubjectTrie<number>, model: Map<string, Entry>, subject: string): void {
    const expectedPlain: number[] = [];
    const expectedGroups = new Map<string, number[]>();
    for (const e of model.values()) {
      if (!refMatch(e.filter, subject)) continue;
      if (e.queue === undefined) expectedPlain.push(e.value);
      else expectedGroups.set(e.queue, [...(expectedGroups.get(e.queue) ?? []), e.value]);
    }
    const got = trie.match(subject);
    expect([...got.plain].sort(), subject).toEqual(expectedPlain.sort());
    const gotGroups = new Map(got.groups.map((g) => [g.queue, [...g.members].sort()]));
    expect(gotGroups, subject).toEqual(new Map([...expectedGroups].map(([q, v]) => [q, v.sort()])));
    for (const g of got.groups) expect(g.members.length).toBeGreaterThan(0);
  }

  it('subject trie - property: insert/remove/match agree with a brute-force model', () => {
    fc.assert(
      fc.property(fc.constantFrom(0, 2, 4096), fc.array(opArb, { maxLength: 100, size: 'medium' }), (cacheSize, ops) => {
        const trie = new SubjectTrie<number>({ cacheSize });
        const model = new Map<string, Entry>();
        const key = (f: string, q: string | undefined, v: number) => `${f}|${q ?? ''}|${v}`;
        for (const op of ops) {
          switch (op.kind) {
            case 'insert':
              trie.insert(op.filter, op.value, op.queue);
              model.set(key(op.filter, op.queue, op.value), { filter: op.filter, queue: op.queue, value: op.value });
              break;
            case 'removeExisting': {
              const entries = [...model.entries()];
              if (entries.length === 0) break;
              const [k, e] = entries[op.index % entries.length]!;
              expect(trie.remove(e.filter, e.value, e.queue)).toBe(true);
              model.delete(k);
              break;
            }
            case 'removeAny': {
              const k = key(op.filter, op.queue, op.value);
              expect(trie.remove(op.filter, op.value, op.queue)).toBe(model.delete(k));
              break;
            }
            case 'match':
              checkMatch(trie, model, op.subject);
              break;
            case 'matchAll':
              for (const subject of ALL_SUBJECTS) checkMatch(trie, model, subject);
              break;
          }
          expect(trie.size).toBe(model.size);
        }
      }),
      FC,
    );
  });

  it('subject trie - property: removing everything leaves an empty trie that matches nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(filterArb, queueArb, valueArb), { maxLength: 30 }), subjectArb, (entries, subject) => {
        const trie = new SubjectTrie<number>();
        for (const [f, q, v] of entries) trie.insert(f, v, q);
        trie.match(subject);
        for (const [f, q, v] of entries) trie.remove(f, v, q);
        expect(trie.size).toBe(0);
        const m = trie.match(subject);
        expect(m.plain).toEqual([]);
        expect(m.groups).toEqual([]);
      }),
      FC,
    );
  });
});
