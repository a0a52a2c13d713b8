/**
 * `report`: one worker job that reads the results of the steps this step depends on and writes
 * `report.json` and `report.md`. Results are read page by page and aggregated as they come (see
 * report-files.ts and report-crawler.ts); a dependency of another type gets its job counts.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { JsonValue } from '../core/job.js';
import { defineStepType, type RunContext, type RunInfo } from '../core/step-type.js';
import { throwIfAborted } from './abortable-sleep.js';
import { CrawlerReport } from './report-crawler.js';
import { FilesReport } from './report-files.js';
import { escapeInline, table } from './report-markdown.js';

const OUTPUT_VARS = { 'run.id': 'managerId', 'run.step': 'stepName', 'run.definition': 'definitionId' } as const;
const OUTPUT_TEMPLATE = /\{\{\s*(run\.[A-Za-z_]+)\s*\}\}/g;

export const reportConfig = z.strictObject({
  /** Folder for report.json and report.md; `{{run.id}}`, `{{run.step}}`, `{{run.definition}}` are substituted. */
  output: z
    .string()
    .min(1)
    .default('reports/{{run.id}}')
    .superRefine((text, ctx) => {
      for (const m of text.matchAll(OUTPUT_TEMPLATE)) {
        if (!Object.hasOwn(OUTPUT_VARS, m[1] ?? '')) {
          ctx.addIssue({
            code: 'custom',
            message: `unknown "{{${m[1]}}}" (known: ${Object.keys(OUTPUT_VARS)
              .map((k) => `{{${k}}}`)
              .join(', ')})`,
          });
        }
      }
    }),
  title: z.string().min(1).optional(),
  /** Rows in each "top" list (largest files, slowest pages, ...). */
  top: z.number().int().positive().max(10_000).default(20),
});

export type ReportConfig = z.output<typeof reportConfig>;

/** The output folder with `{{run.*}}` substituted (values made safe as one path segment), absolute. */
export function reportFolder(output: string, run: RunInfo): string {
  const folder = output.replace(OUTPUT_TEMPLATE, (whole, name: string) => {
    const field = OUTPUT_VARS[name as keyof typeof OUTPUT_VARS] as keyof RunInfo | undefined;
    if (field === undefined) return whole;
    return String(run[field]).replace(/[/\\]|^\.\.?$/g, '_');
  });
  return path.resolve(process.cwd(), folder);
}

interface Section {
  name: string;
  type: string;
  section: { [k: string]: JsonValue };
  summary: { [k: string]: JsonValue };
  markdown: string;
}

async function filesSection(ctx: RunContext<ReportConfig>, name: string): Promise<Section> {
  const report = new FilesReport(ctx.config.top);
  let seen = 0;
  for await (const r of ctx.dependencies.results(name)) {
    report.add(r.result);
    if (++seen % 10_000 === 0) {
      throwIfAborted(ctx.signal);
      ctx.progress({ message: `${name}: ${seen} results read` });
    }
  }
  for await (const f of ctx.dependencies.failures(name)) report.addFailure(f);
  return { name, type: 'files', ...report.finish() };
}

async function crawlerSection(ctx: RunContext<ReportConfig>, name: string): Promise<Section> {
  const report = new CrawlerReport(ctx.config.top);
  let seen = 0;
  for await (const r of ctx.dependencies.results(name)) {
    report.add(r.result);
    if (++seen % 10_000 === 0) throwIfAborted(ctx.signal);
  }
  if (report.needsReferrers) {
    for await (const r of ctx.dependencies.results(name)) {
      report.addReferrers(r.result);
      if (++seen % 10_000 === 0) throwIfAborted(ctx.signal);
    }
  }
  for await (const f of ctx.dependencies.failures(name)) report.addFailure(f);
  return { name, type: 'crawler', ...report.finish() };
}

async function countsSection(ctx: RunContext<ReportConfig>, name: string, type: string): Promise<Section> {
  const counts = await ctx.dependencies.counts(name);
  const failures: Array<{ name: string; error: string }> = [];
  for await (const f of ctx.dependencies.failures(name)) {
    if (failures.length >= ctx.config.top) break;
    failures.push({ name: f.name, error: f.error });
  }
  const markdown = [
    table({
      headers: ['Jobs', 'Count'],
      numeric: [1],
      rows: [
        ['Completed', counts.completed],
        ['Failed', counts.failed],
        ['Cancelled', counts.cancelled],
        ['Total', counts.total],
      ],
    }),
    failures.length > 0
      ? `### First failures\n\n${table({ headers: ['Job', 'Error'], rows: failures.map((f) => [f.name, f.error]) })}`
      : '',
  ].join('\n');
  return { name, type, section: { totals: counts, failures }, summary: counts, markdown };
}

/** Writes through a temporary file and a rename, so a reader never sees half a report. */
async function writeAtomic(file: string, content: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, content);
  await fs.rename(tmp, file);
}

/**
 * The folder to write to: `wanted`, unless it holds the report of another run (run ids repeat
 * across stores): then `wanted-2`, `-3`, … A retried report step of the same run overwrites its own.
 */
async function freeFolder(wanted: string, run: RunInfo): Promise<string> {
  for (let n = 1; n <= 1000; n++) {
    const folder = n === 1 ? wanted : `${wanted}-${n}`;
    let existing: string;
    try {
      existing = await fs.readFile(path.join(folder, 'report.json'), 'utf8');
    } catch {
      return folder; // no report there yet
    }
    try {
      const r = (JSON.parse(existing) as { run?: { id?: unknown; created_at?: unknown; step?: unknown } }).run;
      if (r?.id === run.managerId && r.created_at === run.createdAt && r.step === run.stepName) return folder;
    } catch {
      // not a report of ours: leave it alone
    }
  }
  throw new Error(`report: ${wanted} and its 999 numbered siblings all hold other runs' reports`);
}

export const reportStep = defineStepType<ReportConfig>({
  name: 'report',
  description: 'Summarize the results of the steps this step depends on into report.json and report.md.',
  config: reportConfig,

  plan(ctx) {
    return [[{ key: 'report', name: `report of ${ctx.dependencies.names.join(', ') || 'nothing'}` }]];
  },

  async run(_job, ctx): Promise<JsonValue> {
    const { config, run } = ctx;
    const folder = await freeFolder(reportFolder(config.output, run), run);
    const sections: Section[] = [];
    for (const name of ctx.dependencies.names) {
      throwIfAborted(ctx.signal);
      const type = ctx.dependencies.stepType(name) ?? 'unknown';
      ctx.progress({ message: `reading ${name} (${type})` });
      if (type === 'files') sections.push(await filesSection(ctx, name));
      else if (type === 'crawler') sections.push(await crawlerSection(ctx, name));
      else sections.push(await countsSection(ctx, name, type));
    }
    if (sections.length === 0) ctx.log('warn', 'report: this step has no dependencies; the report is empty');

    const title = config.title ?? `Report of ${run.definitionId}, run ${run.managerId}`;
    const generatedAt = new Date().toISOString();
    const json = {
      title,
      generated_at: generatedAt,
      run: { id: run.managerId, definition: run.definitionId, step: run.stepName, created_at: run.createdAt },
      dependencies: sections.map((s) => ({ name: s.name, type: s.type, ...s.section })),
    };
    const markdown = [
      `# ${escapeInline(title)}\n`,
      `Run ${run.managerId} of ${escapeInline(run.definitionId)}, step ${escapeInline(run.stepName)}; generated ${generatedAt}.\n`,
      ...sections.map((s) => `## ${escapeInline(s.name)} (${escapeInline(s.type)})\n\n${s.markdown}`),
    ].join('\n');

    await fs.mkdir(folder, { recursive: true });
    const jsonFile = path.join(folder, 'report.json');
    const mdFile = path.join(folder, 'report.md');
    await writeAtomic(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
    await writeAtomic(mdFile, markdown);
    ctx.log('info', `report written to ${folder}`);
    return {
      output: folder,
      files: [jsonFile, mdFile],
      summary: Object.fromEntries(sections.map((s) => [s.name, { type: s.type, ...s.summary }])),
    };
  },
});
