/**
 * supervision - restart strategies as pure plans (no actors): which children
 * stop (reverse start order), which are dropped, which start (start order).
 */
import { describe, expect, it } from 'vitest';
import { planRestart } from '../src/supervision/policy/strategy.js';
import type { Strategy } from '../src/supervision/types.js';

const IDS = ['a', 'b', 'c', 'd'];

// biome-ignore format: the table reads as a table
const ROWS: { strategy: Strategy; failed: string; temporary?: string[]; stop: string[]; remove: string[]; start: string[] }[] = [
  { strategy: 'one_for_one',        failed: 'b', stop: [],              remove: [],    start: ['b'] },
  { strategy: 'simple_one_for_one', failed: 'c', stop: [],              remove: [],    start: ['c'] },
  { strategy: 'one_for_all',        failed: 'b', stop: ['d', 'c', 'a'], remove: [],    start: ['a', 'b', 'c', 'd'] },
  { strategy: 'one_for_all',        failed: 'a', stop: ['d', 'c', 'b'], remove: [],    start: ['a', 'b', 'c', 'd'] },
  { strategy: 'rest_for_one',       failed: 'b', stop: ['d', 'c'],      remove: [],    start: ['b', 'c', 'd'] },
  { strategy: 'rest_for_one',       failed: 'd', stop: [],              remove: [],    start: ['d'] },
  { strategy: 'rest_for_one',       failed: 'a', stop: ['d', 'c', 'b'], remove: [],    start: ['a', 'b', 'c', 'd'] },
  { strategy: 'one_for_all',        failed: 'b', temporary: ['c'], stop: ['d', 'c', 'a'], remove: ['c'], start: ['a', 'b', 'd'] },
  { strategy: 'rest_for_one',       failed: 'b', temporary: ['a', 'd'], stop: ['d', 'c'], remove: ['d'], start: ['b', 'c'] },
  { strategy: 'one_for_one',        failed: 'b', temporary: ['a', 'c'], stop: [], remove: [], start: ['b'] },
];

describe('supervision - strategy plans', () => {
  for (const r of ROWS) {
    const temps = new Set(r.temporary ?? []);
    it(`supervision - ${r.strategy}, ${r.failed} fails${temps.size ? `, temporary ${[...temps]}` : ''}: stop [${r.stop}], start [${r.start}]`, () => {
      expect(planRestart(r.strategy, IDS, r.failed, (id) => temps.has(id))).toEqual({ stop: r.stop, remove: r.remove, start: r.start });
    });
  }

  it('supervision - the failed child is restarted even if a rule restarts a temporary one', () => {
    expect(planRestart('one_for_all', ['a', 'b'], 'b', () => true)).toEqual({ stop: ['a'], remove: ['a'], start: ['b'] });
  });

  it('supervision - an unknown failed id is a programming error', () => {
    expect(() => planRestart('one_for_one', IDS, 'zz')).toThrow(expect.objectContaining({ field: 'failedId' }));
  });
});
