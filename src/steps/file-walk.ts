/**
 * Walks a directory tree for the `files` step without holding the tree in memory: a stack of the
 * directories still to read (not recursion over everything), `opendir` streaming each directory's
 * entries, and matching files yielded one at a time. Memory grows with the number of pending
 * directories, never with the number of files.
 */
import { promises as fs, type Dirent } from 'node:fs';
import path from 'node:path';
import picomatch from 'picomatch';
import type { LogLevel } from '../core/job.js';
import { errorMessage, PermanentError } from '../core/errors.js';
import { throwIfAborted } from './abortable-sleep.js';

export interface WalkEntry {
  /** Absolute path. */
  path: string;
  /** Path relative to the root, with `/` separators. */
  rel: string;
}

export interface WalkOptions {
  root: string;
  include: readonly string[];
  exclude: readonly string[];
  followSymlinks: boolean;
  signal: AbortSignal;
  log: (level: LogLevel, message: string) => void;
}

/**
 * Matches relative paths against globs (dot files included). picomatch's regexes use `.` for "any
 * character" and are compiled without the `s` flag, so a file name holding a newline would match no
 * glob at all and silently escape the index; recompiling them with `s` fixes that.
 */
export function globMatcher(globs: readonly string[]): (rel: string) => boolean {
  const regexes = globs.map((glob) => {
    const re = picomatch.makeRe(glob, { dot: true });
    return new RegExp(re.source, re.flags.includes('s') ? re.flags : `${re.flags}s`);
  });
  return (rel) => regexes.some((re) => re.test(rel));
}

interface PendingDir {
  abs: string;
  rel: string;
}

/**
 * Yields the regular files under `root` whose relative path matches `include` and not `exclude`.
 * A directory whose relative path matches a (non-negated) `exclude` glob is not entered at all
 * (`**\/node_modules` skips those trees). Symbolic links are skipped unless `followSymlinks`; when followed, each directory is
 * entered once by its real path, so link loops end. Unreadable subdirectories are logged and skipped;
 * an unreadable root throws.
 */
export async function* walkFiles(options: WalkOptions): AsyncGenerator<WalkEntry> {
  const root = path.resolve(options.root);
  // A missing or unreadable root will not appear by trying again: fail the plan at once.
  const rootStat = await fs.stat(root).catch((err: unknown) => {
    throw new PermanentError(`files: cannot read root ${root}: ${errorMessage(err)}`, { cause: err });
  });
  if (!rootStat.isDirectory()) throw new PermanentError(`files: root ${root} is not a directory`);

  const included = globMatcher(options.include.length > 0 ? options.include : ['**/*']);
  const excluded = globMatcher(options.exclude);
  // A negated exclude ("!**/*.md": exclude what is not Markdown) is about files; applied to directory
  // names it would prune every directory.
  const prunedDir = globMatcher(options.exclude.filter((g) => !g.startsWith('!')));
  const visited = new Set<string>();
  if (options.followSymlinks) visited.add(await fs.realpath(root));

  const stack: PendingDir[] = [{ abs: root, rel: '' }];
  let skippedLinks = 0;

  // Decides whether a directory reached by `entry` is entered; pushes it when it is.
  const enter = async (abs: string, rel: string): Promise<void> => {
    if (prunedDir(rel)) return;
    if (options.followSymlinks) {
      const real = await fs.realpath(abs).catch(() => undefined);
      if (real === undefined) return;
      if (visited.has(real)) {
        options.log('debug', `files: ${rel} leads to a directory already walked (${real}); not entering it again`);
        return;
      }
      visited.add(real);
    }
    stack.push({ abs, rel });
  };

  for (let dir = stack.pop(); dir !== undefined; dir = stack.pop()) {
    throwIfAborted(options.signal);
    let handle;
    try {
      handle = await fs.opendir(dir.abs, { bufferSize: 256 });
    } catch (err) {
      if (dir.rel === '') throw new Error(`files: cannot read root ${root}: ${errorMessage(err)}`, { cause: err });
      options.log('warn', `files: skipping directory ${dir.abs}: ${errorMessage(err)}`);
      continue;
    }
    // `for await` closes the handle when the loop ends, breaks or throws.
    for await (const entry of handle as AsyncIterable<Dirent>) {
      const abs = path.join(dir.abs, entry.name);
      const rel = dir.rel === '' ? entry.name : `${dir.rel}/${entry.name}`;
      let isFile = entry.isFile();
      if (entry.isDirectory()) {
        await enter(abs, rel);
        continue;
      }
      if (entry.isSymbolicLink()) {
        if (!options.followSymlinks) {
          skippedLinks++;
          continue;
        }
        const target = await fs.stat(abs).catch(() => undefined);
        if (target === undefined) {
          options.log('warn', `files: skipping dangling symbolic link ${rel}`);
          continue;
        }
        if (target.isDirectory()) {
          await enter(abs, rel);
          continue;
        }
        isFile = target.isFile();
      }
      // FIFOs, sockets and devices are not files to index (reading a FIFO would block).
      if (!isFile) continue;
      if (included(rel) && !excluded(rel)) yield { path: abs, rel };
    }
  }
  if (skippedLinks > 0) {
    options.log('info', `files: skipped ${skippedLinks} symbolic link(s) (set follow_symlinks = true to follow them)`);
  }
}
