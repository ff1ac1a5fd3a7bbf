/**
 * Subjects: validation at the edge, and a token trie that matches published
 * subjects against subscription filters. Both transports use this module, so
 * they reject the same subjects with the same error.
 *
 * ## Rules (NATS)
 * - A subject is tokens separated by `.`; every token is non-empty.
 * - No whitespace (ASCII or Unicode) and no control characters anywhere.
 * - At most {@link MAX_SUBJECT_LENGTH} characters.
 * - A *wildcard token* is a token that is exactly `*` (one token) or `>` (one
 *   or more tokens). `>` may only be the last token. A `*` or `>` inside a
 *   longer token (`a*`) is an ordinary character, as in NATS.
 * - Published subjects (and reply subjects) contain no wildcard tokens.
 * - Queue names: non-empty, no whitespace or control characters, at most
 *   {@link MAX_SUBJECT_LENGTH} characters.
 *
 * Every `assert…` function is synchronous and throws `InvalidSubjectError`.
 *
 * ## Matching
 * `SubjectTrie<T>` stores values under subscription filters, optionally in a
 * named queue group, and answers `match(subject)` with every plain value and,
 * per queue group *name*, the members whose filter matches. As in nats-server,
 * members of one group name are pooled across filters: a message that
 * matches `orders.*` and `orders.new`, both in group `q`, goes to one member
 * of `q`, not one per filter.
 *
 * Results are cached per literal subject, because a bus sees the same few
 * subjects over and over; the cache is dropped on every insert or remove, and
 * a cached result is shared, so callers must not mutate it.
 */
import { InvalidSubjectError } from '../errors.js';

/** Longest subject or queue name accepted, in UTF-16 code units. */
export const MAX_SUBJECT_LENGTH = 1024;

const DOT = 46;
const STAR = 42;
const GT = 62;

/** True for whitespace and control characters; the ASCII test comes first because it is the common case. */
function isForbiddenChar(c: number): boolean {
  if (c <= 0x20 || c === 0x7f) return true;
  if (c < 0x80) return false;
  return (
    c <= 0x9f || // C1 controls
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

/**
 * Why `subject` is not a valid subject, or `undefined` when it is.
 * `wildcards` allows `*` and `>` tokens (subscription filters).
 */
function subjectProblem(subject: unknown, wildcards: boolean): string | undefined {
  if (typeof subject !== 'string') return 'must be a string';
  const len = subject.length;
  if (len === 0) return 'is empty';
  if (len > MAX_SUBJECT_LENGTH) return `is longer than ${MAX_SUBJECT_LENGTH} characters`;
  let start = 0;
  for (let i = 0; i <= len; i++) {
    const c = i === len ? DOT : subject.charCodeAt(i);
    if (c === DOT) {
      if (i === start) return 'has an empty token';
      if (i - start === 1) {
        const t = subject.charCodeAt(start);
        if (t === STAR || t === GT) {
          if (!wildcards) return 'wildcards are not allowed in a published subject';
          if (t === GT && i !== len) return "'>' must be the last token";
        }
      }
      start = i + 1;
    } else if (isForbiddenChar(c)) {
      return 'contains whitespace or a control character';
    }
  }
  return undefined;
}

function queueProblem(queue: unknown): string | undefined {
  if (typeof queue !== 'string') return 'queue name must be a string';
  if (queue.length === 0) return 'queue name is empty';
  if (queue.length > MAX_SUBJECT_LENGTH) return `queue name is longer than ${MAX_SUBJECT_LENGTH} characters`;
  for (let i = 0; i < queue.length; i++) {
    if (isForbiddenChar(queue.charCodeAt(i))) return 'queue name contains whitespace or a control character';
  }
  return undefined;
}

/** Throws `InvalidSubjectError` unless `subject` is a valid subject to publish to (no wildcards). */
export function assertPublishSubject(subject: unknown): asserts subject is string {
  const problem = subjectProblem(subject, false);
  if (problem !== undefined) throw new InvalidSubjectError(subject, problem);
}

/** Throws `InvalidSubjectError` unless `subject` is a valid subscription filter (wildcards allowed). */
export function assertSubscribeSubject(subject: unknown): asserts subject is string {
  const problem = subjectProblem(subject, true);
  if (problem !== undefined) throw new InvalidSubjectError(subject, problem);
}

/** Throws `InvalidSubjectError` unless `queue` is a valid queue group name. */
export function assertQueueName(queue: unknown): asserts queue is string {
  const problem = queueProblem(queue);
  if (problem !== undefined) throw new InvalidSubjectError(queue, problem);
}

/** True when `subject` is a valid published subject. */
export function isPublishSubject(subject: unknown): subject is string {
  return subjectProblem(subject, false) === undefined;
}

/** True when `subject` is a valid subscription filter. */
export function isSubscribeSubject(subject: unknown): subject is string {
  return subjectProblem(subject, true) === undefined;
}

/** The members of one queue group that a subject matched. */
export interface QueueGroupMatch<T> {
  readonly queue: string;
  /** In insertion order; never empty. */
  readonly members: readonly T[];
  /**
   * Scratch counter for the caller's load balancing (round robin). It lives
   * on the cached result, so it restarts from 0 whenever the cache is dropped.
   */
  cursor: number;
}

export interface SubjectMatch<T> {
  /** Values subscribed without a queue group, in insertion order per filter. */
  readonly plain: readonly T[];
  /** One entry per queue group name. */
  readonly groups: readonly QueueGroupMatch<T>[];
}

const EMPTY_MATCH: SubjectMatch<never> = Object.freeze({ plain: Object.freeze([]), groups: Object.freeze([]) });

class TrieNode<T> {
  literals: Map<string, TrieNode<T>> | undefined;
  star: TrieNode<T> | undefined;
  /** The `>` child: a leaf, since `>` is always the last token. */
  tail: TrieNode<T> | undefined;
  plain: Set<T> | undefined;
  queues: Map<string, Set<T>> | undefined;

  isEmpty(): boolean {
    return (
      (this.literals === undefined || this.literals.size === 0) &&
      this.star === undefined &&
      this.tail === undefined &&
      (this.plain === undefined || this.plain.size === 0) &&
      (this.queues === undefined || this.queues.size === 0)
    );
  }
}

export interface SubjectTrieOptions {
  /** Most match results kept in the cache (oldest evicted first). Default 4096; 0 disables caching. */
  readonly cacheSize?: number;
}

/** Subscription filters → values, with NATS matching semantics. See the module comment. */
export class SubjectTrie<T> {
  readonly #root = new TrieNode<T>();
  readonly #cache = new Map<string, SubjectMatch<T>>();
  readonly #cacheSize: number;
  #size = 0;

  constructor(options: SubjectTrieOptions = {}) {
    this.#cacheSize = options.cacheSize ?? 4096;
  }

  /** Number of (filter, queue, value) entries. */
  get size(): number {
    return this.#size;
  }

  /**
   * Add `value` under `filter`, in queue group `queue` when given. Adding the
   * same (filter, queue, value) twice stores it once. Throws
   * `InvalidSubjectError` for an invalid filter or queue name.
   */
  insert(filter: string, value: T, queue?: string): void {
    assertSubscribeSubject(filter);
    if (queue !== undefined) assertQueueName(queue);
    let node = this.#root;
    for (const token of filter.split('.')) {
      if (token === '*') {
        node.star ??= new TrieNode<T>();
        node = node.star;
      } else if (token === '>') {
        node.tail ??= new TrieNode<T>();
        node = node.tail;
      } else {
        node.literals ??= new Map();
        let next = node.literals.get(token);
        if (next === undefined) {
          next = new TrieNode<T>();
          node.literals.set(token, next);
        }
        node = next;
      }
    }
    let set: Set<T>;
    if (queue === undefined) {
      set = node.plain ??= new Set();
    } else {
      node.queues ??= new Map();
      let members = node.queues.get(queue);
      if (members === undefined) {
        members = new Set();
        node.queues.set(queue, members);
      }
      set = members;
    }
    if (!set.has(value)) {
      set.add(value);
      this.#size++;
    }
    this.#cache.clear();
  }

  /** Remove `value` from `filter` (and `queue`). Returns whether it was there. Never throws. */
  remove(filter: string, value: T, queue?: string): boolean {
    if (typeof filter !== 'string' || filter.length === 0) return false;
    const path: TrieNode<T>[] = [this.#root];
    const tokens = filter.split('.');
    let node: TrieNode<T> | undefined = this.#root;
    for (const token of tokens) {
      node = token === '*' ? node.star : token === '>' ? node.tail : node.literals?.get(token);
      if (node === undefined) return false;
      path.push(node);
    }
    let removed: boolean;
    if (queue === undefined) {
      removed = node.plain?.delete(value) ?? false;
    } else {
      const members = node.queues?.get(queue);
      removed = members?.delete(value) ?? false;
      if (members !== undefined && members.size === 0) node.queues!.delete(queue);
    }
    if (!removed) return false;
    this.#size--;
    this.#cache.clear();
    // Prune empty nodes bottom-up so a churn of unique filters (inboxes) does not leak.
    for (let i = tokens.length; i > 0; i--) {
      const child = path[i]!;
      if (!child.isEmpty()) break;
      const parent = path[i - 1]!;
      const token = tokens[i - 1]!;
      if (token === '*') parent.star = undefined;
      else if (token === '>') parent.tail = undefined;
      else parent.literals!.delete(token);
    }
    return true;
  }

  /**
   * Every value whose filter matches the literal `subject`. The subject is
   * not validated here (the hot path); callers validate with
   * {@link assertPublishSubject} first. The result is shared: do not mutate it.
   */
  match(subject: string): SubjectMatch<T> {
    const cached = this.#cache.get(subject);
    if (cached !== undefined) return cached;
    const result = this.#compute(subject);
    if (this.#cacheSize > 0) {
      if (this.#cache.size >= this.#cacheSize) {
        const oldest = this.#cache.keys().next();
        if (!oldest.done) this.#cache.delete(oldest.value);
      }
      this.#cache.set(subject, result);
    }
    return result;
  }

  #compute(subject: string): SubjectMatch<T> {
    const plain: T[] = [];
    const groups = new Map<string, T[]>();
    collect(this.#root, subject.split('.'), 0, plain, groups);
    if (plain.length === 0 && groups.size === 0) return EMPTY_MATCH;
    const groupList: QueueGroupMatch<T>[] = [];
    for (const [queue, members] of groups) groupList.push({ queue, members, cursor: 0 });
    return { plain, groups: groupList };
  }
}

function collect<T>(node: TrieNode<T>, tokens: readonly string[], i: number, plain: T[], groups: Map<string, T[]>): void {
  if (i === tokens.length) {
    add(node, plain, groups);
    return;
  }
  // `>` needs at least one more token, which i < tokens.length guarantees.
  if (node.tail !== undefined) add(node.tail, plain, groups);
  const literal = node.literals?.get(tokens[i]!);
  if (literal !== undefined) collect(literal, tokens, i + 1, plain, groups);
  if (node.star !== undefined) collect(node.star, tokens, i + 1, plain, groups);
}

function add<T>(node: TrieNode<T>, plain: T[], groups: Map<string, T[]>): void {
  if (node.plain !== undefined) for (const v of node.plain) plain.push(v);
  if (node.queues !== undefined) {
    for (const [queue, members] of node.queues) {
      let list = groups.get(queue);
      if (list === undefined) {
        list = [];
        groups.set(queue, list);
      }
      for (const v of members) list.push(v);
    }
  }
}
