/**
 * `stepq jobs …` given the id of the wrong kind of job, or of none: a plain refusal (exit 2) in the
 * words the other subcommands and the API use, never a listing of something else or "No jobs.".
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

let dir: { path: string; cleanup: () => void };
const store = ['--store', 'sqlite:./jobs.db'];

beforeAll(async () => {
  dir = tempDir('stepq-jobs-');
  writeFileSync(join(dir.path, 'j.toml'), 'id = "j"\nname = "J"\n[step.a]\ntype = "synthetic"\ncount = 3\n');
  // Run 1, its step 2 and worker jobs 3, 4, 5.
  const r = await runCli(['run', 'j.toml', ...store], { cwd: dir.path });
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => dir.cleanup());

function cli(...args: string[]): ReturnType<typeof runCli> {
  return runCli([...args, ...store], { cwd: dir.path });
}

describe('ids of the wrong kind, or of nothing', () => {
  it('jobs list --run takes a run and --step a step', async () => {
    const cases: Array<[string[], string]> = [
      [['--run', '2'], 'stepq: ERR_BAD_REQUEST: Job 2 is a step, not a run (its jobs: --step 2).\n'],
      [['--run', '3'], 'stepq: ERR_BAD_REQUEST: Job 3 is a worker job, not a run.\n'],
      [['--run', '99999'], 'stepq: ERR_JOB_NOT_FOUND: Job 99999 does not exist.\n'],
      [['--step', '1'], 'stepq: ERR_BAD_REQUEST: Job 1 is a run, not a step (its steps: --run 1).\n'],
      [['--step', '99999'], 'stepq: ERR_JOB_NOT_FOUND: Job 99999 does not exist.\n'],
    ];
    const results = await Promise.all(cases.map(([args]) => cli('jobs', 'list', ...args)));
    for (const [i, r] of results.entries()) {
      expect({ args: cases[i]![0], code: r.code, stderr: r.stderr, stdout: r.stdout }).toEqual({
        args: cases[i]![0],
        code: 2,
        stderr: cases[i]![1],
        stdout: '',
      });
    }
    // One or the other: --step used to win silently.
    const both = await cli('jobs', 'list', '--run', '1', '--step', '2');
    expect([both.code, both.stderr.split('\n')[0]]).toEqual([2, "error: option '--run <id>' cannot be used with option '--step <id>'"]);
    // The right kinds still list.
    expect((await cli('jobs', 'list', '--run', '1')).stdout).toMatch(/^\s+2\s+completed\s+step\s/);
    expect((await cli('jobs', 'list', '--step', '2')).stdout.trim().split('\n')).toHaveLength(3);
  });

  it('delete and rerun take runs only, in the API words; unknown ids are reported as for show', async () => {
    const [del, rerun, delMissing, rerunMissing] = await Promise.all([
      cli('jobs', 'delete', '2'),
      cli('jobs', 'rerun', '3'),
      cli('jobs', 'delete', '99999'),
      cli('jobs', 'rerun', '99999'),
    ]);
    expect([del.code, del.stderr]).toEqual([
      2,
      'stepq: ERR_BAD_REQUEST: Job 2 is a step; only whole runs are deleted (`stepq jobs delete 1`).\n',
    ]);
    expect([rerun.code, rerun.stderr]).toEqual([2, 'stepq: ERR_BAD_REQUEST: Job 3 is a worker; only runs can be run again.\n']);
    for (const r of [delMissing, rerunMissing])
      expect([r.code, r.stderr]).toEqual([2, 'stepq: ERR_JOB_NOT_FOUND: Job 99999 does not exist.\n']);
    // Nothing was deleted or started.
    const runs = JSON.parse((await cli('jobs', 'list', '--json')).stdout) as { data: Array<{ id: number }> };
    expect(runs.data.map((j) => j.id)).toEqual([1]);
  });
});

describe('--limit', () => {
  it('reaches past one page of the store (1,000 jobs)', async () => {
    const d = tempDir('stepq-jobs-limit-');
    try {
      writeFileSync(join(d.path, 'many.toml'), 'id = "many"\nname = "Many"\n[step.a]\ntype = "synthetic"\ncount = 1200\n');
      const many = ['--store', 'sqlite:./many.db'];
      expect((await runCli(['run', 'many.toml', ...many], { cwd: d.path })).code).toBe(0);
      const [some, all, json] = await Promise.all([
        runCli(['jobs', 'list', '--step', '2', '--limit', '1100', ...many], { cwd: d.path }),
        runCli(['jobs', 'list', '--step', '2', '--limit', '5000', ...many], { cwd: d.path }),
        runCli(['jobs', 'list', '--step', '2', '--limit', '1200', '--json', ...many], { cwd: d.path }),
      ]);
      expect(some.stdout.trim().split('\n')).toHaveLength(1100);
      expect(some.stderr).toBe('… more: raise --limit (now 1100).\n');
      expect(all.stdout.trim().split('\n')).toHaveLength(1200);
      expect(all.stderr).toBe('');
      const page = JSON.parse(json.stdout) as { data: Array<{ id: number }>; nextCursor: string | null };
      expect(page.data.map((j) => j.id)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 3));
      expect(page.nextCursor).toBeNull();
    } finally {
      d.cleanup();
    }
  });
});
