import { afterEach, describe, expect, inject, it } from 'vitest';
import { type Child, killAll, script, spawnChild } from './cluster/children.js';
import { percentile, TestCluster } from './cluster/harness.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const clusters: TestCluster[] = [];

afterEach(async () => {
  await killAll(children.splice(0));
  for (const c of clusters.splice(0)) await c.close();
});

describe('cluster - failure detection across processes', () => {
  it('cluster - a SIGKILLed node is declared down on the survivors (detection time over 20 kills)', async () => {
    const servers = inject('natsUrl');
    const c = new TestCluster(servers);
    clusters.push(c);
    const survivors = ['s1', 's2', 's3'];
    for (const s of survivors) await c.start(s);
    const firstSeen: number[] = [];
    const allSeen: number[] = [];
    const batches = 4;
    const perBatch = 5;
    for (let b = 0; b < batches; b++) {
      const batch: Array<{ name: string; child: Child }> = [];
      for (let i = 0; i < perBatch; i++) {
        const name = `k${b}${i}`;
        const child = spawnChild(script('memberProcess.ts'), { HALYARD_NATS_URL: servers, HALYARD_NODE: name, HALYARD_PREFIX: c.prefix });
        children.push(child);
        batch.push({ name, child });
      }
      for (const { child } of batch) await child.line(/^READY /, 30_000);
      await waitFor(() => batch.every(({ name }) => survivors.every((s) => c.members.get(s)!.statusOf(name) === 'up')), {
        timeout: 10_000,
        message: `batch ${b} up on the survivors`,
      });
      for (const { name, child } of batch) {
        const killedAt = performance.now();
        child.process.kill('SIGKILL');
        await waitFor(() => survivors.every((s) => c.members.get(s)!.statusOf(name) === 'down'), {
          timeout: 5000,
          message: `${name} down on every survivor`,
        });
        const seen = survivors.map((s) => c.members.get(s)!.changes.find((x) => x.type === 'down' && x.member.node === name)!.at - killedAt);
        firstSeen.push(Math.min(...seen));
        allSeen.push(Math.max(...seen));
      }
    }
    expect(firstSeen.length).toBe(batches * perBatch);
    // No survivor was ever suspected, let alone declared down, meanwhile.
    for (const s of survivors) {
      expect(c.members.get(s)!.changes.filter((x) => survivors.includes(x.member.node) && x.type !== 'join')).toEqual([]);
    }
    const fmt = (xs: number[]) =>
      `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms, min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)}`;
    console.log(
      `[cluster] SIGKILL → down, ${firstSeen.length} trials (heartbeat 250, suspect 500, down 900 ms):\n` +
        `  first survivor: ${fmt(firstSeen)}\n  all survivors:  ${fmt(allSeen)}`,
    );
  }, 120_000);
});
