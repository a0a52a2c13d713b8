/**
 * Runs one program for the `shell` step: no shell in between, output captured up to a cap, and an
 * abort of the job's signal (cancellation, or the step's `timeout` ending the job) that kills the
 * whole process group: SIGTERM, then SIGKILL to whatever of the group is left after a grace period.
 *
 * Why `spawn` (with `shell: false`) and not `execFile`: both start the program directly, without a
 * shell, so arguments are never interpreted. But `execFile` either buffers all output in memory
 * (`maxBuffer: Infinity`) or kills the program once the output passes `maxBuffer`; the `shell` step
 * promises to let the program finish and keep only the first `max_output` bytes, which needs its own
 * stream handling. `spawn` is the primitive `execFile` is built on.
 */
import { spawn } from 'node:child_process';
import { errorMessage } from '../core/errors.js';
import { abortReason } from './abortable-sleep.js';
import { decodePreview } from './response-body.js';

export interface ProcessOutcome {
  exitCode: number | null;
  /** The signal that ended the program, if it did not exit by itself. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Either stream had more than `maxOutput` bytes. */
  truncated: boolean;
  /** The last bytes of stderr (kept even when stderr was truncated), for error messages. */
  stderrTail: string;
  elapsedMs: number;
}

const TAIL_BYTES = 2048;
/** After SIGTERM, how long the program and the processes it started get before SIGKILL. */
const KILL_GRACE_MS = 2000;
/** After the program exits, how long its output pipes may stay open (a background child holding them). */
const PIPE_GRACE_MS = 2000;

class OutputCapture {
  private readonly parts: Buffer[] = [];
  private kept = 0;
  truncated = false;
  tail = Buffer.alloc(0);

  constructor(private readonly max: number) {}

  push(chunk: Buffer): void {
    const room = this.max - this.kept;
    if (room > 0) {
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.parts.push(part);
      this.kept += part.length;
    }
    if (chunk.length > room) this.truncated = true;
    this.tail = Buffer.concat([this.tail, chunk]);
    if (this.tail.length > TAIL_BYTES) this.tail = this.tail.subarray(this.tail.length - TAIL_BYTES);
  }

  text(): string {
    return decodePreview(Buffer.concat(this.parts, this.kept), this.truncated);
  }
}

export function runProcess(params: {
  command: string;
  args: string[];
  cwd?: string | undefined;
  env: NodeJS.ProcessEnv;
  maxOutput: number;
  /** Aborting it (cancellation, the job's timeout) ends the process group; the promise then rejects with its reason. */
  signal: AbortSignal;
}): Promise<ProcessOutcome> {
  const { signal } = params;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Its own process group (POSIX), so an abort also ends the programs it started.
    const group = process.platform !== 'win32';
    const child = spawn(params.command, params.args, {
      cwd: params.cwd,
      env: params.env,
      shell: false,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: group,
      windowsHide: true,
    });
    const stdout = new OutputCapture(params.maxOutput);
    const stderr = new OutputCapture(params.maxOutput);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));

    let settled = false;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    const timers: NodeJS.Timeout[] = [];
    const kill = (sig: NodeJS.Signals): void => {
      try {
        if (group && child.pid !== undefined) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch {
        // Already gone.
      }
    };
    const terminate = (): void => {
      kill('SIGTERM');
      // Not cleared when the program exits: the processes it started (same group) may ignore SIGTERM
      // and outlive it. Unref'd, so it never keeps the worker alive; a vanished group is ignored.
      setTimeout(() => kill('SIGKILL'), KILL_GRACE_MS).unref();
    };
    const onAbort = (): void => terminate();
    const finish = (): void => {
      settled = true;
      timers.forEach(clearTimeout);
      signal.removeEventListener('abort', onAbort);
    };

    signal.addEventListener('abort', onAbort, { once: true });

    child.on('error', (err) => {
      if (settled) return;
      finish();
      if (signal.aborted) return reject(abortReason(signal));
      const code = (err as { code?: unknown }).code;
      const hint = code === 'ENOENT' ? ' (not found: give a path, or a program on PATH)' : '';
      reject(new Error(`shell: cannot run "${params.command}": ${errorMessage(err)}${hint}`, { cause: err }));
    });
    child.on('exit', (code, sig) => {
      exit = { code, signal: sig };
      timers.push(
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, PIPE_GRACE_MS),
      );
    });
    child.on('close', (code, sig) => {
      if (settled) return;
      finish();
      if (signal.aborted) return reject(abortReason(signal));
      resolve({
        exitCode: exit?.code ?? code,
        signal: exit?.signal ?? sig,
        stdout: stdout.text(),
        stderr: stderr.text(),
        truncated: stdout.truncated || stderr.truncated,
        stderrTail: decodePreview(stderr.tail, false),
        elapsedMs: Math.round(performance.now() - started),
      });
    });
  });
}
