import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JsonValue } from '../core/job.js';
import type { WorkerJob } from '../core/step-type.js';
import { httpStep, retryAfterMs } from './http.js';
import { collectPlan, makeContext, runJobs } from './test-harness.js';

type Row = Record<string, JsonValue>;

const hits = new Map<string, number>();
let server: http.Server;
let base: string;
const hanging = new Set<http.ServerResponse>();

function job(payload: JsonValue): WorkerJob {
  return { id: 1, name: 'j', payload, attempt: 1, maxAttempts: 1, depth: 2, parentId: null };
}

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (path === '/flaky') {
        if (n === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
        else if (n === 2) res.writeHead(503).end('unavailable');
        else res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '10' }).end('ok at last');
      } else if (path === '/always503') {
        res.writeHead(503, { 'retry-after': String(req.headers['x-retry-after'] ?? '0') }).end('still down');
      } else if (path === '/notfound') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no such thing');
      } else if (path === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('é'.repeat(5000));
      } else if (path === '/hang') {
        hanging.add(res);
      } else if (path.startsWith('/echo')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            method: req.method,
            url: req.url,
            header: req.headers['x-item'] ?? null,
            contentType: req.headers['content-type'] ?? null,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      } else {
        res.writeHead(500).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe('http config', () => {
  it('rejects what cannot work', () => {
    const bad = [
      { url: 'http://x/', items: [1], from_step: 'a' },
      { url: 'http://x/{{itme}}' },
      { url: 'http://x/{{item | upper}}' },
      { url: 'http://x/', body: 'x' },
      { url: 'http://x/', method: 'POST', body: { a: '{{nope}}' } },
      { url: 'http://x/', retries: 2 },
    ];
    for (const config of bad) expect(httpStep.config.safeParse(config).success, JSON.stringify(config)).toBe(false);
    expect(httpStep.config.parse({ url: 'http://x/{{params.base}}/{{item}}' })).toMatchObject({
      method: 'GET',
      request_timeout: 30_000,
      max_retries: 3,
    });
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:10 GMT', now)).toBe(10_000);
    expect(retryAfterMs('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(retryAfterMs('soon', now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });
});

describe('http run', () => {
  it('retries 429 (honouring Retry-After) and 503, then succeeds', async () => {
    hits.clear();
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/flaky`, retry_delay: 10 } });
    const result = (await httpStep.run(job({ item: null, index: 0 }), ctx)) as Row;
    expect(result).toMatchObject({
      status: 200,
      attempts: 3,
      body: 'ok at last',
      body_truncated: false,
      headers: { 'content-type': 'text/plain', 'content-length': '10' },
    });
    expect(hits.get('/flaky')).toBe(3);
    // Retry-After: 1 was honoured: the job took at least one second (a lower bound).
    expect(result.elapsed_ms).toBeGreaterThanOrEqual(990);
    expect(ctx.logs.map((l) => l.message)).toEqual([
      `GET ${base}/flaky: HTTP 429; retry 1 of 3 in 1000 ms`,
      expect.stringMatching(new RegExp(`^GET ${base}/flaky: HTTP 503; retry 2 of 3 in \\d+ ms$`)),
    ]);
  });

  it('gives up after max_retries with the status in the error', async () => {
    hits.clear();
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/always503`, max_retries: 2 } });
    await expect(httpStep.run(job({ item: null, index: 0 }), ctx)).rejects.toThrow(
      `GET ${base}/always503: HTTP 503 after 3 attempts: still down`,
    );
    expect(hits.get('/always503')).toBe(3);
  });

  it('fails at once on a 4xx, unless expect_status lists it', async () => {
    hits.clear();
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/notfound` } });
    await expect(httpStep.run(job({ item: null, index: 0 }), ctx)).rejects.toThrow(/HTTP 404: no such thing/);
    expect(hits.get('/notfound')).toBe(1);
    const ok = makeContext({ type: httpStep, config: { url: `${base}/notfound`, expect_status: [404] } });
    expect(await httpStep.run(job({ item: null, index: 0 }), ok)).toMatchObject({ status: 404, attempts: 1 });
    const strict = makeContext({ type: httpStep, config: { url: `${base}/echo`, expect_status: [201] } });
    await expect(httpStep.run(job({ item: null, index: 0 }), strict)).rejects.toThrow(/HTTP 200 \(expected 201\)/);
  });

  it('keeps the first 4 KB of the body', async () => {
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/big` } });
    const result = (await httpStep.run(job({ item: null, index: 0 }), ctx)) as Row;
    expect(result.body_truncated).toBe(true);
    expect(result.body).toBe('é'.repeat(2048));
  });

  it('times out', async () => {
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/hang`, request_timeout: '200ms' } });
    await expect(httpStep.run(job({ item: null, index: 0 }), ctx)).rejects.toThrow(
      `GET ${base}/hang: timed out after 200 ms (request_timeout, attempt 1)`,
    );
  });

  it('stops waiting for a retry when cancelled', async () => {
    const ctx = makeContext({
      type: httpStep,
      config: { url: `${base}/always503`, headers: { 'x-retry-after': '30' } },
    });
    setTimeout(() => ctx.controller.abort(new Error('cancelled by test')), 100);
    await expect(httpStep.run(job({ item: null, index: 0 }), ctx)).rejects.toThrow('cancelled by test');
  });

  it('fans out over items and renders templates in url, headers and body', async () => {
    const config = {
      items: [
        { id: 1, name: 'a b', tags: ['x'] },
        { id: 2, name: 'c&d', tags: [] },
      ],
      method: 'POST',
      url: `${base}/echo/{{item.id}}?name={{item.name | url}}`,
      headers: { 'x-item': '{{item.name}}' },
      body: { id: '{{item.id}}', label: 'n={{item.name}} #{{index}}', tags: '{{item.tags}}' },
    };
    const ctx = makeContext({ type: httpStep, config });
    const { specs } = await collectPlan(httpStep, ctx);
    expect(specs.map((s) => [s.key, s.name])).toEqual([
      ['item:0', `POST ${base}/echo/1?name=a%20b`],
      ['item:1', `POST ${base}/echo/2?name=c%26d`],
    ]);
    const outcome = await runJobs({ type: httpStep, config, specs });
    expect(outcome.failures).toEqual([]);
    const echoes = outcome.results.map((r) => JSON.parse((r.result as Row).body as string) as Row);
    expect(echoes).toEqual([
      {
        method: 'POST',
        url: '/echo/1?name=a%20b',
        header: 'a b',
        contentType: 'application/json',
        body: JSON.stringify({ id: 1, label: 'n=a b #0', tags: ['x'] }),
      },
      {
        method: 'POST',
        url: '/echo/2?name=c%26d',
        header: 'c&d',
        contentType: 'application/json',
        body: JSON.stringify({ id: 2, label: 'n=c&d #1', tags: [] }),
      },
    ]);
  });

  it('fails a job whose item lacks a templated field, naming it', async () => {
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/echo/{{item.user.id}}` } });
    await expect(httpStep.run(job({ item: { user: {} }, index: 4 }), ctx)).rejects.toThrow(
      'Template "{{item.user.id}}": item.user has no field "id" (item 4)',
    );
  });

  it('fans out over the results of a dependency with from_step', async () => {
    const dependencies = {
      users: {
        stepType: 'synthetic',
        results: [
          { jobId: 10, name: 'u1', payload: null, result: { id: 'u1' } },
          { jobId: 11, name: 'u2', payload: null, result: { id: 'u2' } },
          { jobId: 12, name: 'u3', payload: null, result: { id: 'u3' } },
        ],
      },
    };
    const config = { from_step: 'users', url: `${base}/echo/{{item.id}}` };
    const ctx = makeContext({ type: httpStep, config, dependencies, pageSize: 2 });
    const { specs } = await collectPlan(httpStep, ctx);
    expect(specs.map((s) => s.key)).toEqual(['job:10', 'job:11', 'job:12']);
    const outcome = await runJobs({ type: httpStep, config, specs, dependencies });
    expect(outcome.results.map((r) => (JSON.parse((r.result as Row).body as string) as Row).url)).toEqual([
      '/echo/u1',
      '/echo/u2',
      '/echo/u3',
    ]);

    const wrong = makeContext({ type: httpStep, config: { from_step: 'nope', url: `${base}/` }, dependencies });
    await expect(collectPlan(httpStep, wrong)).rejects.toThrow(/from_step = "nope" is not a dependency/);
  });

  it('makes one request without items or from_step', async () => {
    const ctx = makeContext({ type: httpStep, config: { url: `${base}/echo` } });
    const { specs } = await collectPlan(httpStep, ctx);
    expect(specs).toEqual([{ key: 'single', name: `GET ${base}/echo`, payload: { item: null, index: 0 } }]);
  });
});
