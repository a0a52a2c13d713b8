/**
 * REST routes through app.inject(): shapes, filters, keyset pages, actions that report what they did,
 * and clear 4xx answers that change nothing.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serveCommand } from '../../src/cli/serve.js';
import { defineStepType } from '../../src/core/step-type.js';
import { SYNTHETIC, testServer, type TestServer } from '../helpers/server.js';

let s: TestServer | null = null;
afterEach(async () => {
  await s?.close();
  s = null;
});

async function addDefinition(server: TestServer, source: string): Promise<void> {
  const r = await server.app.inject({
    method: 'POST',
    url: '/api/job-definitions',
    headers: { 'content-type': 'application/toml' },
    payload: source,
  });
  expect(r.statusCode, r.body).toBe(201);
}

async function execute(server: TestServer, id: string, params: Record<string, unknown> = {}): Promise<number> {
  const r = await server.app.inject({ method: 'POST', url: `/api/job-definitions/${id}/execute`, payload: { params } });
  expect(r.statusCode, r.body).toBe(202);
  return r.json<{ manager_id: number }>().manager_id;
}

describe('REST API', () => {
  it('adds a definition, runs it, and shows the run with progress in lists and details', async () => {
    s = await testServer();
    await addDefinition(s, SYNTHETIC('demo', 30, ['failure_rate = 0.2', 'retries = 1', 'max_failures = "90%"']));
    const id = await execute(s, 'demo');
    await s.engine.waitForRun(id);

    const runs = (await s.app.inject({ url: '/api/jobs?parent_id=root' })).json();
    expect(runs.data).toHaveLength(1);
    expect(runs.data[0]).toMatchObject({ id, kind: 'manager', status: 'completed', run: { definition_id: 'demo' } });
    expect(runs.data[0].progress.counts.total).toBe(30);

    const steps = (await s.app.inject({ url: `/api/jobs?parent_id=${id}` })).json();
    expect(steps.data).toHaveLength(1);
    const step = steps.data[0];
    expect(step).toMatchObject({ kind: 'step', name: 'gen', type: 'synthetic', step: { depends_on: [], planned: 30 } });
    expect(step.step.policy).toMatchObject({ retries: 1, max_failures: '90%', on_error: 'fail' });
    expect(step.progress.counts.failed + step.progress.counts.completed).toBe(30);

    const failed = (await s.app.inject({ url: `/api/jobs?step_id=${step.id}&status=failed&limit=100` })).json();
    expect(failed.data.length).toBe(step.progress.counts.failed);
    expect(
      failed.data.every(
        (j: { status: string; error: { preview: string } }) => j.status === 'failed' && j.error.preview.includes('synthetic failure'),
      ),
    ).toBe(true);

    const detail = (await s.app.inject({ url: `/api/jobs/${failed.data[0].id}` })).json();
    expect(detail).toMatchObject({ kind: 'worker', step_id: step.id, manager_id: id, retries: [] });
    const progress = (await s.app.inject({ url: `/api/jobs/${step.id}/progress` })).json();
    expect(progress.counts).toEqual(step.progress.counts);
    const stats = (await s.app.inject({ url: '/api/stats' })).json();
    expect(stats.runs).toMatchObject({ completed: 1, total: 1 });
  });

  it('pages with stable keyset cursors; a bad cursor or filter is a clear 400', async () => {
    s = await testServer();
    await addDefinition(s, SYNTHETIC('p', 120));
    const id = await execute(s, 'p');
    await s.engine.waitForRun(id);
    const stepId = (await s.app.inject({ url: `/api/jobs?parent_id=${id}` })).json().data[0].id;
    const seen: number[] = [];
    let cursor: string | null = null;
    do {
      const page: { data: Array<{ id: number }>; next_cursor: string | null } = (
        await s.app.inject({ url: `/api/jobs?step_id=${stepId}&limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}` })
      ).json();
      seen.push(...page.data.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(seen).toHaveLength(120);
    expect(new Set(seen).size).toBe(120);
    expect([...seen].sort((a, b) => a - b)).toEqual(seen);

    // offset jumps to a row in one request, and its cursor continues from there.
    const jump = (await s.app.inject({ url: `/api/jobs?step_id=${stepId}&offset=100&limit=10` })).json();
    expect(jump.data.map((j: { id: number }) => j.id)).toEqual(seen.slice(100, 110));
    const after = (
      await s.app.inject({ url: `/api/jobs?step_id=${stepId}&limit=5&cursor=${encodeURIComponent(jump.next_cursor)}` })
    ).json();
    expect(after.data.map((j: { id: number }) => j.id)).toEqual(seen.slice(110, 115));

    const bad = await s.app.inject({ url: `/api/jobs?step_id=${stepId}&cursor=nonsense` });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('ERR_BAD_CURSOR');
    const badStatus = await s.app.inject({ url: '/api/jobs?status=done' });
    expect(badStatus.statusCode).toBe(400);
    expect(badStatus.json().error).toMatchObject({ code: 'ERR_BAD_REQUEST' });
    const badLimit = await s.app.inject({ url: '/api/jobs?limit=100000' });
    expect(badLimit.statusCode).toBe(400);
    // Numbers that coerce to Infinity are refused like any other bad number, never a 500 or an unbounded page.
    for (const q of ['limit=1e309', 'limit=Infinity', 'offset=1e309', 'offset=-Infinity']) {
      const r = await s.app.inject({ url: `/api/jobs?step_id=${stepId}&${q}` });
      expect(r.statusCode, q).toBe(400);
      expect(r.json().error).toMatchObject({ code: 'ERR_BAD_REQUEST', details: [{ path: `querystring/${q.split('=')[0]}` }] });
    }
    const badLogLimit = await s.app.inject({ url: `/api/jobs/${id}/logs?limit=1e309` });
    expect(badLogLimit.statusCode).toBe(400);
    // A text search may still say "Infinity".
    expect((await s.app.inject({ url: `/api/jobs?step_id=${stepId}&q=Infinity` })).statusCode).toBe(200);
  });

  it('answers unknown and malformed ids with 404 and 400', async () => {
    s = await testServer();
    expect((await s.app.inject({ url: '/api/jobs/999' })).json().error.code).toBe('ERR_JOB_NOT_FOUND');
    expect((await s.app.inject({ url: '/api/jobs/999' })).statusCode).toBe(404);
    expect((await s.app.inject({ url: '/api/jobs/abc' })).statusCode).toBe(400);
    expect((await s.app.inject({ url: '/api/jobs/-1/logs' })).statusCode).toBe(400);
    // Ids stay within exact integers: 16 digits could name another job after rounding.
    expect((await s.app.inject({ url: '/api/jobs/9999999999999999' })).statusCode).toBe(400);
    expect((await s.app.inject({ url: '/api/jobs/999999999999999' })).statusCode).toBe(404);
    expect((await s.app.inject({ method: 'POST', url: '/api/jobs/999/cancel' })).statusCode).toBe(404);
    expect((await s.app.inject({ url: '/api/nothing-here' })).json().error.code).toBe('ERR_NOT_FOUND');
    const unknownDef = await s.app.inject({ method: 'POST', url: '/api/job-definitions/nope/execute', payload: {} });
    expect(unknownDef.statusCode).toBe(404);
    expect(unknownDef.json().error.code).toBe('ERR_DEFINITION_NOT_FOUND');
  });

  it('refuses invalid TOML and invalid params whole, naming line and field, writing nothing', async () => {
    s = await testServer();
    const broken = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions',
      headers: { 'content-type': 'application/toml' },
      payload: 'id = "x"\nname = "X"\n[step.a]\ntype = "synthetic"\ncount = "lots"\n',
    });
    expect(broken.statusCode).toBe(400);
    const err = broken.json().error;
    expect(err.code).toBe('ERR_DEFINITION_INVALID');
    expect(err.details.issues[0]).toMatchObject({ line: 5, path: 'step.a.count' });
    const syntax = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions/validate',
      headers: { 'content-type': 'text/plain' },
      payload: 'id = "x\n',
    });
    expect(syntax.json()).toMatchObject({ valid: false, issues: [expect.objectContaining({ line: 1 })] });
    expect((await s.app.inject({ url: '/api/job-definitions' })).json()).toEqual([]);

    await addDefinition(
      s,
      ['id = "typed"', 'name = "T"', '[params.n]', 'type = "integer"', '[step.a]', 'type = "synthetic"', 'count = "{{params.n}}"'].join(
        '\n',
      ),
    );
    const badParams = await s.app.inject({ method: 'POST', url: '/api/job-definitions/typed/execute', payload: { params: { n: 'many' } } });
    expect(badParams.statusCode).toBe(400);
    expect(badParams.json().error.code).toBe('ERR_PARAMS_INVALID');
    const missing = await s.app.inject({ method: 'POST', url: '/api/job-definitions/typed/execute', payload: {} });
    expect(missing.statusCode).toBe(400);
    const extraField = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions/typed/execute',
      payload: { params: { n: 1 }, nonsense: true },
    });
    expect(extraField.statusCode).toBe(400);
    expect((await s.app.inject({ url: '/api/jobs?parent_id=root' })).json().data).toEqual([]);
    const ok = await s.app.inject({ method: 'POST', url: '/api/job-definitions/typed/execute', payload: { params: { n: 3 } } });
    expect(ok.statusCode).toBe(202);
  });

  it('reads, validates and deletes definitions', async () => {
    s = await testServer();
    await addDefinition(s, SYNTHETIC('d1', 1));
    const one = (await s.app.inject({ url: '/api/job-definitions/d1' })).json();
    expect(one).toMatchObject({ id: 'd1', valid: true, steps: [{ name: 'gen', type: 'synthetic' }] });
    expect(one.source).toContain('type = "synthetic"');
    const v = (
      await s.app.inject({ method: 'POST', url: '/api/job-definitions/validate', payload: { source: SYNTHETIC('d2', 1) } })
    ).json();
    expect(v).toMatchObject({ valid: true, definition: { id: 'd2' } });
    expect((await s.app.inject({ method: 'DELETE', url: '/api/job-definitions/d1' })).json()).toEqual({ affected: 1 });
    expect((await s.app.inject({ method: 'DELETE', url: '/api/job-definitions/d1' })).statusCode).toBe(404);
  });

  it('cancels, retries and deletes with answers that say what happened; delete is refused while running', async () => {
    s = await testServer({ concurrency: 2 });
    await addDefinition(s, SYNTHETIC('slow', 200, ['duration_ms = 20']));
    const planned = new Promise<void>((resolve) => {
      const off = s!.engine.bus.on('step_progress', (p) => {
        if (p.counts.total === 200) {
          off();
          resolve();
        }
      });
    });
    const id = await execute(s, 'slow');
    await planned;
    const refused = await s.app.inject({ method: 'DELETE', url: `/api/jobs/${id}` });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.code).toBe('ERR_RUN_ACTIVE');
    const cancelled = (await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` })).json();
    expect(cancelled.affected).toBeGreaterThan(100);
    await s.engine.waitForRun(id);
    expect((await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/cancel` })).json()).toEqual({ affected: 0 });
    expect((await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/retry` })).json()).toEqual({ affected: 0 });
    const rerun = await s.app.inject({ method: 'POST', url: `/api/jobs/${id}/rerun` });
    expect(rerun.statusCode).toBe(202);
    expect(rerun.json().manager_id).toBeGreaterThan(id);
    const deleted = (await s.app.inject({ method: 'DELETE', url: `/api/jobs/${id}` })).json();
    expect(deleted.affected.jobs).toBe(202);
    expect((await s.app.inject({ url: `/api/jobs/${id}` })).statusCode).toBe(404);
  });

  it('keeps lists small whatever the payload size: previews with sizes, full values on request', async () => {
    const bigResult = defineStepType({
      name: 'big-result',
      config: z.object({}).strict(),
      *plan() {
        yield [{ key: 'a', payload: { blob: 'p'.repeat(2 * 1024 * 1024) } }, { key: 'b' }];
      },
      run: () => ({ data: 'y'.repeat(10 * 1024 * 1024) }),
    });
    s = await testServer({ stepTypes: [bigResult] });
    await addDefinition(
      s,
      ['id = "big"', 'name = "Big"', '[params.blob]', 'type = "string"', '[step.gen]', 'type = "big-result"'].join('\n'),
    );
    const tooBig = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions/big/execute',
      payload: { params: { blob: 'x'.repeat(2 * 1024 * 1024) } },
    });
    expect(tooBig.statusCode).toBe(413);
    expect(tooBig.json().error.code).toBe('ERR_PAYLOAD_TOO_LARGE');
    const runId = await execute(s, 'big', { blob: 'small' });
    await s.engine.waitForRun(runId);
    const stepId = (await s.app.inject({ url: `/api/jobs?parent_id=${runId}` })).json().data[0].id;
    const started = performance.now();
    const list = await s.app.inject({ url: `/api/jobs?step_id=${stepId}` });
    const listMs = performance.now() - started;
    expect(list.body.length).toBeLessThan(10_000);
    const [first] = list.json().data;
    expect(first.result).toMatchObject({ truncated: true, bytes: 10 * 1024 * 1024 + 11 });
    expect(first.payload).toMatchObject({ truncated: true });
    const full = await s.app.inject({ url: `/api/jobs/${first.id}/result` });
    expect(full.json().data).toHaveLength(10 * 1024 * 1024);
    // Not a timing assertion: printed so a regression is visible in the log.
    console.info(`list of jobs with 10 MB results: ${list.body.length} bytes in ${listMs.toFixed(1)} ms`);
  });

  it('serves openapi, health and metrics', async () => {
    s = await testServer();
    const doc = (await s.app.inject({ url: '/api/openapi.json' })).json();
    expect(doc.openapi).toBe('3.0.3');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/jobs', '/api/jobs/{id}', '/api/job-definitions/{id}/execute', '/api/jobs/{id}/logs']),
    );
    expect(doc.paths['/api/jobs'].get.parameters.map((p: { name: string }) => p.name)).toEqual(
      expect.arrayContaining(['parent_id', 'status', 'cursor']),
    );
    expect((await s.app.inject({ url: '/healthz' })).json()).toMatchObject({ status: 'ok', store: 'sqlite' });
    await addDefinition(s, SYNTHETIC('m', 5));
    await s.engine.waitForRun(await execute(s, 'm'));
    const metrics = (await s.app.inject({ url: '/metrics' })).body;
    expect(metrics).toContain('stepq_jobs{status="completed"} 5');
    expect(metrics).toContain('stepq_runs{status="completed"} 1');
    expect(metrics).toMatch(/stepq_job_transitions_total\{kind="worker",status="completed"\} 5/);
    expect(metrics).toContain('stepq_ws_clients 0');
  });

  it('requires the token on every API request when one is set', async () => {
    s = await testServer({ token: 'sekret' });
    expect((await s.app.inject({ url: '/api/stats' })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/api/stats', headers: { authorization: 'Bearer wrong' } })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/api/stats', headers: { authorization: 'Bearer sekret' } })).statusCode).toBe(200);
    expect((await s.app.inject({ url: '/metrics' })).statusCode).toBe(401);
    expect((await s.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    // The token in the URL is for the socket only (URLs end up in logs).
    expect((await s.app.inject({ url: '/api/stats?token=sekret' })).statusCode).toBe(401);
  });

  it('refuses actions from other websites, and their sockets; the page, the CLI and curl are unaffected', async () => {
    s = await testServer();
    await addDefinition(s, SYNTHETIC('o', 1));
    const evil = { origin: 'https://evil.example', host: 'localhost:80' };
    const cancel = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions/o/execute',
      headers: { ...evil, 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(cancel.statusCode).toBe(403);
    expect(cancel.json().error.code).toBe('ERR_FORBIDDEN_ORIGIN');
    const del = await s.app.inject({ method: 'DELETE', url: '/api/job-definitions/o', headers: evil });
    expect(del.statusCode).toBe(403);
    expect((await s.app.inject({ url: '/api/job-definitions' })).json()).toHaveLength(1);
    // Same origin (the page) and no origin (curl) are fine.
    const same = await s.app.inject({
      method: 'POST',
      url: '/api/job-definitions/o/execute',
      headers: { origin: 'http://localhost:80', host: 'localhost:80' },
      payload: {},
    });
    expect(same.statusCode).toBe(202);
    expect((await s.app.inject({ method: 'POST', url: '/api/job-definitions/o/execute', payload: {} })).statusCode).toBe(202);
    const url = await s.listen();
    const WebSocket = (await import('ws')).default;
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { origin: 'https://evil.example' });
    ws.on('error', () => undefined);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    ws.terminate();
    expect(status).toBe(403);
  });

  it('stepq serve refuses a non-loopback host without a token', async () => {
    const errors: string[] = [];
    const io = {
      out: process.stdout,
      err: { write: (t: string) => errors.push(t) } as unknown as NodeJS.WriteStream,
    };
    const saved = process.env.STEPQ_TOKEN;
    delete process.env.STEPQ_TOKEN;
    try {
      const code = await serveCommand(
        {
          store: 'sqlite:/nonexistent/never-opened.db',
          host: '0.0.0.0',
          port: 0,
          workers: false,
          concurrency: 1,
          allowShell: false,
          logLevel: 'silent',
        },
        io,
      );
      expect(code).toBe(2);
      expect(errors.join('')).toContain('STEPQ_TOKEN');
    } finally {
      if (saved !== undefined) process.env.STEPQ_TOKEN = saved;
    }
  });
});
