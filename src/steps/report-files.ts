/**
 * The `report` step's section for a `files` dependency, aggregated one result at a time: totals,
 * per-extension and per-MIME counts, the largest files, duplicate groups by sha256 and unreadable
 * files. Only the sha256 → paths map grows with the number of files (duplicates need it).
 */
import path from 'node:path';
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import type { StepFailure } from '../core/step-type.js';
import { formatBytes, formatNumber, listCell, table } from './report-markdown.js';

const fileResult = z.object({
  path: z.string(),
  rel: z.string().optional(),
  size: z.number().nonnegative(),
  sha256: z.string().nullable().optional(),
  mime: z.string().optional(),
  ext: z.string().optional(),
  is_text: z.boolean().optional(),
  lines: z.number().nullable().optional(),
  words: z.number().nullable().optional(),
});

/** Distinct extensions or MIME types kept; beyond, the rest is counted as "(other)". */
const MAX_GROUPS = 10_000;
/** Failures listed in report.json (all are counted). */
const MAX_FAILURES_LISTED = 1000;
/** Paths shown per duplicate group in report.md (report.json has them all). */
const PATHS_PER_GROUP_MD = 10;

interface Tally {
  files: number;
  bytes: number;
}

function tally(map: Map<string, Tally>, key: string, bytes: number): void {
  let t = map.get(key);
  if (!t) {
    const k = map.size >= MAX_GROUPS ? '(other)' : key;
    t = map.get(k) ?? { files: 0, bytes: 0 };
    map.set(k, t);
  }
  t.files++;
  t.bytes += bytes;
}

function sortedTallies(map: Map<string, Tally>, keyName: string): Array<{ [k: string]: JsonValue }> {
  return [...map.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes || b[1].files - a[1].files || (a[0] < b[0] ? -1 : 1))
    .map(([key, t]) => ({ [keyName]: key, files: t.files, bytes: t.bytes }));
}

export class FilesReport {
  private root: string | null = null;
  private files = 0;
  private bytes = 0;
  private textFiles = 0;
  private binaryFiles = 0;
  private emptyFiles = 0;
  private lines = 0;
  private words = 0;
  private unrecognized = 0;
  private failureCount = 0;
  private readonly failures: Array<{ path: string; error: string }> = [];
  private readonly byExt = new Map<string, Tally>();
  private readonly byMime = new Map<string, Tally>();
  /** Descending by size, at most `top` entries. */
  private readonly largest: Array<{ path: string; size: number }> = [];
  /** sha256 → size and path(s); a single path stays a string to halve memory for unique files. */
  private readonly hashes = new Map<string, { size: number; paths: string | string[] }>();

  constructor(private readonly top: number) {}

  add(result: JsonValue): void {
    const parsed = fileResult.safeParse(result);
    if (!parsed.success) {
      this.unrecognized++;
      return;
    }
    const r = parsed.data;
    const shown = r.rel ?? r.path;
    if (this.root === null && r.rel !== undefined && r.path.endsWith(r.rel)) {
      this.root = r.path.slice(0, r.path.length - r.rel.length).replace(/[\\/]$/, '') || null;
    }
    this.files++;
    this.bytes += r.size;
    if (r.size === 0) this.emptyFiles++;
    if (r.is_text === true) {
      this.textFiles++;
      this.lines += r.lines ?? 0;
      this.words += r.words ?? 0;
    } else if (r.is_text === false) this.binaryFiles++;
    tally(this.byExt, r.ext ?? path.extname(shown).toLowerCase(), r.size);
    tally(this.byMime, r.mime ?? 'unknown', r.size);
    this.keepLargest(shown, r.size);
    // Empty files all share one hash; calling them duplicates would waste nothing and say nothing.
    if (r.sha256 && r.size > 0) {
      const seen = this.hashes.get(r.sha256);
      if (!seen) this.hashes.set(r.sha256, { size: r.size, paths: shown });
      else if (typeof seen.paths === 'string') seen.paths = [seen.paths, shown];
      else seen.paths.push(shown);
    }
  }

  addFailure(failure: StepFailure): void {
    this.failureCount++;
    if (this.failures.length >= MAX_FAILURES_LISTED) return;
    const payload = failure.payload;
    const p = payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? payload.path : undefined;
    this.failures.push({ path: typeof p === 'string' ? p : failure.name, error: failure.error });
  }

  private keepLargest(p: string, size: number): void {
    const list = this.largest;
    if (list.length >= this.top && size <= (list[list.length - 1]?.size ?? 0)) return;
    // Binary search for the first entry smaller than `size` (ties keep their arrival order).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid]?.size ?? 0) >= size) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, { path: p, size });
    if (list.length > this.top) list.pop();
  }

  private duplicateGroups(): Array<{ sha256: string; size: number; copies: number; wasted_bytes: number; paths: string[] }> {
    const groups = [];
    for (const [sha256, entry] of this.hashes) {
      if (typeof entry.paths === 'string') continue;
      const copies = entry.paths.length;
      groups.push({ sha256, size: entry.size, copies, wasted_bytes: entry.size * (copies - 1), paths: entry.paths });
    }
    return groups.sort((a, b) => b.wasted_bytes - a.wasted_bytes || (a.sha256 < b.sha256 ? -1 : 1));
  }

  /** The section as it goes into report.json, plus the key totals for the step's result. */
  finish(): { section: { [k: string]: JsonValue }; summary: { [k: string]: JsonValue }; markdown: string } {
    const groups = this.duplicateGroups();
    const wasted = groups.reduce((sum, g) => sum + g.wasted_bytes, 0);
    const duplicateFiles = groups.reduce((sum, g) => sum + g.copies, 0);
    const totals = {
      files: this.files,
      bytes: this.bytes,
      text_files: this.textFiles,
      binary_files: this.binaryFiles,
      empty_files: this.emptyFiles,
      lines: this.lines,
      words: this.words,
      duplicate_groups: groups.length,
      duplicate_files: duplicateFiles,
      wasted_bytes: wasted,
      failures: this.failureCount,
      unrecognized_results: this.unrecognized,
    };
    const byExtension = sortedTallies(this.byExt, 'ext');
    const byMime = sortedTallies(this.byMime, 'mime');
    const section = {
      root: this.root,
      totals,
      by_extension: byExtension,
      by_mime: byMime,
      largest: this.largest,
      duplicates: groups,
      failures: this.failures,
    };
    return { section, summary: totals, markdown: this.markdown({ totals, byExtension, byMime, groups }) };
  }

  private markdown(params: {
    totals: Record<string, number>;
    byExtension: Array<{ [k: string]: JsonValue }>;
    byMime: Array<{ [k: string]: JsonValue }>;
    groups: ReturnType<FilesReport['duplicateGroups']>;
  }): string {
    const { totals, groups } = params;
    const n = (key: string): number => totals[key] ?? 0;
    const top = this.top;
    const out: string[] = [];
    if (this.root !== null) out.push(table({ headers: ['Root'], rows: [[this.root]] }));
    out.push(
      table({
        headers: ['Total', 'Value'],
        numeric: [1],
        rows: [
          ['Files', n('files')],
          ['Size', `${formatBytes(n('bytes'))} (${formatNumber(n('bytes'))} bytes)`],
          ['Text files', n('text_files')],
          ['Binary files', n('binary_files')],
          ['Empty files', n('empty_files')],
          ['Lines (text files)', n('lines')],
          ['Words (text files)', n('words')],
          ['Duplicate groups', n('duplicate_groups')],
          ['Space taken by extra copies', formatBytes(n('wasted_bytes'))],
          ['Unreadable files', n('failures')],
        ],
      }),
    );
    const tallyRows = (rows: Array<{ [k: string]: JsonValue }>, key: string) =>
      rows.slice(0, top).map((r) => [String(r[key]) || '(none)', r.files as number, formatBytes(r.bytes as number)]);
    out.push(`### By extension (top ${top} by size)\n`);
    out.push(table({ headers: ['Extension', 'Files', 'Size'], numeric: [1, 2], rows: tallyRows(params.byExtension, 'ext') }));
    out.push(`### By MIME type (top ${top} by size)\n`);
    out.push(table({ headers: ['MIME type', 'Files', 'Size'], numeric: [1, 2], rows: tallyRows(params.byMime, 'mime') }));
    out.push(`### Largest files\n`);
    out.push(table({ headers: ['File', 'Size'], numeric: [1], rows: this.largest.map((f) => [f.path, formatBytes(f.size)]) }));
    out.push(`### Duplicates (${formatNumber(groups.length)} groups, ${formatBytes(n('wasted_bytes'))} in extra copies)\n`);
    out.push(
      table({
        headers: ['Files', 'Size', 'Copies', 'Extra space', 'sha256'],
        numeric: [1, 2, 3],
        rows: groups
          .slice(0, top)
          .map((g) => [
            listCell(g.paths.slice(0, PATHS_PER_GROUP_MD), g.paths.length),
            formatBytes(g.size),
            g.copies,
            formatBytes(g.wasted_bytes),
            g.sha256.slice(0, 16),
          ]),
      }),
    );
    out.push(`### Unreadable files (${formatNumber(n('failures'))})\n`);
    out.push(table({ headers: ['File', 'Error'], rows: this.failures.slice(0, top).map((f) => [f.path, f.error]) }));
    return out.join('\n');
  }
}
