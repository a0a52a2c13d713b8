/**
 * A reader that went away (`stepq jobs list | head -1`). Node ignores SIGPIPE, so a write to the
 * closed pipe fails with EPIPE as an 'error' event on process.stdout or process.stderr; unhandled,
 * that is a crash with a stack trace. Here the first such error ends the command quietly instead:
 *
 * - a command that runs jobs (`run`, `serve`) registers a graceful stop with `onBrokenPipe`: its
 *   running jobs are handed back and nothing stays leased, where a shell's SIGPIPE would have
 *   killed it mid-job;
 * - any other command exits at once with 141, the status a shell shows for a process ended by
 *   SIGPIPE (what `ls`, `grep` or a Go program report in the same place).
 *
 * Later writes to the broken stream are dropped by Node (it is destroyed), so messages printed while
 * stopping do not raise it again.
 */
let installed = false;
let gracefulStop: (() => void) | null = null;

export function endQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  if (installed) return;
  installed = true;
  let broken = false;
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
    if (broken) return;
    broken = true;
    if (gracefulStop) gracefulStop();
    else process.exit(141);
  };
  for (const s of streams) s.on('error', onError);
}

/** While `stop` is registered, a broken pipe calls it (once) instead of exiting; returns the unregister function. */
export function onBrokenPipe(stop: () => void): () => void {
  gracefulStop = stop;
  return () => {
    if (gracefulStop === stop) gracefulStop = null;
  };
}
