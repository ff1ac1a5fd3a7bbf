import { describe, expect, it } from 'vitest';
import { inShutdownOrder } from '../src/supervision/shutdownOrder.js';

describe('supervision - shutdown order', () => {
  it('supervision - children are stopped last started first, each after the previous one has stopped', async () => {
    const log: string[] = [];
    await inShutdownOrder('one_for_one', ['a', 'b', 'c'], async (c) => {
      log.push(`stop ${c}`);
      await Promise.resolve();
      log.push(`stopped ${c}`);
    });
    expect(log).toEqual(['stop c', 'stopped c', 'stop b', 'stopped b', 'stop a', 'stopped a']);
  });

  it('supervision - simple_one_for_one instances are all asked to stop at once', async () => {
    const log: string[] = [];
    await inShutdownOrder('simple_one_for_one', ['a', 'b', 'c'], async (c) => {
      log.push(`stop ${c}`);
      await Promise.resolve();
      log.push(`stopped ${c}`);
    });
    expect(log.slice(0, 3).sort()).toEqual(['stop a', 'stop b', 'stop c']);
    expect(log).toHaveLength(6);
  });
});
