/**
 * The benchmark harness: options, the result record, interleaved rounds and
 * the table. Benchmarks print; they never assert.
 *
 * ## Result (one per printed row; `--json` prints an array of these)
 * | field           | meaning                                                              |
 * |-----------------|----------------------------------------------------------------------|
 * | `group`         | case group: `local`, `nats`, `codec`, `supervision`                  |
 * | `name`          | the case                                                             |
 * | `value`         | Halyard's figure: median over rounds (latency: pooled percentile)    |
 * | `unit`          | `msg/s`, `ask/s`, `actor/s`, `B/actor`, `µs`, `op/s`                 |
 * | `baseline`      | what it is measured against, in the same run                         |
 * | `baselineValue` | the baseline's figure, computed like `value`                         |
 * | `ratio`         | Halyard / baseline. For rates it is the median of the per-round ratios (paired rounds cancel drift), so it can differ slightly from `value / baselineValue` |
 * | `target`        | `">= 0.9"`, `"<= 1.3"`, or `null` when the issue sets none            |
 * | `met`           | whether `ratio` meets `target`; `null` without a target              |
 *
 * The table also shows `rounds`: the lowest and highest per-round ratio, a
 * measure of how noisy the run was (not part of `--json`).
 *
 * ## Interleaving
 * Every case runs in rounds. A round runs each side once, in an order that
 * rotates from round to round (baseline first, then Halyard first, ...), so
 * drift on a shared, noisy machine hits both sides alike. One unmeasured
 * warm-up run per side comes first, so the JIT has seen both code paths.
 */
import { setImmediate as immediateP } from 'node:timers/promises';

export interface BenchOptions {
  /** Short runs: fewer rounds and messages. */
  readonly quick: boolean;
  /** Run only cases whose `group/name` contains one of these (case-insensitive). */
  readonly only: readonly string[];
  readonly json: boolean;
}

export type Target = { readonly op: '>=' | '<='; readonly ratio: number };

export interface BenchResult {
  readonly group: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline: string;
  readonly baselineValue: number;
  readonly ratio: number;
  readonly target: string | null;
  readonly met: boolean | null;
  /** Lowest and highest per-round ratio: how noisy the run was. Shown in the table, left out of `--json`. */
  readonly spread?: readonly [number, number];
}

/** The result as `--json` prints it: exactly the documented fields. */
export function toJson(r: BenchResult): Omit<BenchResult, 'spread'> {
  const { group, name, value, unit, baseline, baselineValue, ratio, target, met } = r;
  return { group, name, value, unit, baseline, baselineValue, ratio, target, met };
}

const USAGE = `usage: npm run bench -- [--quick] [--only <substring>]... [--json]
  --quick          short runs (about 40 s)
  --only <text>    run cases whose "group/name" contains <text> (repeatable)
  --json           print only a JSON array of results on stdout`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  let quick = false;
  let json = false;
  const only: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--json') json = true;
    else if (arg === '--only') {
      const value = argv[++i];
      if (value === undefined) throw new Error(`--only needs a value\n${USAGE}`);
      only.push(value.toLowerCase());
    } else if (arg.startsWith('--only=')) only.push(arg.slice('--only='.length).toLowerCase());
    else if (arg === '--help' || arg === '-h') {
      process.stderr.write(`${USAGE}\n`);
      process.exit(0);
    } else throw new Error(`unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
  }
  return { quick, only, json };
}

/** True when a case named `group/name` is selected by `--only`. */
export function selected(options: BenchOptions, group: string, name: string): boolean {
  if (options.only.length === 0) return true;
  const id = `${group}/${name}`.toLowerCase();
  return options.only.some((s) => id.includes(s));
}

/**
 * True when some case of `group` may be selected: used for groups whose case
 * names are only known after running them (codec, supervision). Their rows are
 * then filtered with {@link selected}.
 */
export function groupMaybeSelected(options: BenchOptions, group: string): boolean {
  if (options.only.length === 0) return true;
  const prefix = `${group}/`;
  return options.only.some((s) => prefix.includes(s) || s.startsWith(prefix));
}

/** Progress goes to stderr, so `--json` keeps stdout clean. */
export function progress(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** One turn of the event loop: lets I/O and timers run (what a polite producer does). */
export function yieldToLoop(): Promise<void> {
  return immediateP();
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Nearest-rank percentile, `p` in (0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1]!;
}

export function targetLabel(target: Target | undefined): string | null {
  return target === undefined ? null : `${target.op} ${target.ratio}`;
}

export function isMet(ratio: number, target: Target | undefined): boolean | null {
  if (target === undefined || !Number.isFinite(ratio)) return target === undefined ? null : false;
  return target.op === '>=' ? ratio >= target.ratio : ratio <= target.ratio;
}

/** A side of a comparison: one measured run, returning its figure. */
export type Run<T> = () => Promise<T>;

/**
 * Runs every side `rounds` times, interleaved, after one warm-up run each.
 * Returns each side's figures in round order (index r of every side comes
 * from the same round).
 */
export async function interleave<K extends string, T>(
  label: string,
  sides: Readonly<Record<K, Run<T>>>,
  rounds: number,
): Promise<Record<K, T[]>> {
  const keys = Object.keys(sides) as K[];
  const out = {} as Record<K, T[]>;
  for (const k of keys) out[k] = [];
  for (const k of keys) await sides[k]();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[(i + r) % keys.length]!;
      out[k].push(await sides[k]());
    }
    progress(`  ${label}: round ${r + 1}/${rounds}`);
  }
  return out;
}

/**
 * A result from paired per-round figures. `higherIsBetter` rates give
 * ratio = ours / baseline; costs (bytes, latency) give the same quotient,
 * and their target is a `<=`.
 */
export function pairedResult(
  group: string,
  name: string,
  unit: string,
  baseline: string,
  ours: readonly number[],
  base: readonly number[],
  target: Target | undefined,
): BenchResult {
  const ratios = ours.map((v, i) => v / base[i]!);
  const ratio = median(ratios);
  return {
    group,
    name,
    value: median(ours),
    unit,
    baseline,
    baselineValue: median(base),
    ratio,
    target: targetLabel(target),
    met: isMet(ratio, target),
    spread: [Math.min(...ratios), Math.max(...ratios)],
  };
}

/** A result from two pooled figures (percentiles over all rounds). */
export function pooledResult(
  group: string,
  name: string,
  unit: string,
  baseline: string,
  value: number,
  baselineValue: number,
  target: Target | undefined,
  perRoundRatios?: readonly number[],
): BenchResult {
  const ratio = value / baselineValue;
  const result = { group, name, value, unit, baseline, baselineValue, ratio, target: targetLabel(target), met: isMet(ratio, target) };
  return perRoundRatios === undefined || perRoundRatios.length === 0
    ? result
    : { ...result, spread: [Math.min(...perRoundRatios), Math.max(...perRoundRatios)] };
}

// ─── Output ──────────────────────────────────────────────────────────────────

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (abs >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  if (abs >= 100) return v.toFixed(0);
  return v.toFixed(1);
}

/** A plain-text table, one row per result. */
export function formatTable(results: readonly BenchResult[]): string {
  const header = ['group', 'case', 'Halyard', 'baseline', 'baseline value', 'ratio', 'rounds', 'target', 'met'];
  const rows = results.map((r) => [
    r.group,
    r.name,
    `${formatValue(r.value)} ${r.unit}`,
    r.baseline,
    `${formatValue(r.baselineValue)} ${r.unit}`,
    Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : String(r.ratio),
    r.spread === undefined ? '-' : `${r.spread[0].toFixed(2)}-${r.spread[1].toFixed(2)}`,
    r.target === null ? '-' : `${r.target}x`,
    r.met === null ? '-' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const right = new Set([2, 4, 5, 6]);
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Runs `global.gc` (node --expose-gc) a few times so that weak and finalizable garbage is gone too. */
export async function fullGc(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('global.gc is missing: run node with --expose-gc (npm run bench does)');
  for (let i = 0; i < 3; i++) {
    gc();
    await yieldToLoop();
  }
}

export function hasGc(): boolean {
  return typeof (globalThis as { gc?: unknown }).gc === 'function';
}
