/**
 * Messages that say which command runs queued runs name the ones that can: `stepq serve` on SQLite
 * (`stepq worker` refuses SQLite), `stepq serve` or `stepq worker` on PostgreSQL; and `stepq run`
 * does not claim that other unfinished runs belong to serve or worker.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { dropSchema, PG_SKIP_REASON, PG_URL, uniqueName } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp.js';

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir('stepq-who-runs-');
  writeFileSync(join(dir.path, 'w.toml'), 'id = "w"\nname = "W"\n[step.a]\ntype = "synthetic"\ncount = 2\n');
});
afterAll(() => dir.cleanup());

async function messages(storeUrl: string): Promise<{ started: string; rerun: string; note: string }> {
  const cli = (...args: string[]): ReturnType<typeof runCli> => runCli([...args, '--store', storeUrl], { cwd: dir.path });
  expect((await cli('definitions', 'add', 'w.toml')).code).toBe(0);
  const started = await cli('definitions', 'run', 'w');
  expect(started.code, started.stderr).toBe(0);
  const rerun = await cli('jobs', 'rerun', '1');
  expect(rerun.code, rerun.stderr).toBe(0);
  // Runs 1 and 3 wait for a serve (or a worker); this `stepq run` works on its run 5 only.
  const run = await cli('run', 'w.toml');
  expect(run.code, run.stderr).toBe(0);
  return { started: started.stdout, rerun: rerun.stdout, note: run.stderr.split('\n').find((l) => l.startsWith('Note:')) ?? '' };
}

describe('who runs queued runs', () => {
  it('on SQLite: `stepq serve`, never `stepq worker`', async () => {
    expect(await messages('sqlite:./who.db')).toEqual({
      started: 'Run 1 started; `stepq serve` on this store runs it.\n',
      rerun: 'Run 3 started; `stepq serve` on this store runs it.\n',
      note:
        'Note: 2 other runs are unfinished in this store; this command works on run 5 only ' +
        '(the others are run by the `stepq run` that started them, while it lasts, or by `stepq serve` on this store).',
    });
  });

  describe.skipIf(!PG_URL)(`on PostgreSQL${PG_URL ? '' : ` (skipped: ${PG_SKIP_REASON})`}`, () => {
    const schema = uniqueName('stepq_cli_who');
    afterAll(() => (PG_URL ? dropSchema(PG_URL, schema) : undefined));

    it('`stepq serve` or `stepq worker`', async () => {
      const url = new URL(PG_URL!);
      url.searchParams.set('schema', schema);
      expect(await messages(url.toString())).toEqual({
        started: 'Run 1 started; `stepq serve` or `stepq worker` on this store runs it.\n',
        rerun: 'Run 3 started; `stepq serve` or `stepq worker` on this store runs it.\n',
        note:
          'Note: 2 other runs are unfinished in this store; this command works on run 5 only ' +
          '(the others are run by the `stepq run` that started them, while it lasts, or by `stepq serve` or `stepq worker` on this store).',
      });
    });
  });
});
