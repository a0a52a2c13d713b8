/**
 * Output into a pipe whose reader went away (`stepq jobs list | head -1`): the command ends quietly
 * with the status a shell shows for SIGPIPE, not with an unhandled EPIPE and a stack trace; `stepq
 * run` stops as on SIGTERM, handing its running jobs back.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli, waitForOutput } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('a closed stdout', () => {
  it('jobs list | head -1 exits 141 without a stack trace', async () => {
    const d = tempDir('stepq-pipe-');
    cleanups.push(d.cleanup);
    writeFileSync(join(d.path, 'many.toml'), 'id = "many"\nname = "Many"\n[step.a]\ntype = "synthetic"\ncount = 1000\n');
    const store = ['--store', 'sqlite:./pipe.db'];
    expect((await runCli(['run', 'many.toml', ...store], { cwd: d.path })).code).toBe(0);
    // Hundreds of kilobytes of JSON: more than a pipe holds, so the writer meets the closed end.
    const child = startCli(['jobs', 'list', '--step', '2', '--limit', '1000', '--json', ...store], { cwd: d.path });
    cleanups.push(() => child.kill('SIGKILL'));
    child.stdout?.once('data', () => child.stdout?.destroy());
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(child.output.stderr).toBe('');
    expect(code).toBe(141);
  });

  it('stepq run 2>&1 | head stops without cancelling the run, leaving nothing leased', async () => {
    const d = tempDir('stepq-pipe-');
    cleanups.push(d.cleanup);
    writeFileSync(join(d.path, 'long.toml'), 'id = "long"\nname = "Long"\n[step.a]\ntype = "synthetic"\ncount = 400\nduration_ms = 200\n');
    const child = startCli(['run', 'long.toml', '--store', 'sqlite:./pipe.db', '-c', '8'], { cwd: d.path });
    cleanups.push(() => child.kill('SIGKILL'));
    // The first progress line; the next one (2 s later) meets the closed pipe.
    await waitForOutput(child, (t) => /\d+ running/.test(t), 30_000);
    child.stderr?.destroy();
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(141);
    const db = new Database(join(d.path, 'pipe.db'), { readonly: true });
    const manager = db.prepare(`SELECT status FROM jobs WHERE kind = 'manager'`).get() as { status: string };
    const held = db
      .prepare(`SELECT count(*) n FROM jobs WHERE lease_owner IS NOT NULL OR (kind = 'worker' AND status = 'running')`)
      .get() as {
      n: number;
    };
    db.close();
    expect(manager.status).toBe('running');
    expect(held.n).toBe(0);
  });
});
