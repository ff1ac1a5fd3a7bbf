/**
 * The file state store: the conformance suite on a fresh temp folder per
 * test, plus what only files show (permissions, atomic writes, no path
 * escaping the folder).
 */
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidStateKeyError } from '../src/errors.js';
import { FileStateStore } from '../src/services/state/FileStateStore.js';
import { BAD_KEYS, describeStateConformance } from './state.conformance.js';

describeStateConformance(
  'FileStateStore',
  async () => {
    const root = await mkdtemp(join(tmpdir(), 'halyard-state-'));
    const dir = join(root, 'store');
    return {
      store: new FileStateStore({ dir }),
      async corrupt(key, bytes) {
        const file = join(dir, `${key}.json`);
        await mkdir(dir, { recursive: true });
        await writeFile(file, bytes);
        return file;
      },
      async cleanup() {
        await rm(root, { recursive: true, force: true });
      },
    };
  },
  { modelRuns: 60 },
);

describe('FileStateStore', () => {
  let root: string;
  let dir: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'halyard-state-'));
    dir = join(root, 'nested', 'store');
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('state file - the folder is created owner-only (0700) and state files are 0600', async () => {
    const store = new FileStateStore({ dir });
    await store.save('counter.1', { count: 1 });
    await store.save('counter.1', { count: 2 });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(dir, 'counter.1.json'))).mode & 0o777).toBe(0o600);
  });

  it('state file - an existing folder is made owner-only', async () => {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    await new FileStateStore({ dir }).list();
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
  });

  it('state file - one file per key, no temp file left behind, and a leftover temp file is not a key', async () => {
    const store = new FileStateStore({ dir });
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.save('k', i)));
    await store.save('other', 1);
    expect((await readdir(dir)).sort()).toEqual(['k.json', 'other.json']);
    // What a crash between the temp write and the rename leaves.
    await writeFile(join(dir, '.k.0123456789ab.tmp'), '{"format":"halyard.st');
    // Nor is a file someone else dropped in the folder under a name no key has.
    await writeFile(join(dir, 'not a key.json'), '{}');
    expect(await store.list()).toEqual(['k', 'other']);
    expect((await store.load('k'))?.revision).toBe(20);
  });

  it('state file - a key cannot reach outside the folder: traversal is refused naming key, nothing written anywhere', async () => {
    const store = new FileStateStore({ dir });
    await store.list();
    for (const key of ['../escape', '../../escape', 'a/../../b', '/etc/passwd', '..', ...BAD_KEYS]) {
      await expect(store.save(key as string, 'x')).rejects.toBeInstanceOf(InvalidStateKeyError);
    }
    expect(await readdir(dir)).toEqual([]);
    expect((await readdir(join(root, 'nested'))).sort()).toEqual(['store']);
    expect(await readdir(root)).toEqual(['nested']);
  });

  it('state file - a state written by one store object is read by another on the same folder (a restart)', async () => {
    const rev = await new FileStateStore({ dir }).save('svc.counter', { count: 7 });
    const again = new FileStateStore({ dir });
    expect(await again.load('svc.counter')).toEqual({ snapshot: { count: 7 }, revision: rev });
    await expect(again.save('svc.counter', { count: 8 }, { expectedRevision: rev })).resolves.toBe(rev + 1);
  });

  it('state file - a folder that is not a non-empty path is a typed error naming dir', () => {
    expect(() => new FileStateStore({ dir: '' })).toThrow(expect.objectContaining({ name: 'InvalidArgumentError', field: 'dir' }));
  });
});
