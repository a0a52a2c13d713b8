/**
 * A reader that went away (`stepq jobs list | head -1`). Node ignores SIGPIPE, so a write to the
 * closed pipe fails with EPIPE as an 'error' event on process.stdout or process.stderr; unhandled,
 * that is a crash with a stack trace. Here the first such error ends the command quietly instead:
 * exit at once with 141, the status a shell shows for a process ended by SIGPIPE (what `ls`, `grep`
 * or a Go program report in the same place).
 */
let installed = false;

export function endQuietlyOnBrokenPipe(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  if (installed) return;
  installed = true;
  const onError = (err: NodeJS.ErrnoException): void => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(141);
  };
  for (const s of streams) s.on('error', onError);
}
