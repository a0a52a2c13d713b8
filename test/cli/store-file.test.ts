/**
 * The SQLite file behind --store: commands that read or act on a store refuse one that does not
 * exist instead of creating it; commands that may create it do not create missing folders.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function temp(): string {
  const d = tempDir('stepq-store-file-');
  cleanups.push(d.cleanup);
  return d.path;
}

describe('the store file', () => {
  it('read and act commands refuse a SQLite store that does not exist, creating nothing', async () => {
    const dir = temp();
    const store = ['--store', 'sqlite:./typo/n.db'];
    const commands = [
      ['jobs', 'list'],
      ['jobs', 'show', '1'],
      ['jobs', 'logs', '1'],
      ['jobs', 'cancel', '1'],
      ['jobs', 'retry', '1'],
      ['jobs', 'rerun', '1'],
      ['jobs', 'delete', '1'],
      ['definitions', 'list'],
      ['definitions', 'show', 'x'],
      ['definitions', 'remove', 'x'],
      ['definitions', 'run', 'x'],
    ];
    const results = await Promise.all(commands.map((c) => runCli([...c, ...store], { cwd: dir })));
    for (const [i, r] of results.entries()) {
      expect({ command: commands[i], code: r.code, stderr: r.stderr }).toEqual({
        command: commands[i],
        code: 2,
        stderr: `stepq: no store at ${join(dir, 'typo/n.db')} (run a definition first, or pass --store)\n`,
      });
      expect(r.stdout).toBe('');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it.skipIf(process.env.STEPQ_STORE)('the default store (./stepq.db) is not created by jobs list', async () => {
    const dir = temp();
    const r = await runCli(['jobs', 'list'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`stepq: no store at ${join(dir, 'stepq.db')} (run a definition first, or pass --store)\n`);
    expect(existsSync(join(dir, 'stepq.db'))).toBe(false);
  });

  it('run, serve and definitions add create the file, but not missing folders', async () => {
    const dir = temp();
    writeFileSync(join(dir, 's.toml'), 'id = "s"\nname = "S"\n[step.a]\ntype = "synthetic"\ncount = 3\n');
    const missing = join(dir, 'nope');
    const expected = `stepq: cannot create the store ${join(missing, 'x.db')}: the folder ${missing} does not exist (create it first, or pass another --store)\n`;
    const [run, add, serve] = await Promise.all([
      runCli(['run', 's.toml', '--store', 'sqlite:./nope/x.db'], { cwd: dir }),
      runCli(['definitions', 'add', 's.toml', '--store', 'sqlite:./nope/x.db'], { cwd: dir }),
      runCli(['serve', '--port', '0', '--store', 'sqlite:./nope/x.db'], { cwd: dir, timeoutMs: 20_000 }),
    ]);
    for (const r of [run, add, serve]) {
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 2, stderr: expected });
    }
    expect(existsSync(missing)).toBe(false);
    // In a folder that exists, the file is created.
    const ok = await runCli(['definitions', 'add', join(ROOT, 'examples/index-files.toml'), '--store', 'sqlite:./new.db'], { cwd: dir });
    expect(ok.code, ok.stderr).toBe(0);
    expect(existsSync(join(dir, 'new.db'))).toBe(true);
    const listed = await runCli(['definitions', 'list', '--store', 'sqlite:./new.db'], { cwd: dir });
    expect(listed.stdout).toMatch(/^index-files\s+valid/);
  });
});
