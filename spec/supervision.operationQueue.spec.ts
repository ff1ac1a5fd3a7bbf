/**
 * The supervisor's operation queue: one operation at a time, in arrival
 * order, whether an operation runs inline on an idle queue or waits.
 */
import { describe, expect, it } from 'vitest';
import { OperationQueue } from '../src/supervision/OperationQueue.js';

describe('supervision - operation queue', () => {
  it('supervision - an operation posted from inside a running one runs after it, not inside it', () => {
    const errors: unknown[] = [];
    const q = new OperationQueue((err) => errors.push(err));
    const trace: string[] = [];
    q.post(() => {
      trace.push('a start');
      q.post(() => void trace.push('b'));
      q.post(() => void trace.push('c'));
      trace.push('a end');
    });
    expect(trace).toEqual(['a start', 'a end', 'b', 'c']);
    expect(q.idle).toBe(true);
    expect(errors).toEqual([]);
  });

  it('supervision - an operation that throws is reported and the ones queued behind it still run', () => {
    const errors: unknown[] = [];
    const q = new OperationQueue((err) => errors.push(err));
    const trace: string[] = [];
    const boom = new Error('boom');
    q.post(() => {
      q.post(() => void trace.push('after'));
      throw boom;
    });
    expect(errors).toEqual([boom]);
    expect(trace).toEqual(['after']);
    expect(q.idle).toBe(true);
    // The queue still runs operations inline afterwards.
    q.post(() => void trace.push('next'));
    expect(trace).toEqual(['after', 'next']);
  });

  it('supervision - an asynchronous operation holds back the ones posted after it until it settles', async () => {
    const q = new OperationQueue(() => {});
    const trace: string[] = [];
    let release!: () => void;
    q.post(() => new Promise<void>((resolve) => {
      release = resolve;
    }).then(() => void trace.push('slow done')));
    q.post(() => void trace.push('fast'));
    expect(trace).toEqual([]);
    expect(q.idle).toBe(false);
    const idle = q.whenIdle();
    release();
    await idle;
    expect(trace).toEqual(['slow done', 'fast']);
    expect(await q.run(() => 7)).toBe(7);
  });
});
