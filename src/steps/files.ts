/**
 * `files`: indexes a directory tree. `plan` walks the tree and yields one worker job per matching
 * file, in batches of 500, so a tree of millions of files never sits in memory; `run` reads one file
 * as a stream and records its size, hash, type and text statistics.
 */
import path from 'node:path';
import mime from 'mime-types';
import { z } from 'zod';
import { defineStepType, type WorkerSpec } from '../core/step-type.js';
import { inspectFile } from './file-inspect.js';
import { walkFiles } from './file-walk.js';

const globs = z.union([z.string().min(1), z.array(z.string().min(1))]).transform((v) => (typeof v === 'string' ? [v] : v));

export const filesConfig = z.strictObject({
  /** Directory to index; relative paths resolve against the worker's current directory. */
  root: z.string().min(1),
  /** Globs matched against the path relative to root (dot files included). */
  include: globs.default(['**/*']),
  exclude: globs.default([]),
  follow_symlinks: z.boolean().default(false),
  /** Stop planning after this many files. */
  max_files: z.number().int().positive().optional(),
  /** Compute sha256 (needed for duplicate detection in reports). */
  hash: z.boolean().default(true),
});

export type FilesConfig = z.output<typeof filesConfig>;

const filePayload = z.object({ path: z.string().min(1), rel: z.string() });

// mime-types maps `.ts` to MPEG transport streams (video/mp2t); a text file named .ts is TypeScript.
const TEXT_OVERRIDES: Record<string, string> = {
  '.ts': 'text/x-typescript',
  '.mts': 'text/x-typescript',
  '.cts': 'text/x-typescript',
  '.tsx': 'text/x-typescript',
};

/** MIME type by extension; without a known extension, sniffed: text/plain or application/octet-stream. */
export function mimeOf(rel: string, isText: boolean): string {
  const override = TEXT_OVERRIDES[path.extname(rel).toLowerCase()];
  if (override !== undefined && isText) return override;
  const byExtension = mime.lookup(rel);
  if (byExtension !== false) return byExtension;
  return isText ? 'text/plain' : 'application/octet-stream';
}

/** How many specs each yielded batch holds: large enough for bulk inserts, small enough to stream. */
export const FILES_PLAN_BATCH = 500;

export const filesStep = defineStepType<FilesConfig>({
  name: 'files',
  description: 'Index the files of a directory tree: size, sha256, MIME type, text line and word counts.',
  config: filesConfig,

  async *plan(ctx) {
    const { config } = ctx;
    let batch: WorkerSpec[] = [];
    let count = 0;
    for await (const entry of walkFiles({
      root: config.root,
      include: config.include,
      exclude: config.exclude,
      followSymlinks: config.follow_symlinks,
      signal: ctx.signal,
      log: (level, message) => ctx.log(level, message),
    })) {
      batch.push({ key: entry.rel, name: entry.rel, payload: { path: entry.path, rel: entry.rel } });
      count++;
      if (batch.length >= FILES_PLAN_BATCH) {
        yield batch;
        batch = [];
      }
      if (config.max_files !== undefined && count >= config.max_files) {
        ctx.log('info', `files: stopped at max_files = ${config.max_files}`);
        break;
      }
    }
    if (batch.length > 0) yield batch;
    ctx.log('info', `files: planned ${count} file(s) under ${path.resolve(config.root)}`);
  },

  async run(job, ctx) {
    const parsed = filePayload.safeParse(job.payload);
    if (!parsed.success) throw new Error(`files: payload must be { path, rel }: ${z.prettifyError(parsed.error)}`);
    const { path: filePath, rel } = parsed.data;
    const facts = await inspectFile({ path: filePath, hash: ctx.config.hash, signal: ctx.signal });
    return {
      path: filePath,
      rel,
      size: facts.size,
      mtime: facts.mtime,
      sha256: facts.sha256,
      mime: mimeOf(rel, facts.is_text),
      ext: path.extname(rel).toLowerCase(),
      is_text: facts.is_text,
      lines: facts.lines,
      words: facts.words,
    };
  },
});
