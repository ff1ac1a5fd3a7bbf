/**
 * The file state store: one JSON file per key, `<dir>/<key>.json`, the
 * embedded default behind the `StateStore` seam (contract in `StateStore.ts`).
 *
 * - Atomic writes: the record goes to a temp file in the same folder
 *   (`.<key>.<random>.tmp`, never listed), is fsynced, renamed over the key's
 *   file, and the folder is fsynced. A crash leaves the old record or the new
 *   one, never a torn file; a leftover temp file is ignored.
 * - Owner-only: the folder is 0700, files 0600 (snapshots are private state).
 * - Revisions are kept in the file. Compare-and-set holds between the users
 *   of one `FileStateStore` object (operations on one key run one at a time);
 *   two processes on one folder are not fenced against each other: the
 *   clustered case is `KvStateStore`'s.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, open, readFile, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptStateError, InvalidArgumentError, StateConflictError } from '../../errors.js';
import {
  type StateRecord,
  type StateStore,
  type StateWriteOptions,
  assertExpectedRevision,
  assertStateKey,
  encodeSnapshot,
  isStateKey,
} from './StateStore.js';

export interface FileStateStoreOptions {
  /** The folder; created (0700) when missing. */
  readonly dir: string;
}

const FORMAT = 'halyard.state.v1';
const SUFFIX = '.json';

export class FileStateStore implements StateStore {
  readonly kind = 'file' as const;
  readonly dir: string;
  private ready: Promise<void> | undefined;
  /** The tail of each key's queue of operations. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(options: FileStateStoreOptions) {
    if (typeof options?.dir !== 'string' || options.dir.length === 0) {
      throw new InvalidArgumentError('dir', 'must be a non-empty path');
    }
    this.dir = options.dir;
  }

  async save(key: string, snapshot: unknown, options?: StateWriteOptions): Promise<number> {
    assertStateKey(key);
    const expected = assertExpectedRevision(options);
    const text = encodeSnapshot(snapshot);
    return this.serial(key, async () => {
      const current = await this.read(key);
      const currentRev = current?.revision ?? 0;
      if (expected !== undefined && expected !== currentRev) throw new StateConflictError(key, expected);
      const revision = currentRev + 1;
      await this.writeAtomically(key, `{"format":"${FORMAT}","revision":${revision},"snapshot":${text}}`);
      return revision;
    });
  }

  async load(key: string): Promise<StateRecord | undefined> {
    assertStateKey(key);
    return this.serial(key, () => this.read(key));
  }

  async delete(key: string, options?: StateWriteOptions): Promise<boolean> {
    assertStateKey(key);
    const expected = assertExpectedRevision(options);
    return this.serial(key, async () => {
      if (expected !== undefined) {
        const currentRev = (await this.read(key))?.revision ?? 0;
        if (expected !== currentRev) throw new StateConflictError(key, expected);
      }
      try {
        await rm(this.fileOf(key));
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw err;
      }
    });
  }

  async list(): Promise<string[]> {
    await this.ensureDir();
    const names = await readdir(this.dir);
    return names
      .filter((n) => n.endsWith(SUFFIX) && !n.startsWith('.'))
      .map((n) => n.slice(0, -SUFFIX.length))
      // A file someone else put in the folder is not a key this store could load.
      .filter(isStateKey)
      .sort();
  }

  private fileOf(key: string): string {
    return join(this.dir, key + SUFFIX);
  }

  private ensureDir(): Promise<void> {
    this.ready ??= (async () => {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      // mkdir's mode passes through the umask, and the folder may already exist.
      await chmod(this.dir, 0o700);
    })();
    return this.ready;
  }

  private serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(key) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.catch(() => {});
    this.queues.set(key, tail);
    void tail.then(() => {
      if (this.queues.get(key) === tail) this.queues.delete(key);
    });
    return run;
  }

  private async read(key: string): Promise<StateRecord | undefined> {
    await this.ensureDir();
    const file = this.fileOf(key);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let record: unknown;
    try {
      record = JSON.parse(text);
    } catch (err) {
      throw new CorruptStateError(key, file, 'not JSON', err);
    }
    const r = record as { format?: unknown; revision?: unknown; snapshot?: unknown } | null;
    if (typeof r !== 'object' || r === null || r.format !== FORMAT || !('snapshot' in r)) {
      throw new CorruptStateError(key, file, `not a ${FORMAT} record`);
    }
    if (typeof r.revision !== 'number' || !Number.isSafeInteger(r.revision) || r.revision <= 0) {
      throw new CorruptStateError(key, file, 'revision is not a positive integer');
    }
    return { snapshot: r.snapshot, revision: r.revision };
  }

  private async writeAtomically(key: string, text: string): Promise<void> {
    const temp = join(this.dir, `.${key}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text, 'utf8');
      await handle.sync();
    } catch (err) {
      await handle.close();
      await rm(temp, { force: true });
      throw err;
    }
    await handle.close();
    try {
      await rename(temp, this.fileOf(key));
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    // The rename is durable only once the folder's entry is on disk.
    const folder = await open(this.dir, 'r');
    try {
      await folder.sync();
    } finally {
      await folder.close();
    }
  }
}
