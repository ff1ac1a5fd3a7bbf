import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Child, killAll, script, spawnChild } from './cluster/children.js';
import { TestCluster } from './cluster/harness.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const clusters: TestCluster[] = [];

afterEach(async () => {
  await killAll(children.splice(0));
  for (const c of clusters.splice(0)) await c.close();
});

async function setup(): Promise<{ c: TestCluster; child: Child; survivors: string[] }> {
  const servers = inject('natsUrl');
  const c = new TestCluster(servers);
  clusters.push(c);
  const survivors = ['a', 'b', 'c'];
  for (const s of survivors) await c.start(s);
  const child = spawnChild(script('memberProcess.ts'), { HALYARD_NATS_URL: servers, HALYARD_NODE: 'busy', HALYARD_PREFIX: c.prefix });
  children.push(child);
  await child.line(/^READY busy /, 30_000);
  await waitFor(() => survivors.every((s) => c.members.get(s)!.statusOf('busy') === 'up'), { timeout: 5000, message: 'busy up everywhere' });
  return { c, child, survivors };
}

describe('cluster - busy nodes', () => {
  it('cluster - a node whose event loop is blocked 600 ms at a time keeps heartbeating and is never declared down', async () => {
    const { c, child, survivors } = await setup();
    const incarnation = c.members.get('a')!.membership.member('busy')!.incarnation;
    // Heartbeat arrivals as a watcher's connection sees them: the gaps show the stalls.
    const arrivals: number[] = [];
    c.members.get('a')!.transport.subscribe(`${c.prefix}.hb.busy`, () => arrivals.push(performance.now()));
    child.write('BURN 600 5000');
    const burned = (await child.line(/^BURNED /, 20_000)).split(' ')[1];
    // A little longer, to catch a late verdict.
    const until = performance.now() + 1500;
    await waitFor(() => performance.now() >= until, { timeout: 5000, interval: 50, message: 'settle' });
    const gaps = arrivals.slice(1).map((t, i) => t - arrivals[i]!);
    const suspicions = survivors.map((s) => c.members.get(s)!.changes.filter((x) => x.member.node === 'busy' && x.type === 'suspect').length);
    for (const s of survivors) {
      const m = c.members.get(s)!;
      expect(m.changes.filter((x) => x.member.node === 'busy' && x.type === 'down')).toEqual([]);
      expect(m.membership.member('busy')).toMatchObject({ status: 'up', incarnation });
    }
    // The busy node, stalled itself, did not judge anyone either.
    expect(child.lines.filter((l) => l.startsWith('CHANGE down'))).toEqual([]);
    console.log(
      `[cluster] busy node (${burned} ms, 600 ms blocks): longest heartbeat gap ${Math.max(...gaps).toFixed(0)} ms; ` +
        `suspected ${suspicions.join('/')} times on a/b/c, never down`,
    );
  }, 45_000);

  it('cluster - a node blocked past downAfterMs is declared down once, learns it on waking, and rejoins with a higher incarnation', async () => {
    const { c, child, survivors } = await setup();
    const before = c.members.get('a')!.membership.member('busy')!.incarnation;
    child.write('BURN 2500 2500');
    await waitFor(() => survivors.every((s) => c.members.get(s)!.statusOf('busy') === 'down'), { timeout: 5000, message: 'busy down' });
    await child.line(/^BURNED /, 10_000);
    const own = await child.line(/^CHANGE join busy /, 5000, 'the busy node rejoins');
    const after = Number(own.split(' ')[3]);
    expect(after).toBeGreaterThan(before);
    await waitFor(
      () => survivors.every((s) => c.members.get(s)!.membership.member('busy')?.incarnation === after && c.members.get(s)!.statusOf('busy') === 'up'),
      { timeout: 5000, message: 'busy up again with its new incarnation' },
    );
    expect(child.lines.filter((l) => l.startsWith('CHANGE down') && !l.startsWith('CHANGE down busy'))).toEqual([]);
    expect(child.lines.filter((l) => l.startsWith('CHANGE down busy'))).toHaveLength(1);
    for (const s of survivors) {
      expect(c.members.get(s)!.changes.filter((x) => x.type === 'down' && x.member.node === 'busy').map((x) => x.member.incarnation)).toEqual([before]);
    }
  }, 45_000);
});
