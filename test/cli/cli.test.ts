/**
 * The command line as a user runs it: the main job on a generated tree with its report checked
 * against values computed independently, exit codes, validation, and Ctrl-C.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT, runCli, startCli, waitForOutput } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function temp(): string {
  const d = tempDir('stepq-cli-');
  cleanups.push(d.cleanup);
  return d.path;
}

/** A tree of files whose totals are computed here, independently of stepq. */
function makeTree(root: string): {
  empty: number;
  files: number;
  bytes: number;
  lines: number;
  words: number;
  duplicateGroups: number;
  wasted: number;
} {
  const contents = new Map<string, Buffer>();
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const words = ['alpha', 'beta', 'gamma', 'delta', 'queue', 'step', 'worker'];
  for (let d = 0; d < 12; d++) {
    for (let f = 0; f < 25; f++) {
      const lineCount = rand(40);
      const text = Array.from({ length: lineCount }, () =>
        Array.from({ length: 1 + rand(8) }, () => words[rand(words.length)]).join(' '),
      ).join('\n');
      contents.set(`dir${d}/sub${d % 3}/file${f}.txt`, Buffer.from(lineCount > 0 && rand(2) === 0 ? `${text}\n` : text));
    }
  }
  // Duplicates: three copies of one file, two of another.
  const dupA = Buffer.from('duplicate A\nsame bytes\n');
  const dupB = Buffer.from('duplicate B');
  for (const p of ['dups/a1.md', 'dups/a2.md', 'other/a3.md']) contents.set(p, dupA);
  for (const p of ['dups/b1.txt', 'other/b2.txt']) contents.set(p, dupB);
  contents.set('bin/blob.bin', Buffer.from([0, 1, 2, 3, 0, 255, 254]));
  contents.set('empty.txt', Buffer.alloc(0));
  for (const [rel, buf] of contents) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), buf);
  }
  let bytes = 0;
  let lines = 0;
  let wordCount = 0;
  const bySha = new Map<string, { size: number; n: number }>();
  for (const buf of contents.values()) {
    bytes += buf.length;
    if (!buf.includes(0)) {
      const text = buf.toString('utf8');
      if (text.length > 0) lines += text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
      wordCount += text.split(/\s+/).filter(Boolean).length;
    }
    const sha = createHash('sha256').update(buf).digest('hex');
    const g = bySha.get(sha) ?? { size: buf.length, n: 0 };
    g.n += 1;
    bySha.set(sha, g);
  }
  // Empty files are not duplicates of each other (nothing is wasted); they are counted apart.
  const groups = [...bySha.values()].filter((g) => g.n > 1 && g.size > 0);
  return {
    empty: [...contents.values()].filter((b) => b.length === 0).length,
    files: contents.size,
    bytes,
    lines,
    words: wordCount,
    duplicateGroups: groups.length,
    wasted: groups.reduce((s, g) => s + g.size * (g.n - 1), 0),
  };
}

describe('stepq run', () => {
  it('runs the main job on a real tree and its report totals are right', async () => {
    const dir = temp();
    const tree = join(dir, 'tree');
    const expected = makeTree(tree);
    const r = await runCli(['run', join(ROOT, 'examples/index-files.toml'), '--param', `root=${tree}`, '--store', 'sqlite:./run.db'], {
      cwd: dir,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('completed');
    expect(r.stdout).toMatch(/Report:\n\s+reports\/1\/report.json\n\s+reports\/1\/report.md/);
    const report = JSON.parse(readFileSync(join(dir, 'reports/1/report.json'), 'utf8'));
    const totals = report.dependencies[0].totals;
    expect(totals).toMatchObject({
      files: expected.files,
      bytes: expected.bytes,
      lines: expected.lines,
      words: expected.words,
      duplicate_groups: expected.duplicateGroups,
      wasted_bytes: expected.wasted,
      empty_files: expected.empty,
      binary_files: 1,
      failures: 0,
    });
    const md = readFileSync(join(dir, 'reports/1/report.md'), 'utf8');
    expect(md).toContain(`| Files | ${expected.files.toLocaleString('en-US')} |`);
  });

  it('exits 2 on invalid input, writing nothing', async () => {
    const dir = temp();
    writeFileSync(
      join(dir, 'bad.toml'),
      'id = "bad"\nname = "Bad"\n[step.a]\ntype = "synthetic"\ndepends_on = ["b"]\n[step.b]\ntype = "synthetic"\ndepends_on = "a"\n',
    );
    const r = await runCli(['run', 'bad.toml', '--store', 'sqlite:./x.db'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.toml:\d+:\d+: .*cycle.*a → b → a|bad\.toml:\d+:\d+: .*cycle.*b → a → b/);
    expect(() => readFileSync(join(dir, 'x.db'))).toThrow();
    const missing = await runCli(['run', 'nope.toml'], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read nope.toml');
    const badParam = await runCli(['run', join(ROOT, 'examples/index-files.toml'), '--param', 'nokey', '--store', 'sqlite:./x.db'], {
      cwd: dir,
    });
    expect(badParam.code).toBe(2);
    const unknownParam = await runCli(['run', join(ROOT, 'examples/index-files.toml'), '--param', 'rooot=x', '--store', 'sqlite:./x.db'], {
      cwd: dir,
    });
    expect(unknownParam.code).toBe(2);
    expect(unknownParam.stderr).toContain('rooot');
  });

  it('exits 1 when the run fails, with the failures in the summary', async () => {
    const dir = temp();
    writeFileSync(
      join(dir, 'fail.toml'),
      'id = "f"\nname = "Fails"\n[step.a]\ntype = "synthetic"\ncount = 20\nfailure_rate = 0.5\nretries = 1\nmax_failures = 2\n',
    );
    const r = await runCli(['run', 'fail.toml', '--store', 'sqlite:./f.db'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Run 1 failed');
    expect(r.stdout).toMatch(/Failures \(\d+/);
    expect(r.stdout).toContain('synthetic failure at');
  });

  it('stepq validate prints every problem with its line and exits 2', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'v.toml'), 'id = "v"\nname = "V"\nschedule = "not cron"\n[step.a]\ntype = "nope"\n');
    const r = await runCli(['validate', 'v.toml', join(ROOT, 'examples/synthetic-demo.toml')], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/v\.toml:3:\d+: schedule/);
    expect(r.stderr).toMatch(/v\.toml:5:\d+: step\.a\.type: .*nope/);
    expect(r.stdout).toContain('synthetic-demo.toml: ok');
    const ok = await runCli(['validate', join(ROOT, 'examples/index-files.toml')], { cwd: dir });
    expect(ok.code).toBe(0);
    // JSON definitions take the same keys.
    writeFileSync(join(dir, 'j.json'), JSON.stringify({ id: 'j', name: 'J', step: { a: { type: 'synthetic', count: 2 } } }));
    const json = await runCli(['validate', 'j.json'], { cwd: dir });
    expect(json.stdout).toContain('j.json: ok — j (1 step: a)');
    writeFileSync(join(dir, 'bad.json'), '{"id": "b", "name": ');
    const badJson = await runCli(['validate', 'bad.json'], { cwd: dir });
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain('bad.json: Invalid JSON');
    // Not UTF-8 (a Latin-1 é): refused, not read with a replacement character.
    writeFileSync(join(dir, 'latin1.toml'), Buffer.from('id = "l"\nname = "caf\xe9"\n[step.a]\ntype = "synthetic"\n', 'latin1'));
    const latin1 = await runCli(['validate', 'latin1.toml'], { cwd: dir });
    expect(latin1.code).toBe(2);
    expect(latin1.stderr).toContain('latin1.toml: cannot read: not UTF-8 text');
  });

  it('Ctrl-C cancels the run cleanly: nothing left pending, running or leased', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'long.toml'), 'id = "long"\nname = "Long"\n[step.a]\ntype = "synthetic"\ncount = 5000\nduration_ms = 200\n');
    const child = startCli(['run', 'long.toml', '--store', 'sqlite:./long.db', '-c', '8'], { cwd: dir });
    try {
      await waitForOutput(child, (t) => /long\.db/.test(t) || /running/.test(t));
      // Let it claim some jobs, then interrupt.
      await waitForOutput(child, (t) => /\d+ running/.test(t), 30_000).catch(() => undefined);
      child.kill('SIGINT');
      const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      expect(code).toBe(130);
      expect(child.output.stderr).toContain('cancelling run 1');
      const db = new Database(join(dir, 'long.db'), { readonly: true });
      const open = db.prepare(`SELECT count(*) n FROM jobs WHERE status IN ('pending','running') OR lease_owner IS NOT NULL`).get() as {
        n: number;
      };
      const manager = db.prepare(`SELECT status FROM jobs WHERE kind = 'manager'`).get() as { status: string };
      db.close();
      expect(open.n).toBe(0);
      expect(manager.status).toBe('cancelled');
      expect(child.output.stdout).toContain('Run 1 cancelled');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('Ctrl-C warns of nothing: answers to jobs it cancelled are not lost leases', async () => {
    const dir = temp();
    // Quick jobs: at the cancel, some have answered and wait for their acknowledgement.
    writeFileSync(join(dir, 'quick.toml'), 'id = "quick"\nname = "Quick"\n[step.a]\ntype = "synthetic"\ncount = 50000\nduration_ms = 20\n');
    const child = startCli(['run', 'quick.toml', '--store', 'sqlite:./quick.db'], { cwd: dir });
    cleanups.push(() => child.kill('SIGKILL'));
    await waitForOutput(child, (t) => /\d+ running/.test(t), 30_000);
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(child.output.stdout).toContain('Run 1 cancelled');
    expect(child.output.stderr).not.toMatch(/lease was lost|stepq: (warn|error)/);
  });

  it('SIGTERM stops without cancelling: jobs handed back, nothing leased, and stepq serve finishes the run', async () => {
    const dir = temp();
    writeFileSync(join(dir, 'long.toml'), 'id = "long"\nname = "Long"\n[step.a]\ntype = "synthetic"\ncount = 400\nduration_ms = 200\n');
    const child = startCli(['run', 'long.toml', '--store', 'sqlite:./term.db', '-c', '8'], { cwd: dir });
    cleanups.push(() => child.kill('SIGKILL'));
    await waitForOutput(child, (t) => /\d+ running/.test(t), 30_000);
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    expect(code, child.output.stderr).toBe(143);
    const said = child.output.stderr.split('\n').filter((l) => l.startsWith('stepq: SIGTERM'));
    expect(said).toEqual([
      'stepq: SIGTERM: stopping without cancelling run 1 (running jobs get 5 s, then go back to the queue); ' +
        'resume it with `stepq serve --store sqlite:./term.db`.',
    ]);
    expect(child.output.stdout).toBe('');
    const counts = (): Record<string, number> => {
      const db = new Database(join(dir, 'term.db'), { readonly: true });
      try {
        const rows = db.prepare(`SELECT kind || ':' || status k, count(*) n FROM jobs GROUP BY 1`).all() as Array<{ k: string; n: number }>;
        const leased = db.prepare(`SELECT count(*) n FROM jobs WHERE lease_owner IS NOT NULL`).get() as { n: number };
        return { ...Object.fromEntries(rows.map((r) => [r.k, r.n])), leased: leased.n };
      } finally {
        db.close();
      }
    };
    const after = counts();
    // Nothing running or leased, nothing cancelled; the run is unfinished, its jobs back in the queue.
    expect(after).toMatchObject({ 'manager:running': 1, leased: 0 });
    expect(Object.keys(after).filter((k) => k.endsWith(':cancelled') || k === 'worker:running')).toEqual([]);
    expect(after['worker:pending']).toBeGreaterThan(0);
    expect((after['worker:completed'] ?? 0) + after['worker:pending']!).toBe(400);
    // As the message says: stepq serve on the store picks the run up and finishes it.
    const serve = startCli(['serve', '--port', '0', '--store', 'sqlite:./term.db', '-c', '32'], { cwd: dir });
    cleanups.push(() => serve.kill('SIGKILL'));
    await waitForOutput(serve, (t) => t.includes('stepq serving'));
    await new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 30_000;
      const poll = (): void => {
        if (counts()['manager:completed'] === 1) return resolve();
        if (Date.now() > deadline) return reject(new Error(`the run did not finish: ${JSON.stringify(counts())}`));
        setTimeout(poll, 100);
      };
      poll();
    });
    expect(counts()).toEqual({ 'manager:completed': 1, 'step:completed': 1, 'worker:completed': 400, leased: 0 });
    serve.kill('SIGTERM');
    await new Promise((resolve) => serve.on('close', resolve));
  });
});

describe('stepq jobs and definitions', () => {
  it('lists, shows, retries and deletes from the shell, saying what happened', async () => {
    const dir = temp();
    writeFileSync(
      join(dir, 'd.toml'),
      'id = "d"\nname = "D"\n[step.a]\ntype = "synthetic"\ncount = 10\nfailure_rate = 0.3\nretries = 1\nmax_failures = 10\non_error = "continue"\n',
    );
    const store = ['--store', 'sqlite:./d.db'];
    expect((await runCli(['run', 'd.toml', ...store], { cwd: dir })).code).toBe(0);
    const runs = await runCli(['jobs', 'list', ...store, '--json'], { cwd: dir });
    const page = JSON.parse(runs.stdout) as { data: Array<{ id: number; status: string }> };
    expect(page.data).toEqual([expect.objectContaining({ id: 1, status: 'completed' })]);
    const steps = await runCli(['jobs', 'list', '--run', '1', ...store], { cwd: dir });
    expect(steps.stdout).toMatch(/\s2\s+completed\s+step\s.*\ba\b.*10\/10 done/);
    const failed = await runCli(['jobs', 'list', '--step', '2', '--status', 'failed', ...store, '--json'], { cwd: dir });
    const failedIds = (JSON.parse(failed.stdout) as { data: Array<{ id: number }> }).data.map((j) => j.id);
    expect(failedIds.length).toBeGreaterThan(0);
    const shown = await runCli(['jobs', 'show', String(failedIds[0]), ...store], { cwd: dir });
    expect(shown.stdout).toMatch(/status\s+failed, attempt 1 of 1/);
    expect(shown.stdout).toContain('synthetic failure');
    const retried = await runCli(['jobs', 'retry', '2', ...store], { cwd: dir });
    expect(retried.stdout).toBe(`Retried ${failedIds.length} job${failedIds.length === 1 ? '' : 's'}.\n`);
    const refused = await runCli(['jobs', 'delete', '1', ...store], { cwd: dir });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('ERR_RUN_ACTIVE');
    await runCli(['jobs', 'cancel', '1', ...store], { cwd: dir });
    const deleted = await runCli(['jobs', 'delete', '1', ...store], { cwd: dir });
    expect(deleted.stdout).toMatch(/^Deleted run 1: 12 jobs and \d+ log lines?\.\n$/);
    const missing = await runCli(['jobs', 'show', '999', ...store], { cwd: dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('ERR_JOB_NOT_FOUND');
  });

  it('stores definitions only when valid, and starts runs of them', async () => {
    const dir = temp();
    const store = ['--store', 'sqlite:./defs.db'];
    writeFileSync(join(dir, 'bad.toml'), 'id = "bad"\nname = "Bad"\n');
    const bad = await runCli(['definitions', 'add', 'bad.toml', ...store], { cwd: dir });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('bad.toml was not stored');
    const ok = await runCli(['definitions', 'add', join(ROOT, 'examples/index-files.toml'), ...store], { cwd: dir });
    expect(ok.stdout).toBe('Stored index-files (2 steps).\n');
    expect((await runCli(['definitions', 'list', ...store], { cwd: dir })).stdout).toMatch(/^index-files\s+valid\s+Index files/);
    expect((await runCli(['definitions', 'show', 'index-files', ...store], { cwd: dir })).stdout).toContain('[step.index]');
    const badParam = await runCli(['definitions', 'run', 'index-files', '-p', 'rooot=x', ...store], { cwd: dir });
    expect(badParam.code).toBe(2);
    expect(badParam.stderr).toContain('did you mean "root"');
    const started = await runCli(['definitions', 'run', 'index-files', '-p', 'root=.', ...store, '--json'], { cwd: dir });
    expect(JSON.parse(started.stdout)).toEqual({ manager_id: 1 });
    expect((await runCli(['definitions', 'remove', 'index-files', ...store], { cwd: dir })).stdout).toContain('Removed index-files');
  });
});
