// Pure rendering for the bench report: Markdown tables, target lines and the SVG bar chart
// (hand-written SVG, no charting dependency). Tested in test/bench/report.test.ts.

/** A Markdown table; cells are written as given (escape `|` yourself). */
export function table(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const line = (cells: readonly string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map(() => '---')), ...rows.map(line)].join('\n');
}

/** One target and how the run did against it. */
export interface TargetResult {
  readonly target: string;
  readonly measured: string;
  /** null: not measured in this run (the row says why in `measured`). */
  readonly met: boolean | null;
}

/** The targets table: met, missed, or not measured. */
export function targetsTable(results: readonly TargetResult[]): string {
  return table(
    ['target', 'measured', 'result'],
    results.map((r) => [r.target, r.measured, r.met === null ? 'not measured' : r.met ? '**met**' : '**missed**']),
  );
}

/** One bar of the chart. `value` null draws no bar and prints `note` instead. */
export interface Bar {
  readonly label: string;
  readonly value: number | null;
  readonly note?: string;
  /** Draw this bar in the accent colour (Tokenstile's own rows). */
  readonly accent?: boolean;
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A horizontal bar chart as a standalone SVG document: one bar per entry, scaled to the largest
 * value, with the value printed after each bar.
 */
export function barChart(title: string, unit: string, bars: readonly Bar[]): string {
  const width = 760;
  const labelWidth = 330;
  const barArea = width - labelWidth - 110;
  const rowHeight = 30;
  const top = 44;
  const height = top + bars.length * rowHeight + 16;
  const max = Math.max(1, ...bars.map((b) => b.value ?? 0));
  const rows = bars.map((b, i) => {
    const y = top + i * rowHeight;
    const label = `<text x="${labelWidth - 10}" y="${y + 19}" text-anchor="end">${escapeXml(b.label)}</text>`;
    if (b.value === null) {
      return `${label}\n  <text x="${labelWidth}" y="${y + 19}" fill="#777">${escapeXml(b.note ?? 'not measured')}</text>`;
    }
    const w = Math.max(1, Math.round((b.value / max) * barArea));
    const text = `${Math.round(b.value).toLocaleString('en-US')} ${unit}`;
    return `${label}\n  <rect x="${labelWidth}" y="${y + 5}" width="${w}" height="${rowHeight - 10}" fill="${b.accent ? '#2f6fde' : '#9aa5b1'}"/>\n  <text x="${labelWidth + w + 6}" y="${y + 19}">${escapeXml(text)}</text>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="12" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>
  ${rows.join('\n  ')}
</svg>
`;
}
