/** Render rows as a plain-text table with a header rule. Output formatting only. */
export function renderTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Shorten a long string for display, keeping its start and end. */
export function abbreviate(s: string, max = 48): string {
  return s.length <= max ? s : `${s.slice(0, max - 13)}…${s.slice(-12)}`;
}
