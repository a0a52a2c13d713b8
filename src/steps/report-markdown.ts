/**
 * Markdown building blocks for `report.md`. Everything that came from a job (file names, URLs, titles,
 * errors) goes through `escapeInline`: file names can be hostile, and a name holding `|`, a newline,
 * a backtick or `<script>` must show as text in one table cell, never as markup.
 */

/**
 * Inline-safe text: backslash-escapes the ASCII punctuation that inline Markdown (CommonMark + GFM
 * tables, strikethrough and `$` math on some renderers) would interpret; control characters,
 * newlines included, become visible Unicode control pictures (`␊`), so one value stays on one line.
 */
export function escapeInline(text: string): string {
  return text
    .replace(/[\\`*_{}[\]<>|~&$]/g, '\\$&')

    .replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
      const code = c.charCodeAt(0);
      if (code === 0x7f) return '\u2421';
      if (code === 0x2028 || code === 0x2029) return '\u2424';
      return String.fromCharCode(0x2400 + code);
    });
}

/** A cell given as Markdown that is already safe (built from escaped parts). */
export interface RawCell {
  raw: string;
}

export type Cell = string | number | null | RawCell;

function renderCell(cell: Cell): string {
  if (cell === null) return '';
  if (typeof cell === 'number') return formatNumber(cell);
  if (typeof cell === 'string') return escapeInline(cell);
  return cell.raw;
}

export function formatNumber(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString('en-US') : n.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes.toLocaleString('en-US')} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A GFM table; `numeric` columns are right-aligned. Empty rows give an italic "none" line instead. */
export function table(params: { headers: string[]; rows: Cell[][]; numeric?: number[] }): string {
  if (params.rows.length === 0) return '_None._\n';
  const numeric = new Set(params.numeric ?? []);
  const head = `| ${params.headers.map(escapeInline).join(' | ')} |`;
  const rule = `|${params.headers.map((_, i) => (numeric.has(i) ? ' ---: ' : ' --- ')).join('|')}|`;
  const body = params.rows.map((row) => `| ${row.map(renderCell).join(' | ')} |`);
  return [head, rule, ...body].join('\n') + '\n';
}

/** Escaped values joined by `<br>` in one cell (plus "and N more" when `total` exceeds the list). */
export function listCell(values: readonly string[], total = values.length): RawCell {
  const more = total > values.length ? `<br>… and ${formatNumber(total - values.length)} more` : '';
  return { raw: values.map(escapeInline).join('<br>') + more };
}
