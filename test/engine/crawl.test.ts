/**
 * examples/crawl-site.toml through the real engine against a fixture site on 127.0.0.1: spawned
 * page jobs deduplicated per run, broken links recorded (not failures), robots.txt honoured, report.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { testEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine | null = null;
let server: Server | null = null;
afterEach(async () => {
  await t?.close();
  t = null;
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

const PAGES: Record<string, string> = {
  '/': '<html><title>Home</title><a href="/a">a</a><a href="/b">b</a><a href="/missing">404</a><a href="/private/x">p</a></html>',
  '/a': '<html><title>A</title><a href="/">home</a><a href="/b#frag">b again</a><a href="/old">old</a></html>',
  '/b': '<html><title>B</title><a href="/a">a</a><a href="/data.json">json</a><a href="http://example.invalid/">out</a></html>',
  '/new': '<html><title>New</title><a href="/">home</a></html>',
};

describe('crawl-site through the engine', () => {
  it('crawls every in-scope page once and reports broken links with their referrers', async () => {
    server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (url === '/robots.txt')
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end('User-agent: *\nDisallow: /private\n');
      if (url === '/old') return void res.writeHead(301, { location: '/new' }).end();
      if (url === '/data.json') return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}');
      const page = PAGES[url];
      if (!page) return void res.writeHead(404, { 'content-type': 'text/html' }).end('<title>Not found</title>');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    t = await testEngine({ concurrency: 8 });
    // The report goes to the test's folder, not the checkout's reports/ (the example uses the default).
    const example = readFileSync(join(ROOT, 'examples/crawl-site.toml'), 'utf8');
    const source = example.replace('[step.report]', `[step.report]\noutput = ${JSON.stringify(join(t.dir, 'reports/{{run.id}}'))}`);
    expect(source).not.toBe(example);
    const run = await t.engine.run({ definition: { source }, params: { start_url: `http://127.0.0.1:${port}/` } });
    const outcome = await run.done;
    expect(outcome.manager.status).toBe('completed');
    const crawl = outcome.steps.find((s) => s.name === 'crawl')!;
    const jobs = await t.engine.listJobs({ stepId: crawl.stepId, limit: 100 });
    const urls = jobs.data.map((j) => (j.payload as { url: string }).url).sort();
    const base = `http://127.0.0.1:${port}`;
    // Each URL once, even though several pages link to it; off-site links are not followed.
    expect(urls).toEqual(
      [`${base}/`, `${base}/a`, `${base}/b`, `${base}/data.json`, `${base}/missing`, `${base}/old`, `${base}/private/x`].sort(),
    );
    expect(crawl.counts).toMatchObject({ completed: 7, failed: 0 });
    const byUrl = new Map(jobs.data.map((j) => [(j.payload as { url: string }).url, j.result as Record<string, unknown>]));
    expect(byUrl.get(`${base}/missing`)).toMatchObject({ status: 404 });
    expect(byUrl.get(`${base}/old`)).toMatchObject({ status: 200, final_url: `${base}/new`, redirected: true });
    expect(byUrl.get(`${base}/private/x`)).toMatchObject({ skipped: 'robots' });

    const report = outcome.steps.find((s) => s.name === 'report')!;
    const [reportJob] = (await t.engine.listJobs({ stepId: report.stepId, limit: 1 })).data;
    const files = (reportJob!.result as { files: string[] }).files;
    expect(files.every((f) => f.startsWith(t!.dir))).toBe(true);
    const json = JSON.parse(
      readFileSync(
        files.find((f) => f.endsWith('.json'))!,
        'utf8',
      ),
    );
    const section = json.dependencies[0];
    expect(section.type).toBe('crawler');
    const broken = section.broken as Array<{ url: string; status: number; referrers: string[] }>;
    expect(broken.map((b) => [b.url, b.status])).toEqual([[`${base}/missing`, 404]]);
    expect(broken[0]!.referrers).toEqual([`${base}/`]);
    expect(section.totals).toMatchObject({ pages: 7, broken: 1, skipped_robots: 1, redirects: 1 });
  });
});
