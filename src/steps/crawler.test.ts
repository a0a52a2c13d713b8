import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../core/job.js';
import { normalizeUrl } from './crawl-url.js';
import { crawlerStep } from './crawler.js';
import { collectPlan, makeContext, runJobs } from './test-harness.js';

type Row = Record<string, JsonValue>;

const PNG = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
const PDF = Buffer.from('%PDF-1.4\n% fixture\n%%EOF\n');

function page(title: string, body: string): string {
  return `<!doctype html><html><head><title>${title}</title><style>.x { color: red }</style></head><body>${body}</body></html>`;
}

/** The fixture site. Every request's path is logged, to check what the crawler fetched and how often. */
function fixtureSite(requests: string[], robots: { status: number; body: string }): http.Server {
  const slowTimers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '/';
    requests.push(path);
    const html = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(body);
    };
    switch (path) {
      case '/robots.txt':
        res.writeHead(robots.status, { 'content-type': 'text/plain' });
        res.end(robots.body);
        return;
      case '/':
        return html(
          200,
          page(
            'Home &amp; garden',
            `<h1>Welcome</h1>
             <a href="/a">A</a> <a href="b#section">B</a> <a href="/A-upper">case matters in paths</a>
             <a href="/old">moved</a> <a href="/missing">gone</a> <a href="/slow">slow</a>
             <a href="/private/secret">private</a> <a href="/doc.pdf">pdf</a> <a href="/img.png">png</a>
             <a href="http://external.invalid/page">elsewhere</a> <a href="mailto:someone@example.com">mail</a>
             <a href="javascript:void(0)">js</a> <a href="HTTP://${req.headers.host}/a#again">same as /a</a>
             <script>document.write('<a href="/from-script">not a link</a>')</script>`,
          ),
        );
      case '/a':
        return html(200, page('A', '<p>Page   A\n\n text</p><a href="/">home</a><a href="/b">b</a>'));
      case '/b':
        return html(200, page('B', '<a href="/a">a</a><a href="./c">c</a><noscript>hidden</noscript>'));
      case '/c':
        return html(200, page('C', '<a href="/deep">deeper</a>'));
      case '/deep':
        return html(200, page('Deep', '<a href="/deeper">too deep</a>'));
      case '/old':
        res.writeHead(301, { location: '/target' });
        res.end();
        return;
      case '/target':
        return html(200, page('Target', '<base href="/sub/"><a href="leaf">relative to base</a>'));
      case '/sub/leaf':
        return html(200, page('Leaf', 'leaf'));
      case '/slow': {
        const t = setTimeout(() => {
          slowTimers.delete(t);
          html(200, page('Slow', 'finally'));
        }, 10_000);
        slowTimers.add(t);
        return;
      }
      case '/doc.pdf':
        res.writeHead(200, { 'content-type': 'application/pdf', 'content-length': String(PDF.length) });
        res.end(PDF);
        return;
      case '/img.png':
        // Chunked, without Content-Length: the crawler counts the bytes.
        res.writeHead(200, { 'content-type': 'image/png' });
        res.write(PNG.subarray(0, 5));
        res.end(PNG.subarray(5));
        return;
      default:
        return html(404, page('Not found', `<a href="/should-not-follow-from-404">x</a>`));
    }
  });
  server.on('close', () => slowTimers.forEach(clearTimeout));
  return server;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

let stepIds = 100;

async function crawl(config: Record<string, unknown>) {
  const run = { managerId: stepIds, stepId: stepIds++ };
  const ctx = makeContext({ type: crawlerStep, config, run });
  const { specs } = await collectPlan(crawlerStep, ctx);
  const outcome = await runJobs({ type: crawlerStep, config, specs, run, concurrency: 4 });
  const byPath = new Map<string, Row>();
  for (const r of outcome.results) {
    const row = r.result as Row;
    const u = new URL(row.url as string);
    byPath.set(u.origin === new URL(config.start_urls as string).origin ? u.pathname : u.href, row);
  }
  return { outcome, byPath };
}

describe('crawler', () => {
  const requests: string[] = [];
  let server: http.Server;
  let base: string;

  beforeAll(async () => {
    server = fixtureSite(requests, { status: 200, body: 'User-agent: *\nDisallow: /private\n' });
    base = await listen(server);
  });
  afterAll(() => close(server));

  it('normalizes URLs for keys', () => {
    expect(normalizeUrl('HTTP://Example.COM:80/a/../b?x=1#frag')).toBe('http://example.com/b?x=1');
    expect(normalizeUrl('https://example.com:443')).toBe('https://example.com/');
    expect(normalizeUrl('mailto:a@b')).toBeUndefined();
    expect(normalizeUrl('/x', 'http://h:8080/y')).toBe('http://h:8080/x');
  });

  it('validates its config', () => {
    expect(crawlerStep.config.safeParse({ start_urls: 'ftp://x/' }).success).toBe(false);
    expect(crawlerStep.config.safeParse({ start_urls: 'http://x/', include_patterns: ['('] }).success).toBe(false);
    expect(crawlerStep.config.safeParse({ start_urls: 'http://x/', depth: 2 }).success).toBe(false);
    const ok = crawlerStep.config.parse({ start_urls: 'http://x/', request_timeout: '10s' });
    expect(ok).toMatchObject({
      start_urls: ['http://x/'],
      request_timeout: 10_000,
      max_depth: 3,
      per_host_rate: 5,
      per_host_concurrency: 2,
    });
    // The old names are gone: `timeout` and `concurrency` are step options, never the type's keys.
    for (const key of ['timeout', 'concurrency', 'rate']) {
      expect(crawlerStep.config.safeParse({ start_urls: 'http://x/', [key]: 1 }).success).toBe(false);
    }
  });

  // Timeouts are generous (3 s; the slow page answers after 10 s): on a loaded machine a page that
  // should answer must not time out, and robots.txt must not be mistaken for unreachable.
  it('crawls the site once per page, records findings and stays in scope', async () => {
    requests.length = 0;
    const { outcome, byPath } = await crawl({
      start_urls: `${base}/`,
      request_timeout: 3000,
      per_host_rate: 1000,
      per_host_concurrency: 2,
    });

    expect(outcome.failures).toEqual([]);
    expect([...byPath.keys()].sort()).toEqual(
      [
        '/',
        '/a',
        '/b',
        '/c',
        '/deep',
        '/A-upper',
        '/old',
        '/missing',
        '/slow',
        '/private/secret',
        '/doc.pdf',
        '/img.png',
        '/sub/leaf',
      ].sort(),
    );
    // Each page fetched once (dedupe by key under concurrency), robots.txt once, nothing out of scope.
    const counts = new Map<string, number>();
    for (const r of requests) counts.set(r, (counts.get(r) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(counts.get('/robots.txt')).toBe(1);
    for (const never of ['/private/secret', '/deeper', '/from-script', '/should-not-follow-from-404']) {
      expect(requests).not.toContain(never);
    }

    const home = byPath.get('/');
    expect(home).toMatchObject({
      url: `${base}/`,
      final_url: `${base}/`,
      status: 200,
      content_type: 'text/html; charset=utf-8',
      title: 'Home & garden',
      depth: 0,
      from: null,
      redirected: false,
      html: true,
      error: null,
    });
    expect(home?.links).toEqual([
      `${base}/a`,
      `${base}/b`,
      `${base}/A-upper`,
      `${base}/old`,
      `${base}/missing`,
      `${base}/slow`,
      `${base}/private/secret`,
      `${base}/doc.pdf`,
      `${base}/img.png`,
      'http://external.invalid/page',
    ]);
    expect(byPath.get('/a')).toMatchObject({ title: 'A', depth: 1, from: `${base}/`, text_length: 'Page A texthomeb'.length });
    expect(byPath.get('/c')).toMatchObject({ depth: 2, from: `${base}/b` });
    expect(byPath.get('/deep')).toMatchObject({ depth: 3, links: [`${base}/deeper`] });
    expect(byPath.get('/old')).toMatchObject({
      status: 200,
      redirected: true,
      final_url: `${base}/target`,
      title: 'Target',
      links: [`${base}/sub/leaf`],
    });
    expect(byPath.get('/missing')).toMatchObject({ status: 404, error: null, links: [] });
    expect(byPath.get('/slow')).toMatchObject({ status: null, timed_out: true, error: 'timed out after 3000 ms' });
    expect(byPath.get('/private/secret')).toEqual({
      url: `${base}/private/secret`,
      depth: 1,
      from: `${base}/`,
      skipped: 'robots',
      reason: 'disallowed by robots.txt',
    });
    expect(byPath.get('/doc.pdf')).toMatchObject({
      status: 200,
      content_type: 'application/pdf',
      html: false,
      size: PDF.length,
      links: [],
      title: null,
    });
    expect(byPath.get('/img.png')).toMatchObject({ status: 200, content_type: 'image/png', html: false, size: PNG.length });
  });

  it('stops spawning at max_pages', async () => {
    const { outcome } = await crawl({ start_urls: `${base}/`, max_pages: 4, per_host_rate: 1000, request_timeout: 3000 });
    expect(outcome.results).toHaveLength(4);
    expect(outcome.logs.some((l) => l.message.includes('max_pages = 4 reached'))).toBe(true);
  });

  it('follows only links matching include_patterns and not exclude_patterns', async () => {
    const { byPath } = await crawl({
      start_urls: `${base}/`,
      include_patterns: ['/(a|b|c)$'],
      exclude_patterns: '/c$',
      per_host_rate: 1000,
    });
    expect([...byPath.keys()].sort()).toEqual(['/', '/a', '/b']);
  });

  it('fetches disallowed pages when respect_robots = false', async () => {
    requests.length = 0;
    const { byPath } = await crawl({
      start_urls: `${base}/`,
      include_patterns: ['/private'],
      respect_robots: false,
      per_host_rate: 1000,
    });
    expect(byPath.get('/private/secret')).toMatchObject({ status: 404 });
    expect(requests).not.toContain('/robots.txt');
  });

  it('stops when the job is cancelled, without recording a result', async () => {
    const ctx = makeContext({ type: crawlerStep, config: { start_urls: `${base}/`, request_timeout: '5s' }, run: { managerId: 999 } });
    const job = {
      id: 1,
      name: 'slow',
      payload: { url: `${base}/slow`, depth: 0, from: null },
      attempt: 1,
      maxAttempts: 1,
      depth: 2,
      parentId: null,
    };
    setTimeout(() => ctx.controller.abort(new Error('run cancelled')), 100);
    await expect(crawlerStep.run(job, ctx)).rejects.toThrow('run cancelled');
  });
});

describe('crawler edge cases', () => {
  it('records connection errors as findings', async () => {
    const probe = http.createServer();
    const dead = await listen(probe);
    await close(probe);
    const { outcome, byPath } = await crawl({ start_urls: `${dead}/`, per_host_rate: 1000 });
    expect(outcome.failures).toEqual([]);
    expect(byPath.get('/')).toMatchObject({ status: null, timed_out: false, links: [] });
    expect(byPath.get('/')?.error).toMatch(/ECONNREFUSED/);
  });

  it('treats a robots.txt answering 5xx as "disallow everything", with the reason', async () => {
    const requests: string[] = [];
    const server = fixtureSite(requests, { status: 503, body: 'busy' });
    const base = await listen(server);
    try {
      const { byPath } = await crawl({ start_urls: `${base}/`, per_host_rate: 1000 });
      expect([...byPath.values()]).toEqual([
        { url: `${base}/`, depth: 0, from: null, skipped: 'robots', reason: 'robots.txt answered HTTP 503' },
      ]);
      expect(requests).toEqual(['/robots.txt']);
    } finally {
      await close(server);
    }
  });

  it('keeps per-host concurrency and spacing', async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const server = http.createServer((req, res) => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<title>t</title>');
      }, 30);
    });
    const base = await listen(server);
    try {
      const config = {
        start_urls: [1, 2, 3, 4, 5, 6].map((n) => `${base}/p${n}`),
        respect_robots: false,
        per_host_concurrency: 1,
        per_host_rate: 20,
      };
      const run = { stepId: stepIds++ };
      const ctx = makeContext({ type: crawlerStep, config, run });
      const { specs } = await collectPlan(crawlerStep, ctx);
      const started = Date.now();
      const outcome = await runJobs({ type: crawlerStep, config, specs, run, concurrency: 6 });
      expect(outcome.results).toHaveLength(6);
      expect(maxInFlight).toBe(1);
      // Six starts 50 ms apart take at least 250 ms (a lower bound, which timers cannot make flaky).
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
    } finally {
      await close(server);
    }
  });
});
