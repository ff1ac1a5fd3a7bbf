/**
 * `npm run bench`: Halyard against hand-written baselines, measured in the
 * same run, interleaved. Prints a table; `--json` prints only a JSON array of
 * {@link BenchResult} on stdout (progress goes to stderr). `--only <text>`
 * keeps the cases whose `group/name` contains the text; `--quick` shortens
 * every run. Results and targets: see harness.ts, local.ts, nats.ts and
 * cluster.ts (membership, registry, failure detection, failover across processes; group `cluster`)
 * containers.ts (worker and process containers; group `containers`)
 * and services.ts (inline service start and persisted tells; group `services`), persist.ts (persisted tells on JetStream KV; group `services`).
 * and containers.ts (worker and process containers; group `containers`).
 * scale.ts (50 nodes, 100 000 actors; group `scale`) runs only when named: `--only scale`.
 *
 * Run it as the npm script does: `node --expose-gc --import ./bench/register.mjs`.
 * `--expose-gc` lets the heap case collect garbage between measurements;
 * register.mjs installs a loader that only strips types, because tsx's
 * `keepNames` transform adds a cost to Halyard's closures that compiled code
 * does not have (see loader.mjs). `tsx bench/index.ts` still works, minus the spawn and
 * heap cases (no `global.gc`) and with that distortion.
 *
 * `bench/codec.ts` and `bench/supervision.ts` are other groups' work; each is
 * run when present and skipped with a note on stderr when not.
 */
import { existsSync } from 'node:fs';
import {
  type BenchOptions,
  type BenchResult,
  formatTable,
  groupMaybeSelected,
  parseOptions,
  progress,
  selected,
  toJson,
} from './harness.js';
import { benchCluster } from './cluster.js';
import { benchContainers } from './containers.js';
import { benchServices } from './services.js';
import { benchServicesCluster } from './services.cluster.js';
import { benchPersist } from './persist.js';
import { benchLocal } from './local.js';
import { benchNats } from './nats.js';
import { benchTasks } from './tasks.js';
import { benchScale } from './scale.js';

/**
 * A module written by others: `undefined` (with a note) when the file is
 * absent, or when it exists but cannot be loaded yet (work in progress must
 * not take the whole run down).
 */
async function optional<T>(file: string, group: string): Promise<T | undefined> {
  const url = new URL(file, import.meta.url);
  if (!existsSync(url)) {
    progress(`${group}: bench/${file} not found, skipped`);
    return undefined;
  }
  try {
    return (await import(url.href)) as T;
  } catch (err) {
    progress(`${group}: bench/${file} failed to load, skipped: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

interface CodecModule {
  benchCodec(durationMs?: number): Promise<{ name: string; opsPerSec: number; baselineOpsPerSec: number; ratio: number }[]>;
}

interface SupervisionModule {
  benchSupervision(): Promise<unknown>;
}

async function benchCodecGroup(options: BenchOptions): Promise<BenchResult[]> {
  if (!groupMaybeSelected(options, 'codec')) return [];
  const mod = await optional<CodecModule>('codec.ts', 'codec');
  if (mod === undefined) return [];
  if (typeof mod.benchCodec !== 'function') {
    progress('codec: bench/codec.ts has no benchCodec(), skipped');
    return [];
  }
  progress('codec: running bench/codec.ts');
  const rows = await mod.benchCodec(options.quick ? 300 : 1000);
  return rows
    .map((r) => ({
      group: 'codec',
      name: r.name,
      value: r.opsPerSec,
      unit: 'op/s',
      baseline: 'bare msgpackr',
      baselineValue: r.baselineOpsPerSec,
      ratio: r.ratio,
      target: null,
      met: null,
    }))
    .filter((r) => selected(options, r.group, r.name));
}

/** Accepts the shapes a sibling module is likely to return: our BenchResult, or codec-style rows. */
function toResults(group: string, rows: unknown): BenchResult[] {
  if (!Array.isArray(rows)) return [];
  return rows.map((row) => {
    const r = row as Record<string, unknown>;
    const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);
    const value = num(r.value ?? r.opsPerSec);
    const baselineValue = num(r.baselineValue ?? r.baselineOpsPerSec);
    const ratio = typeof r.ratio === 'number' ? r.ratio : value / baselineValue;
    return {
      group: typeof r.group === 'string' ? r.group : group,
      name: String(r.name ?? '?'),
      value,
      unit: typeof r.unit === 'string' ? r.unit : 'op/s',
      baseline: typeof r.baseline === 'string' ? r.baseline : 'baseline',
      baselineValue,
      ratio,
      target: typeof r.target === 'string' ? r.target : null,
      met: typeof r.met === 'boolean' ? r.met : null,
    };
  });
}

async function benchSupervisionGroup(options: BenchOptions): Promise<BenchResult[]> {
  if (!groupMaybeSelected(options, 'supervision')) return [];
  const mod = await optional<SupervisionModule>('supervision.ts', 'supervision');
  if (mod === undefined) return [];
  if (typeof mod.benchSupervision !== 'function') {
    progress('supervision: bench/supervision.ts has no benchSupervision(), skipped');
    return [];
  }
  // Called with no arguments: its parameters, if any, are its author's to default.
  progress('supervision: running bench/supervision.ts');
  return toResults('supervision', await mod.benchSupervision()).filter((r) => selected(options, r.group, r.name));
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const started = performance.now();
  const results: BenchResult[] = [];
  results.push(...(await benchLocal(options)));
  results.push(...(await benchNats(options)));
  results.push(...(await benchCluster(options)));
  results.push(...(await benchContainers(options)));
  results.push(...(await benchTasks(options)));
  results.push(...(await benchServices(options)));
  results.push(...(await benchServicesCluster(options)));
  results.push(...(await benchPersist(options)));
  results.push(...(await benchScale(options)));
  results.push(...(await benchCodecGroup(options)));
  results.push(...(await benchSupervisionGroup(options)));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  if (options.json) {
    process.stdout.write(`${JSON.stringify(results.map(toJson), null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTable(results)}\n`);
    const missed = results.filter((r) => r.met === false).map((r) => `${r.group}/${r.name}`);
    process.stdout.write(`\n${results.length} results in ${seconds} s; targets missed: ${missed.length === 0 ? 'none' : missed.join(', ')}\n`);
  }
  progress(`done in ${seconds} s`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
