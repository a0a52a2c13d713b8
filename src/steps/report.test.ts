import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../core/job.js';
import type { StepResult } from '../core/step-type.js';
import { filesStep } from './files.js';
import { escapeInline } from './report-markdown.js';
import { reportFolder, reportStep } from './report.js';
import { collectPlan, makeContext, runJobs, type HarnessDependency } from './test-harness.js';

type Row = Record<string, JsonValue>;

const HOSTILE = 'evil|name\nwith `ticks` <b>bold</b> *star*.txt';
const A = 'duplicate A\n';
const B = Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

const TREE: Record<string, string | Buffer> = {
  'one.txt': 'one two three\nfour\n',
  'copy-a-1.txt': A,
  'sub/copy-a-2.txt': A,
  'sub/deeper/copy-a-3.md': A,
  'b-1.bin': B,
  'sub/b-2.bin': B,
  'empty-1.txt': '',
  'sub/empty-2.txt': '',
  'big.log': 'line\n'.repeat(3000),
  'no-extension': 'plain words here',
  [HOSTILE]: 'hostile but harmless\n',
  'vanishes.txt': 'soon gone',
};

let tmp: string;
let root: string;
let filesDep: HarnessDependency;

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stepq-report-'));
  root = path.join(tmp, 'tree');
  for (const [rel, content] of Object.entries(TREE)) {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), content);
  }
  // Really run the files step, with one file vanishing between plan and run.
  const config = { root };
  const { specs } = await collectPlan(filesStep, makeContext({ type: filesStep, config }));
  await fs.rm(path.join(root, 'vanishes.txt'));
  const outcome = await runJobs({ type: filesStep, config, specs, concurrency: 3 });
  filesDep = { stepType: 'files', results: outcome.results, failures: outcome.failures };
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

/** Totals computed from the tree itself, not from the files step. */
function expectedTotals() {
  const present = Object.entries(TREE).filter(([rel]) => rel !== 'vanishes.txt');
  let bytes = 0;
  let lines = 0;
  let words = 0;
  const byHash = new Map<string, { size: number; rels: string[] }>();
  for (const [rel, content] of present) {
    const buf = Buffer.from(content);
    bytes += buf.length;
    const isText = !buf.includes(0);
    if (isText) {
      const text = buf.toString('utf8');
      lines += text.split('\n').length - 1 + (text.length > 0 && !text.endsWith('\n') ? 1 : 0);
      words += text.split(/\s+/).filter(Boolean).length;
    }
    if (buf.length > 0) {
      const h = createHash('sha256').update(buf).digest('hex');
      const entry = byHash.get(h) ?? { size: buf.length, rels: [] };
      entry.rels.push(rel);
      byHash.set(h, entry);
    }
  }
  const groups = [...byHash.values()].filter((g) => g.rels.length >= 2);
  return {
    files: present.length,
    bytes,
    lines,
    words,
    groups,
    wasted: groups.reduce((s, g) => s + g.size * (g.rels.length - 1), 0),
  };
}

async function runReport(params: {
  dependencies: Record<string, HarnessDependency>;
  config?: Record<string, unknown>;
  managerId: number;
  createdAt?: number;
}) {
  const run = {
    managerId: params.managerId,
    definitionId: 'index-files',
    stepName: 'report',
    ...(params.createdAt !== undefined ? { createdAt: params.createdAt } : {}),
  };
  const config = { output: path.join(tmp, 'reports', '{{run.id}}'), ...params.config };
  const ctx = makeContext({ type: reportStep, config, run, dependencies: params.dependencies, pageSize: 3 });
  const { specs } = await collectPlan(reportStep, ctx);
  expect(specs).toHaveLength(1);
  const result = (await reportStep.run(
    { id: 1, name: 'report', payload: null, attempt: 1, maxAttempts: 1, depth: 2, parentId: null },
    ctx,
  )) as Row;
  const folder = result.output as string;
  const json = JSON.parse(await fs.readFile(path.join(folder, 'report.json'), 'utf8')) as Row;
  const md = await fs.readFile(path.join(folder, 'report.md'), 'utf8');
  return { result, json, md, folder };
}

describe('report', () => {
  it('escapes Markdown in table cells', () => {
    expect(escapeInline('a|b\nc`d`<e>*f*_g_[h](i)\\j\u001b~$')).toBe('a\\|b\u240ac\\`d\\`\\<e\\>\\*f\\*\\_g\\_\\[h\\](i)\\\\j\u241b\\~\\$');
  });

  it("never overwrites another run's report (run ids repeat across stores), but rewrites its own", async () => {
    const first = await runReport({ dependencies: {}, managerId: 77, createdAt: 1 });
    const again = await runReport({ dependencies: {}, managerId: 77, createdAt: 1 });
    expect(again.folder).toBe(first.folder);
    const other = await runReport({ dependencies: {}, managerId: 77, createdAt: 2 });
    expect(other.folder).toBe(`${first.folder}-2`);
    expect((JSON.parse(await fs.readFile(path.join(first.folder, 'report.json'), 'utf8')) as Row).run).toMatchObject({ created_at: 1 });
  });

  it('substitutes run variables in the output folder', () => {
    const run = { managerId: 7, stepId: 9, stepName: 'rep', definitionId: 'a/b', params: {}, createdAt: 0 };
    expect(reportFolder('out/{{run.id}}/{{ run.definition }}-{{run.step}}', run)).toBe(path.resolve('out/7/a_b-rep'));
    expect(reportStep.config.safeParse({ output: 'x/{{run.nope}}' }).success).toBe(false);
    expect(reportStep.config.parse({})).toEqual({ output: 'reports/{{run.id}}', top: 20 });
  });

  it('summarizes a files dependency with totals computed independently', async () => {
    const { result, json, md, folder } = await runReport({ dependencies: { index: filesDep }, config: { top: 3 }, managerId: 42 });
    const expected = expectedTotals();
    expect(folder).toBe(path.join(tmp, 'reports', '42'));
    expect(result.files).toEqual([path.join(folder, 'report.json'), path.join(folder, 'report.md')]);

    const section = (json.dependencies as Row[])[0] as Row;
    expect(section).toMatchObject({ name: 'index', type: 'files', root });
    expect(section.totals).toEqual({
      files: expected.files,
      bytes: expected.bytes,
      text_files: expected.files - 2,
      binary_files: 2,
      empty_files: 2,
      lines: expected.lines,
      words: expected.words,
      duplicate_groups: expected.groups.length,
      duplicate_files: expected.groups.reduce((s, g) => s + g.rels.length, 0),
      wasted_bytes: expected.wasted,
      failures: 1,
      unrecognized_results: 0,
    });
    expect((result.summary as Row).index).toMatchObject({
      type: 'files',
      files: expected.files,
      bytes: expected.bytes,
      wasted_bytes: expected.wasted,
    });

    // Duplicates: the three copies of A and the two of B, with every path.
    const dups = section.duplicates as Row[];
    expect(dups.map((d) => [d.copies, d.size, d.wasted_bytes, [...(d.paths as string[])].sort()])).toEqual(
      expected.groups
        .sort((x, y) => y.size * (y.rels.length - 1) - x.size * (x.rels.length - 1))
        .map((g) => [g.rels.length, g.size, g.size * (g.rels.length - 1), [...g.rels].sort()]),
    );
    // The top 3 largest, by size.
    const sizes = Object.entries(TREE)
      .filter(([rel]) => rel !== 'vanishes.txt')
      .map(([rel, c]) => ({ path: rel, size: Buffer.from(c).length }))
      .sort((x, y) => y.size - x.size);
    expect((section.largest as Row[]).map((f) => f.size)).toEqual(sizes.slice(0, 3).map((s) => s.size));
    expect((section.largest as Row[])[0]).toEqual({ path: 'big.log', size: 15_000 });
    // By extension: counted from the tree.
    const txt = (section.by_extension as Row[]).find((e) => e.ext === '.txt');
    const txtFiles = Object.keys(TREE).filter((rel) => rel.endsWith('.txt') && rel !== 'vanishes.txt');
    expect(txt).toEqual({
      ext: '.txt',
      files: txtFiles.length,
      bytes: txtFiles.reduce((s, rel) => s + Buffer.from(TREE[rel] ?? '').length, 0),
    });
    expect((section.by_extension as Row[]).find((e) => e.ext === '')).toMatchObject({ files: 1 });
    expect((section.by_mime as Row[]).find((e) => e.mime === 'application/octet-stream')).toEqual({
      mime: 'application/octet-stream',
      files: 2,
      bytes: 24,
    });
    expect(section.failures).toEqual([
      { path: path.join(root, 'vanishes.txt'), error: expect.stringMatching(/vanishes\.txt: it no longer exists/) },
    ]);

    // Markdown: the hostile name stays in one escaped cell.
    expect(md).toContain(escapeInline(HOSTILE));
    expect(md).toContain('evil\\|name\u240awith \\`ticks\\` \\<b\\>bold\\</b\\> \\*star\\*.txt');
    expect(md).not.toContain('<b>');
    expect(md.split('\n').some((line) => line.startsWith('with '))).toBe(false);
    // Every table row has as many unescaped pipes as its header.
    const lines = md.split('\n');
    let columns = 0;
    for (const line of lines) {
      const pipes = (line.match(/(?<!\\)\|/g) ?? []).length;
      if (!line.startsWith('|')) {
        columns = 0;
        continue;
      }
      if (columns === 0) columns = pipes;
      expect(pipes, line).toBe(columns);
    }
    expect(md).toMatch(/^# Report of index-files, run 42\n/);
    expect(md).toContain('### Duplicates (2 groups');
  });

  it('summarizes a crawler dependency: statuses, broken links with referrers, slowest, robots', async () => {
    const base = 'http://site.test';
    const page = (p: string, extra: Row): StepResult => ({
      jobId: 0,
      name: `${base}${p}`,
      payload: null,
      result: {
        url: `${base}${p}`,
        depth: 1,
        from: `${base}/`,
        final_url: `${base}${p}`,
        status: 200,
        content_type: 'text/html',
        html: true,
        title: p,
        text_length: 10,
        links: [],
        size: 100,
        redirected: false,
        elapsed_ms: 10,
        error: null,
        timed_out: false,
        ...extra,
      },
    });
    const results: StepResult[] = [
      page('/', { links: [`${base}/a`, `${base}/missing`, `${base}/down`, `${base}/private`, `${base}/doc.pdf`], elapsed_ms: 50 }),
      page('/a', { links: [`${base}/`, `${base}/missing`], elapsed_ms: 300 }),
      page('/missing', { status: 404, elapsed_ms: 5 }),
      page('/down', { status: null, error: 'ECONNREFUSED: connect ECONNREFUSED', html: false, elapsed_ms: 1 }),
      page('/slow', { status: null, error: 'timed out after 500 ms', timed_out: true, elapsed_ms: 500 }),
      page('/doc.pdf', { content_type: 'application/pdf', html: false, size: 2048, elapsed_ms: 20 }),
      page('/moved', { redirected: true, final_url: `${base}/a`, elapsed_ms: 40 }),
      {
        jobId: 0,
        name: 'x',
        payload: null,
        result: { url: `${base}/private`, depth: 1, from: `${base}/`, skipped: 'robots', reason: 'disallowed by robots.txt' },
      },
    ].map((r, i) => ({ ...r, jobId: i + 1 }));
    const crawl: HarnessDependency = {
      stepType: 'crawler',
      results,
      failures: [{ jobId: 99, name: 'bad', payload: { url: `${base}/bad` }, error: 'crawler: payload must be { url, depth, from }' }],
    };
    const other: HarnessDependency = {
      stepType: 'synthetic',
      results: [{ jobId: 1, name: 's1', payload: null, result: null }],
      failures: [{ jobId: 2, name: 's2', payload: null, error: 'synthetic failure' }],
      cancelled: 3,
    };
    const { json, md, result } = await runReport({
      dependencies: { crawl, gen: other },
      config: { top: 2, title: 'Site | check' },
      managerId: 43,
    });
    const [section, generic] = json.dependencies as Row[];
    expect(section?.totals).toEqual({
      pages: 8,
      fetched: 5,
      html_pages: 3,
      non_html: 1,
      redirects: 1,
      broken: 3,
      skipped_robots: 1,
      failures: 1,
      unrecognized_results: 0,
    });
    expect(section?.by_status).toEqual({ '200': 4, '404': 1, 'no answer': 2, 'skipped (robots)': 1 });
    expect(section?.broken).toEqual([
      { url: `${base}/missing`, status: 404, error: null, referrers: [`${base}/`, `${base}/a`], referrer_count: 2 },
      { url: `${base}/down`, status: null, error: 'ECONNREFUSED: connect ECONNREFUSED', referrers: [`${base}/`], referrer_count: 1 },
      { url: `${base}/slow`, status: null, error: 'timed out after 500 ms', referrers: [], referrer_count: 0 },
    ]);
    expect(section?.slowest).toEqual([
      { url: `${base}/slow`, elapsed_ms: 500, status: null },
      { url: `${base}/a`, elapsed_ms: 300, status: 200 },
    ]);
    expect(section?.skipped_robots).toEqual([{ url: `${base}/private`, reason: 'disallowed by robots.txt' }]);
    expect(section?.non_html).toEqual([{ content_type: 'application/pdf', count: 1, bytes: 2048 }]);
    expect(generic).toEqual({
      name: 'gen',
      type: 'synthetic',
      totals: { completed: 1, failed: 1, cancelled: 3, total: 5 },
      failures: [{ name: 's2', error: 'synthetic failure' }],
    });
    expect(result.summary).toMatchObject({ crawl: { type: 'crawler', broken: 3 }, gen: { type: 'synthetic', total: 5 } });
    expect(md).toMatch(/^# Site \\\| check\n/);
    expect(md).toContain('## crawl (crawler)');
    expect(md).toContain(`| http://site.test/missing | 404 | http://site.test/<br>http://site.test/a |`);
  });
});
