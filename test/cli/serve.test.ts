/**
 * `stepq serve` as a process: loads definition folders (invalid files listed, not fatal), serves the
 * API, and stops on SIGTERM leaving nothing running or leased.
 */
import Database from 'better-sqlite3';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli, waitForOutput } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { freePort } from '../helpers/ports.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('stepq serve', () => {
  it('serves definitions from a folder, lists invalid ones, and stops cleanly on SIGTERM', async () => {
    const d = tempDir('stepq-serve-');
    cleanups.push(d.cleanup);
    const defs = join(d.path, 'definitions');
    mkdirSync(defs);
    writeFileSync(join(defs, 'slow.toml'), 'id = "slow"\nname = "Slow"\n[step.s]\ntype = "synthetic"\ncount = 400\nduration_ms = 100\n');
    writeFileSync(join(defs, 'broken.toml'), 'id = "broken"\nname = "Broken"\n[step.s]\ntype = "nope"\n');
    const port = await freePort();
    const child = startCli(['serve', '--port', String(port), '--store', 'sqlite:./serve.db', '--definitions', defs, '-c', '8'], {
      cwd: d.path,
    });
    cleanups.push(() => child.kill('SIGKILL'));
    await waitForOutput(child, (t) => t.includes('stepq serving'));
    expect(child.output.stderr).toMatch(/broken\.toml is invalid/);
    const base = `http://127.0.0.1:${port}`;
    const list = (await (await fetch(`${base}/api/job-definitions`)).json()) as Array<{
      id: string;
      valid: boolean;
      issues: Array<{ line?: number }>;
    }>;
    // The folder's definitions, plus the examples.
    expect(list.map((x) => [x.id, x.valid])).toEqual([
      ['broken', false],
      ['crawl-site', true],
      ['index-files', true],
      ['slow', true],
      ['synthetic-demo', true],
    ]);
    expect(list[0]!.issues[0]!.line).toBe(4);
    const started = await fetch(`${base}/api/job-definitions/slow/execute`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(started.status).toBe(202);
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    // Let some jobs run, then stop.
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 20_000;
      const poll = async (): Promise<void> => {
        const runs = (await (await fetch(`${base}/api/jobs?parent_id=root`)).json()) as {
          data: Array<{ progress: { counts: { completed: number } } }>;
        };
        if ((runs.data[0]?.progress.counts.completed ?? 0) > 0) return resolve();
        if (Date.now() > deadline) return reject(new Error('no job completed'));
        setTimeout(() => void poll(), 100);
      };
      void poll();
    });
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(0);
    const db = new Database(join(d.path, 'serve.db'), { readonly: true });
    const leased = db
      .prepare(`SELECT count(*) n FROM jobs WHERE status = 'running' AND kind = 'worker' OR lease_owner IS NOT NULL`)
      .get() as { n: number };
    db.close();
    expect(leased.n).toBe(0);
  });

  it('--port 0 serves on a free port and prints the one it bound', async () => {
    const d = tempDir('stepq-serve-');
    cleanups.push(d.cleanup);
    const child = startCli(['serve', '--port', '0', '--store', 'sqlite:./serve.db', '--no-workers'], { cwd: d.path });
    cleanups.push(() => child.kill('SIGKILL'));
    await waitForOutput(child, (t) => t.includes('stepq serving'));
    const port = Number(/stepq serving http:\/\/127\.0\.0\.1:(\d+)\//.exec(child.output.stderr)?.[1]);
    expect(port).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${port}/api/job-definitions`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)))).toBe(0);
  });
});
