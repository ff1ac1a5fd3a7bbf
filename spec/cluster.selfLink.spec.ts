import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock.js';
import { SelfLink } from '../src/services/cluster/SelfLink.js';

describe('cluster - own link (heartbeat echo)', () => {
  it('cluster - the link is confirmed at the send time of the latest echoed heartbeat, not at the echo arrival', () => {
    const clock = new ManualClock();
    const link = new SelfLink(clock, 500);
    const first = link.nextSeq();
    link.sent(first, 100);
    const second = link.nextSeq();
    link.sent(second, 350);
    link.echoed(second, true, 900);
    expect(link.confirmedAt).toBe(350);
    // An older echo read late (a paused process waking) does not move it back or forward.
    link.echoed(first, true, 950);
    expect(link.confirmedAt).toBe(350);
  });

  it('cluster - an echo of a previous incarnation confirms nothing', () => {
    const clock = new ManualClock();
    const link = new SelfLink(clock, 500);
    const seq = link.nextSeq();
    link.sent(seq, 100);
    link.echoed(seq, false, 120);
    expect(link.confirmedAt).toBe(Number.NEGATIVE_INFINITY);
    expect(link.silent(120)).toBe(false);
  });

  it('cluster - a missing echo for longer than isolatedAfterMs makes the link silent; a stall is credited', () => {
    const clock = new ManualClock();
    const link = new SelfLink(clock, 500);
    link.trust(1000);
    expect(link.silent(1500)).toBe(false);
    expect(link.silent(1501)).toBe(true);
    link.credit(300, 1501);
    expect(link.silent(1501)).toBe(false);
    expect(link.silent(1801)).toBe(true);
  });

  it('cluster - send times older than the ring of recent heartbeats are forgotten', () => {
    const clock = new ManualClock();
    const link = new SelfLink(clock, 500);
    const first = link.nextSeq();
    link.sent(first, 10);
    for (let i = 0; i < 16; i++) link.sent(link.nextSeq(), 20 + i);
    link.echoed(first, true, 100);
    expect(link.confirmedAt).toBe(Number.NEGATIVE_INFINITY);
  });
});
