import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FILES_PLAN_BATCH, filesStep } from './files.js';
import { collectPlan, makeContext, runJobs } from './test-harness.js';
import type { WorkerJob } from '../core/step-type.js';
import type { JsonValue } from '../core/job.js';

let tmp: string;
let root: string;

/** Files of the fixture tree: relative path → content. */
const TREE: Record<string, string | Buffer> = {
  'a.txt': 'hello world\nsecond line\n',
  'dir/b.md': 'no trailing newline',
  'dir/sub/c.json': '{"a": 1}\n',
  'empty.txt': '',
  'bin.dat': Buffer.concat([Buffer.from('PNG'), Buffer.from([0, 1, 2, 3]), randomBytes(3000)]),
  'dup1.txt': 'same content\n',
  'dir/dup2.txt': 'same content\n',
  '.hidden/secret.txt': 'dot files count too\n',
  'utf8.txt': 'héllo wörld ✓\n\u00a0spaced\u3000out  \ttabs\r\nend',
  // Larger than one 64 KiB read, with multi-byte characters across the chunk boundaries.
  'big.txt': 'ünïcödé wörds\n'.repeat(20_000),
  'bad-utf8.txt': Buffer.from([0x41, 0xff, 0xfe, 0x42, 0x0a]),
  'trunc-utf8.txt': Buffer.concat([Buffer.from('ok '), Buffer.from('é').subarray(0, 1)]),
  'node_modules/pkg/index.js': 'module.exports = 1;\n',
  'code.ts': 'export const x: number = 1;\n',
  'hostile|name\nwith newline.txt': 'a name to trip up matchers and reports\n',
};

function independentStats(content: Buffer): { lines: number; words: number } {
  const text = content.toString('utf8');
  const newlines = text.split('\n').length - 1;
  const lines = newlines + (content.length > 0 && !text.endsWith('\n') ? 1 : 0);
  const words = text.split(/\s+/).filter((w) => w.length > 0).length;
  return { lines, words };
}

function job(id: number, payload: JsonValue): WorkerJob {
  return { id, name: `job ${id}`, payload, attempt: 1, maxAttempts: 1, depth: 2, parentId: null };
}

async function planRels(config: Record<string, unknown>): Promise<string[]> {
  const ctx = makeContext({ type: filesStep, config });
  const { specs } = await collectPlan(filesStep, ctx);
  return specs.map((s) => s.key ?? '').sort();
}

beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'stepq-files-'));
  root = path.join(tmp, 'tree');
  for (const [rel, content] of Object.entries(TREE)) {
    await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
    await fs.writeFile(path.join(root, rel), content);
  }
});

afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

describe('files plan', () => {
  it('yields every regular file, dot files included, keyed by relative path', async () => {
    expect(await planRels({ root })).toEqual(Object.keys(TREE).sort());
  });

  it('applies include and exclude globs, pruning excluded directories', async () => {
    expect(await planRels({ root, include: ['**/*.txt'], exclude: ['dir/**'] })).toEqual(
      [
        'a.txt',
        'empty.txt',
        'dup1.txt',
        '.hidden/secret.txt',
        'utf8.txt',
        'big.txt',
        'bad-utf8.txt',
        'trunc-utf8.txt',
        'hostile|name\nwith newline.txt',
      ].sort(),
    );
    expect(await planRels({ root, exclude: ['*newline*', '!**/*.md'] })).toEqual(['dir/b.md']);
    expect(await planRels({ root, exclude: '**/node_modules' })).not.toContain('node_modules/pkg/index.js');
    expect(await planRels({ root, include: '*.json' })).toEqual([]);
  });

  it('rejects unknown config keys and missing root', () => {
    expect(filesStep.config.safeParse({ root, colour: 'red' }).success).toBe(false);
    expect(filesStep.config.safeParse({}).success).toBe(false);
  });

  it('payload carries the absolute and relative path', async () => {
    const ctx = makeContext({ type: filesStep, config: { root, include: 'dir/sub/*' } });
    const { specs } = await collectPlan(filesStep, ctx);
    expect(specs).toEqual([
      { key: 'dir/sub/c.json', name: 'dir/sub/c.json', payload: { path: path.join(root, 'dir/sub/c.json'), rel: 'dir/sub/c.json' } },
    ]);
  });

  it('ends on symbolic link loops when following links, and skips links otherwise', async () => {
    const loopRoot = path.join(tmp, 'loop');
    await fs.mkdir(path.join(loopRoot, 'a/b'), { recursive: true });
    await fs.writeFile(path.join(loopRoot, 'a/b/file.txt'), 'x');
    await fs.symlink('..', path.join(loopRoot, 'a/b/up')); // a/b/up → a
    await fs.symlink(loopRoot, path.join(loopRoot, 'a/root-again'));
    await fs.symlink('a/b/file.txt', path.join(loopRoot, 'link.txt'));
    await fs.symlink('missing', path.join(loopRoot, 'dangling'));
    execFileSync('mkfifo', [path.join(loopRoot, 'fifo')]);

    expect(await planRels({ root: loopRoot, follow_symlinks: true })).toEqual(['a/b/file.txt', 'link.txt']);
    const ctx = makeContext({ type: filesStep, config: { root: loopRoot } });
    const { specs } = await collectPlan(filesStep, ctx);
    expect(specs.map((s) => s.key)).toEqual(['a/b/file.txt']);
    expect(ctx.logs.some((l) => l.message.includes('skipped 4 symbolic link'))).toBe(true);
  });

  it('stops at max_files', async () => {
    expect(await planRels({ root, max_files: 3 })).toHaveLength(3);
  });

  it('fails clearly when the root is missing or not a directory', async () => {
    await expect(planRels({ root: path.join(tmp, 'nope') })).rejects.toThrow(/cannot read root .*nope/);
    await expect(planRels({ root: path.join(root, 'a.txt') })).rejects.toThrow(/is not a directory/);
  });

  it('plans 20,000 files in batches of at most 500', async () => {
    // In memory (tmpfs) where there is one: 20,000 file creations on a busy disk can take many
    // seconds, and this test is about the walk, not the disk.
    const scratch = await fs.mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'stepq-files-many-'));
    try {
      const many = path.join(scratch, 'many');
      for (let d = 0; d < 20; d++) {
        const dir = path.join(many, `d${d}`, 'nested');
        mkdirSync(dir, { recursive: true });
        for (let i = 0; i < 1000; i++) closeSync(openSync(path.join(dir, `f${i}.txt`), 'w'));
      }
      const ctx = makeContext({ type: filesStep, config: { root: many } });
      const { batches, specs } = await collectPlan(filesStep, ctx);
      expect(specs).toHaveLength(20_000);
      expect(new Set(specs.map((s) => s.key)).size).toBe(20_000);
      expect(batches).toHaveLength(20_000 / FILES_PLAN_BATCH);
      expect(batches.every((b) => b.length === FILES_PLAN_BATCH)).toBe(true);
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  });
});

describe('files run', () => {
  it('records size, sha256, MIME type and text statistics', async () => {
    const ctx = makeContext({ type: filesStep, config: { root } });
    const { specs } = await collectPlan(filesStep, ctx);
    const outcome = await runJobs({ type: filesStep, config: { root }, specs, concurrency: 4 });
    expect(outcome.failures).toEqual([]);
    expect(outcome.results).toHaveLength(Object.keys(TREE).length);
    for (const { result } of outcome.results) {
      const r = result as Record<string, JsonValue>;
      const rel = r.rel as string;
      const content = await fs.readFile(path.join(root, rel));
      const st = await fs.stat(path.join(root, rel));
      expect(r.path).toBe(path.join(root, rel));
      expect(r.size).toBe(content.length);
      expect(r.mtime).toBe(Math.floor(st.mtimeMs));
      expect(r.sha256).toBe(createHash('sha256').update(content).digest('hex'));
      const binary = ['bin.dat', 'bad-utf8.txt', 'trunc-utf8.txt'].includes(rel);
      expect(r.is_text, rel).toBe(!binary);
      if (binary) {
        expect(r.lines).toBeNull();
        expect(r.words).toBeNull();
      } else {
        expect({ lines: r.lines, words: r.words }, rel).toEqual(independentStats(content));
      }
    }
    const byRel = new Map(outcome.results.map((r) => [(r.result as Record<string, JsonValue>).rel, r.result as Record<string, JsonValue>]));
    expect(byRel.get('a.txt')).toMatchObject({ mime: 'text/plain', ext: '.txt', lines: 2, words: 4 });
    expect(byRel.get('empty.txt')).toMatchObject({ size: 0, lines: 0, words: 0, is_text: true });
    expect(byRel.get('dir/b.md')).toMatchObject({ mime: 'text/markdown', lines: 1, words: 3 });
    expect(byRel.get('bin.dat')).toMatchObject({ mime: 'application/octet-stream', ext: '.dat' });
    expect(byRel.get('code.ts')).toMatchObject({ mime: 'text/x-typescript' });
    expect(byRel.get('big.txt')).toMatchObject({ lines: 20_000, words: 40_000 });
    expect(byRel.get('dup1.txt')?.sha256).toBe(byRel.get('dir/dup2.txt')?.sha256);
  });

  it('skips the hash when hash = false', async () => {
    const ctx = makeContext({ type: filesStep, config: { root, hash: false } });
    const r = (await filesStep.run(job(1, { path: path.join(root, 'a.txt'), rel: 'a.txt' }), ctx)) as Record<string, JsonValue>;
    expect(r.sha256).toBeNull();
    expect(r.lines).toBe(2);
  });

  it('reports a file that vanished after planning, naming the path and the reason', async () => {
    const gone = path.join(tmp, 'gone');
    await fs.mkdir(gone);
    await fs.writeFile(path.join(gone, 'soon-gone.txt'), 'x');
    const ctx = makeContext({ type: filesStep, config: { root: gone } });
    const { specs } = await collectPlan(filesStep, ctx);
    expect(specs).toHaveLength(1);
    await fs.rm(path.join(gone, 'soon-gone.txt'));
    const outcome = await runJobs({ type: filesStep, config: { root: gone }, specs });
    expect(outcome.results).toEqual([]);
    expect(outcome.failures[0]?.error).toMatch(/^Cannot read .*soon-gone\.txt: it no longer exists .*\(ENOENT\)$/);
  });

  it('refuses directories and FIFOs without blocking', async () => {
    const ctx = makeContext({ type: filesStep, config: { root } });
    await expect(filesStep.run(job(1, { path: path.join(root, 'dir'), rel: 'dir' }), ctx)).rejects.toThrow(
      `Cannot read ${path.join(root, 'dir')}: it is a directory, not a regular file`,
    );
    const fifo = path.join(tmp, 'a-fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(filesStep.run(job(2, { path: fifo, rel: 'a-fifo' }), ctx)).rejects.toThrow(/a-fifo: it is a FIFO/);
  });

  it('rejects a malformed payload and honours an aborted signal', async () => {
    const ctx = makeContext({ type: filesStep, config: { root } });
    await expect(filesStep.run(job(1, { nope: true }), ctx)).rejects.toThrow(/payload must be/);
    ctx.controller.abort(new Error('cancelled by test'));
    await expect(filesStep.run(job(2, { path: path.join(root, 'big.txt'), rel: 'big.txt' }), ctx)).rejects.toThrow('cancelled by test');
  });
});
