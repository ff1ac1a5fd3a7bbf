/**
 * Failover across real OS processes: SIGKILL a node hosting cluster-supervised
 * instances; they restart on a survivor. Prints detection and failover times
 * (kill → the instance answering on a survivor), p50/p99, the ownership
 * samples (no name with two owners at any sampled moment) and false `down`
 * verdicts while a survivor burns ~90% CPU. Figures are printed, never asserted.
 */
import { afterEach, describe, expect, inject, it } from 'vitest';
import { createNode, type Node } from '../src/index.js';
import { type Child, clusterNodeEnv, killAll, script, spawnChild } from './cluster/children.js';
import { percentile, uniquePrefix } from './cluster/harness.js';
import { sampleOwnership } from './cluster/owners.js';
import { waitFor } from './support/wait.js';

const children: Child[] = [];
const observers: Node[] = [];
afterEach(async () => {
  await killAll(children.splice(0));
  await Promise.allSettled(observers.splice(0).map((n) => n.shutdown()));
});

const fmt = (xs: number[]) => `p50 ${percentile(xs, 50).toFixed(0)} ms, p99 ${percentile(xs, 99).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms`;

interface Run {
  readonly detection: number[];
  readonly failover: number[];
  readonly samples: number;
  readonly duplicates: string[];
  readonly falseDowns: number;
}

async function run(options: Record<string, number> | undefined, trials: number, perBatch: number): Promise<Run> {
  const servers = inject('natsUrl');
  const prefix = uniquePrefix('f');
  const env = clusterNodeEnv(servers, prefix, options);
  const survivors = ['s1', 's2'];
  const stable = survivors.map((s) => spawnChild(script('clusterNode.ts'), env(s)));
  children.push(...stable);
  for (const c of stable) await c.line(/^READY /, 30_000);
  const obs = await createNode({ name: 'obs', prefix, transport: { kind: 'nats', servers }, cluster: options ?? true });
  observers.push(obs);
  const downs: Array<{ node: string; at: number }> = [];
  obs.cluster!.membership.on('change', (c) => {
    if (c.type === 'down') downs.push({ node: c.member.node, at: performance.now() });
  });
  // A healthy survivor at ~90% CPU for the whole run: it must never be declared down.
  stable[1]!.write('BURN 45 600000');
  const live = new Set<string>(survivors);
  const sampler = sampleOwnership(obs, prefix, () => [...live]);
  const detection: number[] = [];
  const failover: number[] = [];
  let trial = 0;
  while (trial < trials) {
    const batch = Array.from({ length: Math.min(perBatch, trials - trial) }, (_, i) => `v${trial + i}`);
    const procs = batch.map((v) => spawnChild(script('clusterNode.ts'), env(v)));
    children.push(...procs);
    for (const p of procs) await p.line(/^READY /, 30_000);
    for (const v of batch) live.add(v);
    await waitFor(() => batch.every((v) => obs.nodes().some((m) => m.node === v && m.status === 'up')), { timeout: 10_000, message: 'victims up' });
    await waitFor(() => batch.every((v) => obs.cluster!.typesOf(v)?.counter !== undefined), { timeout: 10_000, message: 'victim types reach obs' });
    for (let i = 0; i < batch.length; i++, trial++) {
      const victim = batch[i]!;
      const name = `inst${trial}`;
      await obs.cluster!.start({ name, type: 'counter', node: victim, placement: 'any', restart: 'permanent' });
      await waitFor(() => obs.ref(name).ask({ type: 'GET' }, { timeout: 200 }).then(() => true, () => false), { timeout: 5000, message: `${name} answers` });
      const killedAt = performance.now();
      procs[i]!.process.kill('SIGKILL');
      await waitFor(() => obs.ref(name).ask({ type: 'GET' }, { timeout: 100 }).then(() => true, () => false), { timeout: 10_000, interval: 2, message: `${name} answers again` });
      failover.push(performance.now() - killedAt);
      live.delete(victim);
      const seen = await waitFor(() => downs.find((d) => d.node === victim), { timeout: 5000, message: `${victim} down` });
      detection.push(seen.at - killedAt);
    }
  }
  const sampled = await sampler.stop();
  const falseDowns = downs.filter((d) => survivors.includes(d.node) || d.node === 'obs').length;
  return { detection, failover, samples: sampled.samples, duplicates: sampled.duplicates, falseDowns };
}

describe('cluster - failover after SIGKILL', () => {
  it('cluster - instances of a SIGKILLed node restart on a survivor (20 trials, fast settings; then the defaults)', async () => {
    const fast = { heartbeatMs: 100, suspectAfterMs: 200, downAfterMs: 400 };
    const r = await run(fast, 20, 5);
    console.log(
      `[cluster] failover after SIGKILL, ${r.failover.length} trials (heartbeat 100, suspect 200, down 400 ms; lease 350 ms), one survivor at ~90% CPU:\n` +
        `  detection (kill → down on an observer): ${fmt(r.detection)}\n` +
        `  failover  (kill → instance answers on a survivor): ${fmt(r.failover)}\n` +
        `  ownership samples: ${r.samples}, names with two owners: ${r.duplicates.length}; false down verdicts: ${r.falseDowns}`,
    );
    const d = await run(undefined, 5, 5);
    console.log(
      `[cluster] failover after SIGKILL, ${d.failover.length} trials with the defaults (heartbeat 250, suspect 500, down 900 ms; lease 775 ms), one survivor at ~90% CPU:\n` +
        `  detection: ${fmt(d.detection)}\n  failover:  ${fmt(d.failover)}\n` +
        `  ownership samples: ${d.samples}, names with two owners: ${d.duplicates.length}; false down verdicts: ${d.falseDowns}`,
    );
    expect(r.failover.length).toBe(20);
    expect(d.failover.length).toBe(5);
  }, 90_000);
});
