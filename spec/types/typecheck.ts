/**
 * Type tests: fixture files are compiled with the repository's strict
 * compiler options, in process, and their diagnostics returned per file.
 *
 * A fixture states what must not compile with a line comment naming the
 * error it expects: `// @ts-expect-error TS2345 (why)`. The fixture itself
 * must then compile clean (so `npm run typecheck` checks it as well), and a
 * second compile with those comments blanked out must report exactly the
 * named code on the line after each one. A bare `@ts-expect-error` would be
 * satisfied by any error at all, a typo included, so it is refused.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const repo = fileURLToPath(new URL('../..', import.meta.url));
export const fixtureDir = join(repo, 'spec', 'types', 'fixtures');

const expectation = /\/\/ @ts-expect-error\b(.*)$/;
const named = /^\s+(TS\d+)\b/;

export interface FixtureReport {
  /** Diagnostics of the fixture as written: must be empty. */
  readonly asWritten: string[];
  /** Expectations whose line did not fail with the named code, and errors on lines that expect none. */
  readonly unmet: string[];
}

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(repo, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (config.error) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dirname(configPath));
  return { ...parsed.options, noEmit: true, strict: true };
}

function format(d: ts.Diagnostic): string {
  const text = ts.flattenDiagnosticMessageText(d.messageText, '\n').split('\n')[0];
  if (d.file === undefined || d.start === undefined) return `TS${d.code}: ${text}`;
  const { line } = d.file.getLineAndCharacterOfPosition(d.start);
  return `${d.file.fileName.slice(repo.length)}:${line + 1} TS${d.code}: ${text}`;
}

function diagnosticsOf(program: ts.Program, file: string): readonly ts.Diagnostic[] {
  const sf = program.getSourceFile(file);
  if (sf === undefined) throw new Error(`fixture not compiled: ${file}`);
  return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
}

/** Compile `names` (files in spec/types/fixtures) twice and report on each. */
export function typecheckFixtures(names: readonly string[]): Map<string, FixtureReport> {
  const options = compilerOptions();
  const files = names.map((n) => join(fixtureDir, n));
  const asWritten = ts.createProgram(files, options);

  // Blank the expectation comments, keeping every line where it was.
  const host = ts.createCompilerHost(options);
  const read = host.readFile.bind(host);
  const wanted = new Map<string, Map<number, string>>();
  const malformed: string[] = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    const codes = new Map<number, string>();
    lines.forEach((text, i) => {
      const m = expectation.exec(text);
      if (m === null) return;
      const code = named.exec(m[1] ?? '')?.[1];
      if (code === undefined) malformed.push(`${file.slice(repo.length)}:${i + 1} @ts-expect-error names no error code`);
      else codes.set(i + 1, code);
    });
    wanted.set(file, codes);
  }
  host.readFile = (path) => {
    const text = read(path);
    if (text === undefined || !wanted.has(path)) return text;
    return text
      .split('\n')
      .map((line) => line.replace(expectation, ''))
      .join('\n');
  };
  const stripped = ts.createProgram(files, options, host, asWritten);

  const reports = new Map<string, FixtureReport>();
  for (const [i, file] of files.entries()) {
    const codes = wanted.get(file) ?? new Map<number, string>();
    const seen = new Map<number, Set<string>>();
    const unmet: string[] = malformed.filter((m) => m.startsWith(file.slice(repo.length)));
    for (const d of diagnosticsOf(stripped, file)) {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      const expectedOn = line - 1;
      if (!codes.has(expectedOn)) unmet.push(`unexpected: ${format(d)}`);
      else seen.set(expectedOn, (seen.get(expectedOn) ?? new Set()).add(`TS${d.code}`));
    }
    for (const [line, code] of codes) {
      const got = seen.get(line);
      if (got?.size !== 1 || !got.has(code)) {
        unmet.push(
          `${file.slice(repo.length)}:${line + 1} expected ${code}, got ${got ? [...got].join(', ') : 'no error'}`,
        );
      }
    }
    reports.set(names[i] as string, { asWritten: diagnosticsOf(asWritten, file).map(format), unmet });
  }
  return reports;
}
