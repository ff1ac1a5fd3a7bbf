/**
 * supervision - monitors (OTP erlang:monitor/2): exactly one `down` per
 * monitor, also for targets already dead or never there; none after cancel.
 */
import { describe, expect, it } from 'vitest';
import type { Down } from '../src/supervision/types.js';
import { CRASH, FINISH, harness, turns, within, worker } from './support/supervision.js';

describe('supervision - monitors', () => {
  it('supervision - a live target delivers one down with its exit reason (and error)', async () => {
    const { system, supervision } = harness();
    const ref = system.spawn(worker, { name: 'w' });
    const seen: Down[] = [];
    const m = supervision.monitor(ref, (d) => seen.push(d));
    ref.tell(CRASH);
    const down = await within(m.down, 'down');
    expect(down).toMatchObject({ type: 'halyard.down.v1', id: ref.id, name: 'w', reason: 'error' });
    expect((down.error as Error).message).toBe('crash on request');
    await turns();
    expect(seen).toEqual([down]);
  });

  it('supervision - monitoring by name or id works like monitoring the ref', async () => {
    const { system, supervision } = harness();
    const a = system.spawn(worker, { name: 'a' });
    const b = system.spawn(worker);
    const byName = supervision.monitor('a');
    const byId = supervision.monitor(b.id);
    a.tell(FINISH);
    await b.stop();
    expect((await byName.down).reason).toBe('normal');
    expect((await byId.down).reason).toBe('shutdown');
  });

  it('supervision - a target that already ended delivers at once with the reason it ended with', async () => {
    const { system, supervision } = harness();
    const ref = system.spawn(worker);
    await ref.stop('brutal_kill');
    const m = supervision.monitor(ref);
    expect(await within(m.down, 'down of a dead ref')).toMatchObject({ id: ref.id, reason: 'killed' });
  });

  it('supervision - a name or id that resolves to nothing delivers noproc', async () => {
    const { supervision } = harness();
    const seen: Down[] = [];
    const m = supervision.monitor('nobody', (d) => seen.push(d));
    expect(await within(m.down, 'noproc')).toEqual({ type: 'halyard.down.v1', id: 'nobody', name: 'nobody', reason: 'noproc' });
    await turns();
    expect(seen).toHaveLength(1);
  });

  it('supervision - no notification after cancel, for live, dead and missing targets alike', async () => {
    const { system, supervision } = harness();
    const live = system.spawn(worker);
    const dead = system.spawn(worker);
    await dead.stop();
    const seen: string[] = [];
    const m1 = supervision.monitor(live, () => seen.push('live'));
    const m2 = supervision.monitor(dead, () => seen.push('dead'));
    const m3 = supervision.monitor('missing', () => seen.push('missing'));
    m1.cancel();
    m2.cancel();
    m3.cancel();
    m3.cancel();
    live.tell(CRASH);
    await turns(5);
    expect(seen).toEqual([]);
    let settled = false;
    void m1.down.then(() => {
      settled = true;
    });
    await turns();
    expect(settled).toBe(false);
  });

  it('supervision - many monitors on one target each get exactly one down; a throwing listener harms no one', async () => {
    const { system, supervision } = harness();
    const ref = system.spawn(worker);
    let calls = 0;
    const ms = Array.from({ length: 20 }, (_, i) =>
      supervision.monitor(ref, () => {
        calls++;
        if (i === 3) throw new Error('bad listener');
      }),
    );
    ref.tell(CRASH);
    await Promise.all(ms.map((m) => m.down));
    await ref.stop();
    await turns(5);
    expect(calls).toBe(20);
    for (const m of ms) m.cancel(); // after delivery: harmless
  });

  it('supervision - a monitor on a supervised child sees each incarnation end once; the restart is a new actor', async () => {
    const { supervision } = harness();
    const sup = supervision.supervise({ intensity: 5, children: [{ id: 'w', start: worker }] });
    const first = sup.whichChildren()[0]!.ref!;
    const m = supervision.monitor(first);
    first.tell(CRASH);
    expect((await m.down).reason).toBe('error');
    await sup.whenIdle();
    const second = sup.whichChildren()[0]!.ref!;
    expect(second).not.toBe(first);
    const m2 = supervision.monitor(second);
    await sup.stop();
    expect((await m2.down).reason).toBe('shutdown');
  });
});
