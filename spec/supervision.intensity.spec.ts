/**
 * supervision - restart intensity: OTP add_restart/3 as a pure table.
 * Times are ms on the injected clock; a restart counts while now - r < period.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addRestart, inWindow, wouldExceed } from '../src/supervision/policy/intensity.js';

interface Row {
  readonly intensity: number;
  readonly period: number;
  readonly history: number[];
  readonly now: number;
  readonly kept: number[];
  readonly exceeded: boolean;
  readonly why: string;
}

const ROWS: Row[] = [
  { intensity: 1, period: 5000, history: [], now: 0, kept: [0], exceeded: false, why: 'first restart is allowed' },
  { intensity: 1, period: 5000, history: [0], now: 4999, kept: [0, 4999], exceeded: true, why: 'second restart inside the period' },
  { intensity: 1, period: 5000, history: [0], now: 5000, kept: [0, 5000], exceeded: true, why: 'a restart exactly one period old still counts (OTP keeps R >= Now - Period)' },
  { intensity: 1, period: 5000, history: [0], now: 5001, kept: [5001], exceeded: false, why: 'one ms past the period it has left the window' },
  { intensity: 1, period: 5000, history: [0], now: 9000, kept: [9000], exceeded: false, why: 'old restart dropped' },
  { intensity: 0, period: 5000, history: [], now: 0, kept: [0], exceeded: true, why: 'intensity 0 allows no restart at all' },
  { intensity: 3, period: 1000, history: [0, 100, 200], now: 300, kept: [0, 100, 200, 300], exceeded: true, why: 'fourth restart within 1 s' },
  { intensity: 3, period: 1000, history: [0, 100, 200], now: 1000, kept: [0, 100, 200, 1000], exceeded: true, why: 'the oldest, exactly one period old, still counts' },
  { intensity: 3, period: 1000, history: [0, 100, 200], now: 1001, kept: [100, 200, 1001], exceeded: false, why: 'oldest fell out, three remain' },
  { intensity: 3, period: 1000, history: [0, 100, 200], now: 1150, kept: [200, 1150], exceeded: false, why: 'two fell out' },
  { intensity: 2, period: 10, history: [1, 2, 3, 4], now: 5, kept: [1, 2, 3, 4, 5], exceeded: true, why: 'history longer than intensity already' },
  { intensity: 5, period: 1, history: [7, 7, 7], now: 7, kept: [7, 7, 7, 7], exceeded: false, why: 'same-tick restarts all count, period 1' },
  { intensity: 1, period: 1, history: [7], now: 8, kept: [7, 8], exceeded: true, why: 'period 1: the previous tick still counts' },
  { intensity: 1, period: 1, history: [7], now: 9, kept: [9], exceeded: false, why: 'period 1: two ticks back has left' },
  { intensity: 2, period: 100, history: [0, 50, 60], now: 120, kept: [50, 60, 120], exceeded: true, why: 'window keeps 50 and 60' },
];

describe('supervision - restart intensity (add_restart/3)', () => {
  for (const row of ROWS) {
    it(`supervision - intensity ${row.intensity}/${row.period} ms, history [${row.history}], restart at ${row.now}: ${row.why}`, () => {
      const r = addRestart(row.history, row.now, row.intensity, row.period);
      expect(r.history).toEqual(row.kept);
      expect(r.exceeded).toBe(row.exceeded);
      expect(wouldExceed(row.history, row.now, row.intensity, row.period)).toBe(row.exceeded);
    });
  }

  it('supervision - addRestart does not mutate the history it is given', () => {
    const h = Object.freeze([0, 100]) as readonly number[];
    addRestart(h, 200, 5, 1000);
    expect(h).toEqual([0, 100]);
  });

  it('supervision - inWindow keeps the in-period tail and returns the same array when nothing fell out', () => {
    const h = [0, 500, 900];
    expect(inWindow(h, 1000, 600)).toEqual([500, 900]);
    expect(inWindow(h, 1000, 5000)).toBe(h);
    expect(inWindow(h, 10_000, 5000)).toEqual([]);
  });

  it('supervision - an entry older than a newer out-of-window one is dropped (takewhile from the newest, as OTP)', () => {
    // Clock times are monotonic, so this only matters for hand-made input: OTP
    // stops at the first restart outside the window, scanning from the newest.
    expect(addRestart([900, 0], 1000, 10, 500).history).toEqual([1000]);
  });

  it('supervision - wouldExceed always agrees with addRestart (property, any history order)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 2000 }), { maxLength: 20 }),
        fc.integer({ min: 0, max: 2000 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 1, max: 1000 }),
        (history, now, intensity, period) => {
          expect(wouldExceed(history, now, intensity, period)).toBe(addRestart(history, now, intensity, period).exceeded);
        },
      ),
    );
  });
});
