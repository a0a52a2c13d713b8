/**
 * Output into a pipe whose reader went away (`stepq jobs list | head -1`): the command ends quietly
 * with the status a shell shows for SIGPIPE, not with an unhandled EPIPE and a stack trace.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
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
});
