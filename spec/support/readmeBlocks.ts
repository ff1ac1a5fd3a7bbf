/**
 * The README's code blocks and what the tests do with each (spec/readme.spec.ts).
 *
 * Every fenced block is either run or marked, by an HTML comment on the line right above its fence:
 *
 * | marker                                     | the block is                                                         |
 * |--------------------------------------------|----------------------------------------------------------------------|
 * | none, on a `ts` block                      | a program: typechecked with `--strict` and run in the packed consumer |
 * | `<!-- readme: expect-tsc TS7031 (why) -->` | a program run as above, whose typecheck must fail with exactly those codes (a known wait); once it compiles clean the test says to remove the marker |
 * | `<!-- readme: run "cmd" -->`               | shell: the test runs `cmd` (which must appear in the block) in the checkout |
 * | `<!-- readme: output of "cmd" -->`         | what `cmd` prints: every line must appear, in order, in its stdout    |
 * | `<!-- readme: paths (why) -->`             | a map of the tree: the first word of each line is a path that must exist in the checkout |
 * | `<!-- readme: not-run (why) -->`           | not a program (a command needing other tools, the test suite itself)  |
 *
 * In a program, a `// → text` comment says what the program prints there; the test compares the program's stdout
 * with those texts in order, whitespace collapsed (so an object `console.log` breaks over lines still matches).
 * Anything else (an unmarked `sh` block, a marker with no reason, a `run` whose command is not in its block or that
 * has no `output of` block) is a problem, reported with its README line.
 */

export type BlockKind =
  | { readonly kind: 'program'; readonly expectTsc: readonly string[] }
  | { readonly kind: 'run'; readonly command: string }
  | { readonly kind: 'output'; readonly command: string }
  | { readonly kind: 'paths'; readonly reason: string }
  | { readonly kind: 'not-run'; readonly reason: string };

export type ReadmeBlock = BlockKind & {
  /** 1-based line of the opening fence. */
  readonly line: number;
  readonly lang: string;
  readonly code: string;
  /** The nearest heading above the block, for test names. */
  readonly heading: string;
};

export interface ParsedReadme {
  readonly blocks: readonly ReadmeBlock[];
  /** What makes the README fail its tests before anything runs, each with its line. */
  readonly problems: readonly string[];
}

const FENCE = /^```(\S*)\s*$/;
const MARKER = /^<!--\s*readme:\s*(.*?)\s*-->\s*$/;
const HEADING = /^#{1,6}\s+(.*)$/;
const ARROW = /\/\/ → (.*)$/;

function parseMarker(text: string): BlockKind | string {
  let m = /^not-run \((.+)\)$/.exec(text);
  if (m) return { kind: 'not-run', reason: m[1]! };
  m = /^paths \((.+)\)$/.exec(text);
  if (m) return { kind: 'paths', reason: m[1]! };
  m = /^run "([^"]+)"$/.exec(text);
  if (m) return { kind: 'run', command: m[1]! };
  m = /^output of "([^"]+)"$/.exec(text);
  if (m) return { kind: 'output', command: m[1]! };
  m = /^expect-tsc ((?:TS\d+ ?)+) \((.+)\)$/.exec(text);
  if (m) return { kind: 'program', expectTsc: m[1]!.trim().split(' ') };
  return `unknown marker "${text}": use not-run (why), run "cmd", output of "cmd", paths (why) or expect-tsc TSnnnn (why)`;
}

export function parseReadme(text: string): ParsedReadme {
  const lines = text.split('\n');
  const blocks: ReadmeBlock[] = [];
  const problems: string[] = [];
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const h = HEADING.exec(lines[i]!);
    if (h) heading = h[1]!;
    const fence = FENCE.exec(lines[i]!);
    if (!fence) continue;
    const start = i;
    const lang = fence[1] ?? '';
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!);
    if (i >= lines.length) {
      problems.push(`README.md:${start + 1}: the code block is never closed`);
      break;
    }
    const line = start + 1;
    const where = `README.md:${line}`;
    const markerText = start > 0 ? MARKER.exec(lines[start - 1]!)?.[1] : undefined;
    let kind: BlockKind | string;
    if (markerText !== undefined) kind = parseMarker(markerText);
    else if (lang === 'ts') kind = { kind: 'program', expectTsc: [] };
    else kind = `a \`\`\`${lang} block that is neither a ts program nor marked: add <!-- readme: not-run (why) --> or run "cmd" above it`;
    if (typeof kind === 'string') {
      problems.push(`${where}: ${kind}`);
      continue;
    }
    if (kind.kind === 'program' && lang !== 'ts') problems.push(`${where}: only ts blocks can be programs`);
    const code = body.join('\n');
    if (kind.kind === 'run' && !code.includes(kind.command)) problems.push(`${where}: the command "${kind.command}" is not in the block`);
    blocks.push({ ...kind, line, lang, code, heading });
  }
  for (const b of blocks) {
    if (b.kind === 'run' && !blocks.some((o) => o.kind === 'output' && o.command === b.command)) {
      problems.push(`README.md:${b.line}: "${b.command}" is run but no <!-- readme: output of "${b.command}" --> block says what it prints`);
    }
    if (b.kind === 'output' && !blocks.some((o) => o.kind === 'run' && o.command === b.command)) {
      problems.push(`README.md:${b.line}: an output of "${b.command}", which no block runs`);
    }
    if (b.kind === 'program' && expectedOutput(b.code).length === 0) {
      problems.push(`README.md:${b.line}: the program has no // → comment saying what it prints`);
    }
  }
  return { blocks, problems };
}

/** The `// → text` comments of a program, in order. */
export function expectedOutput(code: string): string[] {
  return code
    .split('\n')
    .map((l) => ARROW.exec(l)?.[1]?.trim())
    .filter((t): t is string => t !== undefined);
}

/** The paths a `paths` block names: the first word of each non-empty line. */
export function mappedPaths(code: string): string[] {
  return code
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((p) => p !== '');
}

/** Whitespace collapsed, for comparing what a program printed with what its comments say. */
export function collapse(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
