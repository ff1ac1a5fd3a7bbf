/**
 * supervision - spec validation: every invalid spec is rejected before
 * anything starts, with `InvalidSpecError` naming the field as a dotted path.
 */
import { setup } from 'xstate';
import { describe, expect, it } from 'vitest';
import { ErrorCode, InvalidSpecError } from '../src/errors.js';
import { validateChildSpec, validateSupervisorSpec } from '../src/supervision/childSpec.js';
import { harness, worker } from './support/supervision.js';

const ok = { id: 'ok', start: worker };

// biome-ignore format: the table reads as a table
const INVALID: { what: string; spec: unknown; field: string }[] = [
  { what: 'spec not an object', spec: 42, field: 'spec' },
  { what: 'unknown strategy', spec: { strategy: 'one_for_some' }, field: 'strategy' },
  { what: 'negative intensity', spec: { intensity: -1 }, field: 'intensity' },
  { what: 'fractional intensity', spec: { intensity: 1.5 }, field: 'intensity' },
  { what: 'zero period', spec: { period: 0 }, field: 'period' },
  { what: 'period not a number', spec: { period: '5s' }, field: 'period' },
  { what: 'unknown autoShutdown', spec: { autoShutdown: 'sometimes' }, field: 'autoShutdown' },
  { what: 'autoShutdown with simple_one_for_one', spec: { strategy: 'simple_one_for_one', autoShutdown: 'any_significant', children: [ok] }, field: 'autoShutdown' },
  { what: 'children not an array', spec: { children: {} }, field: 'children' },
  { what: 'simple_one_for_one without template', spec: { strategy: 'simple_one_for_one', children: [] }, field: 'children' },
  { what: 'simple_one_for_one with two specs', spec: { strategy: 'simple_one_for_one', children: [ok, { ...ok, id: 'x' }] }, field: 'children' },
  { what: 'unknown supervisor key', spec: { childs: [] }, field: 'childs' },
  { what: 'child not an object', spec: { children: [ok, 'db'] }, field: 'children[1]' },
  { what: 'missing id', spec: { children: [ok, { start: worker }] }, field: 'children[1].id' },
  { what: 'empty id', spec: { children: [{ id: '', start: worker }] }, field: 'children[0].id' },
  { what: 'duplicate id', spec: { children: [ok, { ...ok, id: 'b' }, { ...ok, id: 'c' }, { ...ok, id: 'b' }] }, field: 'children[3].id' },
  { what: 'start not logic', spec: { children: [{ id: 'a', start: () => 1 }] }, field: 'children[0].start' },
  { what: 'start missing', spec: { children: [{ id: 'a' }] }, field: 'children[0].start' },
  { what: 'start.logic not logic', spec: { children: [{ id: 'a', start: { logic: {} } }] }, field: 'children[0].start.logic' },
  { what: 'supervisor spec without type supervisor', spec: { children: [{ id: 'a', start: { strategy: 'one_for_one' } }] }, field: 'children[0].start' },
  { what: 'unknown restart', spec: { children: [{ ...ok, restart: 'sometimes' }] }, field: 'children[0].restart' },
  { what: 'negative shutdown', spec: { children: [ok, { ...ok, id: 'b' }, { ...ok, id: 'c', shutdown: -1 }] }, field: 'children[2].shutdown' },
  { what: 'shutdown as a string of digits', spec: { children: [{ ...ok, shutdown: '5000' }] }, field: 'children[0].shutdown' },
  { what: 'unknown type', spec: { children: [{ ...ok, type: 'daemon' }] }, field: 'children[0].type' },
  { what: 'significant permanent child', spec: { autoShutdown: 'any_significant', children: [{ ...ok, significant: true }] }, field: 'children[0].significant' },
  { what: 'significant with autoShutdown never', spec: { children: [{ ...ok, restart: 'transient', significant: true }] }, field: 'children[0].significant' },
  { what: 'significant not a boolean', spec: { autoShutdown: 'any_significant', children: [{ ...ok, restart: 'transient', significant: 'yes' }] }, field: 'children[0].significant' },
  { what: 'invalid child name', spec: { children: [{ ...ok, name: 'a b' }] }, field: 'children[0].name' },
  { what: 'child name used twice in the tree', spec: { children: [{ ...ok, name: 'db' }, { id: 'sub', type: 'supervisor', start: { children: [{ ...ok, name: 'db' }] } }] }, field: 'children[1].start.children[0].name' },
  { what: 'name on a simple_one_for_one template', spec: { strategy: 'simple_one_for_one', children: [{ ...ok, name: 'w' }] }, field: 'children[0].name' },
  { what: 'bad mailbox capacity', spec: { children: [{ ...ok, mailbox: { capacity: 0 } }] }, field: 'children[0].mailbox.capacity' },
  { what: 'unknown child key', spec: { children: [{ ...ok, restarts: 'permanent' }] }, field: 'children[0].restarts' },
  { what: 'nested: bad id', spec: { children: [ok, { ...ok, id: 'b' }, { id: 'jobs', type: 'supervisor', start: { children: [{ id: 7, start: worker }] } }] }, field: 'children[2].start.children[0].id' },
  { what: 'nested twice: bad strategy', spec: { children: [{ id: 's', type: 'supervisor', start: { children: [{ id: 't', type: 'supervisor', start: { strategy: 'x' } }] } }] }, field: 'children[0].start.children[0].start.strategy' },
];

describe('supervision - spec validation', () => {
  for (const row of INVALID) {
    it(`supervision - rejects ${row.what} naming ${row.field}, before anything starts`, () => {
      const { system, supervision } = harness();
      const before = system.size;
      let caught: unknown;
      try {
        supervision.supervise(row.spec as never, { name: 'v' });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(InvalidSpecError);
      expect((caught as InvalidSpecError).code).toBe(ErrorCode.InvalidSpec);
      expect((caught as InvalidSpecError).field).toBe(row.field);
      expect(system.size).toBe(before);
      expect(system.lookup('v')).toBeUndefined();
    });
  }

  it('supervision - defaults are OTP\'s: one_for_one, intensity 1, period 5000, never; permanent workers with shutdown 5000, supervisors infinity', () => {
    const r = validateSupervisorSpec({
      children: [
        { id: 'w', start: worker },
        { id: 's', type: 'supervisor', start: {} },
        { id: 'i', start: { logic: worker, input: { port: 0 } } },
      ],
    });
    expect({ strategy: r.strategy, intensity: r.intensity, period: r.period, autoShutdown: r.autoShutdown }).toEqual({
      strategy: 'one_for_one',
      intensity: 1,
      period: 5000,
      autoShutdown: 'never',
    });
    const [w, s, i] = r.children;
    expect([w!.restart, w!.shutdown, w!.type, w!.significant]).toEqual(['permanent', 5000, 'worker', false]);
    expect([s!.restart, s!.shutdown, s!.type]).toEqual(['permanent', 'infinity', 'supervisor']);
    expect(s!.start.kind).toBe('supervisor');
    expect(i!.start).toEqual({ kind: 'logic', logic: worker, input: { port: 0 } });
  });

  it('supervision - a supervisor child may also be started from logic', () => {
    const custom = setup({}).createMachine({});
    const r = validateSupervisorSpec({ children: [{ id: 'x', type: 'supervisor', start: custom }] });
    expect(r.children[0]!.start.kind).toBe('logic');
  });

  it('supervision - startChild validates with paths relative to the spec', () => {
    expect(() => validateChildSpec({ id: 'x', start: worker, restart: 'nope' }, { autoShutdown: 'never' })).toThrow(
      expect.objectContaining({ field: 'restart' }),
    );
  });

  it('supervision - startChild rejects an invalid spec without touching the tree', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ children: [{ id: 'a', start: worker }] });
    await expect(sup.startChild({ id: 'b', start: worker, significant: true, restart: 'transient' })).rejects.toMatchObject({
      code: ErrorCode.InvalidSpec,
      field: 'significant',
    });
    expect(sup.whichChildren().map((c) => c.id)).toEqual(['a']);
    await sup.stop();
  });

  it('supervision - an invalid supervisor name is a spec error naming "name"', () => {
    const { supervision } = harness();
    expect(() => supervision.supervise({}, { name: 'no spaces' })).toThrow(expect.objectContaining({ field: 'name' }));
  });
});
