/** Plain text tables for the human output of the `halyard` listings. */
export function table(head: readonly string[], rows: ReadonlyArray<ReadonlyArray<unknown>>): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (c === undefined || c === null ? '-' : String(c))))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}
